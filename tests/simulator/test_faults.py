"""Each fault fires as configured, stops after its count, and can be flipped while the server runs."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from dev.halo_simulator import (
    DropConnection,
    DuplicateRow,
    Faults,
    MalformedJson,
    RateLimit,
    RecordCountDrift,
    ServerError,
    SlowResponse,
    TenantSpec,
    TokenExpiry,
)

from .conftest import api_client, get_token

pytestmark = pytest.mark.integration


def statuses(client, path, n, **params):
    return [client.get(path, params=params).status_code for _ in range(n)]


def users_page(client, page_no, **extra):
    params = {"pageinate": "true", "page_no": page_no, "page_size": 10, "includeinactive": "true", **extra}
    return client.get("/api/Users", params=params)


class TestRateLimit:
    def test_rate_limit_answers_halo_plain_text_429_without_retry_after(self, make_sim):
        server = make_sim(faults=Faults(rate_limit=RateLimit(requests=4, window_s=300)))
        with api_client(server) as client:  # the token call takes a slot too
            assert statuses(client, "/api/Team", 4) == [200, 200, 200, 429]
            response = client.get("/api/Team")
        assert response.status_code == 429
        assert response.text == "Rate Limit Reached - 4 Requests per rolling 5 minute window"
        assert response.headers["content-type"].startswith("text/plain")
        assert "retry-after" not in response.headers
        stats = httpx.get(f"{server.base_url}/_sim/stats", trust_env=False).json()
        assert stats["rate_limited"] == 2
        assert stats["by_status"] == {"200": 4, "429": 2}
        assert stats["faults_fired"] == {"rate_limit": 2}

    def test_rate_limit_sends_retry_after_until_the_oldest_slot_frees(self, make_sim):
        server = make_sim(faults=Faults(rate_limit=RateLimit(requests=3, window_s=2, retry_after=True)))
        with api_client(server) as client:
            assert statuses(client, "/api/Team", 2) == [200, 200]
            limited = client.get("/api/Team")
            assert limited.status_code == 429
            assert limited.text == "Rate Limit Reached - 3 Requests per rolling 2 second window"
            wait = int(limited.headers["retry-after"])
            assert 1 <= wait <= 2
            time.sleep(wait + 0.05)
            assert client.get("/api/Team").status_code == 200  # the window rolled on

    def test_rate_limit_stops_after_its_count(self, make_sim):
        server = make_sim(faults=Faults(rate_limit=RateLimit(requests=2, window_s=300, times=2)))
        with api_client(server) as client:
            assert statuses(client, "/api/Team", 5) == [200, 429, 429, 200, 200]


class TestServerError:
    def test_server_error_fires_its_count_then_recovers(self, make_sim):
        server = make_sim(faults=Faults(server_error=ServerError(status=502, times=2, path="/api/Team")))
        with api_client(server) as client:
            assert statuses(client, "/api/Agent", 1) == [200]  # another path is untouched
            responses = [client.get("/api/Team") for _ in range(3)]
        assert [r.status_code for r in responses] == [502, 502, 200]
        assert responses[0].text == "502 Bad Gateway"
        assert server.faults_fired() == {"server_error": 2}

    def test_server_error_always_when_times_is_none(self, make_sim):
        server = make_sim(faults=Faults(server_error=ServerError(times=None, path="/api/Team")))
        with api_client(server) as client:
            assert statuses(client, "/api/Team", 4) == [503] * 4

    def test_server_error_targets_a_route_template_a_page_and_skips_after(self, make_sim):
        server = make_sim(faults=Faults(server_error=ServerError(path="/api/agent/{ID}", after=1, times=1)))
        with api_client(server) as client:
            assert [client.get(f"/api/Agent/{i}").status_code for i in (1, 2, 1, 2)] == [200, 503, 200, 200]
            server.set_faults(Faults(server_error=ServerError(path="/api/Users", page_no=2)))
            assert [users_page(client, n).status_code for n in (1, 2, 2, 3)] == [200, 503, 200, 200]

    def test_server_error_can_hit_the_token_endpoint(self, make_sim):
        server = make_sim(faults=Faults(server_error=ServerError(path="/auth/token")))
        form = {
            "grant_type": "client_credentials",
            "client_id": "halo-c1-dev",
            "client_secret": "halo-c1-dev-secret",
        }
        first = httpx.post(f"{server.base_url}/auth/token", data=form, trust_env=False)
        second = httpx.post(f"{server.base_url}/auth/token", data=form, trust_env=False)
        assert (first.status_code, second.status_code) == (503, 200)


class TestSlowAndDropped:
    def test_slow_response_outlasts_a_client_timeout_then_recovers(self, make_sim):
        server = make_sim(faults=Faults(slow_response=SlowResponse(delay_s=1.0, path="/api/Team")))
        with api_client(server, timeout=0.3) as client:
            with pytest.raises(httpx.ReadTimeout):
                client.get("/api/Team")
            started = time.perf_counter()
            assert client.get("/api/Team").status_code == 200
        assert time.perf_counter() - started < 0.3

    def test_slow_response_still_answers_a_patient_client(self, make_sim):
        server = make_sim(faults=Faults(slow_response=SlowResponse(delay_s=0.3)))
        started = time.perf_counter()
        response = httpx.get(f"{server.base_url}/api/authinfo", trust_env=False)
        assert response.status_code == 200
        assert time.perf_counter() - started >= 0.3

    def test_dropped_connection_sends_no_response_then_recovers(self, make_sim):
        server = make_sim(faults=Faults(drop_connection=DropConnection(path="/api/Agent", times=2)))
        with api_client(server) as client:
            for _ in range(2):
                with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                    client.get("/api/Agent")
            assert client.get("/api/Agent").status_code == 200
        assert server.responses_by_status() == {0: 2, 200: 2}  # 0: dropped; the token call and the last GET
        assert server.faults_fired() == {"drop_connection": 2}


class TestMalformedJson:
    def test_malformed_json_hits_the_chosen_page_only(self, make_sim):
        server = make_sim(faults=Faults(malformed_json=MalformedJson(path="/api/Users", page_no=2)))
        with api_client(server) as client:
            first = users_page(client, 1)
            broken = users_page(client, 2)
            again = users_page(client, 2)
        assert first.json()["page_no"] == 1
        assert broken.status_code == 200
        assert broken.headers["content-type"] == "application/json"
        assert int(broken.headers["content-length"]) == len(broken.content)
        with pytest.raises(json.JSONDecodeError):
            json.loads(broken.content)
        assert broken.content == again.content[: len(again.content) // 2]


class TestTokenExpiry:
    def test_token_expires_after_n_calls_and_a_new_token_works(self, make_sim):
        server = make_sim(faults=Faults(token_expiry=TokenExpiry(after=3)))
        with api_client(server) as client:
            assert statuses(client, "/api/Team", 4) == [200, 200, 200, 401]
            assert client.get("/api/Team").status_code == 401  # stays expired
            client.headers["Authorization"] = f"Bearer {get_token(server)}"
            assert statuses(client, "/api/Team", 5) == [200] * 5  # fired once only

    def test_token_expiry_is_periodic_with_more_times(self, make_sim):
        server = make_sim(faults=Faults(token_expiry=TokenExpiry(after=2, times=None)))
        results = []
        with api_client(server) as client:
            for _ in range(7):
                response = client.get("/api/Team")
                results.append(response.status_code)
                if response.status_code == 401:
                    client.headers["Authorization"] = f"Bearer {get_token(server)}"
        assert results == [200, 200, 401, 200, 200, 401, 200]

    def test_token_expiry_always_is_a_clear_failure(self, make_sim):
        server = make_sim(faults=Faults(token_expiry=TokenExpiry(after=0, times=None)))
        with api_client(server) as client:
            for _ in range(3):
                assert client.get("/api/Team").status_code == 401
                client.headers["Authorization"] = f"Bearer {get_token(server)}"


class TestPagingFaults:
    def test_record_count_drifts_on_the_chosen_page(self, make_sim):
        server = make_sim(
            tenant=TenantSpec(users=35), faults=Faults(record_count_drift=RecordCountDrift(delta=3))
        )
        with api_client(server) as client:
            counts = [users_page(client, n).json()["record_count"] for n in (1, 2, 3, 2)]
        assert counts == [35, 38, 35, 35]

    def test_record_count_drift_on_an_agent_envelope(self, make_sim):
        server = make_sim(
            agent_envelope="results",
            page_cap=5,
            faults=Faults(record_count_drift=RecordCountDrift(page_no=1, delta=-2, times=None)),
        )
        params = {"pageinate": "true", "includedisabled": "true", "includeapiagents": "true"}
        with api_client(server) as client:
            body = client.get("/api/Agent", params={**params, "page_no": 1}).json()
        assert body["record_count"] == len(server.tenant.agents) - 1 - 2  # minus Unassigned, minus the drift

    def test_duplicate_row_serves_the_previous_pages_last_row_again(self, make_sim):
        server = make_sim(
            tenant=TenantSpec(users=35, inactive_users=0.0), faults=Faults(duplicate_row=DuplicateRow())
        )
        truth = [u["id"] for u in server.tenant.users]
        with api_client(server) as client:
            pages = [[u["id"] for u in users_page(client, n).json()["users"]] for n in (1, 2, 3, 4, 5)]
        assert pages[0] == truth[:10]
        assert pages[1] == truth[9:20]  # the same row ends page 1 and starts page 2
        assert pages[2:] == [truth[20:30], truth[30:], []]
        assert sorted({i for page in pages for i in page}) == truth  # nothing lost


class TestSwitching:
    def test_set_faults_flips_faults_while_running_and_resets_counts(self, make_sim):
        server = make_sim(faults=Faults(server_error=ServerError(times=None, path="/api/Team")))
        with api_client(server) as client:
            assert statuses(client, "/api/Team", 2) == [503, 503]
            server.set_faults(Faults())
            assert server.faults_fired() == {}
            assert statuses(client, "/api/Team", 2) == [200, 200]
            server.set_faults(Faults(server_error=ServerError(times=1, path="/api/Team")))
            assert statuses(client, "/api/Team", 2) == [503, 200]
        assert server.faults == Faults(server_error=ServerError(times=1, path="/api/Team"))

    def test_sim_endpoints_are_never_faulted_or_limited(self, make_sim):
        server = make_sim(
            faults=Faults(rate_limit=RateLimit(requests=1), server_error=ServerError(times=None))
        )
        for _ in range(3):
            assert httpx.get(f"{server.base_url}/_sim/stats", trust_env=False).status_code == 200
        assert server.total_requests() == 0
