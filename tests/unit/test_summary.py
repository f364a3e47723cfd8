"""The run summary and the one-line failure message."""

from halo_c1.summary import failure_line, run_summary


def test_failure_line_names_stage_snapshot_and_first_line_of_reason():
    line = failure_line("validate", "20261127T050000Z", ValueError("2 error expectations failed\ndetails"))
    assert (
        line
        == "halo-c1 stage 'validate' failed for snapshot 20261127T050000Z: ValueError: 2 error expectations failed"
    )


def test_summary_lists_counts_changes_quality_and_delivery():
    text = run_summary(
        plan={"snapshot_id": "S1", "reason": "scheduled run"},
        extract={"requests": 12},
        transform={
            "resources_by_type": {"agent": 10, "team": 2},
            "rows": {"entitlements": 2, "grants": 15},
        },
        quality={"passed": True, "failed_errors": 0, "failed_warnings": 1, "docs_index": "/r/index.html"},
        guard={
            "previous_snapshot_id": "S0",
            "resources": {"agent": {"before": 12, "after": 10, "change": -2}},
            "grants": {"before": 15, "after": 15, "change": 0},
        },
        package={"path": "/c/sync.c1z", "size_bytes": 100, "sha256": "ab"},
        delivery={"delivered": True, "target": "s3://b/sync.c1z", "sha256": "ab"},
    )
    assert "agent        10" in text
    assert "entitlements: 2  grants: 15" in text
    assert "agent        12 -> 10 (-2)" in text
    assert "grants       15 -> 15 (+0)" in text
    assert "quality: passed; 0 error(s), 1 warning(s); report /r/index.html" in text
    assert "c1z: /c/sync.c1z (100 bytes, sha256 ab)" in text
    assert "delivered: s3://b/sync.c1z" in text


def test_summary_of_a_skipped_run_says_so():
    text = run_summary(
        plan={"snapshot_id": "S1", "reason": "backfill"},
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
        plan={"snapshot_id": "S1", "reason": "backfill run"},
        extract={"requests": 0, "reused": True},
        transform=None,
        quality=None,
        guard={"passed": True, "skipped": "re-derived snapshots are never delivered"},
        package=None,
        delivery=None,
    )
    assert "extract: from archived raw snapshot; requests 0" in text
    assert "(not compared: re-derived snapshots are never delivered)" in text
    assert "delivered: nothing (backfill run)" in text
