"""Heartbeats for a task being worked on: from the claim until FinishTask (spec §3.8).

    with Heartbeat(client, task_id, interval_s) as beat:
        ...work, calling beat.check() between steps...
        client.finish_success(task_id)

The first beat is sent at once (the caller's first `check()` sees its answer); if C1 answers `cancelled`, or 10 beats in a row fail, `check()`
raises and the work stops. The interval follows C1's `next_heartbeat`, clamped to [1 s, 5 min]
(30 s when C1 sends none).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from halo_c1.c1.errors import C1Error

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 300.0
DEFAULT_INTERVAL_S = 30.0
MAX_FAILURES = 10


class TaskCancelled(C1Error):
    """C1 answered a heartbeat with `cancelled`: stop the work, upload nothing."""


class HeartbeatLost(C1Error):
    """Heartbeats kept failing: C1 will consider the task abandoned."""


class _Beats(Protocol):
    def heartbeat(self, task_id: str) -> tuple[bool, float]: ...


def clamp_interval(seconds: float) -> float:
    if seconds <= 0:
        return DEFAULT_INTERVAL_S
    return min(max(seconds, MIN_INTERVAL_S), MAX_INTERVAL_S)


class Heartbeat:
    """A background thread beating for one task; `cancelled` is set when C1 cancels it."""

    def __init__(self, client: _Beats, task_id: str, interval_s: float) -> None:
        self._client = client
        self.task_id = task_id
        self.interval_s = clamp_interval(interval_s)
        self.cancelled = threading.Event()
        self.lost = threading.Event()
        self.beats = 0
        self._stop = threading.Event()
        self._failures = 0
        self._thread = threading.Thread(target=self._run, name=f"c1-heartbeat-{task_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._beat()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=MAX_INTERVAL_S)

    def check(self) -> None:
        """Raise if the work must stop."""
        if self.cancelled.is_set():
            raise TaskCancelled(f"C1 cancelled task {self.task_id}")
        if self.lost.is_set():
            raise HeartbeatLost(f"{MAX_FAILURES} heartbeats in a row failed for task {self.task_id}")

    def _beat(self) -> None:
        try:
            cancelled, next_s = self._client.heartbeat(self.task_id)
        except C1Error as error:
            self._failures += 1
            log.warning("Heartbeat %d for task %s failed (%s)", self._failures, self.task_id, error)
            if self._failures >= MAX_FAILURES:
                self.lost.set()
            return
        self._failures = 0
        self.beats += 1
        self.interval_s = clamp_interval(next_s)
        if cancelled:
            log.warning("C1 cancelled task %s (heartbeat answer): stopping the work", self.task_id)
            self.cancelled.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._beat()
            if self.cancelled.is_set() or self.lost.is_set():
                return
