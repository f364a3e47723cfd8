"""The trigger's wait loop (halo_c1.c1.poll) with a scripted client: cadence, backoff, the claim."""

from __future__ import annotations

import asyncio
from typing import Any

from halo_c1.c1.client import Polled
from halo_c1.c1.errors import C1UnavailableError
from halo_c1.c1.pb.c1.connectorapi.baton.v1 import baton_pb2
from halo_c1.c1.poll import decode_task, wait_for_task

SYNC = baton_pb2.Task(id="A" * 27, sync_full=baton_pb2.Task.SyncFullTask(skip_grants=True))


class ScriptedClient:
    """Answers Hello / GetTask / Heartbeat from scripts; an exception in a script is raised."""

    def __init__(self, hello: list[Any], polls: list[Any], beats: list[Any] | None = None) -> None:
        self.hello_script, self.poll_script, self.beat_script = hello, polls, beats or [(False, 7.0)]
        self.calls: list[str] = []

    def _next(self, script: list[Any]) -> Any:
        answer = script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def hello(self, task_id: str = "") -> None:
        self.calls.append("Hello")
        self._next(self.hello_script)

    def get_task(self) -> Polled:
        self.calls.append("GetTask")
        return self._next(self.poll_script)

    def heartbeat(self, task_id: str) -> tuple[bool, float]:
        self.calls.append("Heartbeat")
        return self._next(self.beat_script)


def _run(client: ScriptedClient, wait_s: float = 1000) -> tuple[dict[str, Any], list[float]]:
    slept: list[float] = []
    now = [0.0]

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        await asyncio.sleep(0)

    event = asyncio.run(wait_for_task(client, wait_s=wait_s, sleep=sleep, clock=lambda: now[0]))
    return event, slept


def test_poll_says_hello_first_backs_off_on_unavailable_and_claims_with_a_first_heartbeat():
    down = C1UnavailableError("C1 GetTask failed: UNAVAILABLE")
    client = ScriptedClient(
        hello=[down, down, None],
        polls=[Polled(None, 0.0, 0.0), down, down, Polled(None, 12.0, 0.0), Polled(SYNC, 3.0, 5.0)],
    )

    event, slept = _run(client)

    assert client.calls[:3] == ["Hello", "Hello", "Hello"]
    assert client.calls[-1] == "Heartbeat"
    # Hello: 1 s, 2 s; GetTask: 0 → floored at 1 s, then 1², 2² s, then C1's 12 s
    assert slept == [1.0, 2.0, 1.0, 1.0, 4.0, 12.0]
    assert event["status"] == "task"
    assert event["task_type"] == "sync_full"
    assert event["next_heartbeat_s"] == 7  # C1's answer to the first heartbeat
    assert decode_task(event["task"]) == SYNC


def test_poll_ends_with_no_task_when_the_wait_runs_out():
    client = ScriptedClient(hello=[None], polls=[Polled(None, 30.0, 0.0)] * 10)

    event, slept = _run(client, wait_s=70)

    assert event["status"] == "no_task"
    assert sum(slept) == 70


def test_poll_reports_a_sync_cancelled_at_its_first_heartbeat():
    client = ScriptedClient(hello=[None], polls=[Polled(SYNC, 1.0, 1.0)], beats=[(True, 1.0)])

    event, _ = _run(client)

    assert event["status"] == "cancelled"
    assert event["task_id"] == SYNC.id
