"""One writer per agent: an expiring lease object in the lake, created with create-if-absent.

Why a lease in the lake: HaloITSM has no ETag or If-Match (c1-service-mode.md §6.2), so two
read-modify-writes of one agent's lists must not interleave, whichever worker process or machine
runs them. The lake is the one store every worker already shares, and each of its backends has an
atomic create-if-absent: `open("xb")` is `O_EXCL` on a local or NFS path, `If-None-Match: *` on S3
(s3fs) and on Azure Blob (adlfs). An Airflow pool would serialise every grant of every agent, and
only inside Airflow; the lease serialises one agent's tasks, wherever `provision()` runs.

    with AgentLease(lake.provisioning_lease("12"), ttl_s=60, wait_s=120):
        ...  # read, write, verify agent 12; `lease.check()` just before the write

- The lease file holds a random token, the holder's host and pid, and when it expires. The holder
  renews it every `ttl_s / 3` from a background thread while the work runs (a 429 wait may last
  minutes), and deletes it when done.
- A waiter polls until the lease is gone, or expired (its holder died: the waiter deletes it and
  competes to create its own), or `wait_s` has passed (`LeaseBusy`).
- Deleting an expired lease is read-then-delete, not atomic: in the rare case that two waiters
  break the same dead lease at the same moment, the loser's `check()` (run just before the write)
  finds the other's token and the loser stops before writing. The verify step after each write
  is the last line: an interleaved write shows up as an unexpected change.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from upath import UPath

from halo_c1.lake import make_local_dirs, restrict_local

log = logging.getLogger("halo_c1.provision")


class LeaseBusy(Exception):
    """Another task holds the agent's lease for longer than we may wait."""


class LeaseLost(Exception):
    """The lease is no longer ours (it expired and someone else took it); do not write."""


class AgentLease:
    """An exclusive, expiring, renewed lease on one path; a context manager."""

    def __init__(
        self,
        path: UPath,
        *,
        ttl_s: float = 60.0,
        wait_s: float = 120.0,
        poll_s: float = 0.1,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if ttl_s <= 0 or wait_s < 0 or poll_s <= 0:
            raise ValueError("ttl_s and poll_s must be > 0 and wait_s >= 0")
        self.path = path
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self.poll_s = poll_s
        self._clock = clock
        self._sleep = sleep
        self.token = secrets.token_hex(16)
        self.waited_s = 0.0
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> AgentLease:
        self.acquire()
        self._renewer = threading.Thread(target=self._renew_loop, name=f"lease:{self.path.name}", daemon=True)
        self._renewer.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        self.release()

    # -- acquire / release -----------------------------------------------------------------------

    def acquire(self) -> None:
        started = time.monotonic()
        unreadable_since: float | None = None
        while True:
            if self._create():
                self.waited_s = time.monotonic() - started
                if self.waited_s > 0.5:
                    log.info("lease %s acquired after waiting %.1f s", self.path.name, self.waited_s)
                return
            holder = self._read()
            now = self._clock()
            if holder is None:  # vanished meanwhile, or being written: unreadable for a whole TTL = dead
                unreadable_since = unreadable_since or now
                expired = now - unreadable_since > self.ttl_s
            else:
                unreadable_since = None
                expired = float(holder.get("expires_at", 0)) < now
            if expired and self._exists():
                log.warning("lease %s expired (holder %s); taking it over", self.path.name, _who(holder))
                self._delete_if(holder)
                continue
            if time.monotonic() - started > self.wait_s:
                raise LeaseBusy(
                    f"{self.path.name} is held by {_who(holder)}; waited {self.wait_s:.0f} s for it"
                )
            self._sleep(self.poll_s)

    def release(self) -> None:
        holder = self._read()
        if holder is not None and holder.get("token") == self.token:
            self._delete()

    def check(self) -> None:
        """Raise `LeaseLost` unless the lease file still carries our token (call just before writing)."""
        holder = self._read()
        if holder is None or holder.get("token") != self.token:
            raise LeaseLost(f"{self.path.name} is no longer held by this task (now: {_who(holder)})")

    # -- storage ---------------------------------------------------------------------------------

    def _body(self) -> bytes:
        now = self._clock()
        return json.dumps(
            {
                "token": self.token,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "acquired_at": datetime.fromtimestamp(now, UTC).isoformat(),
                "expires_at": now + self.ttl_s,
            }
        ).encode()

    def _create(self) -> bool:
        make_local_dirs(self.path.parent)
        try:
            with self.path.open("xb") as handle:
                restrict_local(self.path)
                handle.write(self._body())
        except FileExistsError:
            return False
        return True

    def _read(self) -> dict[str, Any] | None:
        try:
            with self.path.open("rb") as handle:
                data = json.loads(handle.read() or b"null")
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def _exists(self) -> bool:
        return self.path.exists()

    def _delete(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.fs.rm(self.path.path)

    def _delete_if(self, holder: dict[str, Any] | None) -> None:
        """Delete the lease only if it is still the one judged expired."""
        if self._read() == holder:
            self._delete()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            holder = self._read()
            if holder is None or holder.get("token") != self.token:
                log.warning("lease %s lost before renewal (now %s)", self.path.name, _who(holder))
                return
            with self.path.open("wb") as handle:  # a whole-object put; a local reader may see it empty
                handle.write(self._body())


def _who(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "an unknown holder"
    return f"{holder.get('host', '?')} pid {holder.get('pid', '?')} since {holder.get('acquired_at', '?')}"
