"""Wait for C1's next task without a worker: Hello first, then GetTask at C1's cadence (spec §3.1-3.2).

An async function, so Airflow's triggerer can run it (halo_c1_airflow.c1_trigger wraps it in a
BaseTrigger); the blocking gRPC calls run in a thread. Returns a JSON-able event:

    {"status": "task", "task": <base64 Task>, "task_id", "task_type", "next_heartbeat_s"}
    {"status": "no_task", "waited_s": ...}      nothing came within `wait_s`
    {"status": "cancelled", "task_id", ...}     C1 cancelled a sync_full at its first heartbeat

A sync_full gets its first heartbeat here, at the claim, so C1 sees it alive while a worker starts.
Transient errors back off (Hello: 1 s doubling to 5 min; GetTask: n² s up to 60 s) and never end
the wait; credential and permission errors end it at once.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from halo_c1.c1.client import BatonClient
from halo_c1.c1.errors import C1UnavailableError

log = logging.getLogger(__name__)

MIN_POLL_S = 1.0
MAX_POLL_S = 300.0
HELLO_BACKOFF_START_S = 1.0
HELLO_BACKOFF_MAX_S = 300.0
GET_TASK_BACKOFF_MAX_S = 60.0

Sleep = Callable[[float], Awaitable[None]]


def encode_task(task: Any) -> str:
    return base64.b64encode(task.SerializeToString()).decode()


def decode_task(encoded: str) -> Any:
    from halo_c1.c1.pb.c1.connectorapi.baton.v1 import baton_pb2

    return baton_pb2.Task.FromString(base64.b64decode(encoded))


async def _say_hello(client: BatonClient, deadline: float, sleep: Sleep, clock: Callable[[], float]) -> bool:
    wait = HELLO_BACKOFF_START_S
    while True:
        try:
            await asyncio.to_thread(client.hello)
            return True
        except C1UnavailableError as error:
            if clock() + wait > deadline:
                log.warning("Hello to C1 still failing (%s); giving up this wait", error)
                return False
            log.warning("Hello to C1 failed (%s); retrying in %.0f s", error, wait)
            await sleep(wait)
            wait = min(wait * 2, HELLO_BACKOFF_MAX_S)


async def wait_for_task(
    client: BatonClient,
    *,
    wait_s: float,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Hello, then poll until a task arrives or `wait_s` passes."""
    from halo_c1.c1.heartbeat import clamp_interval
    from halo_c1.c1.tasks import task_type

    started = clock()
    deadline = started + wait_s
    if not await _say_hello(client, deadline, sleep, clock):
        return {"status": "no_task", "waited_s": round(clock() - started, 1), "reason": "C1 unreachable"}
    errors = 0
    while True:
        try:
            polled = await asyncio.to_thread(client.get_task)
        except C1UnavailableError as error:
            errors += 1
            wait = min(float(errors**2), GET_TASK_BACKOFF_MAX_S)
            log.warning("GetTask failed (%s, %d in a row); backing off %.0f s", error, errors, wait)
        else:
            errors = 0
            if polled.task is not None:
                return await _claimed(client, polled, task_type(polled.task), clamp_interval)
            wait = min(max(polled.next_poll_s, MIN_POLL_S), MAX_POLL_S)
        remaining = deadline - clock()
        if remaining <= 0:
            log.info("No task from C1 within %.0f s", wait_s)
            return {"status": "no_task", "waited_s": round(clock() - started, 1)}
        await sleep(min(wait, remaining))


async def _claimed(
    client: BatonClient, polled: Any, kind: str, clamp: Callable[[float], float]
) -> dict[str, Any]:
    task = polled.task
    event = {
        "status": "task",
        "task": encode_task(task),
        "task_id": task.id,
        "task_type": kind,
        "next_heartbeat_s": clamp(polled.next_heartbeat_s),
    }
    log.info("Claimed C1 task %s (%s)", task.id, kind)
    if kind == "sync_full":
        try:
            cancelled, next_s = await asyncio.to_thread(client.heartbeat, task.id)
        except C1UnavailableError as error:
            log.warning("First heartbeat for task %s failed (%s); the worker will beat", task.id, error)
            return event
        if cancelled:
            log.warning("C1 cancelled task %s at its first heartbeat: nothing to do", task.id)
            return {**event, "status": "cancelled"}
        event["next_heartbeat_s"] = clamp(next_s)
    return event
