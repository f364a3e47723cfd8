"""The change log between two extractions of a simulator tenant equals what the test changed there.

The expected grants come from the simulator's own `memberships()` before and after the change, so
the change log is checked against an independent account of the tenant, not against the transform.
"""

from __future__ import annotations

import pytest

from dev.halo_simulator import TenantSpec
from halo_c1.changelog import build_change_log
from halo_c1.halo import HaloClient, extract_snapshot
from halo_c1.lake import Lake, read_parquet, write_json
from halo_c1.transform import transform_snapshot
from tests.integration.conftest import halo_settings

pytestmark = pytest.mark.integration

FIRST, SECOND = "20261127T050000Z", "20261127T060000Z"
TENANT = TenantSpec(seed=5, agents=25, users=30, teams=5, roles=4, departments=3)


def _grant_ids(tenant) -> dict[str, tuple[bool, tuple[str, ...]]]:
    slug = {"team": "member", "department": "member", "role": "assigned"}
    return {
        f"{m.resource_type}:{m.resource_id}:{slug[m.resource_type]}:agent:{m.agent_id}": (
            m.direct,
            m.via_roles,
        )
        for m in tenant.memberships()
        if m.agent_id != tenant.unassigned_agent_id
    }


def _snapshot(sim, lake: Lake, snapshot_id: str) -> None:
    with HaloClient(halo_settings(sim)) as client:
        extract_snapshot(client, lake, snapshot_id)
    transform_snapshot(lake, snapshot_id)


def test_change_log_of_two_simulator_snapshots_equals_what_changed_in_the_tenant(start_simulator, tmp_path):
    sim = start_simulator(tenant=TENANT)
    tenant = sim.tenant
    lake = Lake(str(tmp_path / "lake"))
    _snapshot(sim, lake, FIRST)
    write_json(lake.delivery_manifest(FIRST), {"snapshot_id": FIRST, "counts": {}})
    before = _grant_ids(tenant)

    enabled = [a for a in tenant.non_system_agents() if not a["isdisabled"] and a["roles"]]
    disabled_ids = sorted(str(a["id"]) for a in enabled[:2])
    for agent in enabled[:2]:
        agent["isdisabled"] = True
    admin = tenant.roles[0]
    gainer = next(a for a in tenant.non_system_agents() if all(r["id"] != admin["id"] for r in a["roles"]))
    gainer["roles"].append({"id": admin["id"], "name": admin["name"], "id_int": admin["id_int"]})
    leaver = next(a for a in tenant.non_system_agents() if a["teams"] and a is not gainer)
    leaver["teams"].pop()
    after = _grant_ids(tenant)
    _snapshot(sim, lake, SECOND)

    summary = build_change_log(lake, SECOND, mode="live")
    rows = read_parquet(lake.curated_file("access_changes", SECOND)).to_pylist()

    by_change: dict[str, set[str]] = {}
    for row in rows:
        by_change.setdefault(row["change"], set()).add(row["grant_id"] or row["resource_id"])
    expected_added = set(after) - set(before)
    expected_removed = set(before) - set(after)
    expected_origin = {g for g in set(before) & set(after) if before[g] != after[g]}
    assert f"role:{admin['id']}:assigned:agent:{gainer['id']}" in expected_added
    assert any(g.endswith(f":agent:{leaver['id']}") for g in expected_removed | expected_origin)
    assert by_change.get("grant_added", set()) == expected_added
    assert by_change.get("grant_removed", set()) == expected_removed
    assert by_change.get("grant_origin_changed", set()) == expected_origin
    assert by_change["resource_disabled"] == set(disabled_ids)
    assert set(by_change) <= {"grant_added", "grant_removed", "grant_origin_changed", "resource_disabled"}
    assert summary["counts"]["resource_disabled"] == 2
    assert summary["previous_snapshot_id"] == FIRST

    highlights = summary["highlights"]
    holders = {h["role_id"]: {a["agent_id"] for a in h["agents"]} for h in highlights["new_role_holders"]}
    assert str(gainer["id"]) in holders[admin["id"]]
    disabled_with_access = {d["agent_id"]: d for d in highlights["disabled_agents_with_access"]}
    for agent_id in disabled_ids:
        assert disabled_with_access[agent_id]["newly_disabled"] is True
