"""Retry, rate-limit waits, permanent errors and the request log of HaloClient, on httpx.MockTransport."""

import json
import logging
import types

import httpx
import pytest

import halo_c1.halo as halo
from halo_c1.halo import (
    HaloClient,
    HaloResponseError,
    HaloRetriesExhausted,
    HaloSettings,
    HaloUnreachableError,
    SqliteRollingWindow,
)

SECRET = "s3cr3t-value-never-shown"


def settings(**overrides):
    fields = {
        "base_url": "https://acme.example",
        "client_id": "client",
        "client_secret": SECRET,
        "max_retries": 3,
        "backoff_base_s": 1.0,
        "max_backoff_s": 4.0,
        "rate_limit_fallback_wait_s": 30.0,
        "rate_limit_period_s": 300.0,
    }
    return HaloSettings(**{**fields, **overrides})


class Script:
    """Answers the token endpoint, then plays `answers` for API calls in order (the last one repeats)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.api_calls = 0

    def __call__(self, request):
        if request.url.path == "/auth/token":
            return httpx.Response(200, json={"access_token": "tok-abcdef", "expires_in": 3600})
        answer = self.answers[min(self.api_calls, len(self.answers) - 1)]
        self.api_calls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_client(script, **overrides):
    slept = []
    client = HaloClient(settings(**overrides), transport=httpx.MockTransport(script), sleep=slept.append)
    return client, slept


def ok(payload=None):
    return httpx.Response(200, json=payload if payload is not None else [{"id": 1}])


def test_public_surface_is_exactly_all():
    public = {
        n for n, v in vars(halo).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert public == set(halo.__all__)
    assert sorted(halo.__all__) == halo.__all__


def test_transient_5xx_is_retried_with_bounded_exponential_backoff():
    script = Script(httpx.Response(503), httpx.Response(502), httpx.Response(500), ok())
    client, slept = make_client(script)
    assert client.get_json("/api/Agent") == [{"id": 1}]
    assert len(slept) == 3
    # Base 1 s doubling, jittered into [half, full], capped at 4 s.
    for wait, cap in zip(slept, [1.0, 2.0, 4.0], strict=True):
        assert cap / 2 <= wait <= cap
    assert client.stats.retries == 3
    assert [row["attempt"] for row in client.request_log.rows[1:]] == [1, 2, 3, 4]


def test_backoff_jitter_comes_from_the_injected_random_source():
    class Extremes:
        """uniform(a, b) answers a, then b, alternately."""

        def __init__(self):
            self.calls = 0

        def uniform(self, low, high):
            self.calls += 1
            return low if self.calls % 2 else high

    script = Script(httpx.Response(503), httpx.Response(502), httpx.Response(500), ok())
    slept = []
    client = HaloClient(settings(), transport=httpx.MockTransport(script), sleep=slept.append, rng=Extremes())
    client.get_json("/api/Agent")
    assert slept == [0.5, 2.0, 2.0]  # 1 s × 0.5, 2 s × 1.0, 4 s × 0.5


def test_429_waits_as_retry_after_says_and_logs_it(caplog):
    script = Script(httpx.Response(429, headers={"Retry-After": "7"}, text="Rate Limit Reached"), ok())
    client, slept = make_client(script)
    with caplog.at_level(logging.INFO, logger="halo_c1.halo"):
        client.get_json("/api/Agent")
    assert slept == [7.0]
    assert client.stats.responses_429 == 1
    assert client.stats.rate_limit_wait_s == pytest.approx(7.0)
    assert any("waiting 7.0 s (Retry-After)" in r.getMessage() for r in caplog.records)


def test_429_without_retry_after_waits_the_fallback_doubling_up_to_the_period():
    script = Script(
        *[httpx.Response(429, text="Rate Limit Reached - 300 Requests per rolling 5 minute window")] * 3, ok()
    )
    client, slept = make_client(script, rate_limit_fallback_wait_s=100.0)
    client.get_json("/api/Agent")
    assert slept == [100.0, 200.0, 300.0]


def test_retries_exhausted_names_the_endpoint_and_the_last_failure():
    client, slept = make_client(Script(httpx.Response(503, json={"Message": "maintenance"})))
    with pytest.raises(
        HaloRetriesExhausted,
        match=r"GET /api/Users still failing after 4 attempt\(s\); "
        r"last failure: GET /api/Users HTTP 503: maintenance",
    ):
        client.get_json("/api/Users")
    assert len(slept) == 3


@pytest.mark.parametrize("status", [400, 403, 404])
def test_permanent_statuses_fail_at_once_with_halos_message(status):
    client, slept = make_client(Script(httpx.Response(status, json={"Message": "x" * 1000})))
    with pytest.raises(HaloResponseError, match=rf"GET /api/Agent failed with HTTP {status}: x+…") as info:
        client.get_json("/api/Agent")
    assert info.value.status == status
    assert len(str(info.value)) < 400
    assert slept == []


def test_401_after_a_token_refresh_is_permanent():
    client, slept = make_client(Script(httpx.Response(401, text="token rejected")))
    with pytest.raises(HaloResponseError, match="HTTP 401: token rejected"):
        client.get_json("/api/Agent")
    assert client.stats.token_requests == 2
    assert slept == []


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
    ],
)
def test_timeouts_and_dropped_connections_are_retried(error):
    client, slept = make_client(Script(error, ok()))
    assert client.get_json("/api/Agent") == [{"id": 1}]
    assert len(slept) == 1
    assert client.request_log.rows[1]["error"].startswith(type(error).__name__)


def test_malformed_json_is_retried_then_reported():
    client, _ = make_client(Script(httpx.Response(200, text='{"record_count": 3, "users": [')))
    with pytest.raises(HaloRetriesExhausted, match="returned malformed JSON"):
        client.get_json("/api/Users")


def test_unreachable_host_is_named():
    def refuse(request):
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    client, _ = make_client(refuse)
    with pytest.raises(HaloUnreachableError, match=r"host acme.example unreachable after 4 attempt\(s\)"):
        client.get_json("/api/Agent")


def test_request_log_has_one_row_per_attempt_with_sanitized_params():
    client, _ = make_client(Script(httpx.Response(503), ok()))
    client.get_json("/api/Agent", {"includedisabled": "true", "api_key": "leak-me"})
    table = client.request_log.to_table()
    assert table.column("path").to_pylist() == ["/auth/token", "/api/Agent", "/api/Agent"]
    assert table.column("status").to_pylist() == [200, 503, 200]
    params = json.loads(table.column("params").to_pylist()[1])
    assert params == {"api_key": "***", "includedisabled": "true"}
    assert "leak-me" not in str(table.to_pylist())
    assert SECRET not in str(table.to_pylist())


def test_paginate_reads_every_page_through_the_retry_layer():
    users = [{"id": i} for i in range(5)]

    def pages(request):
        if request.url.path == "/auth/token":
            return httpx.Response(200, json={"access_token": "tok-abcdef"})
        page_no = int(request.url.params["page_no"])
        assert request.url.params["page_size"] == "100"
        chunk = users[(page_no - 1) * 2 : page_no * 2]
        return httpx.Response(
            200, json={"page_no": page_no, "page_size": 2, "record_count": 5, "users": chunk}
        )

    client, _ = make_client(pages)
    read = [row for page in client.paginate("/api/Users") for row in page.rows]
    assert read == users


class FakeTime:
    """A clock that only moves when slept on, or when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_throttle_blocks_until_the_oldest_slot_leaves_the_rolling_window(tmp_path):
    time = FakeTime()
    throttle = SqliteRollingWindow(tmp_path / "budget.sqlite3", 3, 10.0, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        assert throttle.acquire() == pytest.approx(0.0)
        time.now += 1.0  # each response takes a second
        throttle.release()
    # Slots were stamped when the responses ended: at 1, 2 and 3 s. The fourth waits for 1 + 10 s.
    waited = throttle.acquire()
    assert time.now == pytest.approx(11.005)
    assert waited == pytest.approx(8.005)


def test_throttle_counts_requests_in_flight(tmp_path):
    time = FakeTime()
    throttle = SqliteRollingWindow(tmp_path / "budget.sqlite3", 1, 5.0, clock=time.clock, sleep=time.sleep)
    throttle.acquire()
    time.now += 2.0
    throttle.release()
    throttle.acquire()
    assert time.now == pytest.approx(7.005)


def test_throttle_is_shared_by_every_window_on_the_same_file(tmp_path):
    """Two clients (here two windows on one file, as two processes would open it) share one budget."""
    time = FakeTime()
    first, second = (
        SqliteRollingWindow(tmp_path / "budget.sqlite3", 2, 10.0, clock=time.clock, sleep=time.sleep)
        for _ in range(2)
    )
    first.acquire()
    first.release()
    second.acquire()
    second.release()
    assert time.now == pytest.approx(0.0)
    waited = first.acquire()  # both slots of the shared window are taken: wait for the first one
    assert waited == pytest.approx(10.005)


def test_a_slot_left_in_flight_by_a_dead_process_counts_until_its_lease_ends(tmp_path):
    time = FakeTime()
    path = tmp_path / "budget.sqlite3"
    dead = SqliteRollingWindow(path, 1, 10.0, lease_s=30.0, clock=time.clock, sleep=time.sleep)
    dead.acquire()  # never released: the process died mid-request
    alive = SqliteRollingWindow(path, 1, 10.0, lease_s=30.0, clock=time.clock, sleep=time.sleep)
    alive.acquire()
    # In flight until 30 s, then counted as a request stamped at 30 s: free again at 40 s.
    assert time.now == pytest.approx(40.0, abs=0.1)


class TruncatedTokens:
    """The token endpoint cuts its first `bad` answers short (HTTP 200, half a JSON body)."""

    def __init__(self, bad):
        self.bad = bad
        self.token_calls = 0

    def __call__(self, request):
        if request.url.path == "/auth/token":
            self.token_calls += 1
            if self.token_calls <= self.bad:
                return httpx.Response(200, headers={"content-type": "application/json"}, text='{"access_tok')
            return httpx.Response(200, json={"access_token": "tok-abcdef", "expires_in": 3600})
        return ok()


def test_a_truncated_token_response_is_retried_like_other_transient_failures():
    server = TruncatedTokens(bad=2)
    client, slept = make_client(server)
    assert client.get_json("/api/Agent") == [{"id": 1}]
    assert server.token_calls == 3
    assert len(slept) == 2
    assert client.stats.retries == 2


def test_a_token_endpoint_that_never_answers_a_token_fails_clearly_after_retries():
    server = TruncatedTokens(bad=10**6)
    client, _ = make_client(server)
    with pytest.raises(HaloRetriesExhausted, match=r"after 4 attempt\(s\).*HTTP 200 without an access_token"):
        client.get_json("/api/Agent")
    assert server.token_calls == 4
