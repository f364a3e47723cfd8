"""`reports/index.html`: every snapshot, newest first, naming its failing checks and linking its report,
change log, Data Docs and gate result."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from upath import UPath

from halo_c1.changelog import summary_path
from halo_c1.lake import Lake, open_atomic, read_json
from halo_c1.report.page import CHANGES_FILE, DOCS_INDEX, GATE_RESULT_FILE, REPORT_FILE, guard_verdict
from halo_c1.report.trends import snapshots_with_reports


def snapshot_entries(lake: Lake) -> list[dict[str, Any]]:
    """One entry per snapshot with a gate result, newest first (also what the Airflow plugin lists)."""
    entries = []
    for snapshot_id in reversed(snapshots_with_reports(lake)):
        folder = lake.report_dir(snapshot_id)
        gate = read_json(folder / GATE_RESULT_FILE)
        changes_file = summary_path(lake, snapshot_id)
        changes = read_json(changes_file) if changes_file.exists() else None
        failed = sorted(
            gate.get("failed", []), key=lambda c: (c["severity"] != "error", c["table"], c["name"])
        )
        entries.append(
            {
                "snapshot_id": snapshot_id,
                "passed": gate["passed"],
                "validated_at": gate.get("validated_at"),
                "failed_errors": gate.get("failed_errors", 0),
                "failed_warnings": gate.get("failed_warnings", 0),
                "evaluated": gate.get("evaluated", 0),
                "failed": [
                    {
                        "severity": c["severity"],
                        "check": f"{c['table']}.{c['name']}",
                        "count": c["unexpected_count"],
                    }
                    for c in failed
                ],
                "changes": {k: v for k, v in changes["counts"].items() if v} if changes else None,
                "previous_snapshot_id": changes["previous_snapshot_id"] if changes else None,
                "has_report": (folder / REPORT_FILE).exists(),
                "has_changes": (folder / CHANGES_FILE).exists(),
                "has_docs": (folder / DOCS_INDEX).exists(),
                "delivered": lake.delivery_manifest(snapshot_id).exists(),
                "guard": guard_verdict(lake, snapshot_id),
            }
        )
    return entries


def write_reports_index(lake: Lake) -> UPath:
    """Regenerate `reports/index.html` from every snapshot's gate result and change log."""
    from halo_c1.report.render import render

    page = render(
        "index.html.j2",
        entries=snapshot_entries(lake),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        report_file=REPORT_FILE,
        changes_file=CHANGES_FILE,
        docs_index=DOCS_INDEX,
        gate_file=GATE_RESULT_FILE,
    )
    index = lake.reports_index()
    with open_atomic(index) as handle:
        handle.write(page.encode())
    return index
