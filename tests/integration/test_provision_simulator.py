"""Provisioning against the real simulator on 127.0.0.1: grant/revoke, idempotency, verify, errors, audit."""

from __future__ import annotations

import json

import pytest

from dev.halo_simulator import Faults, RateLimit, ServerError, TokenExpiry
from halo_c1.lake import Lake
from halo_c1.provision import PERMISSION_HINT, ProvisionRequest, provision
from tests.integration.conftest import DEV_CLIENT_SECRET, halo_settings
from tests.integration.provision_helpers import (
    TENANT,
    ZOE,
    audit_rows,
    deliver_catalog,
    direct_teams,
    inherited_teams,
    plain_agent,
    request,
    role_ids,
    role_named,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def lake(tmp_path):
    return Lake(str(tmp_path / "lake"))


def run(sim, lake, req: ProvisionRequest, **settings):
    """Provision `req`, after delivering the tenant's catalog into `lake` if none was delivered yet."""
    if not lake.latest_delivery().exists():
        deliver_catalog(sim, lake)
    return provision(req, halo=halo_settings(sim, **settings), lake=lake)


class TestTeams:
    def test_grant_team_adds_a_direct_row_keeps_the_others_verbatim_and_audits(self, start_simulator, lake):
        sim = start_simulator(tenant=TENANT)
        agent = plain_agent(sim)
        outcome = run(sim, lake, request("grant", "team", 4, agent["id"], "2aBcTask"))

        assert (outcome.code, outcome.annotations) == ("OK", ())
        assert outcome.grant_id == f"team:4:member:agent:{agent['id']}"
        assert direct_teams(agent) == {3, 4}
        kept = next(r for r in agent["teams"] if r["team_id"] == 3)
        assert (kept["id"], kept["is_manager"]) == (4999, True)
        assert sim.write_counts()["posts"] == 1

        (row,) = audit_rows(lake)
        assert (row["task_id"], row["action"], row["entitlement_id"]) == (
            "2aBcTask",
            "grant",
            "team:4:member",
        )
        assert (row["principal_type"], row["principal_id"]) == ("agent", str(agent["id"]))
        assert (row["code"], row["annotation"], row["finish_task"]) == ("OK", None, "success")
        assert row["grant_id"] == outcome.grant_id
        assert row["changes"] == ["+team:4"]
        assert row["unexpected_changes"] == [] and row["halo_writes"] == 1
        assert [int(t["team_id"]) for t in json.loads(row["before"])["teams"]] == [3]
        assert sorted(int(t["team_id"]) for t in json.loads(row["after"])["teams"]) == [3, 4]
        calls = [(c["method"], c["path"], c["status"]) for c in row["halo_calls"]]
        assert ("POST", "/api/Agent", 200) in calls
        assert calls.count(("GET", f"/api/Agent/{agent['id']}", 200)) == 2  # read, then verify
        assert ("GET", "/api/Team/4", 200) in calls
        raw = b"".join(p.read_bytes() for p in lake.provisioning_audit_dir().rglob("*.parquet"))
        assert DEV_CLIENT_SECRET.encode() not in raw

    def test_grant_twice_is_already_exists_with_zero_writes(self, start_simulator, lake):
        sim = start_simulator(tenant=TENANT)
        agent = plain_agent(sim)
        assert run(sim, lake, request("grant", "team", 4, agent["id"])).code == "OK"
        sim.reset_counts()
        again = run(sim, lake, request("grant", "team", 4, agent["id"], "second"))
        assert (again.code, again.annotations) == ("OK", ("GrantAlreadyExists",))
        assert again.grant_id == f"team:4:member:agent:{agent['id']}"
        assert sim.write_counts()["posts"] == 0
        assert "POST /api/Agent" not in sim.request_counts()
        assert audit_rows(lake)[-1]["annotation"] == "GrantAlreadyExists"

    def test_revoke_twice_is_already_revoked_with_zero_writes(self, start_simulator, lake):
        sim = start_simulator(tenant=TENANT)
        agent = plain_agent(sim)
        agent["teams"].append({"id": 4998, "team_id": 4, "role_id": "", "in_section": True})
        first = run(sim, lake, request("revoke", "team", 4, agent["id"]))
        assert (first.code, first.annotations, first.grant_id) == ("OK", (), None)
        assert direct_teams(agent) == {3}
        sim.reset_counts()
        again = run(sim, lake, request("revoke", "team", 4, agent["id"], "second"))
        assert (again.code, again.annotations) == ("OK", ("GrantAlreadyRevoked",))
        assert sim.write_counts()["posts"] == 0
        assert [r["changes"] for r in audit_rows(lake)] == [["-team:4"], []]

    @pytest.mark.parametrize("with_direct_row", [True, False])
    def test_revoke_of_a_role_inherited_membership_is_failed_precondition_naming_the_role(
        self, start_simulator, lake, with_direct_row
    ):
        sim = start_simulator(tenant=TENANT)
        zoe = sim.tenant.agent(ZOE)
        first_line = role_named(sim, "1st Line Agent")
        if not with_direct_row:
            zoe["teams"] = [r for r in zoe["teams"] if not (r["team_id"] == 1 and r["role_id"] in (None, ""))]
        assert (1, first_line["id"]) in inherited_teams(zoe)
        before = json.dumps(zoe, sort_keys=True)

        outcome = run(sim, lake, request("revoke", "team", 1, ZOE))
        assert outcome.code == "FAILED_PRECONDITION"
        assert (
            "'1st Line Agent'" in outcome.message and f"role:{first_line['id']}:assigned" in outcome.message
        )
        assert ("as well as granted directly" in outcome.message) is with_direct_row
        assert sim.write_counts()["posts"] == 0
        assert json.dumps(zoe, sort_keys=True) == before
        assert audit_rows(lake)[0]["finish_task"] == "error non_retryable"

    def test_grant_of_a_team_held_only_through_a_role_adds_a_direct_row(self, start_simulator, lake):
        sim = start_simulator(tenant=TENANT, reject_inherited_rows=True)  # a posted inherited row → 400
        zoe = sim.tenant.agent(ZOE)
        zoe["teams"] = [r for r in zoe["teams"] if not (r["team_id"] == 1 and r["role_id"] in (None, ""))]
        inherited_before = inherited_teams(zoe)
        outcome = run(sim, lake, request("grant", "team", 1, ZOE))
        assert (outcome.code, outcome.annotations) == ("OK", ())
        assert 1 in direct_teams(zoe) and inherited_teams(zoe) == inherited_before


class TestRoles:
    def test_grant_and_revoke_a_role_record_the_inherited_rows_it_brings(self, start_simulator, lake):
        sim = start_simulator(tenant=TENANT, reject_inherited_rows=True)
        agent = plain_agent(sim)
        second = role_named(sim, "2nd Line Agent")
        brought = {f"+team:{int(t['team_id'])}<-role:{second['id']}" for t in second["teams"]}
        brought |= {
            f"+department:{int(d['department_id'])}<-role:{second['id']}" for d in second["departments"]
        }
        assert brought

        granted = run(sim, lake, request("grant", "role", second["id"], agent["id"]))
        assert (granted.code, granted.grant_id) == ("OK", f"role:{second['id']}:assigned:agent:{agent['id']}")
        assert role_ids(agent) == {second["id"]}
        assert {team for team, _ in inherited_teams(agent)} == {int(t["team_id"]) for t in second["teams"]}
        assert direct_teams(agent) == {3}

        revoked = run(sim, lake, request("revoke", "role", second["id"], agent["id"], "t2"))
        assert (revoked.code, revoked.annotations) == ("OK", ())
        assert role_ids(agent) == set() and inherited_teams(agent) == set() and direct_teams(agent) == {3}

        grant_row, revoke_row = audit_rows(lake)
        assert set(grant_row["inherited_changes"]) == brought
        assert set(revoke_row["inherited_changes"]) == {"-" + f[1:] for f in brought}
        assert f"+role:{second['id']}" in grant_row["changes"]
        assert f"-role:{second['id']}" in revoke_row["changes"]

    def test_role_grant_twice_and_revoke_absent_write_nothing(self, start_simulator, lake):
        sim = start_simulator(tenant=TENANT)
        zoe_role = role_named(sim, "1st Line Agent")
        held = run(sim, lake, request("grant", "role", zoe_role["id"], ZOE))
        absent = run(sim, lake, request("revoke", "role", role_named(sim, "Change Approver")["id"], ZOE))
        assert held.annotations == ("GrantAlreadyExists",) and absent.annotations == ("GrantAlreadyRevoked",)
        assert sim.write_counts()["posts"] == 0


# -- each list semantic: the right state, or a clear non-retryable error with the diff --------------


@pytest.mark.parametrize("semantics", ["replace", "merge", "ignore_empty", "drop_removal"])
def test_every_list_semantic_ends_correct_or_in_a_clear_error_never_silently_wrong(
    start_simulator, lake, semantics
):
    sim = start_simulator(tenant=TENANT, list_semantics=semantics)
    agent = plain_agent(sim)
    second = role_named(sim, "2nd Line Agent")
    steps = [
        request("grant", "team", 4, agent["id"], "s1"),
        request("revoke", "team", 4, agent["id"], "s2"),
        request("revoke", "team", 3, agent["id"], "s3"),  # the last direct team: an empty list
        request("grant", "role", second["id"], agent["id"], "s4"),
        request("revoke", "role", second["id"], agent["id"], "s5"),  # the only role: an empty list
    ]
    outcomes = {}
    for step in steps:
        teams_before, roles_before = direct_teams(agent), role_ids(agent)
        outcome = run(sim, lake, step)
        outcomes[step.task_id] = outcome.code
        target = int(step.resource_id) if step.resource_type == "team" else step.resource_id
        holds = target in (direct_teams(agent) if step.resource_type == "team" else role_ids(agent))
        if outcome.code == "OK":
            assert holds is (step.action == "grant"), f"{semantics} {step}: OK but HaloITSM disagrees"
        else:
            assert outcome.code == "INTERNAL"
            assert "did not apply" in outcome.message or "ignored the removal of the last" in outcome.message
            assert "before->after" in outcome.message and "Not repaired automatically" in outcome.message
            assert (direct_teams(agent), role_ids(agent)) == (teams_before, roles_before)
    expected = {
        "replace": {"s1": "OK", "s2": "OK", "s3": "OK", "s4": "OK", "s5": "OK"},
        "merge": {"s1": "OK", "s2": "INTERNAL", "s3": "INTERNAL", "s4": "OK", "s5": "INTERNAL"},
        "ignore_empty": {"s1": "OK", "s2": "OK", "s3": "INTERNAL", "s4": "OK", "s5": "INTERNAL"},
        "drop_removal": {"s1": "OK", "s2": "INTERNAL", "s3": "INTERNAL", "s4": "OK", "s5": "INTERNAL"},
    }[semantics]
    assert outcomes == expected
    rows = {r["task_id"]: r for r in audit_rows(lake)}
    for task, code in expected.items():
        assert rows[task]["code"] == code
    if semantics == "ignore_empty":
        assert "ignored the removal of the last team (an empty teams list)" in rows["s3"]["message"]


def test_a_write_that_changes_other_memberships_is_an_internal_error_with_the_diff(start_simulator, lake):
    sim = start_simulator(tenant=TENANT)
    agent = plain_agent(sim)
    approver = role_named(sim, "Change Approver")
    # Another HaloITSM user gives the agent a role while our write is in flight (Halo has no If-Match).
    sim.on_write(
        lambda tenant: tenant.agent(agent["id"])["roles"].append({"id": approver["id"], "name": "x"})
    )
    outcome = run(sim, lake, request("grant", "team", 4, agent["id"]))
    assert outcome.code == "INTERNAL"
    assert (
        "other memberships changed too:" in outcome.message and f"+role:{approver['id']}" in outcome.message
    )
    assert sim.write_counts()["posts"] == 1  # exactly one write: no automatic repair
    (row,) = audit_rows(lake)
    assert (
        f"+role:{approver['id']}" in row["unexpected_changes"] and "+team:4" not in row["unexpected_changes"]
    )
    assert "+team:4" in row["changes"] and row["after"] is not None


# -- not found, absent data, scope -------------------------------------------------------------------


@pytest.mark.parametrize("gone", ["agent", "team", "role"])
@pytest.mark.parametrize("action", ["grant", "revoke"])
def test_an_agent_team_or_role_deleted_since_the_delivery_is_not_found_with_zero_writes(
    start_simulator, lake, gone, action
):
    sim = start_simulator(tenant=TENANT)
    agent = plain_agent(sim)
    approver = role_named(sim, "Change Approver")
    deliver_catalog(sim, lake)
    if gone == "agent":
        sim.tenant.agents.remove(agent)
        req, needle = request(action, "team", 4, agent["id"]), f"agent {agent['id']} does not exist"
    elif gone == "team":
        sim.tenant.teams.remove(sim.tenant.team(4))
        req, needle = request(action, "team", 4, agent["id"]), "team 4 does not exist"
    else:
        sim.tenant.roles.remove(approver)
        req, needle = request(action, "role", approver["id"], agent["id"]), f"role {approver['id']} does not"
    outcome = run(sim, lake, req)
    assert outcome.code == "NOT_FOUND" and needle in outcome.message
    assert sim.write_counts()["posts"] == 0


@pytest.mark.parametrize("missing", ["teams", "roles"])
def test_absent_lists_are_refused_rather_than_computed_from(start_simulator, lake, missing):
    sim = start_simulator(tenant=TENANT)
    agent = plain_agent(sim)
    del agent[missing]
    outcome = run(sim, lake, request("grant", "team", 4, agent["id"]))
    assert outcome.code == "FAILED_PRECONDITION"
    assert f"no usable '{missing}' list (absent)" in outcome.message
    assert sim.write_counts()["posts"] == 0


@pytest.mark.parametrize(
    ("req", "code", "needle"),
    [
        (request("grant", "department", 2, 5), "UNIMPLEMENTED", "department membership is not provisionable"),
        (
            ProvisionRequest("grant", "t", "user:5:member", "user", "5", "agent", "5"),
            "UNIMPLEMENTED",
            "resource type 'user'",
        ),
        (
            ProvisionRequest("grant", "t", "team:3:owner", "team", "3", "agent", "5"),
            "UNIMPLEMENTED",
            "'team:3:owner' is not provisionable",
        ),
        (
            ProvisionRequest("grant", "t", "team:3:member", "team", "3", "user", "5"),
            "INVALID_ARGUMENT",
            "principal type 'user'",
        ),
        (
            ProvisionRequest("grant", "t", "team:x:member", "team", "x", "agent", "5"),
            "INVALID_ARGUMENT",
            "team id 'x'",
        ),
        (
            ProvisionRequest("grant", "t", "team:4:member", "team", "3", "agent", "5"),
            "INVALID_ARGUMENT",
            "does not belong to resource team:3",
        ),
    ],
)
def test_out_of_scope_requests_are_refused_by_name_without_calling_halo(
    start_simulator, lake, req, code, needle
):
    sim = start_simulator(tenant=TENANT)
    outcome = run(sim, lake, req)
    assert outcome.code == code and needle in outcome.message
    assert sim.total_requests() == 0
    assert audit_rows(lake)[0]["code"] == code


def test_disabled_provisioning_refuses_without_calling_halo(start_simulator, lake):
    sim = start_simulator(tenant=TENANT)
    agent = plain_agent(sim)
    outcome = provision(
        request("grant", "team", 4, agent["id"]), halo=halo_settings(sim), lake=lake, enabled=False
    )
    assert outcome.code == "FAILED_PRECONDITION" and "provisioning is not enabled" in outcome.message
    assert sim.total_requests() == 0 and direct_teams(agent) == {3}


@pytest.mark.parametrize("expires_at", ['"soon"', "null", "1e300", "NaN"])
def test_an_unreadable_agent_lease_is_unavailable_naming_it_then_taken_once_silent(
    start_simulator, lake, expires_at
):
    """Not INTERNAL, and not blocked until someone deletes the file: it is broken after its TTL."""
    sim = start_simulator(tenant=TENANT)
    agent = plain_agent(sim)
    deliver_catalog(sim, lake)
    left = lake.provisioning_lease(str(agent["id"]))
    left.parent.mkdir(parents=True)
    left.write_text(f'{{"token": "crashed", "expires_at": {expires_at}}}')
    busy = provision(
        request("grant", "team", 4, agent["id"]),
        halo=halo_settings(sim),
        lake=lake,
        lease_ttl_s=30,
        lease_wait_s=0.3,
    )
    assert busy.code == "UNAVAILABLE"
    assert f"agent {agent['id']}" in busy.message and "is unreadable (expires_at" in busy.message
    assert direct_teams(agent) == {3}
    granted = provision(
        request("grant", "team", 4, agent["id"]),
        halo=halo_settings(sim),
        lake=lake,
        lease_ttl_s=0.5,
        lease_wait_s=5,
    )
    assert granted.code == "OK" and direct_teams(agent) == {3, 4}


# -- HaloITSM errors ----------------------------------------------------------------------------------


def test_a_429_storm_within_the_retry_budget_still_grants(start_simulator, lake):
    sim = start_simulator(
        tenant=TENANT, faults=Faults(rate_limit=RateLimit(requests=1, window_s=60, times=3))
    )
    agent = plain_agent(sim)
    outcome = run(sim, lake, request("grant", "team", 4, agent["id"]))
    assert outcome.code == "OK" and direct_teams(agent) == {3, 4}
    assert sim.responses_by_status()[429] == 3
    statuses = [c["status"] for c in audit_rows(lake)[0]["halo_calls"]]
    assert statuses.count(429) == 3 and statuses[-1] == 200


def test_an_endless_429_storm_is_unavailable_after_bounded_retries(start_simulator, lake):
    sim = start_simulator(tenant=TENANT, faults=Faults(rate_limit=RateLimit(requests=1, window_s=60)))
    agent = plain_agent(sim)
    outcome = run(sim, lake, request("grant", "team", 4, agent["id"]), max_retries=3)
    assert outcome.code == "UNAVAILABLE"
    assert "HTTP 429" in outcome.message and "after 4 attempt(s)" in outcome.message
    assert "Nothing was written" in outcome.message
    assert sim.responses_by_status() == {200: 1, 429: 4} and direct_teams(agent) == {3}


def test_503s_on_the_write_are_retried_then_the_grant_is_verified(start_simulator, lake):
    sim = start_simulator(
        tenant=TENANT, faults=Faults(server_error=ServerError(status=503, times=2, path="/api/Agent"))
    )
    agent = plain_agent(sim)
    outcome = run(sim, lake, request("grant", "team", 4, agent["id"]))
    assert outcome.code == "OK" and direct_teams(agent) == {3, 4}
    assert sim.write_counts()["posts"] == 1
    posts = [c["status"] for c in audit_rows(lake)[0]["halo_calls"] if c["path"] == "/api/Agent"]
    assert posts == [503, 503, 200]


def test_endless_503s_on_the_write_are_unavailable(start_simulator, lake):
    sim = start_simulator(
        tenant=TENANT, faults=Faults(server_error=ServerError(status=503, times=None, path="/api/Agent"))
    )
    agent = plain_agent(sim)
    outcome = run(sim, lake, request("grant", "team", 4, agent["id"]), max_retries=2)
    assert (
        outcome.code == "UNAVAILABLE"
        and "POST /api/Agent still failing after 3 attempt(s)" in outcome.message
    )
    assert "retry the task in C1" in outcome.message
    assert sim.write_counts()["posts"] == 0 and direct_teams(agent) == {3}


def test_an_expired_token_is_refreshed_once(start_simulator, lake):
    sim = start_simulator(tenant=TENANT, faults=Faults(token_expiry=TokenExpiry(after=2, times=1)))
    agent = plain_agent(sim)
    outcome = run(sim, lake, request("grant", "team", 4, agent["id"]))
    assert outcome.code == "OK"
    assert sim.request_counts()["POST /auth/token"] == 2
    assert [c["status"] for c in audit_rows(lake)[0]["halo_calls"]].count(401) == 1


@pytest.mark.parametrize(
    ("status", "code"), [(400, "INVALID_ARGUMENT"), (403, "PERMISSION_DENIED"), (401, "PERMISSION_DENIED")]
)
def test_permanent_http_errors_map_to_grpc_codes(start_simulator, lake, status, code):
    sim = start_simulator(
        tenant=TENANT, faults=Faults(server_error=ServerError(status=status, times=None, path="/api/Agent"))
    )
    agent = plain_agent(sim)
    outcome = run(sim, lake, request("grant", "team", 4, agent["id"]))
    assert outcome.code == code and f"HTTP {status}" in outcome.message
    if code == "PERMISSION_DENIED":
        assert PERMISSION_HINT in outcome.message
    assert sim.write_counts()["posts"] == 0 and "Nothing was written" in outcome.message


# -- one writer per agent ------------------------------------------------------------------------------


def test_two_concurrent_grants_in_two_processes_both_land(start_simulator, tmp_path):
    import multiprocessing

    from dev.halo_simulator import SlowResponse
    from tests.integration.provision_helpers import grant_in_subprocess

    # Every write takes 0.6 s, so without a lock both processes would read before either wrote
    # and the second replace-write would drop the first one's team.
    sim = start_simulator(
        tenant=TENANT, faults=Faults(slow_response=SlowResponse(delay_s=0.6, times=None, path="/api/Agent"))
    )
    agent = plain_agent(sim)
    lake_url = str(tmp_path / "lake")
    deliver_catalog(sim, Lake(lake_url))
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(
            target=grant_in_subprocess,
            args=(
                halo_settings(sim),
                lake_url,
                request("grant", "team", team, agent["id"], f"p{team}"),
                start,
                results,
            ),
        )
        for team in (1, 4)
    ]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = sorted(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    assert [(task, code) for task, code, _ in outcomes] == [("p1", "OK"), ("p4", "OK")], outcomes
    assert direct_teams(agent) == {1, 3, 4}
    assert sim.write_counts()["posts"] == 2
    rows = audit_rows(Lake(lake_url))
    assert sorted(r["task_id"] for r in rows) == ["p1", "p4"]
    assert len({r["host"] for r in rows}) == 1  # the same machine, different processes
    assert not list((tmp_path / "lake" / "provisioning" / "leases").iterdir())  # leases released


# -- crafted ids: only the catalog's own ids, spelled as it spells them, reach HaloITSM ---------------


def _crafted(sim) -> list[tuple[str, str, str]]:
    """(kind, resource id, agent id) requests C1's catalog never held; `~` stands for the plain agent."""
    guid = role_named(sim, "2nd Line Agent")["id"]
    return [
        ("role", "../Team/1", "~"),
        ("role", "x/../../Agent/3", "~"),
        ("role", f"{guid}?x=1", "~"),
        ("role", f"{guid}#frag", "~"),
        ("role", f"{guid}/", "~"),
        ("role", guid.upper(), "~"),  # the same GUID in other letters is not the catalog's spelling
        ("team", "01", "~"),
        ("team", "\u0661", "~"),  # ARABIC-INDIC DIGIT ONE
        ("team", "\u00b2", "~"),  # SUPERSCRIPT TWO: int() refuses it, isdigit() does not
        ("team", "4", "1"),  # HaloITSM's system agent "Unassigned", which the access model leaves out
        ("team", "4", "01"),
        ("team", "4", "\u0665"),
    ]


@pytest.mark.parametrize("index", range(12))
@pytest.mark.parametrize("action", ["grant", "revoke"])
def test_a_crafted_id_is_refused_by_name_before_any_request(start_simulator, lake, index, action):
    sim = start_simulator(tenant=TENANT)
    agent = plain_agent(sim)
    kind, resource_id, agent_id = _crafted(sim)[index]
    agent_id = str(agent["id"]) if agent_id == "~" else agent_id
    deliver_catalog(sim, lake)
    tenant_before = json.dumps([sim.tenant.agents, sim.tenant.teams, sim.tenant.roles], sort_keys=True)

    outcome = run(sim, lake, request(action, kind, resource_id, agent_id))

    assert outcome.code == "INVALID_ARGUMENT", outcome.message
    named = resource_id if agent_id == str(agent["id"]) else agent_id
    assert repr(named) in outcome.message and "nothing was asked of HaloITSM" in outcome.message
    assert sim.request_log() == []  # not even a token
    assert sim.write_counts()["posts"] == 0
    assert (
        json.dumps([sim.tenant.agents, sim.tenant.teams, sim.tenant.roles], sort_keys=True) == tenant_before
    )
    (row,) = audit_rows(lake)
    assert (row["code"], row["halo_calls"], row["halo_writes"]) == ("INVALID_ARGUMENT", [], 0)


@pytest.mark.parametrize(
    ("crafted", "code"),
    [("../Team/1", "NOT_FOUND"), ("x/../../Agent/3", "NOT_FOUND"), ("g?x=1", "OK"), ("g#f", "OK")],
)
def test_a_crafted_id_the_catalog_holds_is_quoted_into_one_roles_segment(
    start_simulator, lake, crafted, code
):
    """Were HaloITSM itself to hold a role with such an id, the request still goes to that one role."""
    from urllib.parse import quote

    from dev.halo_simulator import build_tenant

    tenant = build_tenant(TENANT)
    tenant.roles.append({"id": crafted, "id_int": 999, "name": "Crafted", "teams": [], "departments": []})
    sim = start_simulator(tenant=tenant)
    agent = plain_agent(sim)
    deliver_catalog(sim, lake)
    teams_before = json.dumps(sim.tenant.teams, sort_keys=True)

    outcome = run(sim, lake, request("grant", "role", crafted, agent["id"]))

    sent = [(request.method, request.path) for request in sim.request_log()]
    agent_path = f"/api/Agent/{agent['id']}"
    reads = [("POST", "/auth/token"), ("GET", agent_path), ("GET", f"/api/Roles/{quote(crafted, safe='')}")]
    # The simulator, like a router, matches no role id holding a '/' once decoded: that role is not found.
    expected = reads if code == "NOT_FOUND" else [*reads, ("POST", "/api/Agent"), ("GET", agent_path)]
    assert (outcome.code, sent) == (code, expected)
    assert role_ids(agent) == ({crafted} if code == "OK" else set())
    assert json.dumps(sim.tenant.teams, sort_keys=True) == teams_before


def test_no_catalog_delivered_refuses_before_any_request(start_simulator, lake):
    sim = start_simulator(tenant=TENANT)
    agent = plain_agent(sim)
    outcome = provision(request("grant", "team", 4, agent["id"]), halo=halo_settings(sim), lake=lake)
    assert outcome.code == "FAILED_PRECONDITION" and "no snapshot has been delivered" in outcome.message
    assert sim.request_log() == [] and direct_teams(agent) == {3}
