"""The run summary and the one-line failure message."""

import pytest

from halo_c1.results import (
    DeliveryResult,
    ExtractResult,
    GuardResult,
    PackageResult,
    QualityResult,
    TransformResult,
)
from halo_c1.runs import RunPlan
from halo_c1.summary import failure_line, run_summary


def _plan(reason: str) -> dict:
    return RunPlan("S1", "live", True, False, False, None, None, reason).to_xcom()


def test_failure_line_names_stage_snapshot_and_first_line_of_reason():
    line = failure_line("validate", "20261127T050000Z", ValueError("2 error expectations failed\ndetails"))
    assert (
        line
        == "halo-c1 stage 'validate' failed for snapshot 20261127T050000Z: ValueError: 2 error expectations failed"
    )


def test_failure_line_names_the_domain_error_and_the_first_item_of_a_listing():
    class AirflowFailException(Exception):  # Airflow's wrapper, as hooks._airflow_verdicts raises it
        pass

    cause = ValueError(
        "Deletion guard blocked delivery: comparing a with b, more than 20% would disappear from C1:\n"
        "  - resource type 'agent': 62 → 31, 31 removed (-50.0%), e.g. 11, 26\n"
        "  - grants: 300 → 150\nIf these deletions are intended, re-run with allow_mass_deletion=true."
    )
    wrapper = AirflowFailException(str(cause))
    wrapper.__cause__ = cause
    line = failure_line("guard", "20261127T050000Z", wrapper)
    assert line == (
        "halo-c1 stage 'guard' failed for snapshot 20261127T050000Z: ValueError: Deletion guard blocked "
        "delivery: comparing a with b, more than 20% would disappear from C1: resource type 'agent': "
        "62 → 31, 31 removed (-50.0%), e.g. 11, 26 …"
    )


def test_summary_lists_counts_changes_quality_and_delivery():
    text = run_summary(
        plan=_plan("scheduled run"),
        extract=ExtractResult("S1", False, 12, True, {"agents": 10}, "/m.json").to_xcom(),
        transform=TransformResult(
            "S1", {"entitlements": 2, "grants": 15}, {"agent": 10, "team": 2}, {}, {}, True, {}
        ).to_xcom(),
        quality=QualityResult(
            "S1",
            "S0",
            True,
            30,
            0,
            1,
            "file:///lake/r/data_docs/index.html",
            "/r/g.json",
            "/i.html",
            changes={"grant_added": 3, "grant_removed": 0, "resource_disabled": 2},
            changes_basis="compared with S0, the last snapshot delivered to C1 before S1",
            change_highlights={"new_role_holders": 1, "api_agents_gaining_roles": 0},
            report="s3://bucket/halo/reports/snapshot=S1/report.html",
        ).to_xcom(),
        guard=GuardResult(
            "S1",
            passed=True,
            overridden=False,
            previous_snapshot_id="S0",
            resources={"agent": {"before": 12, "after": 10, "change": -2}},
            grants={"before": 15, "after": 15, "change": 0},
        ).to_xcom(),
        package=PackageResult("S1", "/c/sync.c1z", "2abc", 100, "ab", {}).to_xcom(),
        delivery=DeliveryResult("S1", "s3://b/sync.c1z", "ab", 100, "2026-11-27T05:00:00+00:00").to_xcom(),
    )
    assert "extract: from HaloITSM API; requests 12" in text
    assert "agent        10" in text
    assert "entitlements: 2  grants: 15" in text
    assert "agent        12 -> 10 (-2)" in text
    assert "grants       15 -> 15 (+0)" in text
    assert "quality: passed; 0 error(s), 1 warning(s)" in text
    assert (
        "access changes (compared with S0, the last snapshot delivered to C1 before S1): "
        "grant added 3, resource disabled 2" in text
    )
    assert "highlights: new role holders 1, api agents gaining roles 0" in text
    assert "report: s3://bucket/halo/reports/snapshot=S1/report.html (Airflow UI: Browse" in text
    assert "Data Docs: /lake/r/data_docs/index.html" in text
    assert "file://" not in text
    assert "c1z: /c/sync.c1z (100 bytes, sha256 ab)" in text
    assert "delivered: s3://b/sync.c1z" in text


def test_summary_of_a_skipped_run_says_so():
    text = run_summary(
        plan=_plan("backfill"),
        extract=None,
        transform=None,
        quality=None,
        guard=None,
        package=None,
        delivery=None,
    )
    assert "extract: skipped" in text


def test_summary_of_a_rederived_run_says_why_nothing_was_compared():
    text = run_summary(
        plan=_plan("backfill run"),
        extract=ExtractResult("S1", True, 0, True, {}, "/m.json").to_xcom(),
        transform=None,
        quality=None,
        guard=GuardResult(
            "S1",
            passed=True,
            overridden=False,
            previous_snapshot_id=None,
            skipped="re-derived snapshots are never delivered",
        ).to_xcom(),
        package=None,
        delivery=None,
    )
    assert "extract: from archived raw snapshot; requests 0" in text
    assert "(not compared: re-derived snapshots are never delivered)" in text
    assert "delivered: nothing (backfill run)" in text


def test_a_renamed_result_key_fails_loudly():
    renamed = {**DeliveryResult("S1", "s3://b/sync.c1z", "ab", 100, "t").to_xcom()}
    renamed["checksum"] = renamed.pop("sha256")
    with pytest.raises(KeyError, match=r"DeliveryResult needs \['sha256'\]"):
        run_summary(
            plan=_plan("scheduled run"),
            extract=None,
            transform=None,
            quality=None,
            guard=None,
            package=None,
            delivery=renamed,
        )


def test_summary_names_fields_delivered_as_unknown_and_rows_left_out_by_id():
    transform = TransformResult(
        "S1",
        {"grants": 15},
        {"agent": 10},
        {"users/missing_id": 1},
        {},
        True,
        {"data_issues": "/lake/curated/data_issues/snapshot=S1/part-0.parquet"},
        unknown_fields={"agents.isdisabled": 1},
        issues_named=[
            "agents 12: isdisabled='yes' delivered as unknown",
            "users row 7: id left out (missing_id)",
        ],
    )
    text = run_summary(
        plan=_plan("scheduled run"),
        extract=ExtractResult("S1", False, 12, True, {"agents": 10}, "/m.json").to_xcom(),
        transform=transform.to_xcom(),
        quality=None,
        guard=None,
        package=None,
        delivery=None,
    )
    assert "delivered with fields unknown (unreadable in HaloITSM): {'agents.isdisabled': 1}" in text
    assert "raw rows left out: {'users/missing_id': 1}" in text
    assert "data issues by id (all in /lake/curated/data_issues/snapshot=S1/part-0.parquet):" in text
    assert "  agents 12: isdisabled='yes' delivered as unknown" in text
    assert "  users row 7: id left out (missing_id)" in text
