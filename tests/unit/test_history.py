"""`halo_c1.history` on hand-built lakes: which snapshot counts, times, tenants, names and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from halo_c1.history import (
    CURATED,
    DELIVERED,
    History,
    HistoryError,
    open_tenant,
    parse_time,
    verify_evidence,
)
from halo_c1.lake import Lake, write_json
from halo_c1.quality.reports import GATE_RESULT_FILE
from halo_c1.tenancy import TENANT_RECORD
from tests.unit.test_changelog import grant, resource, write_snapshot

OLD, FAILED, NEWER = "20261120T080000Z", "20261120T090000Z", "20261120T100000Z"
RESOURCES = [
    resource("agent", "10", "Zoë Ångström"),
    resource("agent", "11", "Li Lei", status="DISABLED"),
    resource("team", "3", "Service Desk"),
    resource("role", "R-1ST", "1st Line Agent"),
]
GRANTS = [
    grant("team:3:member", "10", direct=True, via=("R-1ST",)),
    grant("team:3:member", "11", direct=False, via=("R-1ST", "R-GONE")),
    grant("role:R-1ST:assigned", "10"),
]


def _snapshot(
    lake: Lake, sid: str, *, passed: bool | None, delivered: bool, grants: list | None = None
) -> None:
    write_snapshot(lake, sid, RESOURCES, GRANTS if grants is None else grants, delivered=delivered)
    if passed is not None:
        write_json(lake.report_dir(sid) / GATE_RESULT_FILE, {"snapshot_id": sid, "passed": passed})


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake(str(tmp_path / "lake" / "tenant=acme"))
    write_json(lake.base / TENANT_RECORD, {"host": "acme.haloitsm.com", "tenant": "acme"})
    _snapshot(lake, OLD, passed=True, delivered=True)
    _snapshot(lake, FAILED, passed=False, delivered=False, grants=GRANTS[:1])
    _snapshot(lake, NEWER, passed=True, delivered=False, grants=GRANTS[1:])
    return lake


def _history(lake: Lake, **kwargs) -> History:
    return History(open_tenant(str(lake.base)), **kwargs)


def at(text: str) -> datetime:
    return parse_time(text)


def test_times_from_the_command_line():
    assert parse_time("2026-03-01") == datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC)
    assert parse_time("2026-03-01T09:30") == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert parse_time("2026-03-01T09:30+02:00") == datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    assert parse_time(OLD) == datetime(2026, 11, 20, 8, tzinfo=UTC)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_time(None, now=now) == parse_time("now", now=now) == now
    with pytest.raises(HistoryError, match=r"'1 March' is not a time: give an ISO date"):
        parse_time("1 March")


def test_a_snapshot_the_gate_stopped_never_answers(lake: Lake):
    history = _history(lake)
    assert [r.id for r in history.snapshots()] == [OLD, NEWER]
    ref = history.in_effect(at("2026-11-20T09:30:00Z"))
    assert (ref.id, ref.gate_passed, ref.delivered) == (OLD, True, True)
    assert history.in_effect(at("2026-11-20T10:00:00Z")).id == NEWER
    with pytest.raises(
        HistoryError, match=rf"taken at or before 2026-11-20T07:59:59Z .*the earliest is {OLD}"
    ):
        history.in_effect(at("2026-11-20T07:59:59Z"))


def test_delivered_and_curated_selections(lake: Lake):
    assert _history(lake, which=DELIVERED).in_effect(at("2026-11-21")).id == OLD
    everything = _history(lake, which=CURATED)
    assert everything.in_effect(at("2026-11-20T09:30:00Z")).id == FAILED
    assert everything.in_effect(at("2026-11-20T09:30:00Z")).gate_passed is False


def test_an_incomplete_or_unchecked_snapshot_does_not_count(lake: Lake):
    later, unchecked = "20261120T110000Z", "20261120T120000Z"
    _snapshot(lake, later, passed=True, delivered=False)
    lake.curated_file("entitlements", later).unlink()  # as retention or a half-written snapshot leaves it
    _snapshot(lake, unchecked, passed=None, delivered=False)
    assert _history(lake).in_effect(at("2026-11-21")).id == NEWER


def test_holders_and_access_carry_names_and_the_roles_a_grant_came_through(lake: Lake):
    history = _history(lake)
    holders = history.holders("team:3:member", at("2026-11-20T08:30:00Z"))
    assert holders.question == "holders of team:3:member (Service Desk)"
    assert holders.records() == [
        {
            "account": "agent:10",
            "account_name": "Zoë Ångström",
            "email": None,
            "status": "ENABLED",
            "direct": True,
            "via_role_ids": ["R-1ST"],
            "via_role_names": ["1st Line Agent"],
        },
        {
            "account": "agent:11",
            "account_name": "Li Lei",
            "email": None,
            "status": "DISABLED",
            "direct": False,
            "via_role_ids": ["R-1ST", "R-GONE"],
            "via_role_names": ["1st Line Agent", "R-GONE"],  # a role no longer listed keeps its id
        },
    ]
    access = history.access("agent:10", at("2026-11-20T08:30:00Z"))
    assert access.subject["account_name"] == "Zoë Ångström"
    assert [(r["entitlement_id"], r["entitlement_name"], r["resource_name"]) for r in access.records()] == [
        ("role:R-1ST:assigned", "1st Line Agent", "1st Line Agent"),
        ("team:3:member", "Service Desk", "Service Desk"),
    ]
    newer = history.access("agent:10", at("2026-11-21"))  # NEWER: agent 10 left the team
    assert [r["entitlement_id"] for r in newer.records()] == ["role:R-1ST:assigned"]


def test_questions_that_cannot_be_answered_say_why(lake: Lake):
    history = _history(lake)
    with pytest.raises(
        HistoryError, match=r"'team:3' is not an account: give <type>:<id> with type one of agent, user"
    ):
        history.access("team:3", at("2026-11-21"))
    with pytest.raises(
        HistoryError, match=rf"entitlement 'team:9:member' does not exist in snapshot {NEWER}"
    ):
        history.holders("team:9:member", at("2026-11-21"))
    with pytest.raises(HistoryError, match="is before --from"):
        history.changes(at("2026-11-21"), at("2026-11-20"))


def test_the_tenant_folder_is_found_or_asked_for(tmp_path: Path, lake: Lake):
    base = tmp_path / "lake"
    assert open_tenant(str(base)).folder == "tenant=acme"
    assert open_tenant(str(base)).describe() == "tenant=acme [acme.haloitsm.com (tenant 'acme')]"
    write_json(Lake(str(base / "tenant=globex")).base / TENANT_RECORD, {"host": "globex.haloitsm.com"})
    with pytest.raises(
        HistoryError, match=r"holds 2 tenants: choose one with --tenant \(tenant=acme, tenant=globex\)"
    ):
        open_tenant(str(base))
    assert open_tenant(str(base), "acme").host == "acme.haloitsm.com"
    assert open_tenant(str(base), "tenant=globex").host == "globex.haloitsm.com"
    with pytest.raises(HistoryError, match="no tenant folder 'initech'"):
        open_tenant(str(base), "initech")
    with pytest.raises(HistoryError, match="does not exist"):
        open_tenant(str(tmp_path / "nowhere"))


def test_an_evidence_pack_without_its_manifest_fails_verification(tmp_path: Path):
    assert verify_evidence(tmp_path) == [f"{tmp_path / 'manifest.json'} is missing"]


def test_a_status_that_became_unreadable_is_its_own_change(tmp_path: Path):
    """An account whose HaloITSM status cannot be read is UNSPECIFIED (docs/data-quality-rules.md),
    neither disabled nor re-enabled."""
    lake = Lake(str(tmp_path / "lake" / "tenant=acme"))
    write_json(lake.base / TENANT_RECORD, {"host": "acme.haloitsm.com", "tenant": "acme"})
    _snapshot(lake, OLD, passed=True, delivered=True)
    unreadable = [resource("agent", "10", "Zoë Ångström", status="UNSPECIFIED"), *RESOURCES[1:]]
    write_snapshot(lake, NEWER, unreadable, GRANTS, delivered=False)
    write_json(lake.report_dir(NEWER) / GATE_RESULT_FILE, {"snapshot_id": NEWER, "passed": True})

    changes = _history(lake).changes(at("2026-11-20T08:30:00Z"), at("2026-11-21")).records()

    assert [(c["change"], c["account"], c["status_before"], c["status_after"]) for c in changes] == [
        ("account_status_unknown", "agent:10", "ENABLED", "UNSPECIFIED")
    ]
