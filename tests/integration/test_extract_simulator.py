"""Extraction against the real HaloITSM simulator: every envelope, both membership modes, every fault.

Each run either produces exactly the simulator's tenant (compared row by row) or fails with a clear
error; a failed run writes no manifest. Integration tests: a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from typing import Any

import pytest

from dev.halo_simulator import Faults, TenantSpec
from dev.halo_simulator.faults import (
    DropConnection,
    DuplicateRow,
    MalformedJson,
    RateLimit,
    RecordCountDrift,
    ServerError,
    SlowResponse,
    TokenExpiry,
)
from halo_c1.halo import (
    HaloAuthError,
    HaloClient,
    HaloError,
    HaloPagingError,
    HaloResponseError,
    HaloRetriesExhausted,
    HaloSnapshotExistsError,
    HaloUnreachableError,
    extract_snapshot,
)
from halo_c1.halo.paging import normalize_id
from halo_c1.lake import Lake, read_parquet
from tests.integration.conftest import DEV_CLIENT_SECRET, halo_settings

pytestmark = pytest.mark.integration

SNAPSHOT = "20261127T050000Z"
TENANT = TenantSpec(seed=1, agents=20, users=45, teams=5, roles=4, departments=3)
PAGE_CAP = 7  # small, so every paged listing has several pages
BEARER_TOKEN = re.compile(r"Bearer [A-Za-z0-9._~+/-]{8,}")


def extract(sim: Any, tmp_path, snapshot: str = SNAPSHOT, **overrides: Any) -> tuple[Lake, dict, HaloClient]:
    lake = Lake(tmp_path / "lake")
    with HaloClient(halo_settings(sim, **overrides)) as client:
        summary = extract_snapshot(client, lake, snapshot)
    return lake, summary, client


def rows(lake: Lake, entity: str, snapshot: str = SNAPSHOT) -> list[dict]:
    return read_parquet(lake.raw_file(entity, snapshot)).to_pylist()


def merged_memberships(lake: Lake) -> dict[tuple[str, str, str], tuple[bool, tuple[str, ...]]]:
    """(kind, target, agent) → (direct, via roles), merged as the transform will merge raw rows."""
    pairs: dict[tuple[str, str, str], tuple[bool, set[str]]] = {}
    for row in rows(lake, "agent_memberships"):
        key = (row["kind"], row["target_id"], row["agent_id"])
        direct, via = pairs.get(key, (False, set()))
        if row["via_role_id"] is None:
            direct = True
        else:
            via = via | {row["via_role_id"]}
        pairs[key] = (direct, via)
    return {key: (direct, tuple(sorted(via))) for key, (direct, via) in pairs.items()}


def assert_matches_tenant(lake: Lake, sim: Any) -> None:
    """The raw snapshot holds exactly the simulator's tenant, field by field."""
    tenant = sim.tenant
    expected_agents = {
        normalize_id(a["id"]): a
        for a in tenant.agents
        if normalize_id(a["id"]) != str(tenant.unassigned_agent_id)
    }
    got_agents = {r["agent_id"]: r for r in rows(lake, "agents")}
    assert sorted(got_agents) == sorted(expected_agents)
    for agent_id, agent in expected_agents.items():
        got = got_agents[agent_id]
        assert (got["name"], got["email"]) == (agent.get("name"), agent.get("email")), agent_id
        assert (got["isdisabled"], got["isapiagent"]) == (agent.get("isdisabled"), agent.get("isapiagent")), (
            agent_id
        )
        assert "password" not in json.loads(got["raw_json"])
    assert any(a.get("isdisabled") for a in expected_agents.values())
    assert any(a.get("isapiagent") for a in expected_agents.values())

    got_teams = {r["team_id"]: r for r in rows(lake, "teams")}
    assert sorted(got_teams) == sorted(normalize_id(t["id"]) for t in tenant.teams)
    for team in tenant.teams:
        got = got_teams[normalize_id(team["id"])]
        assert (got["name"], got["inactive"]) == (team.get("name"), team.get("inactive"))
        assert got["department_id"] == normalize_id(team.get("department_id"))

    got_roles = {r["role_id"]: r["name"] for r in rows(lake, "roles")}
    assert got_roles == {r["id"]: r.get("name") for r in tenant.roles}

    got_users = {r["user_id"]: r for r in rows(lake, "users")}
    assert sorted(got_users) == sorted(normalize_id(u["id"]) for u in tenant.users)
    for user in tenant.users:
        got = got_users[normalize_id(user["id"])]
        assert (got["emailaddress"], got["inactive"]) == (user.get("emailaddress"), user.get("inactive"))
    assert any(u.get("inactive") for u in tenant.users)

    expected = {
        (m.resource_type, m.resource_id, str(m.agent_id)): (m.direct, m.via_roles)
        for m in tenant.memberships()
        if m.agent_id != tenant.unassigned_agent_id
    }
    assert merged_memberships(lake) == expected


@pytest.mark.parametrize("membership_inline", [True, False])
@pytest.mark.parametrize("agent_envelope", ["bare", "results", "agents"])
def test_extract_matches_simulator_for_every_envelope(
    start_simulator, tmp_path, agent_envelope, membership_inline
):
    sim = start_simulator(
        tenant=TENANT, agent_envelope=agent_envelope, membership_inline=membership_inline, page_cap=PAGE_CAP
    )
    lake, summary, _ = extract(sim, tmp_path)
    assert_matches_tenant(lake, sim)
    assert lake.has_raw(SNAPSHOT)
    assert summary["counts"]["agents"] == len(sim.tenant.agents) - 1
    assert summary["distinct_department_ids"] == len(sim.tenant.departments())
    assert summary["responses_429"] == 0
    assert summary["requests"] == sim.total_requests()
    if membership_inline:
        assert set(summary["membership_sources"].values()) == {"agent list"}
    else:
        assert summary["membership_sources"] == {
            "team": "per group",
            "role": "per group",
            "department": "per agent",
        }


RECOVERABLE_FAULTS = {
    "server_error": Faults(server_error=ServerError(times=2, path="/api/Users")),
    "server_error_on_token": Faults(server_error=ServerError(times=1, path="/auth/token", status=502)),
    "slow_response": Faults(slow_response=SlowResponse(times=1, path="/api/Agent", delay_s=3.0)),
    "drop_connection": Faults(drop_connection=DropConnection(times=2, page_no=2)),
    "malformed_json": Faults(malformed_json=MalformedJson(times=1, path="/api/Users", page_no=3)),
    "token_expiry": Faults(token_expiry=TokenExpiry(after=4, times=None)),
    "record_count_drift": Faults(record_count_drift=RecordCountDrift(times=1, path="/api/Users")),
    "duplicate_row": Faults(duplicate_row=DuplicateRow(times=2, path="/api/Users")),
    "rate_limit_with_retry_after": Faults(rate_limit=RateLimit(requests=8, window_s=1.0, retry_after=True)),
    "rate_limit_without_retry_after": Faults(rate_limit=RateLimit(requests=8, window_s=1.0)),
}


@pytest.mark.parametrize("fault", sorted(RECOVERABLE_FAULTS))
def test_extract_recovers_from_transient_faults(start_simulator, tmp_path, fault, caplog):
    sim = start_simulator(tenant=TENANT, agent_envelope="results", page_cap=PAGE_CAP)
    sim.set_faults(RECOVERABLE_FAULTS[fault])
    with caplog.at_level(logging.INFO, logger="halo_c1.halo"):
        lake, summary, _ = extract(sim, tmp_path, timeout_s=0.5)
    assert_matches_tenant(lake, sim)
    if fault.startswith("rate_limit"):
        assert summary["responses_429"] > 0
        assert summary["seconds_waited"]["rate_limit_429"] > 0
        assert any("rate limit (429)" in r.getMessage() for r in caplog.records)
    elif fault in ("record_count_drift", "duplicate_row"):
        assert summary["listing_restarts"] >= 1
    elif fault == "token_expiry":
        assert summary["token_requests"] > 1
    else:
        assert summary["retries"] >= 1


PERMANENT_FAULTS = {
    "server_error": (
        Faults(server_error=ServerError(times=None, path="/api/Roles")),
        HaloRetriesExhausted,
        r"GET /api/Roles still failing after 5 attempt\(s\); last failure: GET /api/Roles HTTP 503",
    ),
    "slow_response": (
        Faults(slow_response=SlowResponse(times=None, path="/api/Team", delay_s=3.0)),
        HaloRetriesExhausted,
        r"GET /api/Team still failing .* timed out",
    ),
    "drop_connection": (
        Faults(drop_connection=DropConnection(times=None, path="/api/Users")),
        HaloRetriesExhausted,
        r"GET /api/Users still failing after 5 attempt\(s\)",
    ),
    "malformed_json": (
        Faults(malformed_json=MalformedJson(times=None, path="/api/Users")),
        HaloRetriesExhausted,
        "malformed JSON",
    ),
    "token_expiry": (
        Faults(token_expiry=TokenExpiry(after=0, times=None)),
        HaloResponseError,
        "GET /api/Team failed with HTTP 401",
    ),
    "record_count_drift": (
        Faults(record_count_drift=RecordCountDrift(times=None, path="/api/Users")),
        HaloPagingError,
        r"users: listing still inconsistent after 2 restart\(s\).*record_count",
    ),
    "duplicate_row": (
        Faults(duplicate_row=DuplicateRow(times=None, path="/api/Users")),
        HaloPagingError,
        r"users: listing still inconsistent after 2 restart\(s\).*already returned on page 1",
    ),
    "rate_limit": (
        Faults(rate_limit=RateLimit(requests=1, window_s=60.0)),
        HaloRetriesExhausted,
        "HTTP 429: Rate Limit Reached - 1 Requests per rolling 1 minute window",
    ),
}


@pytest.mark.parametrize("fault", sorted(PERMANENT_FAULTS))
def test_extract_fails_clearly_when_a_fault_persists(start_simulator, tmp_path, fault, caplog):
    faults, error, message = PERMANENT_FAULTS[fault]
    sim = start_simulator(tenant=TENANT, agent_envelope="results", page_cap=PAGE_CAP)
    sim.set_faults(faults)
    with caplog.at_level(logging.DEBUG), pytest.raises(error, match=message) as info:
        extract(sim, tmp_path, timeout_s=0.5)
    assert not Lake(tmp_path / "lake").has_raw(SNAPSHOT)
    assert not list((tmp_path / "lake").rglob("*.parquet"))
    assert_no_secret(caplog, info.value)


def assert_no_secret(caplog: pytest.LogCaptureFixture, error: BaseException | None = None) -> None:
    texts = [record.getMessage() for record in caplog.records]
    texts += [str(error), repr(error)] if error else []
    for text in texts:
        assert DEV_CLIENT_SECRET not in text
        assert not BEARER_TOKEN.search(text), text


def test_wrong_credentials_name_the_token_url_and_halos_error(start_simulator, tmp_path, caplog):
    sim = start_simulator(tenant=TENANT)
    with caplog.at_level(logging.DEBUG), pytest.raises(HaloAuthError) as info:
        extract(sim, tmp_path, client_secret="not-the-secret-123")
    assert f"{sim.base_url}/auth/token" in str(info.value)
    assert "invalid_client" in str(info.value)
    assert "not-the-secret-123" not in str(info.value)
    assert_no_secret(caplog, info.value)
    assert not Lake(tmp_path / "lake").has_raw(SNAPSHOT)


def test_tenant_is_sent_when_the_server_requires_it(start_simulator, tmp_path):
    sim = start_simulator(tenant=TENANT, require_tenant=True, tenant_name="acme")
    with pytest.raises(HaloAuthError, match="token endpoint"):
        extract(sim, tmp_path)
    lake, _, _ = extract(sim, tmp_path, tenant="acme")
    assert_matches_tenant(lake, sim)


def test_unreachable_host_is_named(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    class Gone:
        base_url = f"http://127.0.0.1:{port}"

    with pytest.raises(HaloUnreachableError, match=r"host 127\.0\.0\.1 unreachable after 5 attempt\(s\)"):
        extract(Gone(), tmp_path)
    assert not Lake(tmp_path / "lake").has_raw(SNAPSHOT)


def test_rerun_is_refused_and_a_failed_run_leaves_the_earlier_snapshot_untouched(start_simulator, tmp_path):
    sim = start_simulator(tenant=TENANT, agent_envelope="agents", page_cap=PAGE_CAP)
    lake, first, _ = extract(sim, tmp_path)
    before = {entity: lake.raw_file(entity, SNAPSHOT).read_bytes() for entity in first["files"]}
    manifest = lake.raw_manifest(SNAPSHOT).read_bytes()
    sim.reset_counts()
    with pytest.raises(HaloSnapshotExistsError, match=f"raw snapshot {SNAPSHOT} .* is complete already"):
        extract(sim, tmp_path)
    assert sim.total_requests() == 0
    sim.set_faults(Faults(server_error=ServerError(times=None, path="/api/Users")))
    assert lake.raw_manifest(SNAPSHOT).read_bytes() == manifest
    assert {entity: lake.raw_file(entity, SNAPSHOT).read_bytes() for entity in first["files"]} == before
    with pytest.raises(HaloError):
        extract(sim, tmp_path, snapshot="20261128T050000Z")
    assert not lake.has_raw("20261128T050000Z")
    assert lake.has_raw(SNAPSHOT)


def test_client_throttle_keeps_the_tenant_from_answering_429(start_simulator, tmp_path):
    sim = start_simulator(
        tenant=TenantSpec(seed=2, agents=12, users=30, teams=3, roles=2, departments=2),
        agent_envelope="results",
        page_cap=5,
        faults=Faults(rate_limit=RateLimit(requests=10, window_s=1.0)),
    )
    lake, summary, _ = extract(sim, tmp_path, rate_limit_requests=10, rate_limit_period_s=1.0)
    assert summary["responses_429"] == 0
    assert sim.responses_by_status().get(429, 0) == 0
    assert summary["requests"] > 10
    assert summary["seconds_waited"]["throttle"] > 0
    assert_matches_tenant(lake, sim)


def test_no_secret_reaches_logs_request_log_or_manifest(start_simulator, tmp_path, caplog):
    sim = start_simulator(tenant=TENANT, agent_envelope="results", page_cap=PAGE_CAP)
    sim.set_faults(Faults(token_expiry=TokenExpiry(after=3, times=None)))
    with caplog.at_level(logging.DEBUG):
        lake, summary, client = extract(sim, tmp_path)
    assert_no_secret(caplog)
    blobs = [json.dumps(summary), json.dumps(rows(lake, "request_log"), default=str)]
    blobs += [
        json.dumps(rows(lake, entity))
        for entity in ("agents", "agent_memberships", "users", "teams", "roles")
    ]
    for blob in blobs:
        assert DEV_CLIENT_SECRET not in blob
        assert "password" not in blob.lower()
    assert DEV_CLIENT_SECRET not in repr(client.settings)
    assert "/auth/token" in {row["path"] for row in rows(lake, "request_log")}


def test_a_record_count_one_page_short_does_not_truncate_the_listing(start_simulator, tmp_path, caplog):
    """500 users, every page claiming 400: the full page at 400 is confirmed, and all 500 are read."""
    sim = start_simulator(
        tenant=TenantSpec(seed=4, agents=10, users=500, teams=3, roles=2, departments=2), page_cap=100
    )
    sim.set_faults(
        Faults(record_count_drift=RecordCountDrift(times=None, path="/api/Users", page_no=None, delta=-100))
    )
    with caplog.at_level(logging.WARNING, logger="halo_c1.halo"):
        lake, summary, _ = extract(sim, tmp_path, page_size=100)
    assert summary["counts"]["users"] == len(sim.tenant.users) == 500
    assert_matches_tenant(lake, sim)
    assert "record_count 400 understates the listing" in caplog.text
