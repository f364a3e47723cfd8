"""The access change log on hand-built snapshot pairs: every kind of change, with literal ids."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from halo_c1 import model
from halo_c1.changelog import (
    CHANGES,
    build_change_log,
    previous_delivered,
    read_change_log,
)
from halo_c1.lake import Lake, read_parquet, write_json, write_parquet

OLD, NEW, NEWER = "20261120T080000Z", "20261120T090000Z", "20261120T100000Z"


def resource(rtype: str, rid: str, name: str, status: str = "ENABLED", account: str | None = None) -> dict:
    if account is None and rtype in ("agent", "user"):
        account = "HUMAN"
    return {
        "resource_type_id": rtype,
        "resource_id": rid,
        "display_name": name,
        "status": status,
        "account_type": account,
    }


def grant(ent: str, agent: str, direct: bool = True, via: tuple[str, ...] = ()) -> dict:
    rtype, rid, _slug = ent.split(":")
    return {
        "grant_id": f"{ent}:agent:{agent}",
        "entitlement_id": ent,
        "resource_type_id": rtype,
        "resource_id": rid,
        "principal_resource_type_id": "agent",
        "principal_resource_id": agent,
        "is_direct": direct,
        "source_role_ids": list(via),
    }


def write_snapshot(
    lake: Lake, sid: str, resources: list[dict], grants: list[dict], *, delivered: bool = False
) -> None:
    def table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
        return pa.Table.from_pylist([{"snapshot_id": sid, **r} for r in rows], schema=schema)

    entitlements = [
        {
            "entitlement_id": f"{r['resource_type_id']}:{r['resource_id']}:{slug}",
            "resource_type_id": r["resource_type_id"],
            "resource_id": r["resource_id"],
            "slug": slug,
            "display_name": r["display_name"],
            "purpose": "ASSIGNMENT",
            "grantable_to": ["agent"],
        }
        for r in resources
        if (slug := model.RESOURCE_TYPE_BY_ID[r["resource_type_id"]].entitlement_slug)
    ]
    write_parquet(lake.curated_file("resources", sid), table(resources, model.CURATED_RESOURCES))
    write_parquet(lake.curated_file("entitlements", sid), table(entitlements, model.CURATED_ENTITLEMENTS))
    write_parquet(lake.curated_file("grants", sid), table(grants, model.CURATED_GRANTS))
    if delivered:
        write_json(lake.delivery_manifest(sid), {"snapshot_id": sid, "counts": {}})


BASE_RESOURCES = [
    resource("agent", "10", "Zoë Ångström"),
    resource("agent", "11", "Li Lei"),
    resource("agent", "12", "Old Timer"),
    resource("agent", "13", "Integration", account="SERVICE"),
    resource("team", "3", "Service Desk"),
    resource("team", "4", "Network"),
    resource("department", "2", "IT"),
    resource("role", "R-ADMIN", "Administrator"),
    resource("role", "R-1ST", "1st Line Agent"),
]
BASE_GRANTS = [
    grant("team:3:member", "10", direct=True, via=("R-1ST",)),
    grant("team:3:member", "11", direct=False, via=("R-1ST",)),
    grant("team:4:member", "12"),
    grant("role:R-1ST:assigned", "10"),
    grant("role:R-1ST:assigned", "11"),
    grant("role:R-ADMIN:assigned", "12"),
    grant("department:2:member", "12"),
]


def _changes(lake: Lake, sid: str) -> list[tuple[str, str | None, str | None]]:
    rows = read_parquet(lake.curated_file("access_changes", sid)).to_pylist()
    return [(r["change"], r["grant_id"] or r["entitlement_id"], r["resource_id"]) for r in rows]


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(str(tmp_path / "lake"))


def test_change_log_lists_every_kind_of_change_with_exact_ids(lake):
    write_snapshot(lake, OLD, BASE_RESOURCES, BASE_GRANTS, delivered=True)
    resources = [
        resource("agent", "10", "Zoë Ångström"),
        resource("agent", "11", "Li Lei", status="DISABLED"),  # disabled, keeps its grants
        resource("agent", "13", "Integration", account="SERVICE", status="UNSPECIFIED"),  # unreadable now
        resource("agent", "14", "New Starter"),  # added
        resource("team", "3", "Service Desk", status="DISABLED"),
        resource("team", "5", "Security"),  # added, with its entitlement
        resource("department", "2", "IT"),
        resource("role", "R-ADMIN", "Administrator"),
        resource("role", "R-1ST", "1st Line Agent"),
    ]  # agent 12 and team 4 removed (and team 4's entitlement)
    grants = [
        grant("team:3:member", "10", direct=False, via=("R-1ST",)),  # was direct + inherited
        grant("team:3:member", "11", direct=True, via=("R-1ST",)),  # was inherited only
        grant("role:R-1ST:assigned", "10"),
        grant("role:R-1ST:assigned", "11"),
        grant("role:R-ADMIN:assigned", "14"),  # a new administrator
        grant("role:R-ADMIN:assigned", "13"),  # an API agent gains a role
        grant("team:5:member", "14"),
    ]
    write_snapshot(lake, NEW, resources, grants)

    summary = build_change_log(lake, NEW, mode="live")

    assert _changes(lake, NEW) == [
        ("entitlement_added", "team:5:member", "5"),
        ("entitlement_removed", "team:4:member", "4"),
        ("grant_added", "role:R-ADMIN:assigned:agent:13", "R-ADMIN"),
        ("grant_added", "role:R-ADMIN:assigned:agent:14", "R-ADMIN"),
        ("grant_added", "team:5:member:agent:14", "5"),
        ("grant_origin_changed", "team:3:member:agent:10", "3"),
        ("grant_origin_changed", "team:3:member:agent:11", "3"),
        ("grant_removed", "department:2:member:agent:12", "2"),
        ("grant_removed", "role:R-ADMIN:assigned:agent:12", "R-ADMIN"),
        ("grant_removed", "team:4:member:agent:12", "4"),
        ("resource_added", None, "14"),
        ("resource_added", None, "5"),
        ("resource_disabled", None, "11"),
        ("resource_disabled", None, "3"),
        ("resource_removed", None, "12"),
        ("resource_removed", None, "4"),
        ("resource_status_unknown", None, "13"),
    ]
    assert summary["previous_snapshot_id"] == OLD
    assert summary["counts"] == {
        "grant_added": 3,
        "grant_removed": 3,
        "grant_origin_changed": 2,
        "resource_added": 2,
        "resource_removed": 2,
        "resource_disabled": 2,
        "resource_enabled": 0,
        "resource_status_unknown": 1,
        "resource_type_added": 0,
        "resource_type_removed": 0,
        "entitlement_added": 1,
        "entitlement_removed": 1,
    }
    assert set(summary["counts"]) == set(CHANGES)
    rows = {r["grant_id"]: r for r in read_parquet(lake.curated_file("access_changes", NEW)).to_pylist()}
    removed = rows["role:R-ADMIN:assigned:agent:12"]
    assert (removed["display_name"], removed["principal_display_name"]) == ("Administrator", "Old Timer")
    assert (removed["snapshot_id"], removed["previous_snapshot_id"]) == (NEW, OLD)


def test_change_log_tells_inherited_from_direct_grants(lake):
    write_snapshot(lake, OLD, BASE_RESOURCES, BASE_GRANTS, delivered=True)
    grants = [
        *BASE_GRANTS,
        grant("team:4:member", "10", direct=False, via=("R-1ST", "R-ADMIN")),
        grant("department:2:member", "11"),
    ]
    grants[0] = grant("team:3:member", "10", direct=True)  # no longer also via R-1ST
    write_snapshot(lake, NEW, BASE_RESOURCES, grants)

    build_change_log(lake, NEW)
    rows = {r["grant_id"]: r for r in read_parquet(lake.curated_file("access_changes", NEW)).to_pylist()}

    inherited = rows["team:4:member:agent:10"]
    assert (inherited["change"], inherited["is_direct"], inherited["source_role_ids"]) == (
        "grant_added",
        False,
        ["R-1ST", "R-ADMIN"],
    )
    direct = rows["department:2:member:agent:11"]
    assert (direct["is_direct"], direct["source_role_ids"]) == (True, [])
    changed = rows["team:3:member:agent:10"]
    assert changed["change"] == "grant_origin_changed"
    assert (changed["is_direct"], changed["source_role_ids"]) == (True, [])
    assert (changed["previous_is_direct"], changed["previous_source_role_ids"]) == (True, ["R-1ST"])


def test_change_log_records_a_resource_type_that_appeared_and_one_that_vanished(lake):
    write_snapshot(
        lake, OLD, [*BASE_RESOURCES, resource("user", "501", "End User")], BASE_GRANTS, delivered=True
    )
    without_departments = [r for r in BASE_RESOURCES if r["resource_type_id"] != "department"]
    grants = [g for g in BASE_GRANTS if g["resource_type_id"] != "department"]
    write_snapshot(lake, NEW, [*without_departments, resource("user", "777", "Someone")], grants)
    write_snapshot(lake, NEWER, [*BASE_RESOURCES], BASE_GRANTS)
    write_json(lake.delivery_manifest(NEW), {"snapshot_id": NEW, "counts": {}})

    summary = build_change_log(lake, NEW)
    assert summary["highlights"]["resource_types_removed"] == ["department"]
    assert summary["counts"]["resource_type_removed"] == 1
    assert ("entitlement_removed", "department:2:member", "2") in _changes(lake, NEW)

    later = build_change_log(lake, NEWER)
    assert later["previous_snapshot_id"] == NEW
    assert later["highlights"]["resource_types_added"] == ["department"]
    assert later["highlights"]["resource_types_removed"] == ["user"]
    assert ("resource_type_added", None, None) in _changes(lake, NEWER)


def test_highlights_name_new_role_holders_disabled_agents_with_access_and_api_agents(lake):
    write_snapshot(lake, OLD, BASE_RESOURCES, BASE_GRANTS, delivered=True)
    resources = [dict(r) for r in BASE_RESOURCES]
    resources[1]["status"] = "DISABLED"  # agent 11 disabled, still holding two grants
    grants = [
        *BASE_GRANTS,
        grant("role:R-ADMIN:assigned", "10"),
        grant("role:R-ADMIN:assigned", "13"),
    ]
    write_snapshot(lake, NEW, resources, grants)

    found = build_change_log(lake, NEW)["highlights"]

    assert found["new_role_holders"] == [
        {
            "role_id": "R-ADMIN",
            "role": "Administrator",
            "agents": [
                {"agent_id": "10", "agent": "Zoë Ångström", "is_direct": True, "via_roles": []},
                {"agent_id": "13", "agent": "Integration", "is_direct": True, "via_roles": []},
            ],
        }
    ]
    assert found["disabled_agents_with_access"] == [
        {"agent_id": "11", "agent": "Li Lei", "grants": 2, "newly_disabled": True}
    ]
    assert [(a["agent_id"], a["role_id"]) for a in found["api_agents_gaining_roles"]] == [("13", "R-ADMIN")]


def test_re_derived_snapshot_compares_with_the_delivery_before_it_and_says_so(lake):
    write_snapshot(lake, OLD, BASE_RESOURCES, BASE_GRANTS, delivered=True)
    write_snapshot(lake, NEW, BASE_RESOURCES, BASE_GRANTS[:-1], delivered=True)
    write_snapshot(lake, NEWER, BASE_RESOURCES, BASE_GRANTS, delivered=True)

    assert previous_delivered(lake, NEW) == OLD
    summary = build_change_log(lake, NEW, mode="rederive")

    assert summary["previous_snapshot_id"] == OLD  # not NEWER, the latest delivery
    assert "re-derived" in summary["basis"] and OLD in summary["basis"]
    assert _changes(lake, NEW) == [("grant_removed", "department:2:member:agent:12", "2")]


def test_first_snapshot_has_an_empty_change_log_that_says_why(lake):
    write_snapshot(lake, OLD, BASE_RESOURCES, BASE_GRANTS)

    summary = build_change_log(lake, OLD)

    assert summary["previous_snapshot_id"] is None
    assert "nothing to compare" in summary["basis"]
    assert sum(summary["counts"].values()) == 0
    assert read_parquet(lake.curated_file("access_changes", OLD)).num_rows == 0
    assert read_change_log(lake, OLD)[0]["basis"] == summary["basis"]


def test_change_log_is_byte_identical_when_rebuilt(lake):
    write_snapshot(lake, OLD, BASE_RESOURCES, BASE_GRANTS, delivered=True)
    write_snapshot(lake, NEW, BASE_RESOURCES[:3], BASE_GRANTS[2:])
    build_change_log(lake, NEW)
    first = lake.curated_file("access_changes", NEW).read_bytes()
    build_change_log(lake, NEW)
    assert lake.curated_file("access_changes", NEW).read_bytes() == first


def test_change_log_says_so_when_the_delivered_baseline_is_gone_from_the_lake(lake):
    write_snapshot(lake, NEW, BASE_RESOURCES, BASE_GRANTS)
    write_json(lake.delivery_manifest(OLD), {"snapshot_id": OLD, "counts": {}})  # its tables were purged

    summary = build_change_log(lake, NEW)

    assert summary["previous_snapshot_id"] is None
    assert f"{OLD}, is no longer in the lake" in summary["basis"]
    assert read_parquet(lake.curated_file("access_changes", NEW)).num_rows == 0


def test_change_log_names_a_missing_table_of_its_own_snapshot(lake):
    with pytest.raises(FileNotFoundError, match=f"'resources' of snapshot {NEW}"):
        build_change_log(lake, NEW)
