"""Fault injection: what can go wrong, as frozen dataclasses, and the book that decides when it fires.

Every fault is off by default (`Faults()` is a well-behaved server). A fault is switched on by giving
it a value, and can be swapped while the server runs (`Simulator.set_faults`), which also resets the
counters below.

Which requests a fault hits (`Fault`'s fields):

- `path`: `None` hits every request except `/_sim/*`. Otherwise, case-insensitively, either the
  route template (`"/api/Agent/{id}"` hits every single-agent GET) or the literal path
  (`"/api/Agent"` hits the agent list only, `"/api/Agent/7"` one agent, `"/auth/token"` the token
  endpoint).
- `page_no`: `None` hits any request; a number hits only requests whose `page_no` query parameter
  equals it (so never an unpaginated request).
- `after`: let that many matching requests through first.
- `times`: then fire on that many matching requests (`None`: on every one from then on). A test
  shows recovery with `times=1..n` and a clear failure with `times=None`.

The rate limit is not a per-request fault but a rolling window; see `RateLimit`. Token expiry is
periodic; see `TokenExpiry`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Fault:
    times: int | None = 1
    path: str | None = None
    page_no: int | None = None
    after: int = 0


@dataclass(frozen=True)
class ServerError(Fault):
    """Answer with a transient 5xx (plain-text body) instead of the real response."""

    status: int = 503


@dataclass(frozen=True)
class SlowResponse(Fault):
    """Wait `delay_s` seconds before answering (normally): longer than the client's read timeout."""

    delay_s: float = 5.0


@dataclass(frozen=True)
class DropConnection(Fault):
    """Close the TCP connection without sending any response (the client sees a transport error)."""


@dataclass(frozen=True)
class MalformedJson(Fault):
    """Answer 200 with `application/json` whose body is the real one cut in half."""


@dataclass(frozen=True)
class RecordCountDrift(Fault):
    """On a paginated response, report `record_count` off by `delta` (default: on page 2)."""

    page_no: int | None = 2
    delta: int = 1


@dataclass(frozen=True)
class DuplicateRow(Fault):
    """On a paginated response, also serve the previous page's last row first (default: on page 2).

    The page then carries `page_size + 1` rows and no row is lost; `record_count` is unchanged.
    Nothing happens on page 1 or on a page past the end.
    """

    page_no: int | None = 2


@dataclass(frozen=True)
class TokenExpiry(Fault):
    """Expire every issued token once `after` authenticated API calls have been served.

    It is periodic: after each expiry the count restarts, so with `after=10, times=None` every
    eleventh call finds its token expired (401) and a client that re-authenticates recovers. With
    `after=0, times=None` every authenticated call gets 401: a clear failure. `page_no` is ignored.
    """


@dataclass(frozen=True)
class RateLimit:
    """Halo's rolling window: at most `requests` admitted per `window_s` seconds, else 429.

    Every request counts (token calls too, `/_sim/*` never); rejected requests do not take a slot.
    The 429 body is Halo's plain text, "Rate Limit Reached - 300 Requests per rolling 5 minute
    window", with the configured numbers. With `retry_after`, a `Retry-After` header gives the
    whole seconds until the oldest slot frees. `times`: how many 429s to serve before the limiter
    switches itself off (`None`: never).
    """

    requests: int = 300
    window_s: float = 300.0
    retry_after: bool = False
    times: int | None = None

    def message(self) -> str:
        if self.window_s % 60 == 0:
            window = f"{int(self.window_s // 60)} minute"
        else:
            window = f"{self.window_s:g} second"
        return f"Rate Limit Reached - {self.requests} Requests per rolling {window} window"


@dataclass(frozen=True)
class Faults:
    """The faults switched on (None = off). `Faults()` is a well-behaved server."""

    rate_limit: RateLimit | None = None
    server_error: ServerError | None = None
    slow_response: SlowResponse | None = None
    drop_connection: DropConnection | None = None
    malformed_json: MalformedJson | None = None
    token_expiry: TokenExpiry | None = None
    record_count_drift: RecordCountDrift | None = None
    duplicate_row: DuplicateRow | None = None


def fault_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Faults))


class FaultBook:
    """The live faults and their counters; thread-safe (the test thread flips, the server reads)."""

    def __init__(self, faults: Faults, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.replace(faults)

    def replace(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._seen: Counter[str] = Counter()
            self._fired: Counter[str] = Counter()
            self._window: deque[float] = deque()
            self._token_calls = 0

    def fired(self) -> dict[str, int]:
        with self._lock:
            return {name: self._fired[name] for name in fault_names() if self._fired[name]}

    def take(self, name: str, route: str | None, path: str, page_no: int | None) -> Fault | None:
        """The fault `name` if it fires on this request (and count it), else None."""
        with self._lock:
            fault = getattr(self.faults, name)
            if fault is None or not _matches(fault, route, path, page_no):
                return None
            self._seen[name] += 1
            if self._seen[name] <= fault.after or _spent(fault.times, self._fired[name]):
                return None
            self._fired[name] += 1
            return fault

    def admit(self) -> tuple[RateLimit, float] | None:
        """Take a rate-limit slot. None when admitted, else the limit and seconds until a slot frees."""
        with self._lock:
            limit = self.faults.rate_limit
            if limit is None:
                return None
            now = self._clock()
            while self._window and self._window[0] <= now - limit.window_s:
                self._window.popleft()
            if len(self._window) < limit.requests or _spent(limit.times, self._fired["rate_limit"]):
                self._window.append(now)
                return None
            self._fired["rate_limit"] += 1
            return limit, self._window[0] + limit.window_s - now

    def tokens_expire_now(self, route: str | None, path: str) -> bool:
        """Called before each authenticated API call; True when every token must expire first."""
        with self._lock:
            fault = self.faults.token_expiry
            if fault is None or not _matches(fault, route, path, None):
                return False
            if self._token_calls < fault.after or _spent(fault.times, self._fired["token_expiry"]):
                self._token_calls += 1
                return False
            self._fired["token_expiry"] += 1
            self._token_calls = 0
            return True


def retry_after_seconds(wait_s: float) -> int:
    return max(1, math.ceil(wait_s))


def _spent(times: int | None, fired: int) -> bool:
    return times is not None and fired >= times


def _matches(fault: Fault, route: str | None, path: str, page_no: int | None) -> bool:
    if fault.page_no is not None and not isinstance(fault, TokenExpiry) and page_no != fault.page_no:
        return False
    if fault.path is None:
        return True
    wanted = fault.path.rstrip("/").lower()
    return wanted == path.rstrip("/").lower() or (route is not None and wanted == route.lower())
