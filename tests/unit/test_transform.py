"""Raw → curated: literal ids and rows for a hand-built tenant, rejected rows, determinism."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from halo_c1 import model
from halo_c1.lake import Lake, read_json, read_parquet, write_json, write_parquet
from halo_c1.transform import RawSnapshotError, transform_snapshot
from tests.unit.raw_fixtures import (
    ROLE_ADMIN,
    ROLE_DESK,
    SNAPSHOT,
    agent,
    good_raw,
    member,
    team,
    user,
    write_raw,
)


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(str(tmp_path))


def curated(lake: Lake, table: str) -> list[dict]:
    return read_parquet(lake.curated_file(table, SNAPSHOT)).to_pylist()


def by_key(rows: list[dict], *keys: str) -> dict:
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows}


def test_transform_writes_every_table_with_its_model_schema_and_snapshot_id(lake):
    write_raw(lake, SNAPSHOT, good_raw())
    stats = transform_snapshot(lake, SNAPSHOT)
    for name, schema in model.CURATED_TABLES.items():
        table = read_parquet(lake.curated_file(name, SNAPSHOT))
        assert table.schema.equals(schema), name
        assert set(table["snapshot_id"].to_pylist()) <= {SNAPSHOT}
    assert stats["rows"] == {
        "resource_types": 5,
        "resources": 13,
        "entitlements": 7,
        "grants": 7,
        "rejected_rows": 0,
        "data_issues": 1,  # agent 13's lastlogindate "not a date"
    }
    assert stats["resources_by_type"] == {"agent": 3, "department": 2, "role": 2, "team": 3, "user": 3}
    assert stats["excluded"] == {"system_agent": 1, "system_agent_memberships": 0}


def test_transform_grants_merge_direct_and_inherited_rows_into_one_grant(lake):
    write_raw(lake, SNAPSHOT, good_raw())
    transform_snapshot(lake, SNAPSHOT)
    grants = curated(lake, "grants")
    assert [g["grant_id"] for g in grants] == [
        "department:2:member:agent:12",
        "department:7:member:agent:13",
        f"role:{ROLE_ADMIN}:assigned:agent:12",
        f"role:{ROLE_DESK}:assigned:agent:13",
        "team:3:member:agent:12",
        "team:4:member:agent:13",
        "team:5:member:agent:14",
    ]
    grant = by_key(grants, "grant_id")
    assert grant["team:3:member:agent:12"] == {
        "snapshot_id": SNAPSHOT,
        "grant_id": "team:3:member:agent:12",
        "entitlement_id": "team:3:member",
        "resource_type_id": "team",
        "resource_id": "3",
        "principal_resource_type_id": "agent",
        "principal_resource_id": "12",
        "is_direct": True,
        "source_role_ids": [ROLE_ADMIN],
    }
    inherited_twice = grant["team:4:member:agent:13"]
    assert inherited_twice["is_direct"] is False
    assert inherited_twice["source_role_ids"] == [ROLE_ADMIN, ROLE_DESK]
    role_grant = grant[f"role:{ROLE_ADMIN}:assigned:agent:12"]
    assert (role_grant["is_direct"], role_grant["source_role_ids"]) == (True, [])


def test_transform_vectorised_ids_equal_the_model_id_builders(lake):
    write_raw(lake, SNAPSHOT, good_raw())
    transform_snapshot(lake, SNAPSHOT)
    for g in curated(lake, "grants"):
        slug = model.RESOURCE_TYPE_BY_ID[g["resource_type_id"]].entitlement_slug
        entitlement = model.entitlement_id(g["resource_type_id"], g["resource_id"], slug)
        assert g["entitlement_id"] == entitlement
        assert g["grant_id"] == model.grant_id(
            entitlement, g["principal_resource_type_id"], g["principal_resource_id"]
        )


def test_transform_maps_agents_and_users_user_traits(lake):
    write_raw(lake, SNAPSHOT, good_raw())
    transform_snapshot(lake, SNAPSHOT)
    resources = by_key(curated(lake, "resources"), "resource_type_id", "resource_id")
    assert ("agent", "1") not in resources  # Halo's system "Unassigned" agent
    jane = resources["agent", "12"]
    assert jane["display_name"] == "Jane Doe"
    assert jane["email"] == "Jane.Doe@Example.com"
    assert jane["email_normalized"] == "jane.doe@example.com"
    assert jane["login"] == "ACME\\jdoe"
    assert (jane["status"], jane["account_type"]) == ("ENABLED", "HUMAN")
    assert (jane["given_name"], jane["family_name"]) == ("Jane", "Doe")
    assert jane["last_login"] == datetime(2025, 1, 2, 9, 0, tzinfo=UTC)
    bob = resources["agent", "13"]
    assert (bob["status"], bob["login"], bob["last_login"]) == ("DISABLED", "bob@example.com", None)
    api = resources["agent", "14"]
    assert (api["account_type"], api["email"], api["login"]) == ("SERVICE", None, None)
    old = resources["user", "101"]
    assert (old["display_name"], old["status"], old["login"]) == ("Old User", "DISABLED", "olduser")
    assert resources["user", "100"]["login"] == "alice@example.com"
    assert resources["user", "102"]["account_type"] == "SERVICE"


def test_transform_maps_teams_departments_and_roles(lake):
    write_raw(lake, SNAPSHOT, good_raw())
    transform_snapshot(lake, SNAPSHOT)
    resources = by_key(curated(lake, "resources"), "resource_type_id", "resource_id")
    first_line = resources["team", "3"]
    assert (first_line["parent_resource_type_id"], first_line["parent_resource_id"]) == ("department", "2")
    assert resources["team", "4"]["status"] == "DISABLED"
    assert resources["team", "5"]["parent_resource_id"] is None
    assert resources["department", "2"]["display_name"] == "IT"
    assert resources["department", "7"]["display_name"] == "HR"  # known only from a membership row
    assert resources["role", ROLE_ADMIN]["display_name"] == "HaloITSM Administrator"
    assert resources["team", "3"]["account_type"] is None
    entitlements = by_key(curated(lake, "entitlements"), "entitlement_id")
    assert entitlements["team:3:member"]["display_name"] == "1st Line Team Member"
    assert entitlements[f"role:{ROLE_DESK}:assigned"]["slug"] == "assigned"
    assert {e["purpose"] for e in entitlements.values()} == {"ASSIGNMENT"}
    assert {tuple(e["grantable_to"]) for e in entitlements.values()} == {("agent",)}
    types = [t["resource_type_id"] for t in curated(lake, "resource_types")]
    assert types == ["agent", "user", "team", "department", "role"]


def test_transform_without_users_entity_keeps_the_user_resource_type(lake):
    raw = good_raw()
    del raw["users"]
    write_raw(lake, SNAPSHOT, raw)
    stats = transform_snapshot(lake, SNAPSHOT)
    assert "user" not in stats["resources_by_type"]
    assert stats["end_users_extracted"] is False
    assert "user" in [t["resource_type_id"] for t in curated(lake, "resource_types")]


def test_transform_counts_unmappable_rows_per_entity_and_reason(lake):
    raw = good_raw()
    raw["agents"] += [agent(None, "No Id"), agent("12", "Jane Again")]
    raw["users"] += [user(None, "Nobody")]
    raw["teams"] += [team(None, "Ghost"), team("3", "1st Line copy")]
    raw["roles"] += [{"role_id": None, "name": "int id"}]
    raw["agent_memberships"] += [
        member(None, "team", "3"),
        member("12", "team", None),
        member("12", "site", "9"),
        member("99", "team", "3"),
        member("12", "team", "404"),
        member("12", "role", "no-such-role"),
        member("1", "team", "3"),
    ]
    write_raw(lake, SNAPSHOT, raw)
    stats = transform_snapshot(lake, SNAPSHOT)
    assert stats["rejected"] == {
        "agent_memberships/missing_agent_id": 1,
        "agent_memberships/missing_target_id": 1,
        "agent_memberships/unknown_agent": 1,
        "agent_memberships/unknown_kind": 1,
        "agent_memberships/unknown_role": 1,
        "agent_memberships/unknown_team": 1,
        "agents/duplicate_id": 1,
        "agents/missing_id": 1,
        "roles/missing_id": 1,
        "teams/duplicate_id": 1,
        "teams/missing_id": 1,
        "users/missing_id": 1,
    }
    assert stats["excluded"]["system_agent_memberships"] == 1
    rejected = by_key(curated(lake, "rejected_rows"), "entity", "reason")
    assert rejected["agents", "duplicate_id"]["examples"] == ["12"]
    assert rejected["agent_memberships", "unknown_team"]["examples"] == ["12->team:404"]
    resources = by_key(curated(lake, "resources"), "resource_type_id", "resource_id")
    assert resources["agent", "12"]["display_name"] == "Jane Doe"  # the first row wins
    assert resources["team", "3"]["display_name"] == "1st Line"
    assert stats["rows"]["grants"] == 7


def test_transform_rerun_is_byte_identical(lake):
    write_raw(lake, SNAPSHOT, good_raw())
    transform_snapshot(lake, SNAPSHOT)
    first = {t: lake.curated_file(t, SNAPSHOT).read_bytes() for t in model.CURATED_TABLES}
    transform_snapshot(lake, SNAPSHOT)
    second = {t: lake.curated_file(t, SNAPSHOT).read_bytes() for t in model.CURATED_TABLES}
    assert first == second


def test_transform_missing_raw_entity_names_it(lake):
    raw = good_raw()
    del raw["teams"]
    write_raw(lake, SNAPSHOT, raw)
    with pytest.raises(RawSnapshotError, match="'teams' is missing"):
        transform_snapshot(lake, SNAPSHOT)


def test_transform_raw_entity_without_a_column_names_it(lake):
    write_raw(lake, SNAPSHOT, good_raw())
    write_parquet(lake.raw_file("roles", SNAPSHOT), pa.table({"role_id": ["r1"], "raw_json": ["{}"]}))
    with pytest.raises(RawSnapshotError, match=r"'roles' lacks columns \['name'\]"):
        transform_snapshot(lake, SNAPSHOT)


def test_transform_reads_department_zero_as_no_department(lake):
    raw = good_raw()
    raw["teams"].append(team("6", "Floating", department_id="0", department_name="", inactive=False))
    raw["agent_memberships"].append(member("12", "department", " 0 "))
    write_raw(lake, SNAPSHOT, raw)

    transform_snapshot(lake, SNAPSHOT)

    resources = by_key(curated(lake, "resources"), "resource_type_id", "resource_id")
    assert ("department", "0") not in resources
    assert resources["team", "6"]["parent_resource_id"] is None
    assert resources["team", "6"]["parent_resource_type_id"] is None
    assert not [e for e in curated(lake, "entitlements") if e["entitlement_id"] == "department:0:member"]
    rejected = by_key(curated(lake, "rejected_rows"), "entity", "reason")
    assert rejected["agent_memberships", "missing_target_id"]["row_count"] == 1


def test_transform_of_a_snapshot_extracted_without_end_users_has_none(lake):
    raw = good_raw()
    write_raw(lake, SNAPSHOT, raw)
    manifest = lake.raw_manifest(SNAPSHOT)
    write_json(manifest, {**read_json(manifest), "include_end_users": False})

    stats = transform_snapshot(lake, SNAPSHOT)

    assert stats["end_users_extracted"] is False
    assert "user" not in stats["resources_by_type"] or stats["resources_by_type"]["user"] == 0


def test_transform_of_an_incomplete_raw_snapshot_names_it(lake):
    write_raw(lake, SNAPSHOT, good_raw())
    lake.raw_manifest(SNAPSHOT).unlink()
    with pytest.raises(RawSnapshotError, match=f"raw snapshot {SNAPSHOT} is not complete"):
        transform_snapshot(lake, SNAPSHOT)


# -- malformed fields: delivered as unknown and named; only rows without a usable id are left out ----


def issues(lake: Lake) -> set[tuple[str, str, str, str | None, str]]:
    return {
        (i["entity"], i["record"], i["field"], i["value"], i["outcome"]) for i in curated(lake, "data_issues")
    }


def test_a_malformed_flag_delivers_the_account_and_its_grants_with_status_unspecified(lake):
    raw = good_raw()
    raw["agents"][1] |= {"isdisabled": None, "invalid_fields": ["isdisabled='yes'"]}  # Jane, agent 12
    raw["agents"][3] |= {"isapiagent": None, "invalid_fields": ["isapiagent=1"]}  # agent 14
    raw["users"][0] |= {"inactive": None, "invalid_fields": ["inactive='no'"]}
    raw["teams"][0] |= {"inactive": None, "invalid_fields": ["inactive=0"]}
    write_raw(lake, SNAPSHOT, raw)
    good = Lake(str(lake.base / "good"))
    write_raw(good, SNAPSHOT, good_raw())

    stats = transform_snapshot(lake, SNAPSHOT)
    transform_snapshot(good, SNAPSHOT)

    resources = by_key(curated(lake, "resources"), "resource_type_id", "resource_id")
    assert (resources["agent", "12"]["status"], resources["agent", "12"]["account_type"]) == (
        "UNSPECIFIED",
        "HUMAN",
    )
    assert (resources["agent", "14"]["status"], resources["agent", "14"]["account_type"]) == (
        "ENABLED",
        "UNSPECIFIED",
    )
    assert resources["user", "100"]["status"] == "UNSPECIFIED"
    assert resources["team", "3"]["status"] == "UNSPECIFIED"
    assert curated(lake, "grants") == curated(good, "grants")  # every grant, as without the bad values
    assert set(by_key(curated(lake, "resources"), "resource_type_id", "resource_id")) == set(
        by_key(curated(good, "resources"), "resource_type_id", "resource_id")
    )
    assert stats["rejected"] == {}
    assert stats["unknown_fields"] == {
        "agents.isapiagent": 1,
        "agents.isdisabled": 1,
        "agents.lastlogindate": 1,
        "teams.inactive": 1,
        "users.inactive": 1,
    }
    assert "agents 12: isdisabled='yes' delivered as unknown" in stats["issues_named"]
    assert ("agents", "12", "isdisabled", "'yes'", "unknown") in issues(lake)


def test_a_snapshot_archived_with_invalid_flags_is_read_the_same_way(lake):
    """Raw snapshots written before `invalid_fields` name bad flags in `invalid_flags`."""
    write_raw(lake, SNAPSHOT, good_raw())
    path = lake.raw_file("agents", SNAPSHOT)
    table = read_parquet(path).drop_columns(["invalid_fields"])
    legacy = pa.array([None, ["isdisabled='yes'"], None, None], pa.list_(pa.string()))
    write_parquet(path, table.append_column("invalid_flags", legacy))

    transform_snapshot(lake, SNAPSHOT)

    assert by_key(curated(lake, "resources"), "resource_type_id", "resource_id")["agent", "12"]["status"] == (
        "UNSPECIFIED"
    )
    assert ("agents", "12", "isdisabled", "'yes'", "unknown") in issues(lake)


def test_unreadable_texts_dates_and_references_are_empty_and_named(lake):
    raw = good_raw()
    raw["agents"][1] |= {"email": None, "invalid_fields": ["email=<object>"]}
    raw["teams"][0] |= {"department_id": "2 3"}  # not an id: the team gets no parent, the department stays
    raw["agent_memberships"][1] |= {"via_role_id": None, "invalid_fields": ["role_id=['x']"]}
    write_raw(lake, SNAPSHOT, raw)

    transform_snapshot(lake, SNAPSHOT)

    resources = by_key(curated(lake, "resources"), "resource_type_id", "resource_id")
    assert (
        resources["agent", "12"]["email"] is None and resources["agent", "12"]["display_name"] == "Jane Doe"
    )
    assert resources["agent", "13"]["last_login"] is None  # "not a date"
    assert resources["team", "3"]["parent_resource_id"] is None
    assert ("department", "2 3") not in resources
    assert {g["grant_id"] for g in curated(lake, "grants")} >= {"team:3:member:agent:12"}
    assert issues(lake) == {
        ("agents", "12", "email", "<object>", "unknown"),
        ("agents", "13", "lastlogindate", "'not a date'", "unknown"),
        ("teams", "3", "department_id", "'2 3'", "unknown"),
        ("agent_memberships", "12->team:3", "role_id", "['x']", "unknown"),
    }


def test_halo_no_date_sentinel_is_no_login_and_no_issue(lake):
    raw = good_raw()
    raw["agents"][2]["lastlogindate"] = "1900-01-01T00:00:00"
    write_raw(lake, SNAPSHOT, raw)
    transform_snapshot(lake, SNAPSHOT)
    assert (
        by_key(curated(lake, "resources"), "resource_type_id", "resource_id")["agent", "13"]["last_login"]
        is None
    )
    assert curated(lake, "data_issues") == []


def test_only_rows_without_a_usable_id_are_left_out_named_by_position_and_raw_value(lake):
    raw = good_raw()
    raw["agents"] += [
        agent(None, "True id", invalid_fields=["id=True"]),  # row 4
        agent("a b", "Spaced"),  # row 5
        agent("x:1", "Coloned"),  # row 6
    ]
    raw["agent_memberships"] += [member("12", "department", "9 9")]
    write_raw(lake, SNAPSHOT, raw)

    stats = transform_snapshot(lake, SNAPSHOT)

    assert stats["rejected"] == {
        "agent_memberships/invalid_target_id": 1,
        "agents/invalid_id": 2,
        "agents/missing_id": 1,
    }
    assert {i for i in issues(lake) if i[4] == "left_out"} == {
        ("agents", "row 4", "id", "True", "left_out"),
        ("agents", "row 5", "id", "'a b'", "left_out"),
        ("agents", "row 6", "id", "'x:1'", "left_out"),
        ("agent_memberships", "12->department:9 9", "target_id", None, "left_out"),
    }
    resources = by_key(curated(lake, "resources"), "resource_type_id", "resource_id")
    assert ("department", "9 9") not in resources
