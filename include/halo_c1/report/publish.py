"""What the pipeline calls once a snapshot is validated: the change log, the report, the index.

`publish_reports` is called whether or not the gate passed (a failed gate is exactly when a person
needs the report), and again at the end of the run so the report shows the delivery.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from upath import UPath

from halo_c1.changelog import build_change_log
from halo_c1.lake import Lake, is_local
from halo_c1.report.index import write_reports_index
from halo_c1.report.page import REPORT_FILE, write_snapshot_report

log = logging.getLogger(__name__)

UI_HINT: Final = "Airflow UI: Browse → halo-c1 reports, or the run's 'halo-c1 report' tab"


def location(path: UPath | str) -> str:
    """Where a person finds a lake file: a plain path for a local lake, else its URL without secrets."""
    from halo_c1.deliver.objectstore import public_url

    path = path if isinstance(path, UPath) else UPath(str(path))
    return path.path if is_local(path) else public_url(path)


def publish_reports(lake: Lake, snapshot_id: str, *, mode: str | None = None) -> dict[str, Any]:
    """Build the snapshot's change log, write its report and the index; return what the summary and
    the asset event carry (change counts, the basis of the comparison, the report's location)."""
    changes = build_change_log(lake, snapshot_id, mode=mode)
    write_snapshot_report(lake, snapshot_id)
    write_reports_index(lake)
    report = location(lake.report_dir(snapshot_id) / REPORT_FILE)
    log.info("report of snapshot %s: %s (%s)", snapshot_id, report, UI_HINT)
    highlights = changes["highlights"]
    return {
        "changes": changes["counts"],
        "changes_basis": changes["basis"],
        "change_highlights": {
            "new_role_holders": sum(len(r["agents"]) for r in highlights["new_role_holders"]),
            "disabled_agents_with_access": len(highlights["disabled_agents_with_access"]),
            "api_agents_gaining_roles": len(highlights["api_agents_gaining_roles"]),
        },
        "report": report,
    }


def refresh_report(lake: Lake, snapshot_id: str) -> str | None:
    """Re-render the report and the index after delivery (the change log stays as built); the report's
    location, or None when the snapshot has no gate result (the run stopped before the gate)."""
    if not (lake.report_dir(snapshot_id) / "gate_result.json").exists():
        return None
    write_snapshot_report(lake, snapshot_id)
    write_reports_index(lake)
    return location(lake.report_dir(snapshot_id) / REPORT_FILE)
