"""The seeded tenant: deterministic, messy in every way the brief lists, and its truth helpers."""

import itertools
import time

import pytest

from dev.halo_simulator import UNASSIGNED_AGENT_ID, Membership, TenantSpec, build_tenant


@pytest.fixture(scope="module")
def tenant():
    return build_tenant(TenantSpec(seed=3, agents=40, users=400, teams=6, roles=5, departments=4))


def test_build_tenant_is_deterministic_for_a_seed():
    spec = TenantSpec(seed=11, agents=25, users=150)
    assert build_tenant(spec) == build_tenant(spec)
    assert build_tenant(spec).agents != build_tenant(TenantSpec(seed=12, agents=25, users=150)).agents


def test_build_tenant_keeps_agents_when_only_the_user_count_changes():
    assert (
        build_tenant(TenantSpec(seed=5, users=10)).agents == build_tenant(TenantSpec(seed=5, users=90)).agents
    )


def test_tenant_counts_agents_besides_the_unassigned_system_agent(tenant):
    assert len(tenant.agents) == 41
    assert len(tenant.users) == 400
    assert (len(tenant.teams), len(tenant.roles)) == (6, 5)
    unassigned = tenant.agents[0]
    assert unassigned["id"] == UNASSIGNED_AGENT_ID == 1
    assert unassigned["name"] == "Unassigned"
    service = tenant.agent(tenant.service_agent_id)
    assert service["isapiagent"] is True and service["isdisabled"] is False
    assert [r["name"] for r in service["roles"]] == ["HaloITSM Administrator"]


def test_tenant_ids_ascend_with_gaps(tenant):
    for rows in (tenant.agents, tenant.teams, tenant.users):
        ids = [r["id"] for r in rows]
        assert ids == sorted(set(ids))
    agent_ids = [a["id"] for a in tenant.agents]
    assert any(b - a > 1 for a, b in itertools.pairwise(agent_ids))


def test_tenant_has_unicode_and_duplicate_names(tenant):
    names = [a["name"] for a in tenant.agents]
    assert "Zoë Ångström" in names
    assert "李雷" in names
    assert " Jane Doe " in names  # stray spaces
    assert names.count("Jane Doe") == 2  # two people, one name


@pytest.mark.parametrize(("rows", "key"), [("agents", "email"), ("users", "emailaddress")])
def test_tenant_has_every_kind_of_messy_email(tenant, rows, key):
    people = getattr(tenant, rows)[1:] if rows == "agents" else tenant.users
    values = [p.get(key, "<absent>") for p in people]
    assert "<absent>" in values
    assert None in values
    assert "" in values
    assert any(isinstance(v, str) and v and not v.strip() for v in values)
    padded = [v for v in values if isinstance(v, str) and v.strip() and v != v.strip()]
    assert padded and all(v.strip() != v.strip().lower() for v in padded)


def test_tenant_has_float_ids_in_membership_rows_and_site_ids(tenant):
    team_rows = [r for a in tenant.agents for r in a["teams"]]
    dep_rows = [r for a in tenant.agents for r in a["departments"]]
    assert any(isinstance(r["team_id"], float) and isinstance(r["agent_id"], float) for r in team_rows)
    assert any(isinstance(r["department_id"], float) for r in dep_rows)
    assert all(float(r["team_id"]).is_integer() for r in team_rows)
    site_ids = [u["site_id"] for u in tenant.users]
    assert any(isinstance(s, float) for s in site_ids) and any(isinstance(s, int) for s in site_ids)
    assert all(u["site_id"] == u["site_id_int"] for u in tenant.users)


def test_tenant_has_disabled_api_inactive_and_service_rows(tenant):
    agents = tenant.agents
    assert any(a["isdisabled"] and not a["isapiagent"] for a in agents)
    assert any(a["isapiagent"] and not a["isdisabled"] for a in agents)
    assert any(a["isapiagent"] and a["isdisabled"] for a in agents)
    assert any(u["inactive"] for u in tenant.users)
    assert sum(u["isserviceaccount"] for u in tenant.users) == 3
    assert any(u["linked_agent_id"] for u in tenant.users)


def test_tenant_has_a_disabled_team_and_an_empty_team(tenant):
    disabled = [t for t in tenant.teams if t["inactive"]]
    assert len(disabled) == 1
    assert tenant.team_members(disabled[0]["id"])  # disabled but not empty
    empty = [t for t in tenant.teams if not tenant.team_members(t["id"])]
    assert len(empty) == 1 and not empty[0]["inactive"]


def test_tenant_teams_belong_to_departments(tenant):
    departments = tenant.departments()
    for team in tenant.teams:
        assert departments[team["department_id"]] == team["department_name"]


def test_tenant_roles_have_guid_string_ids_and_id_int(tenant):
    for i, role in enumerate(tenant.roles, start=1):
        assert isinstance(role["id"], str) and len(role["id"]) == 36 and role["id"].count("-") == 4
        assert role["id_int"] == i
    for agent in tenant.agents:
        for held in agent["roles"]:
            assert set(held) == {"id", "name", "id_int"}
            assert tenant.role(held["id"])["name"] == held["name"]


def test_tenant_membership_rows_follow_the_spec_shapes(tenant):
    zoe = next(a for a in tenant.agents if a["name"] == "Zoë Ångström")
    assert {"id", "agent_id", "team_id", "team_name", "role_id", "role_name", "is_manager"} <= set(
        zoe["teams"][0]
    )
    assert {"id", "agent_id", "department_id", "department_name", "role_id", "membershiplevel"} <= set(
        zoe["departments"][0]
    )
    direct_role_ids = {r["role_id"] for a in tenant.agents for r in a["teams"] if r["role_id"] in (None, "")}
    assert direct_role_ids == {None, ""}


def test_tenant_has_a_pair_both_direct_and_inherited(tenant):
    zoe = next(a for a in tenant.agents if a["name"] == "Zoë Ångström")
    first_line = next(r for r in tenant.roles if r["name"] == "1st Line Agent")
    team_rows = [r for r in zoe["teams"] if int(r["team_id"]) == first_line["teams"][0]["team_id"]]
    assert sorted(r["role_id"] or "" for r in team_rows) == ["", first_line["id"]]
    pairs = {(m.resource_type, m.resource_id, m.agent_id): m for m in tenant.memberships()}
    team = pairs["team", str(first_line["teams"][0]["team_id"]), zoe["id"]]
    assert team.direct and team.via_roles == (first_line["id"],)
    dep = pairs["department", str(first_line["departments"][0]["department_id"]), zoe["id"]]
    assert dep.direct and dep.via_roles == (first_line["id"],)


def test_memberships_are_one_per_pair_with_string_ids(tenant):
    members = tenant.memberships()
    keys = [(m.resource_type, m.resource_id, m.agent_id) for m in members]
    assert len(keys) == len(set(keys))
    assert all(isinstance(m, Membership) and "." not in m.resource_id for m in members)
    assert {m.resource_type for m in members} == {"team", "department", "role"}
    assert all(m.direct and not m.via_roles for m in members if m.resource_type == "role")


def test_departments_are_referenced_by_agents_and_teams_with_int_ids(tenant):
    departments = tenant.departments()
    assert len(departments) == 4
    assert all(isinstance(k, int) for k in departments)
    referenced = {int(r["department_id"]) for a in tenant.agents for r in a["departments"]}
    assert referenced | {t["department_id"] for t in tenant.teams} == set(departments)


def test_drop_agents_removes_a_share_of_non_system_agents_and_their_memberships():
    tenant = build_tenant(TenantSpec(seed=3, agents=40))
    before = {m.agent_id for m in tenant.memberships()}
    removed = tenant.drop_agents(0.25, seed=1)
    assert len(removed) == 10  # a quarter of the 39 agents besides Unassigned and the integration agent
    ids = {a["id"] for a in tenant.agents}
    assert not ids & set(removed)
    assert {UNASSIGNED_AGENT_ID, tenant.service_agent_id} <= ids
    assert not {m.agent_id for m in tenant.memberships()} & set(removed)
    assert set(removed) & before
    assert build_tenant(TenantSpec(seed=3, agents=40)).drop_agents(0.25, seed=1) == removed


def test_evolve_moves_the_tenant_on_as_people_join_leave_and_change_teams_and_roles():
    spec = TenantSpec(seed=7, agents=60, users=500, teams=8, roles=6, departments=4)
    tenant = build_tenant(spec)
    fixture_rows = [dict(a) for a in tenant.agents[:5]]  # Unassigned, API agents, Zoë, 李雷
    before = {a["id"]: a for a in tenant.agents}
    was_disabled = {a["id"]: a["isdisabled"] for a in tenant.agents}
    grants_before, users_before = set(tenant.memberships()), {u["id"] for u in tenant.users}

    lines = tenant.evolve(1)

    after = {a["id"]: a for a in tenant.agents}
    joined, left = set(after) - set(before), set(before) - set(after)
    assert len(joined) == 2 and len(left) == 1
    assert all(after[i]["teams"] and after[i]["email"].endswith("@acme.example") for i in joined)
    newly_disabled = [i for i, a in after.items() if a["isdisabled"] and not was_disabled.get(i, True)]
    assert len(newly_disabled) == 1
    grants = set(tenant.memberships())
    assert {m.agent_id for m in grants - grants_before} - joined  # existing agents gained access too
    assert {m.agent_id for m in grants_before - grants} - left  # and existing agents lost some
    users = {u["id"] for u in tenant.users}
    assert len(users - users_before) == 3 and len(users_before - users) == 2
    assert tenant.agents[:5] == fixture_rows  # the rows other tests rely on never change
    assert any(line.startswith("joined: agent") for line in lines)
    assert any(" gained " in line for line in lines) and any(" lost " in line for line in lines)

    again = build_tenant(spec)  # seeded: the same steps, whoever asks
    assert again.evolve(2)[: len(lines)] == lines
    tenant.evolve(0)
    assert build_tenant(spec).evolve(0) == []


def test_evolve_refuses_a_negative_step_count():
    with pytest.raises(ValueError, match="steps must be >= 0"):
        build_tenant(TenantSpec(seed=1)).evolve(-1)


def test_tenant_lists_are_plain_mutable_lists():
    tenant = build_tenant(TenantSpec(seed=1))
    tenant.users.append(dict(tenant.users[0]))
    tenant.agents.append({"id": "broken", "name": None})
    assert tenant.users[-1] == tenant.users[0]
    assert tenant.agent(tenant.agents[1]["id"]) is tenant.agents[1]
    tenant.departments()  # a broken row does not break the truth helpers
    tenant.memberships()


def test_tiny_specs_still_build():
    tenant = build_tenant(TenantSpec(agents=1, users=0, teams=1, roles=0, departments=0))
    assert [a["id"] for a in tenant.agents] == [1, 2]
    assert tenant.departments() == {}
    assert not tenant.teams[0]["inactive"]


def test_spec_rejects_nonsense():
    with pytest.raises(ValueError, match="agents"):
        TenantSpec(agents=0)
    with pytest.raises(ValueError, match="users"):
        TenantSpec(users=-1)


def test_benchmark_sized_tenant_builds_in_well_under_a_few_seconds():
    started = time.perf_counter()
    tenant = build_tenant(TenantSpec(agents=500, teams=40, roles=25, users=20_000))
    assert time.perf_counter() - started < 2.0
    assert len(tenant.users) == 20_000
