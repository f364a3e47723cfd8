"""One snapshot's report (`reports/snapshot=<id>/report.html`) and change log (`changes.html`).

The report is the first page a person opens: the gate's verdict; every failed check with its
severity, table, unexpected count out of the population it is about (agents without an email out of
the agents, not out of every resource) and a few example ids; the access change log and its
highlights; the data issues (values HaloITSM sent that cannot be read, by id); counts per resource
type; trends over the last snapshots. It links the GX Data Docs as the drill-down. Everything is
read from the lake, so it can be rebuilt at any time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final

from upath import UPath

from halo_c1.changelog import CHANGES, read_change_log
from halo_c1.lake import Lake, open_atomic, read_json, snapshot_time
from halo_c1.provision.audit import daily_actions
from halo_c1.report.render import render
from halo_c1.report.trends import DEFAULT_SNAPSHOTS, trend_charts

log = logging.getLogger(__name__)

REPORT_FILE: Final = "report.html"
CHANGES_FILE: Final = "changes.html"
GATE_RESULT_FILE: Final = "gate_result.json"
DOCS_INDEX: Final = "data_docs/index.html"
CHANGES_SHOWN: Final = 200  # rows on the report itself; changes.html has them all
CHANGES_PAGE_MAX: Final = 20_000  # beyond this, the Parquet table is the place to look
ISSUES_SHOWN: Final = 200  # data issues on the report; curated/data_issues has them all
FINDINGS: Final = frozenset(
    {"agent_without_email", "disabled_agent_holding_role", "disabled_agent_in_team", "api_agent_holding_role"}
)
CHANGE_LABELS: Final = {
    "grant_added": "grants added",
    "grant_removed": "grants removed",
    "grant_origin_changed": "grants whose origin changed",
    "resource_added": "resources added",
    "resource_removed": "resources removed",
    "resource_disabled": "resources disabled",
    "resource_enabled": "resources re-enabled",
    "resource_status_unknown": "resources whose status became unreadable",
    "resource_type_added": "resource types that appeared",
    "resource_type_removed": "resource types that vanished",
    "entitlement_added": "entitlements added",
    "entitlement_removed": "entitlements removed",
}


def _failed_checks(gate: dict[str, Any]) -> list[dict[str, Any]]:
    """Failed checks, errors first, each with 'n of population' when the check has one."""
    rows = []
    for check in gate.get("failed", []):
        population, size = check.get("population"), check.get("population_count")
        count = check.get("unexpected_count")
        if population and size is not None:
            share = f" ({count / size:.1%})" if size else ""
            out_of = f"{count} of {size} {population}{share}"
        else:
            out_of = str(count)
        rows.append({**check, "out_of": out_of, "examples": check.get("examples") or []})
    return sorted(rows, key=lambda c: (c["severity"] != "error", c["table"], c["name"]))


def _counts(lake: Lake, snapshot_id: str) -> dict[str, Any]:
    from halo_c1.guard import snapshot_counts
    from halo_c1.lake import parquet_row_count

    counts = snapshot_counts(lake, snapshot_id)
    entitlements = lake.curated_file("entitlements", snapshot_id)
    counts["entitlements"] = parquet_row_count(entitlements) if entitlements.exists() else None
    return counts


def _data_issues(lake: Lake, snapshot_id: str) -> tuple[list[dict[str, Any]], int]:
    """The first `ISSUES_SHOWN` data issues (fields delivered as unknown, rows left out) and how many."""
    from halo_c1.lake import read_parquet

    path = lake.curated_file("data_issues", snapshot_id)
    if not path.exists():  # curated before the table existed
        return [], 0
    table = read_parquet(path)
    return table.slice(0, ISSUES_SHOWN).to_pylist(), table.num_rows


def guard_verdict(lake: Lake, snapshot_id: str) -> dict[str, Any] | None:
    """The deletion guard's verdict on the snapshot (`guard.json`), or None when it has not run.

    `state` is "blocked", "overridden" or "passed"; `drops` are the guard's own lines (before → after,
    share, example ids), so the page says what the run's error said.
    """
    from halo_c1.guard import describe_drop

    path = lake.guard_report(snapshot_id)
    if not path.exists():
        return None
    guard = read_json(path)
    state = "overridden" if guard.get("overridden") else ("passed" if guard.get("passed") else "blocked")
    return {
        "state": state,
        "drops": [describe_drop(drop) for drop in guard.get("drops", [])],
        "previous_snapshot_id": guard.get("previous_snapshot_id"),
        "max_drop_ratio": guard.get("max_drop_ratio"),
    }


def _delivery(lake: Lake, snapshot_id: str) -> dict[str, Any] | None:
    path = lake.delivery_manifest(snapshot_id)
    return read_json(path) if path.exists() else None


def _freshness(lake: Lake, snapshot_id: str) -> list[dict[str, Any]]:
    """Per raw entity: when it was taken, its age, which read it came from (the raw manifest)."""
    from halo_c1.freshness import END_USERS, hours

    path = lake.raw_manifest(snapshot_id)
    manifest = read_json(path) if path.exists() else {}
    records = manifest.get("freshness")
    cadence = manifest.get("end_user_refresh_hours") or None
    if not isinstance(records, dict):
        return []
    return [
        {
            "entity": entity,
            "taken": record["taken_at"][:19].replace("T", " "),
            "age": hours(record["age_s"]),
            "reused": record.get("reused", False),
            "snapshot_id": record["snapshot_id"],
            "overdue": entity == END_USERS and cadence is not None and record["age_s"] > cadence * 3600,
            "cadence": cadence,
        }
        for entity, record in records.items()
    ]


def _write(path: UPath, page: str) -> None:
    with open_atomic(path) as handle:
        handle.write(page.encode())


def report_context(
    lake: Lake, snapshot_id: str, *, trend_snapshots: int = DEFAULT_SNAPSHOTS
) -> dict[str, Any]:
    """Everything the report shows, read from the lake (JSON-able apart from the trend charts)."""
    report_dir = lake.report_dir(snapshot_id)
    gate_path = report_dir / GATE_RESULT_FILE
    if not gate_path.exists():
        raise FileNotFoundError(
            f"report: snapshot {snapshot_id} has no gate result at {gate_path}; run the quality gate first"
        )
    gate = read_json(gate_path)
    failed = _failed_checks(gate)
    change_log = read_change_log(lake, snapshot_id)
    summary, rows = (
        (change_log[0], change_log[1].slice(0, CHANGES_SHOWN).to_pylist()) if change_log else (None, [])
    )
    issues, issues_total = _data_issues(lake, snapshot_id)
    return {
        "snapshot_id": snapshot_id,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "gate": gate,
        "failed": failed,
        "findings": [c for c in failed if c["name"] in FINDINGS],
        "data_issues": issues,
        "data_issues_total": issues_total,
        "changes": summary,
        "change_rows": rows,
        "change_rows_total": sum(summary["counts"].values()) if summary else 0,
        "change_labels": CHANGE_LABELS,
        "change_kinds": CHANGES,
        "counts": _counts(lake, snapshot_id),
        "freshness": _freshness(lake, snapshot_id),
        "delivery": _delivery(lake, snapshot_id),
        "guard": guard_verdict(lake, snapshot_id),
        "charts": trend_charts(lake, snapshot_id, trend_snapshots),
        "provisioning_day": snapshot_time(snapshot_id).date().isoformat(),
        "provisioning": daily_actions(lake, snapshot_time(snapshot_id).date()),
        "has_docs": (report_dir / DOCS_INDEX).exists(),
        "docs_href": DOCS_INDEX,
    }


def write_snapshot_report(
    lake: Lake, snapshot_id: str, *, trend_snapshots: int = DEFAULT_SNAPSHOTS
) -> dict[str, str]:
    """Write `report.html` and `changes.html` of the snapshot; return their lake paths."""
    context = report_context(lake, snapshot_id, trend_snapshots=trend_snapshots)
    report_dir = lake.report_dir(snapshot_id)
    _write(report_dir / REPORT_FILE, render("report.html.j2", **context))
    change_log = read_change_log(lake, snapshot_id)
    all_rows = change_log[1].slice(0, CHANGES_PAGE_MAX).to_pylist() if change_log else []
    _write(
        report_dir / CHANGES_FILE,
        render(
            "changes.html.j2",
            snapshot_id=snapshot_id,
            changes=context["changes"],
            change_rows=all_rows,
            change_rows_total=context["change_rows_total"],
            change_labels=CHANGE_LABELS,
            change_kinds=CHANGES,
            generated_at=context["generated_at"],
        ),
    )
    log.info("report of snapshot %s written to %s", snapshot_id, report_dir / REPORT_FILE)
    return {"report": str(report_dir / REPORT_FILE), "changes": str(report_dir / CHANGES_FILE)}
