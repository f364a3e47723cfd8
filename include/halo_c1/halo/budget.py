"""The tenant's request budget, shared by every process that calls one HaloITSM tenant.

HaloITSM counts requests per tenant (300 per rolling 5 minutes on hosted Halo), not per client. Two
halo-c1 runs in flight at once (the hourly access extraction and an end-user refresh, a retried task
beside a new run, provisioning beside either) must share that budget, or together they draw 429s.
So the client's rolling window lives in a store every process reaches:

    default               a SQLite file on this host (`HALO_C1_RATE_LIMIT_DIR`, default
                          <tmp>/halo_c1-rate-limits-<uid>/), one per tenant: every process on the
                          host (LocalExecutor, standalone, several Celery workers on one machine)
    rate_limit_store      "redis://[:password@]host:6379/0" (or rediss://): every worker on every host
                          that reaches that Redis (CeleryExecutor's broker will do)

A slot is taken when a request starts (counted "in flight") and stamped when its response *ends*:
Halo counts a request when it arrives, which is between the two, so stamping at the end is the one
choice that keeps the client's window at least as strict as the server's whatever the latency. An
in-flight slot whose process died counts until its lease (`lease_s`) ends, then as a request stamped
at that moment: a crash can only make the window stricter. Why not pyrate-limiter's SQLite/Redis
buckets (installed): they stamp an item at acquisition and cannot move the stamp later, which let a
client be refused by a same-budget server.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Generator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from halo_c1.halo.errors import HaloBudgetStoreError, HaloConfigError

if TYPE_CHECKING:
    from halo_c1.halo.settings import HaloSettings

log = logging.getLogger("halo_c1.halo")

RATE_LIMIT_DIR_ENV = "HALO_C1_RATE_LIMIT_DIR"
# Extra spacing after a slot frees, so the server's clock has also seen it free (as the throttle).
MARGIN_S = 0.005
# How long a slot may stay in flight before it counts as a request stamped then (a dead process).
MIN_LEASE_S = 120.0
# While every slot is in flight (none stamped yet) nobody knows when one frees: poll this often.
MAX_POLL_S = 0.05


class Throttle(Protocol):
    """What the client's transport needs: wait for a slot before a request, stamp it after."""

    def acquire(self) -> float: ...

    def release(self) -> None: ...


def budget_key(settings: HaloSettings) -> str:
    """The tenant a budget belongs to: its base URL and tenant name (never the credentials)."""
    return f"{settings.base_url.lower()}|{(settings.tenant or '').lower()}"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def default_store_dir() -> Path:
    """`HALO_C1_RATE_LIMIT_DIR`, else a per-user folder in the system temp dir."""
    configured = os.environ.get(RATE_LIMIT_DIR_ENV, "").strip()
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"halo_c1-rate-limits-{os.getuid()}"


class _Waiting:
    """The loop both stores share: ask the store for a slot, sleep as long as it says, ask again."""

    requests: int
    period_s: float
    _clock: Callable[[], float]
    _sleep: Callable[[float], None]
    _held: threading.local

    def _try(self, slot: str) -> float | None:
        raise NotImplementedError

    def _stamp(self, slot: str) -> None:
        raise NotImplementedError

    def acquire(self) -> float:
        """Wait for a free slot in the tenant's shared window and take it; returns the seconds waited."""
        started = self._clock()
        slot = uuid.uuid4().hex
        while True:
            wait = self._try(slot)
            if wait is None:
                self._held.__dict__.setdefault("slots", []).append(slot)
                return self._clock() - started
            self._sleep(max(wait, 0.0) + MARGIN_S)

    def release(self) -> None:
        """Stamp this thread's oldest slot with the time its response ended."""
        slots = self._held.__dict__.get("slots") or []
        if slots:
            self._stamp(slots.pop(0))

    def _poll(self) -> float:
        return min(self.period_s / self.requests, MAX_POLL_S)


class SqliteRollingWindow(_Waiting):
    """The rolling window in a SQLite file: shared by every process on this host.

    One row per slot: `stamped` is null while the request is in flight (until `lease_until`), then
    the time its response ended. Every change runs in one `BEGIN IMMEDIATE` transaction, so two
    processes never both take the last slot.
    """

    def __init__(
        self,
        path: Path,
        requests: int,
        period_s: float,
        *,
        lease_s: float = MIN_LEASE_S,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = path
        self.requests = requests
        self.period_s = period_s
        self.lease_s = lease_s
        self._clock = clock
        self._sleep = sleep
        self._held = threading.local()
        self._lock = threading.Lock()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # the window is worth nothing after a reboot
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS slots (id TEXT PRIMARY KEY, stamped REAL, lease_until REAL NOT NULL)"
        )

    def __repr__(self) -> str:
        return f"SqliteRollingWindow({str(self.path)!r}, {self.requests}/{self.period_s:g}s)"

    def _try(self, slot: str) -> float | None:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                now = self._clock()
                db.execute(
                    "UPDATE slots SET stamped = lease_until WHERE stamped IS NULL AND lease_until <= ?",
                    (now,),
                )
                db.execute(
                    "DELETE FROM slots WHERE stamped IS NOT NULL AND stamped <= ?", (now - self.period_s,)
                )
                (taken,) = db.execute("SELECT COUNT(*) FROM slots").fetchone()
                if taken < self.requests:
                    db.execute(
                        "INSERT INTO slots (id, stamped, lease_until) VALUES (?, NULL, ?)",
                        (slot, now + self.lease_s),
                    )
                    return None
                (oldest,) = db.execute("SELECT MIN(stamped) FROM slots").fetchone()
            finally:
                db.execute("COMMIT")
        return oldest + self.period_s - now if oldest is not None else self._poll()

    def _stamp(self, slot: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO slots (id, stamped, lease_until) VALUES (?, ?, ?)",
                (slot, self._clock(), 0.0),
            )

    def close(self) -> None:
        self._db.close()


# KEYS: stamps (member -> time its response ended), in flight (member -> lease end).
# ARGV: requests, period_s, lease_s, slot. Returns "ok" or the seconds to wait (as text: Lua numbers
# reach Python as integers). Redis's own clock, so every host agrees on "now".
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local requests, period, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES')
for i = 1, #expired, 2 do redis.call('ZADD', KEYS[1], expired[i + 1], expired[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local ttl = math.ceil((period + lease) * 2000)
if redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) < requests then
  redis.call('ZADD', KEYS[2], now + lease, ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ttl)
  return 'ok'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #oldest == 0 then return '-1' end
return tostring(tonumber(oldest[2]) + period - now)
"""
_STAMP = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil((tonumber(ARGV[2]) + tonumber(ARGV[3])) * 2000))
return 'ok'
"""


class RedisRollingWindow(_Waiting):
    """The rolling window in Redis (two sorted sets per tenant): shared by every host that reaches it."""

    def __init__(
        self,
        url: str,
        key: str,
        requests: int,
        period_s: float,
        *,
        lease_s: float = MIN_LEASE_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import redis

        self.requests = requests
        self.period_s = period_s
        self.lease_s = lease_s
        self._clock = time.monotonic  # only for the seconds waited; the window runs on Redis's clock
        self._sleep = sleep
        self._held = threading.local()
        self._client = redis.Redis.from_url(url, socket_timeout=30.0, socket_connect_timeout=10.0)
        prefix = f"halo_c1:rate:{_key_hash(key)}"
        self._keys = [f"{prefix}:stamps", f"{prefix}:in_flight"]
        self._take = self._client.register_script(_TAKE)
        self._stamp_script = self._client.register_script(_STAMP)

    def __repr__(self) -> str:  # never the URL: it may carry a password
        return f"RedisRollingWindow({self._keys[0]!r}, {self.requests}/{self.period_s:g}s)"

    def _try(self, slot: str) -> float | None:
        with self._reachable():
            answer = self._take(keys=self._keys, args=[self.requests, self.period_s, self.lease_s, slot])
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        if text == "ok":
            return None
        wait = float(text)
        return wait if wait >= 0 else self._poll()

    def _stamp(self, slot: str) -> None:
        with self._reachable():
            self._stamp_script(keys=self._keys, args=[slot, self.period_s, self.lease_s])

    @contextmanager
    def _reachable(self) -> Generator[None, None, None]:
        """A Redis failure as `HaloBudgetStoreError`, naming the setting (never the URL: a password)."""
        import redis

        try:
            yield
        except redis.RedisError as error:
            raise HaloBudgetStoreError(
                f"the tenant's shared request budget (extra.rate_limit_store, Redis) is unreachable: "
                f"{type(error).__name__}; no HaloITSM request is sent without a slot"
            ) from None

    def close(self) -> None:
        self._client.close()


def shared_throttle(settings: HaloSettings) -> SqliteRollingWindow | RedisRollingWindow:
    """The throttle for `settings`' tenant in the configured store (see the module docstring)."""
    requests, period = settings.rate_limit_requests, settings.rate_limit_period_s
    lease = max(MIN_LEASE_S, 4 * (settings.timeout_s + settings.connect_timeout_s))
    key = budget_key(settings)
    store = settings.rate_limit_store.get_secret_value() if settings.rate_limit_store else None
    if store and store.startswith(("redis://", "rediss://", "unix://")):
        return RedisRollingWindow(store, key, requests, period, lease_s=lease)
    folder = Path(store) if store else default_store_dir()
    if store and not folder.is_absolute():
        raise HaloConfigError(
            "extra.rate_limit_store must be a redis:// or rediss:// URL or an absolute folder path"
        )
    path = folder / f"tenant-{_key_hash(key)}.sqlite3"
    try:
        return SqliteRollingWindow(path, requests, period, lease_s=lease)
    except (OSError, sqlite3.Error) as error:
        raise HaloConfigError(
            f"the shared request budget file {path} cannot be used ({error}); set {RATE_LIMIT_DIR_ENV} "
            "or extra.rate_limit_store to a writable folder"
        ) from None
