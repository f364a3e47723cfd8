"""The HaloITSM HTTP client: one `httpx.Client`, a rolling-window throttle, retries, paging.

Layers, outermost first:

    HaloClient.get_json / paginate     tenacity retry: 429 (Retry-After or fallback wait), 5xx,
                                       timeouts, dropped connections, malformed JSON
      httpx.Client + HaloAuth          bearer token, refreshed before expiry and once on a 401
        MeteredTransport               the tenant's shared rolling-window budget (`budget`) before
                                       every attempt (token requests too), one request-log row after
          httpx.HTTPTransport          or any transport passed in (MockTransport in unit tests)

The throttle is a rolling window like Halo's own limit (300 requests per rolling 5 minutes by
default), stamped at response end and shared by every process calling the tenant (`budget`), so in
normal operation the tenant never answers 429, however many runs are in flight.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx
import pyarrow as pa
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type, stop_after_attempt

from halo_c1.halo.auth import HaloAuth
from halo_c1.halo.budget import Throttle, shared_throttle
from halo_c1.halo.errors import (
    HaloDataError,
    HaloResponseError,
    HaloRetriesExhausted,
    HaloTokenResponseError,
    HaloUnreachableError,
    truncate,
)
from halo_c1.halo.paging import HaloPagePaginator, Page, normalize_id, parse_envelope
from halo_c1.halo.paths import check_path
from halo_c1.halo.settings import HaloSettings
from halo_c1.model import RAW_REQUEST_LOG
from halo_c1.redact import sanitize_params, scrub

log = logging.getLogger("halo_c1.halo")

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
ATTEMPT_EXTENSION = "halo_c1_attempt"
# A JSON \uD800-\uDFFF escape: a UTF-16 surrogate, lone when HaloITSM cut an emoji in half.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
REPLACEMENT = "\ufffd"
MAX_REPAIR_EXAMPLES = 5


@dataclass
class ClientStats:
    """Counters of one client's life; small and JSON-able, for the manifest and the logs."""

    requests: int = 0
    token_requests: int = 0
    retries: int = 0
    responses_429: int = 0
    transport_errors: int = 0
    throttle_wait_s: float = 0.0
    rate_limit_wait_s: float = 0.0
    backoff_wait_s: float = 0.0
    responses_by_status: dict[str, int] = field(default_factory=dict)
    lone_surrogates_repaired: int = 0
    repaired_records: list[str] = field(default_factory=list)  # a few "<path> id <id>"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("throttle_wait_s", "rate_limit_wait_s", "backoff_wait_s"):
            data[key] = round(data[key], 3)
        return data


class RequestLog:
    """One row per HTTP attempt (RAW_REQUEST_LOG): method, path, sanitized params, status, timing, error."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def record(self, request: httpx.Request, **fields: Any) -> None:
        self.rows.append(
            {
                "seq": len(self.rows) + 1,
                "at": datetime.now(UTC),
                "method": request.method,
                "path": request.url.path,
                "params": json.dumps(sanitize_params(request.url.params.multi_items()), sort_keys=True)
                or None,
                "attempt": int(request.extensions.get(ATTEMPT_EXTENSION, 1)),
                **fields,
            }
        )

    def to_table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows, schema=RAW_REQUEST_LOG)


class MeteredTransport(httpx.BaseTransport):
    """Throttles every attempt and records it; reads the body here so drops mid-body are recorded too."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        throttle: Throttle,
        request_log: RequestLog,
        stats: ClientStats,
        token_path: str,
    ) -> None:
        self._inner = inner
        self._throttle = throttle
        self._log = request_log
        self._stats = stats
        self._token_path = token_path

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        waited = self._throttle.acquire()
        self._stats.throttle_wait_s += waited
        self._stats.requests += 1
        if request.method == "POST" and request.url.path == self._token_path:
            self._stats.token_requests += 1
        started = time.perf_counter()
        try:
            response = self._inner.handle_request(request)
            response.read()
        except httpx.TransportError as exc:
            self._stats.transport_errors += 1
            self._log.record(
                request,
                status=None,
                elapsed_ms=(time.perf_counter() - started) * 1000,
                throttle_wait_s=waited,
                error=f"{type(exc).__name__}: {truncate(str(exc), 200)}",
            )
            raise
        finally:
            self._throttle.release()
        status = str(response.status_code)
        self._stats.responses_by_status[status] = self._stats.responses_by_status.get(status, 0) + 1
        self._log.record(
            request,
            status=response.status_code,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            throttle_wait_s=waited,
            error=None,
        )
        return response

    def close(self) -> None:
        self._inner.close()


class TransientFailure(Exception):
    """A failure worth retrying; carries what the wait strategy and the final error need."""

    def __init__(
        self,
        description: str,
        *,
        rate_limited: bool = False,
        retry_after_s: float | None = None,
        unreachable_host: str | None = None,
    ) -> None:
        super().__init__(description)
        self.rate_limited = rate_limited
        self.retry_after_s = retry_after_s
        self.unreachable_host = unreachable_host


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def halo_message(response: httpx.Response) -> str:
    """Halo's error text from the shapes it uses (`{"error"}`, `{"Message"}`, `{"errorMessage"}`, text)."""
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return truncate(response.text) or response.reason_phrase
    if isinstance(payload, dict):
        for key in ("errorMessage", "Message", "message", "error_description", "error"):
            if payload.get(key):
                return truncate(str(payload[key]))
    return truncate(json.dumps(payload)) if payload else response.reason_phrase


class HaloClient:
    """A HaloITSM API client: reads for extraction, `post_json` for provisioning. A context manager.

    >>> settings = HaloSettings(base_url="https://acme.haloitsm.com", client_id="id", client_secret="s")
    >>> with HaloClient(settings) as halo:                                   # doctest: +SKIP
    ...     roles = halo.get_json("/api/Roles")
    ...     for page in halo.paginate("/api/Users", {"includeinactive": "true"}):
    ...         print(page.page_no, len(page.rows), page.record_count)

    `transport` replaces the network (`httpx.MockTransport` in unit tests); `sleep` replaces the
    sleep between retries and `rng` the backoff jitter's random source, so tests can check exact
    waits without waiting.
    """

    def __init__(
        self,
        settings: HaloSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        throttle: Throttle | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._random = rng or random.Random()
        self.stats = ClientStats()
        self.request_log = RequestLog()
        self.auth = HaloAuth.from_settings(settings)
        self._sleep = sleep
        self._consecutive_429 = 0
        self._own_throttle = None if throttle else shared_throttle(settings)
        metered = MeteredTransport(
            transport or httpx.HTTPTransport(),
            throttle or self._own_throttle,
            self.request_log,
            self.stats,
            httpx.URL(settings.effective_token_url).path,
        )
        self._http = httpx.Client(
            base_url=settings.base_url,
            auth=self.auth,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            transport=metered,
            headers={"Accept": "application/json", "User-Agent": "halo-c1"},
        )

    def __repr__(self) -> str:
        return f"HaloClient({self.settings.base_url!r})"

    def __enter__(self) -> HaloClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        if self._own_throttle is not None:
            self._own_throttle.close()

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET `path` and return its JSON, retrying transient failures; raises a `HaloError` otherwise."""
        return self._call_json("GET", path, params or {}, None)

    def post_json(self, path: str, body: Any) -> Any:
        """POST a JSON body (Halo's upserts, e.g. `/api/Agent`) with the same auth, throttle and retries.

        Retrying a POST is safe only for an idempotent body: callers post a complete list (the same
        request applied twice leaves the same state), never a delta.
        """
        return self._call_json("POST", path, {}, body)

    def _call_json(self, method: str, path: str, params: dict[str, Any], body: Any) -> Any:
        check_path(path)  # ids are quoted by `paths.api_path`; nothing else reaches the wire
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=self._wait_before_retry,
            retry=retry_if_exception_type(TransientFailure),
            before_sleep=self._log_retry,
            sleep=self._sleep,
            reraise=False,
        )
        try:
            for attempt in retrying:
                with attempt:
                    payload = self._send_once(method, path, params, body, attempt.retry_state.attempt_number)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            attempts = exc.last_attempt.attempt_number
            if isinstance(last, TransientFailure) and last.unreachable_host:
                raise HaloUnreachableError(
                    f"HaloITSM host {last.unreachable_host} unreachable after {attempts} attempt(s): {last}"
                ) from None
            raise HaloRetriesExhausted(
                f"HaloITSM {method} {path} still failing after {attempts} attempt(s); last failure: {last}"
            ) from None
        self._consecutive_429 = 0
        return payload

    def paginate(
        self, path: str, params: dict[str, Any] | None = None, *, paged: bool = True, id_key: str = "id"
    ) -> Iterator[Page]:
        """Yield the pages of a listing; `paged=False` for endpoints without paging (Team, Roles)."""
        paginator = HaloPagePaginator(path, page_size=self.settings.page_size, paged=paged, id_key=id_key)
        request_params = paginator.init_request(params or {})
        while True:
            yield paginator.update_state(parse_envelope(self.get_json(path, request_params), path))
            if not paginator.has_next_page:
                return
            request_params = paginator.update_request(request_params)

    def _scrub(self, text: str) -> str:
        return scrub(text, (self.settings.client_secret.get_secret_value(), self.auth.current_token))

    def _send_once(self, method: str, path: str, params: dict[str, Any], body: Any, attempt: int) -> Any:
        try:
            response = self._http.request(
                method,
                path,
                params=params,
                json=body if method != "GET" else None,
                extensions={ATTEMPT_EXTENSION: attempt},
            )
        except httpx.ConnectError as exc:
            raise TransientFailure(
                f"{self._token_step(exc)}cannot connect ({self._scrub(str(exc)) or type(exc).__name__})",
                unreachable_host=exc.request.url.host,
            ) from exc
        except HaloTokenResponseError as exc:
            raise TransientFailure(self._scrub(str(exc))) from exc
        except httpx.TimeoutException as exc:
            raise TransientFailure(f"{self._token_step(exc)}timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise TransientFailure(
                f"{self._token_step(exc)}{type(exc).__name__}: {self._scrub(truncate(str(exc), 200))}"
            ) from exc
        where = f"{response.request.method} {response.request.url.path}"
        status = response.status_code
        if status in TRANSIENT_STATUSES:
            message = self._scrub(halo_message(response))
            if status == 429:
                self.stats.responses_429 += 1
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                raise TransientFailure(
                    f"{where} HTTP 429: {message}", rate_limited=True, retry_after_s=retry_after
                )
            raise TransientFailure(f"{where} HTTP {status}: {message}")
        if status >= 300:
            raise HaloResponseError(
                response.request.method,
                response.request.url.path,
                status,
                self._scrub(halo_message(response)),
            )
        body = response.content
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._invalid_utf8(where, body, exc) from None
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TransientFailure(
                f"{where} returned malformed JSON ({truncate(str(exc), 80)}; body starts "
                f"{self._scrub(text[:40])!r})"
            ) from exc
        if SURROGATE_ESCAPE.search(body):
            payload = self._repair_surrogates(where, payload)
        return payload

    def _token_step(self, exc: httpx.TransportError) -> str:
        """ "token request POST <path>: " when the failed request was the token request, else ""."""
        path = exc.request.url.path if getattr(exc, "_request", None) is not None else None
        token_path = httpx.URL(self.settings.effective_token_url).path
        return f"token request POST {path}: " if path == token_path else ""

    def _invalid_utf8(self, where: str, body: bytes, exc: UnicodeDecodeError) -> Exception:
        """Invalid UTF-8 in a complete answer comes back the same way: permanent, naming the record.

        A body cut short (which may also cut a character) does not parse: that is transient.
        """
        try:
            payload = json.loads(body.decode("utf-8", errors="replace"))
        except json.JSONDecodeError:
            return TransientFailure(f"{where} returned a truncated body (invalid UTF-8 at byte {exc.start})")
        records = _records_containing(payload, REPLACEMENT) or ["(record id unknown)"]
        return HaloDataError(
            f"{where} returned invalid UTF-8 (byte {exc.start}, {body[exc.start : exc.end]!r}) in record "
            f"{', '.join(records[:MAX_REPAIR_EXAMPLES])}: HaloITSM stores that text as sent; fix it there"
        )

    def _repair_surrogates(self, where: str, payload: Any) -> Any:
        """Lone UTF-16 surrogates (half an emoji) cannot be stored as UTF-8: replace each with U+FFFD."""
        repaired = 0

        def fix(value: Any) -> Any:
            nonlocal repaired
            if isinstance(value, str):
                fixed, count = LONE_SURROGATE.subn(REPLACEMENT, value)
                repaired += count
                return fixed
            if isinstance(value, dict):
                return {fix(key): fix(item) for key, item in value.items()}
            if isinstance(value, list):
                return [fix(item) for item in value]
            return value

        fixed = fix(payload)
        if repaired:
            records = _records_containing(fixed, REPLACEMENT) or ["(record id unknown)"]
            self.stats.lone_surrogates_repaired += repaired
            room = MAX_REPAIR_EXAMPLES - len(self.stats.repaired_records)
            self.stats.repaired_records.extend(f"{where} {record}" for record in records[: max(room, 0)])
            log.warning(
                "%s: %d lone UTF-16 surrogate(s) (a cut emoji) replaced with U+FFFD in record %s",
                where,
                repaired,
                ", ".join(records[:MAX_REPAIR_EXAMPLES]),
            )
        return fixed

    def _wait_before_retry(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, TransientFailure) and failure.rate_limited:
            self._consecutive_429 += 1
            if failure.retry_after_s is not None:
                return min(failure.retry_after_s, self.settings.rate_limit_period_s)
            fallback = self.settings.rate_limit_fallback_wait_s * 2 ** (self._consecutive_429 - 1)
            return min(
                fallback, max(self.settings.rate_limit_period_s, self.settings.rate_limit_fallback_wait_s)
            )
        backoff = min(
            self.settings.max_backoff_s, self.settings.backoff_base_s * 2 ** (state.attempt_number - 1)
        )
        return backoff * self._random.uniform(0.5, 1.0)

    def _log_retry(self, state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self.stats.retries += 1
        if isinstance(failure, TransientFailure) and failure.rate_limited:
            self.stats.rate_limit_wait_s += wait
            source = "Retry-After" if failure.retry_after_s is not None else "fallback wait"
            log.info(
                "HaloITSM rate limit (429): %s; waiting %.1f s (%s) before retrying", failure, wait, source
            )
        else:
            self.stats.backoff_wait_s += wait
            log.info(
                "HaloITSM transient failure on attempt %d: %s; retrying in %.2f s",
                state.attempt_number,
                failure,
                wait,
            )


def _records_containing(payload: Any, needle: str) -> list[str]:
    """`id <id>` of each row (a dict with an `id`) of a list response whose text contains `needle`."""
    if isinstance(payload, dict):
        rows = next((value for value in payload.values() if isinstance(value, list)), [payload])
    else:
        rows = payload if isinstance(payload, list) else []
    found = []
    for row in rows:
        if isinstance(row, dict) and needle in json.dumps(row, ensure_ascii=False):
            found.append(f"id {normalize_id(row.get('id'))}")
    return found
