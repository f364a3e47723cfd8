"""c1z writer: every limit or reference violation is a named error and leaves nothing at the destination."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from halo_c1.c1z.errors import C1zError, C1zTooLargeError, C1zValidationError
from halo_c1.c1z.reader import C1zReader
from halo_c1.c1z.writer import fit_utf8, write_c1z
from halo_c1.lake import Lake, read_parquet
from tests.unit.c1z_curated import SNAPSHOT, curated_rows, write_curated

Rows = dict[str, list[dict[str, Any]]]


def set_value(table: str, index: int, **values: Any) -> Callable[[Rows], None]:
    def mutate(rows: Rows) -> None:
        rows[table][index].update(values)

    return mutate


def duplicate(table: str, index: int) -> Callable[[Rows], None]:
    def mutate(rows: Rows) -> None:
        rows[table].append(copy.deepcopy(rows[table][index]))

    return mutate


LONG_ID = "é" * 513  # 1026 bytes in UTF-8, 513 characters

CASES = {
    "resource id too long": (
        set_value("resources", 3, resource_id=LONG_ID),
        "resources", f"user:{LONG_ID}", "resource_id must be 1..1024 bytes",
    ),
    "resource id empty": (set_value("resources", 3, resource_id=""), "resources", "user:", "resource_id must be 1..1024"),
    "resource type id too long": (
        set_value("resource_types", 4, resource_type_id="r" * 1025),
        "resource_types", "r" * 1025, "resource_type_id must be 1..1024 bytes",
    ),
    "entitlement id too long": (
        set_value("entitlements", 0, entitlement_id="e" * 1025),
        "entitlements", "e" * 1025, "entitlement_id must be 1..1024 bytes",
    ),
    "grant id too long": (
        set_value("grants", 2, grant_id="g" * 1025), "grants", "g" * 1025, "grant_id must be 1..1024 bytes",
    ),
    "duplicate resource type": (duplicate("resource_types", 2), "resource_types", "team", "duplicate resource type id"),
    "duplicate resource": (duplicate("resources", 4), "resources", "user:101", "duplicate resource id"),
    "duplicate entitlement": (duplicate("entitlements", 2), "entitlements", "department:7:member", "duplicate entitlement id"),
    "duplicate grant": (duplicate("grants", 1), "grants", "team:3:member:agent:13", "duplicate grant id"),
    "resource of an unknown type": (
        set_value("resources", 0, resource_type_id="robot"), "resources", "robot:12", "resource type 'robot'",
    ),
    "parent is not a resource": (
        set_value("resources", 5, parent_resource_id="99"),
        "resources", "team:3", "parent 'department:99' is not a resource",
    ),
    "half a parent": (
        set_value("resources", 5, parent_resource_type_id=None),
        "resources", "team:3", "must be set together",
    ),
    "entitlement of a missing resource": (
        set_value("entitlements", 0, resource_id="99"), "entitlements", "team:3:member", "resource 'team:99' is not a resource",
    ),
    "entitlement grantable to an unknown type": (
        set_value("entitlements", 0, grantable_to=["robot"]), "entitlements", "team:3:member", "grantable_to",
    ),
    "grant of a missing entitlement": (
        set_value("grants", 0, entitlement_id="team:99:member"),
        "grants", "team:3:member:agent:12", "entitlement 'team:99:member' is not an entitlement",
    ),
    "grant to a missing principal": (
        set_value("grants", 0, principal_resource_id="999"),
        "grants", "team:3:member:agent:12", "principal 'agent:999' is not a resource",
    ),
    "grant resource disagrees with its entitlement": (
        set_value("grants", 0, resource_id="4"), "grants", "team:3:member:agent:12", "is not the resource of entitlement",
    ),
    "grant inherited from a missing role": (
        set_value("grants", 1, source_role_ids=["404"]),
        "grants", "team:3:member:agent:13", "source role entitlement 'role:404:assigned'",
    ),
    "grant without any source": (
        set_value("grants", 1, source_role_ids=[]), "grants", "team:3:member:agent:13", "no source",
    ),
    "user without account type": (
        set_value("resources", 3, account_type=None), "resources", "user:100", "account_type must be one of",
    ),
    "unknown status": (set_value("resources", 6, status="ARCHIVED"), "resources", "team:4", "status must be one of"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_c1z_violation_raises_named_error_and_writes_nothing(tmp_path, case):
    mutate, table, row_id, rule = CASES[case]
    lake = Lake(str(tmp_path / "lake"))
    rows = curated_rows()
    mutate(rows)
    write_curated(lake, rows)
    destination = lake.c1z_file(SNAPSHOT)
    with pytest.raises(C1zValidationError) as raised:
        write_c1z(lake, SNAPSHOT)
    assert (raised.value.table, raised.value.row_id) == (table, row_id)
    assert rule in raised.value.rule
    assert table in str(raised.value) and rule in str(raised.value)
    assert not destination.exists()
    assert not destination.parent.exists() or not list(destination.parent.iterdir())


def test_c1z_rows_of_another_snapshot_are_refused(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    rows = curated_rows()
    rows["grants"][0]["snapshot_id"] = "20261126T050000Z"
    write_curated(lake, rows)
    with pytest.raises(C1zValidationError, match="grants row '\\(snapshot_id\\)': rows of another snapshot"):
        write_c1z(lake, SNAPSHOT)
    assert not lake.c1z_file(SNAPSHOT).exists()


def test_c1z_missing_curated_table_is_named(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    rows = curated_rows()
    del rows["grants"]
    write_curated(lake, rows)
    with pytest.raises(C1zError, match="curated table 'grants' of snapshot 20261127T050000Z not found"):
        write_c1z(lake, SNAPSHOT)
    assert not lake.c1z_file(SNAPSHOT).exists()


def test_c1z_failed_write_keeps_the_previous_file(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    write_curated(lake, curated_rows())
    good = write_c1z(lake, SNAPSHOT)
    rows = curated_rows()
    rows["grants"][0]["principal_resource_id"] = "999"
    write_curated(lake, rows)
    with pytest.raises(C1zValidationError):
        write_c1z(lake, SNAPSHOT)
    assert lake.c1z_file(SNAPSHOT).stat().st_size == good["size_bytes"]
    assert [p.name for p in lake.c1z_file(SNAPSHOT).parent.iterdir()] == ["sync.c1z"]


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("abc", 3, "abc"),
        ("abcd", 3, "…"),
        ("ab€cd", 6, "ab…"),
        ("ab€cd", 5, "ab…"),
        ("é" * 10, 8, "éé…"),
        ("😀😀", 7, "😀…"),
        ("😀😀", 6, "…"),
    ],
)
def test_fit_utf8_cuts_at_a_character_boundary(value, limit, expected):
    fitted = fit_utf8(value, limit)
    assert fitted == expected
    assert len(fitted.encode()) <= limit


def test_c1z_cuts_names_and_descriptions_over_c1_limits_and_keeps_them_whole_in_curated(tmp_path, caplog):
    lake = Lake(str(tmp_path / "lake"))
    rows = curated_rows()
    long_name = "Zoë " + "ü" * 600  # 1205 bytes
    rows["resources"][7]["display_name"] = long_name  # department:7
    rows["resources"][5]["description"] = "x" * 2049  # team:3
    rows["entitlements"][1]["description"] = "d€" * 600  # team:4:member, 2400 bytes
    rows["entitlements"][2]["display_name"] = "E" * 1025  # department:7:member
    rows["resource_types"][4]["description"] = "t" * 5000
    write_curated(lake, rows)
    with caplog.at_level("WARNING", logger="halo_c1.c1z.writer"):
        summary = write_c1z(lake, SNAPSHOT)

    assert summary["truncated"] == {
        "entitlements.description": {"count": 1, "max_bytes": 2048, "examples": ["team:4:member"]},
        "entitlements.display_name": {"count": 1, "max_bytes": 1024, "examples": ["department:7:member"]},
        "resource_types.description": {"count": 1, "max_bytes": 4096, "examples": [rows["resource_types"][4]["resource_type_id"]]},
        "resources.description": {"count": 1, "max_bytes": 2048, "examples": ["team:3"]},
        "resources.display_name": {"count": 1, "max_bytes": 1024, "examples": ["department:7"]},
    }  # fmt: skip
    assert "1 resources.display_name value(s) longer than C1's 1024 bytes were cut" in caplog.text
    with C1zReader.open(summary["path"]) as c1z:
        resources = {r["external_id"]: r["message"] for r in c1z.rows("v1_resources")}
        entitlements = {r["external_id"]: r["message"] for r in c1z.rows("v1_entitlements")}
        grants = [r["message"] for r in c1z.rows("v1_grants")]
    name = resources["department:7"].display_name
    assert len(name.encode()) <= 1024 and name.endswith("…") and long_name.startswith(name[:-1])
    assert len(resources["team:3"].description.encode()) <= 2048
    assert len(entitlements["team:4:member"].description.encode()) <= 2048
    assert len(entitlements["department:7:member"].display_name.encode()) <= 1024
    assert all(len(g.entitlement.resource.display_name.encode()) <= 1024 for g in grants)
    curated_name = read_parquet(lake.curated_file("resources", SNAPSHOT)).to_pylist()[7]["display_name"]
    assert curated_name == long_name


def test_c1z_database_over_the_readers_cap_fails_before_writing(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    write_curated(lake, curated_rows())
    fits = write_c1z(lake, SNAPSHOT, tmp_path / "fits.c1z")
    assert 0 < fits["sqlite_bytes"] < 3 * 2**30

    with pytest.raises(C1zTooLargeError) as raised:
        write_c1z(lake, SNAPSHOT, max_decoded_bytes=fits["sqlite_bytes"] - 1)
    message = str(raised.value)
    assert f"snapshot {SNAPSHOT}" in message and "decoded-size cap" in message
    assert "No c1z was written" in message and "include_end_users=false" in message
    assert not lake.c1z_file(SNAPSHOT).exists()


def test_c1z_cap_is_checked_while_grants_load(tmp_path):
    """A tenant far over the cap stops during the grant load, not after building every index."""
    lake = Lake(str(tmp_path / "lake"))
    write_curated(lake, curated_rows())
    with pytest.raises(C1zTooLargeError, match=r"after \d+ grants"):
        write_c1z(lake, SNAPSHOT, max_decoded_bytes=4096)
    assert not lake.c1z_file(SNAPSHOT).exists()


def test_the_package_stage_takes_the_cap_from_the_airflow_variable(tmp_path, monkeypatch):
    """`halo_c1_c1z_max_decoded_gib` reaches the writer through the stage, and the refusal names it."""
    from halo_c1 import stages
    from halo_c1.runs import RunPlan
    from halo_c1_airflow import settings

    lake = Lake(str(tmp_path / "lake"))
    write_curated(lake, curated_rows())
    env = stages.Environment(
        lake=lake,
        halo_settings=lambda: None,
        delivery_target=lambda: None,
        max_drop_ratio=settings.max_drop_ratio,
        c1z_max_decoded_bytes=settings.c1z_max_decoded_bytes,
    )
    run = RunPlan(SNAPSHOT, "live", True, False, False, None, 0.2, "manual run")
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_C1Z_MAX_DECODED_GIB", str(4096 / 2**30))
    with pytest.raises(C1zTooLargeError, match="halo_c1_c1z_max_decoded_gib"):
        stages.package(run, env)
    assert not lake.c1z_file(SNAPSHOT).exists()

    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_C1Z_MAX_DECODED_GIB", "10")
    assert stages.package(run, env).counts["v1_grants"] == len(curated_rows()["grants"])
    assert lake.c1z_file(SNAPSHOT).exists()
