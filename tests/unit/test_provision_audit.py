"""The audit table round trip (one file per action, read back per day) and the day's summary lines."""

from __future__ import annotations

from datetime import UTC, date, datetime

from halo_c1.lake import Lake
from halo_c1.provision import daily_actions, summary_lines
from halo_c1.provision.audit import write_audit_row
from halo_c1.runs import RunPlan
from halo_c1.summary import run_summary


def row(at: datetime, task: str, code: str = "OK", annotation: str | None = None) -> dict:
    return {
        "at": at,
        "task_id": task,
        "action": "grant",
        "entitlement_id": "team:4:member",
        "resource_type": "team",
        "resource_id": "4",
        "principal_type": "agent",
        "principal_id": "12",
        "host": "worker-1",
        "code": code,
        "message": "m",
        "annotation": annotation,
        "grant_id": "team:4:member:agent:12" if code == "OK" else None,
        "finish_task": "success" if code == "OK" else "error non_retryable",
        "before": '{"teams": []}',
        "after": None,
        "changes": ["+team:4"] if code == "OK" and not annotation else [],
        "inherited_changes": [],
        "unexpected_changes": [],
        "halo_calls": [
            {"method": "GET", "path": "/api/Agent/12", "status": 200, "attempt": 1, "error": None}
        ],
        "halo_writes": 1 if code == "OK" and not annotation else 0,
        "duration_ms": 12.5,
    }


def test_actions_are_appended_per_file_and_read_back_per_day_in_order(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    write_audit_row(
        lake, row(datetime(2026, 11, 29, 9, 5, tzinfo=UTC), "b/../x", annotation="GrantAlreadyExists")
    )
    write_audit_row(lake, row(datetime(2026, 11, 29, 8, 0, tzinfo=UTC), "a"))
    write_audit_row(lake, row(datetime(2026, 11, 28, 23, 59, tzinfo=UTC), "yesterday", code="NOT_FOUND"))
    today = daily_actions(lake, date(2026, 11, 29))
    assert [r["task_id"] for r in today] == ["a", "b/../x"]
    assert today[0]["halo_calls"][0]["status"] == 200
    assert all(p.parent.name == "date=2026-11-29" for p in (tmp_path / "lake").rglob("0*.parquet"))
    assert daily_actions(lake, "2026-11-30") == []

    lines = summary_lines(today)
    assert lines[0] == "provisioning today: 2 action(s) (OK 2)"
    assert lines[1] == "  08:00:00 grant  team:4:member -> agent 12: OK (+team:4) task a"
    assert lines[2].endswith("OK (GrantAlreadyExists) task b/../x")
    assert summary_lines([]) == ["provisioning: no grant or revoke today"]


def test_run_summary_ends_with_the_provisioning_lines():
    text = run_summary(
        plan=RunPlan("20261129T080000Z", "live", True, False, False, None, None, "scheduled run").to_xcom(),
        extract=None,
        transform=None,
        quality=None,
        guard=None,
        package=None,
        delivery=None,
        provisioning=["provisioning today: 1 action(s) (OK 1)"],
    )
    assert text.splitlines()[-1] == "provisioning today: 1 action(s) (OK 1)"


def test_snapshot_report_lists_that_days_provisioning_escaped(tmp_path):
    from halo_c1.quality import run_quality_gate
    from halo_c1.report import write_snapshot_report
    from halo_c1.transform import transform_snapshot
    from tests.unit.raw_fixtures import SNAPSHOT, good_raw, write_raw

    lake = Lake(str(tmp_path))
    write_raw(lake, SNAPSHOT, good_raw())
    transform_snapshot(lake, SNAPSHOT)
    run_quality_gate(lake, SNAPSHOT, data_docs=False)
    write_audit_row(lake, row(datetime(2026, 11, 27, 9, 30, tzinfo=UTC), "<b>evil</b>"))
    write_audit_row(lake, row(datetime(2026, 11, 26, 9, 30, tzinfo=UTC), "the-day-before"))
    html = (
        lake.base / write_snapshot_report(lake, SNAPSHOT)["report"].split(str(lake.base) + "/")[1]
    ).read_text()
    assert "Provisioning on 2026-11-27" in html
    assert 'id="provisioning"' in html and "09:30:00" in html and "+team:4" in html
    assert "&lt;b&gt;evil&lt;/b&gt;" in html and "<b>evil</b>" not in html
    assert "the-day-before" not in html
