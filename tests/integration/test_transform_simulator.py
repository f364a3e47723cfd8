"""Extract a seeded simulator tenant, transform and gate it: the curated tables equal the tenant.

The simulator is the independent check of the transform: its own `memberships()` and
`departments()` say which grants and departments a correct pipeline must produce.
"""

from __future__ import annotations

import pytest

from dev.halo_simulator import TenantSpec
from halo_c1.halo import HaloClient, extract_snapshot
from halo_c1.halo.paging import normalize_id
from halo_c1.lake import Lake, read_parquet
from halo_c1.quality import raise_for_errors, run_quality_gate
from halo_c1.transform import transform_snapshot
from tests.integration.conftest import halo_settings

pytestmark = pytest.mark.integration

SNAPSHOT = "20261127T050000Z"
TENANT = TenantSpec(seed=3, agents=30, users=60, teams=6, roles=4, departments=3)


def test_transform_and_gate_of_extracted_tenant_match_the_simulator(start_simulator, tmp_path):
    sim = start_simulator(tenant=TENANT)
    lake = Lake(str(tmp_path / "lake"))
    with HaloClient(halo_settings(sim)) as client:
        extract_snapshot(client, lake, SNAPSHOT)
    stats = transform_snapshot(lake, SNAPSHOT)
    tenant = sim.tenant

    resources = read_parquet(lake.curated_file("resources", SNAPSHOT)).to_pylist()
    ids_by_type: dict[str, set[str]] = {}
    for row in resources:
        ids_by_type.setdefault(row["resource_type_id"], set()).add(row["resource_id"])
    assert ids_by_type["agent"] == {
        normalize_id(a["id"]) for a in tenant.agents if a["id"] != tenant.unassigned_agent_id
    }
    assert ids_by_type["user"] == {normalize_id(u["id"]) for u in tenant.users}
    assert ids_by_type["team"] == {normalize_id(t["id"]) for t in tenant.teams}
    assert ids_by_type["role"] == {r["id"] for r in tenant.roles}
    assert ids_by_type["department"] == {str(d) for d in tenant.departments()}
    department_names = {
        r["resource_id"]: r["display_name"] for r in resources if r["resource_type_id"] == "department"
    }
    assert department_names == {str(d): name or f"Department {d}" for d, name in tenant.departments().items()}

    expected = {
        f"{m.resource_type}:{m.resource_id}:{'assigned' if m.resource_type == 'role' else 'member'}"
        f":agent:{m.agent_id}": (m.direct, list(m.via_roles))
        for m in tenant.memberships()
        if m.agent_id != tenant.unassigned_agent_id
    }
    grants = read_parquet(lake.curated_file("grants", SNAPSHOT)).to_pylist()
    assert {g["grant_id"]: (g["is_direct"], g["source_role_ids"]) for g in grants} == expected
    assert len(grants) == len(expected)
    assert stats["rejected"] == {}

    result = run_quality_gate(lake, SNAPSHOT)
    raise_for_errors(result)
    assert result["passed"] is True
    finding_names = {f["name"] for f in result["failed"]}
    assert finding_names <= {
        "agent_without_email",
        "disabled_agent_holding_role",
        "disabled_agent_in_team",
        "api_agent_holding_role",
        "email_syntax",
    }


CURATED_TABLES = ("resource_types", "resources", "entitlements", "grants", "rejected_rows")


def _tenant_with_an_agent_only_department():
    """The seeded tenant, plus a department that only one agent's own row names (no team has it)."""
    from dev.halo_simulator.tenant import build_tenant

    tenant = build_tenant(TENANT)
    agent = tenant.non_system_agents()[0]
    agent["departments"] = [
        *agent["departments"],
        {
            "id": 9901,
            "agent_id": agent["id"],
            "department_id": 99,
            "department_name": "Legal",
            "role_id": None,
        },
    ]
    return tenant, str(agent["id"])


def test_per_group_membership_mode_gives_the_same_curated_tables_as_inline(start_simulator, tmp_path):
    tenant, agent_id = _tenant_with_an_agent_only_department()
    curated = {}
    for inline in (True, False):
        sim = start_simulator(tenant=tenant, membership_inline=inline, agent_envelope="results", page_cap=7)
        lake = Lake(str(tmp_path / f"inline={inline}"))
        with HaloClient(halo_settings(sim)) as client:
            extract_snapshot(client, lake, SNAPSHOT)
        transform_snapshot(lake, SNAPSHOT)
        curated[inline] = {name: read_parquet(lake.curated_file(name, SNAPSHOT)) for name in CURATED_TABLES}

    grants = curated[False]["grants"].to_pylist()
    inherited_departments = [
        g for g in grants if g["resource_type_id"] == "department" and g["source_role_ids"]
    ]
    assert inherited_departments, "the tenant must hold role-inherited department memberships"
    assert any(not g["is_direct"] for g in inherited_departments)
    assert f"department:99:member:agent:{agent_id}" in {g["grant_id"] for g in grants}
    for name in CURATED_TABLES:
        assert curated[False][name].equals(curated[True][name]), name


def expected_grants(tenant) -> set[str]:
    """The grant ids the simulator tenant's memberships must become (its unassigned agent has none)."""
    return {
        f"{m.resource_type}:{m.resource_id}:{'assigned' if m.resource_type == 'role' else 'member'}"
        f":agent:{m.agent_id}"
        for m in tenant.memberships()
        if m.agent_id != tenant.unassigned_agent_id
    }


def test_malformed_fields_deliver_every_account_and_grant_with_the_field_unknown_and_named(
    start_simulator, tmp_path
):
    """One malformed value per field class: no account or grant vanishes, none is guessed ENABLED."""
    from dev.halo_simulator.tenant import build_tenant

    tenant = build_tenant(TENANT)
    agents = tenant.non_system_agents()
    held = sorted((a for a in agents if a.get("teams")), key=lambda a: -len(a["teams"]))
    flagged, api, dated, emailed = held[0], held[1], held[2], held[3]
    flagged["isdisabled"] = "yes"  # flag
    api["isapiagent"] = 1  # flag (account type)
    dated["lastlogindate"] = "last tuesday"  # date
    emailed["email"] = {"primary": "someone@example.com"}  # text (personal: named by type only)
    tenant.users[0]["inactive"] = "no"
    tenant.teams[0]["inactive"] = 0
    tenant.teams[1]["department_id"] = {"id": 2}  # id reference
    flagged["teams"][0]["role_id"] = ["x"]  # a membership's role_id
    tenant.users[1]["id"] = None  # no usable id: the only row that may be left out
    sim = start_simulator(tenant=tenant)
    lake = Lake(str(tmp_path / "lake"))
    with HaloClient(halo_settings(sim)) as client:
        extract_snapshot(client, lake, SNAPSHOT)
    stats = transform_snapshot(lake, SNAPSHOT)

    resources = {
        (r["resource_type_id"], r["resource_id"]): r
        for r in read_parquet(lake.curated_file("resources", SNAPSHOT)).to_pylist()
    }
    assert {i for t, i in resources if t == "agent"} == {
        normalize_id(a["id"]) for a in tenant.agents if a["id"] != tenant.unassigned_agent_id
    }
    assert {i for t, i in resources if t == "user"} == {
        normalize_id(u["id"]) for u in tenant.users if u["id"] is not None
    }
    assert {i for t, i in resources if t == "team"} == {normalize_id(t["id"]) for t in tenant.teams}
    grants = {g["grant_id"] for g in read_parquet(lake.curated_file("grants", SNAPSHOT)).to_pylist()}
    assert grants == expected_grants(tenant)
    status = {key: (r["status"], r["account_type"]) for key, r in resources.items()}
    assert status["agent", str(flagged["id"])][0] == "UNSPECIFIED"
    assert status["agent", str(api["id"])][1] == "UNSPECIFIED"
    assert status["user", str(tenant.users[0]["id"])][0] == "UNSPECIFIED"
    assert status["team", str(tenant.teams[0]["id"])][0] == "UNSPECIFIED"
    assert resources["agent", str(dated["id"])]["last_login"] is None
    assert resources["agent", str(emailed["id"])]["email"] is None
    assert resources["team", str(tenant.teams[1]["id"])]["parent_resource_id"] is None

    issues = read_parquet(lake.curated_file("data_issues", SNAPSHOT)).to_pylist()
    named = {(i["entity"], i["record"], i["field"], i["value"], i["outcome"]) for i in issues}
    team_row = f"{flagged['id']}->team:{int(flagged['teams'][0]['team_id'])}"
    raw_users = read_parquet(lake.raw_file("users", SNAPSHOT))["user_id"].to_pylist()
    no_id = f"row {raw_users.index(None)}"  # its position in the raw file (the simulator's page order)
    assert named == {
        ("agents", str(flagged["id"]), "isdisabled", "'yes'", "unknown"),
        ("agents", str(api["id"]), "isapiagent", "1", "unknown"),
        ("agents", str(dated["id"]), "lastlogindate", "'last tuesday'", "unknown"),
        ("agents", str(emailed["id"]), "email", "<object>", "unknown"),
        ("users", str(tenant.users[0]["id"]), "inactive", "'no'", "unknown"),
        ("teams", str(tenant.teams[0]["id"]), "inactive", "0", "unknown"),
        ("teams", str(tenant.teams[1]["id"]), "department_id", "{'id': 2}", "unknown"),
        ("agent_memberships", team_row, "role_id", "['x']", "unknown"),
        ("users", no_id, "id", None, "left_out"),
    }
    assert "someone@example.com" not in str(issues)
    assert stats["rejected"] == {"users/missing_id": 1}
    assert f"agents {flagged['id']}: isdisabled='yes' delivered as unknown" in stats["issues_named"]

    result = run_quality_gate(lake, SNAPSHOT, data_docs=False)
    # Unknown fields warn, never fail the run; the user left out is 1 of 60 rows, above the 1 % share
    # at which rows left out are an error (quality.checks): the only error.
    errors = [(f["table"], f["name"]) for f in result["failed"] if f["severity"] == "error"]
    assert errors == [("rejected_rows", "users.missing_id")]
    warned = {f["name"]: f["examples"] for f in result["failed"] if f["table"] == "data_issues"}
    assert f"{flagged['id']} (isdisabled)" in warned["agents.unknown_fields"]
    assert warned["users.unknown_fields"] == [f"{tenant.users[0]['id']} (inactive)"]
