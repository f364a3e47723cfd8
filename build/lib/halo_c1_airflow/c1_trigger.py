"""Wait for C1's next service-mode task in the triggerer, not in a worker slot.

`WaitForC1TaskOperator` defers at once to `C1TaskTrigger`, which says Hello and polls GetTask at the
cadence C1 asks for (`halo_c1.c1.poll.wait_for_task`), then resumes the task with the event as its
XCom: the claimed task (base64), or "no_task" after `wait_s`. Only the connection id and the wait
go into the trigger's stored kwargs; the credentials are read from the connection in the triggerer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

CLASSPATH = "halo_c1_airflow.c1_trigger.C1TaskTrigger"


class C1TaskTrigger(BaseTrigger):
    """Hello, then GetTask until a task arrives or `wait_s` passes; one event, then done."""

    def __init__(self, conn_id: str, wait_s: float) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.wait_s = float(wait_s)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CLASSPATH, {"conn_id": self.conn_id, "wait_s": self.wait_s}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from halo_c1 import hooks
        from halo_c1.c1.client import BatonClient
        from halo_c1.c1.errors import C1Error
        from halo_c1.c1.poll import wait_for_task
        from halo_c1.errors import PermanentError

        try:
            settings = await asyncio.to_thread(hooks.c1_settings, self.conn_id)
            client = BatonClient(settings)
            try:
                event = await wait_for_task(client, wait_s=self.wait_s)
            finally:
                client.close()
        except C1Error as error:
            event = {"status": "error", "error": str(error), "permanent": isinstance(error, PermanentError)}
        yield TriggerEvent(event)


class WaitForC1TaskOperator(BaseOperator):
    """Defer until C1 hands this connector a task; return the trigger's event (task id, type, bytes)."""

    template_fields: Sequence[str] = ("wait_s",)

    def __init__(self, *, conn_id: str, wait_s: float | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.wait_s = wait_s

    def execute(self, context: Any) -> None:
        self.defer(
            trigger=C1TaskTrigger(conn_id=self.conn_id, wait_s=float(self.wait_s)),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowException, AirflowFailException

        if event.get("status") == "error":
            raise (AirflowFailException if event.get("permanent") else AirflowException)(event["error"])
        self.log.info(
            "C1: %s%s",
            event["status"],
            f" — task {event['task_id']} ({event['task_type']})" if "task_id" in event else "",
        )
        return event
