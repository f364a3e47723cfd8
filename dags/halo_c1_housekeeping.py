"""
### halo-c1 housekeeping: retention

Every lake snapshot holds the names and emails of every HaloITSM agent and end user. Once a day this
DAG deletes the tenant's snapshots that are older than the retention settings: raw after 30 days,
curated tables, c1z files and quality reports after 90 days (variable `halo_c1_retention`, JSON, e.g.
`{"raw_days": 30, "curated_days": 90, "reports_days": 90, "raw_max_snapshots": 500}`). The last
delivered snapshot (what C1 has, and the deletion guard's baseline) is never deleted.

Trigger it with `dry_run` to list what would go without deleting anything.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task


@dag(
    dag_id=Path(__file__).stem,
    description=(__doc__ or "").strip().splitlines()[0].lstrip("# "),
    doc_md=__doc__,
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["halo-c1", "housekeeping", "retention"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        "dry_run": Param(
            False, type="boolean", title="Dry run", description="List what would be deleted; delete nothing."
        )
    },
)
def halo_c1_housekeeping() -> None:
    @task(multiple_outputs=False)
    def retention() -> dict[str, Any]:
        """Delete (or list) the snapshots past retention; never the last delivered one."""
        from halo_c1_airflow.housekeeping import housekeeping

        return housekeeping(dry_run=bool(get_current_context()["params"]["dry_run"]))

    retention()


halo_c1_housekeeping()
