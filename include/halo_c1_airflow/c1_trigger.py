"""Wait for C1's next service-mode task in the triggerer, not in a worker slot.

The trigger's classpath (`CLASSPATH`) is stored with every deferred task: keep this module's name.

`ServeC1TaskOperator` defers at once to `C1TaskTrigger`, which says Hello and polls GetTask at the
cadence C1 asks for (`halo_c1.c1.poll.wait_for_task`), then resumes in a worker with the event (the
claimed task, or "no_task" after `wait_s`) and serves the task there. Only the connection id and the wait
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
        from halo_c1.errors import PermanentError
        from halo_c1_airflow.settings import c1_settings_async

        try:
            settings = await c1_settings_async(self.conn_id)
            # grpc and the protobuf modules take seconds to import: never on the triggerer's loop.
            client, wait_for_task = await asyncio.to_thread(_open_client, settings)
            try:
                event = await wait_for_task(client, wait_s=self.wait_s)
            finally:
                client.close()
        except Exception as error:
            from halo_c1.c1.errors import C1Error

            if not isinstance(error, C1Error | PermanentError):
                raise
            event = {"status": "error", "error": str(error), "permanent": isinstance(error, PermanentError)}
        yield TriggerEvent(event)


def _open_client(settings: Any) -> tuple[Any, Any]:
    from halo_c1.c1.client import BatonClient
    from halo_c1.c1.poll import wait_for_task

    return BatonClient(settings), wait_for_task


class ServeC1TaskOperator(BaseOperator):
    """Defer until C1 hands this connector a task, then serve it in this same task instance.

    Serving where the trigger resumes (no second task to schedule) keeps the claim and the work
    together: the first worker heartbeat follows the claim within seconds, and a retry of this task
    only ever waits for a new task, never serves one twice. Returns a small summary (task id, type,
    outcome) as XCom.
    """

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

        from halo_c1_airflow.connector import serve_c1_task

        if event.get("status") == "error":
            raise (AirflowFailException if event.get("permanent") else AirflowException)(event["error"])
        if event.get("status") != "task":
            self.log.info("C1: %s", event.get("status"))
            return {"outcome": event.get("status")}
        self.log.info("C1 task %s (%s) claimed: serving it", event["task_id"], event["task_type"])
        from halo_c1.c1.errors import C1Error
        from halo_c1.errors import PermanentError

        try:
            return serve_c1_task(event, conn_id=self.conn_id)
        except (C1Error, PermanentError) as error:
            # C1 has been told (FinishTask) where it could be; a retry would only wait for a new task.
            raise AirflowFailException(str(error)) from error
