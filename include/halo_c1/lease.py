"""One writer at a time, wherever it runs: an expiring, renewed lease object in the lake, created with
create-if-absent. Each user names what it locks (an agent's lists, the delivery record, a raw snapshot).

Why a lease in the lake: the lake is the one store every worker process and machine already shares,
and each of its backends has an atomic create-if-absent: `open("xb")` is `O_EXCL` on a local or NFS
path, `If-None-Match: *` on S3 (s3fs) and on Azure Blob (adlfs). An Airflow pool would serialise only
inside Airflow and for every user at once; a lease serialises one thing, wherever the code runs.

    with Lease(lake.provisioning_lease("12"), what="agent 12", ttl_s=60, wait_s=120) as lease:
        ...  # read, write, verify agent 12; `lease.check()` just before the write

- The lease file holds a random token, the holder's host and pid, when it was taken, a renewal count
  and when it expires by the holder's clock. The holder renews it every `ttl_s / 3` from a
  background thread while the work runs (a 429 wait may last minutes), and deletes it when done.
- A waiter polls until the lease is gone, or dead (the waiter deletes it and competes to create its
  own), or `wait_s` has passed (`LeaseBusy`, naming the holder or why the lease is unreadable).
- Deleting a dead lease is read-then-delete, not atomic: in the rare case that two waiters break
  the same dead lease at the same moment, the loser's `check()` (run just before the write) finds
  the other's token and the loser stops before writing.

When a lease is dead, without trusting that two hosts' clocks agree (a waiter whose clock runs
ahead must not take a live lease):

1. **Silence**, judged on the waiter's own monotonic clock: the file's bytes have not changed for
   `ttl_s` while the waiter watched. A live holder rewrites them every `ttl_s / 3`, so silence means
   it stopped renewing. No clocks are compared.
2. **Long past its expiry**: a readable lease whose `expires_at` lies more than `MAX_CLOCK_SKEW_S`
   behind the waiter's clock, so a dead holder's lease from an hour ago is taken over at once. A host
   whose clock runs up to `MAX_CLOCK_SKEW_S` ahead cannot take a live lease this way; keep the
   workers' clocks within that (NTP), as Kerberos asks the same 5 minutes of every host.
3. **Unreadable** (not JSON, no token, or an `expires_at` that is no time at all: NaN, Infinity,
   `1e300`, `"soon"`, null, or further ahead than any lease can run): the writer's clock is not
   used; the lease is dead once the store's modification time of the file is older than
   `ttl_s + MAX_CLOCK_SKEW_S`, or by rule 1. Until then the waiter waits, and `LeaseBusy` says
   the lease is unreadable and why.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from upath import UPath

from halo_c1.lake import is_local, make_local_dirs, open_atomic, restrict_local

log = logging.getLogger(__name__)

MAX_CLOCK_SKEW = timedelta(minutes=5)  # how far apart two workers' clocks may be (Kerberos' default)
MAX_CLOCK_SKEW_S = MAX_CLOCK_SKEW.total_seconds()
MAX_TTL_S = 3600.0  # a longer TTL would only delay taking over a dead holder's lease


class LeaseBusy(Exception):
    """Another task holds the lease for longer than we may wait."""


class LeaseLost(Exception):
    """The lease is no longer ours (it expired and someone else took it); do not write."""


class Lease:
    """An exclusive, expiring, renewed lease on one path, naming what it locks; a context manager."""

    def __init__(
        self,
        path: UPath,
        *,
        what: str,
        ttl_s: float = 60.0,
        wait_s: float = 120.0,
        poll_s: float = 0.1,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < ttl_s <= MAX_TTL_S or wait_s < 0 or poll_s <= 0:
            raise ValueError(f"ttl_s must be > 0 and <= {MAX_TTL_S:.0f}, poll_s > 0 and wait_s >= 0")
        self.path = path
        self.what = what
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self.poll_s = poll_s
        self._clock = clock
        self._sleep = sleep
        self.token = secrets.token_hex(16)
        self.waited_s = 0.0
        self._acquired_at = ""
        self._renewals = 0
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> Lease:
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
        seen: bytes | None = None  # the lease's bytes as last read, and since when they are unchanged
        seen_since = started
        while True:
            if self._create():
                self.waited_s = time.monotonic() - started
                if self.waited_s > 0.5:
                    log.info("lease on %s acquired after waiting %.1f s", self.what, self.waited_s)
                return
            raw = self._read_bytes()
            if raw != seen:
                seen, seen_since = raw, time.monotonic()
            holder, unreadable = _parse(raw, self._clock())
            if raw is not None:  # None: released meanwhile, created again after the poll
                dead = self._dead(holder, unreadable, silent_s=time.monotonic() - seen_since)
                if dead:
                    log.warning("lease on %s %s (holder %s); taking it over", self.what, dead, _who(holder))
                    self._delete_if(raw)
                    continue
            if time.monotonic() - started > self.wait_s:
                state = f"unreadable ({unreadable})" if unreadable else f"held by {_who(holder)}"
                raise LeaseBusy(
                    f"{self.what}: {self.path.name} is {state}; waited {self.wait_s:.0f} s for it"
                )
            self._sleep(self.poll_s)

    def _dead(self, holder: dict[str, Any] | None, unreadable: str | None, *, silent_s: float) -> str:
        """Why the lease read is dead (rules 1 to 3 of the module docstring), or "" while it lives."""
        if silent_s > self.ttl_s:
            return f"unchanged for {silent_s:.0f} s, over its {self.ttl_s:.0f} s TTL"
        if holder is not None and holder["expires_at"] < self._clock() - MAX_CLOCK_SKEW_S:
            return f"expired more than {MAX_CLOCK_SKEW_S:.0f} s ago"
        if unreadable:
            age = self._clock() - self._modified_at()
            if age > self.ttl_s + MAX_CLOCK_SKEW_S:
                return f"unreadable ({unreadable}) and last written {age:.0f} s ago"
        return ""

    def release(self) -> None:
        holder, _ = _parse(self._read_bytes(), self._clock())
        if holder is not None and holder["token"] == self.token:
            self._delete()

    def check(self) -> None:
        """Raise `LeaseLost` unless the lease file still carries our token (call just before writing)."""
        holder, _ = _parse(self._read_bytes(), self._clock())
        if holder is None or holder["token"] != self.token:
            raise LeaseLost(
                f"{self.what}: {self.path.name} is no longer held by this task (now: {_who(holder)})"
            )

    # -- storage ---------------------------------------------------------------------------------

    def _body(self) -> bytes:
        now = self._clock()
        self._acquired_at = self._acquired_at or datetime.fromtimestamp(now, UTC).isoformat()
        return json.dumps(
            {
                "token": self.token,
                "what": self.what,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "acquired_at": self._acquired_at,
                "renewals": self._renewals,  # the bytes change with every renewal, whatever the clock says
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

    def _read_bytes(self) -> bytes | None:
        try:
            with self.path.open("rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def _modified_at(self) -> float:
        """The store's own modification time of the lease file (the server's clock on S3 and Azure)."""
        try:
            return float(self.path.stat().st_mtime)
        except (FileNotFoundError, TypeError, ValueError):
            return self._clock()

    def _delete(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.fs.rm(self.path.path)

    def _delete_if(self, raw: bytes) -> None:
        """Delete the lease only if it is still the one judged dead."""
        if self._read_bytes() == raw:
            self._delete()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            holder, _ = _parse(self._read_bytes(), self._clock())
            if holder is None or holder["token"] != self.token:
                log.warning("lease on %s lost before renewal (now %s)", self.what, _who(holder))
                return
            self._renewals += 1
            # A put replaces an object whole; a local file is replaced by a rename, or a reader (our
            # own `check()` before a write) could find it empty, half rewritten.
            with open_atomic(self.path) if is_local(self.path) else self.path.open("wb") as handle:
                handle.write(self._body())


def _parse(raw: bytes | None, now: float) -> tuple[dict[str, Any] | None, str | None]:
    """The lease as written (a dict with a str `token` and a plausible float `expires_at`), or None
    and why it is unreadable (None when there is no file)."""
    if raw is None:
        return None, None
    if not raw:  # a holder that died between creating and writing it
        return None, "empty"
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, "not JSON"
    if not isinstance(data, dict) or not isinstance(data.get("token"), str):
        return None, "no token"
    expires_at = data.get("expires_at")
    if isinstance(expires_at, bool) or not isinstance(expires_at, int | float):
        return None, f"expires_at {expires_at!r} is not a time"
    if not math.isfinite(expires_at) or expires_at > now + MAX_TTL_S + MAX_CLOCK_SKEW_S:
        return None, f"expires_at {expires_at!r} is no plausible time"
    return {**data, "expires_at": float(expires_at)}, None


def _who(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "an unknown holder"
    return f"{holder.get('host', '?')} pid {holder.get('pid', '?')} since {holder.get('acquired_at', '?')}"
