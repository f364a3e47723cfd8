"""
### HaloITSM end users, on their own cadence

For a large tenant (1M end users cost ~20,000 requests: 5.7 hours of HaloITSM's 300-per-5-minutes
budget), set `end_user_refresh_hours` in the `haloitsm_default` connection's extra (e.g. 24). Then the
hourly `haloitsm_to_c1` run reads only the access data (agents, teams, departments, roles,
memberships: a few hundred requests) and reuses the newest complete end-user extraction, and this DAG
re-reads end users when they would otherwise pass that age before the next run (it checks every
`HALO_C1_SCHEDULE` interval and skips when not due). Both share the tenant's request budget
(`rate_limit_store`), so the hourly run keeps its hour while a refresh is in flight. With the default
0, every ETL run reads end users itself and this DAG skips. See docs/freshness.md.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import dag, task

# A 1M-user refresh sharing the budget with the hourly runs takes ~6-7 hours; this stops a hung one.
REFRESH_TIMEOUT = timedelta(hours=24)


@dag(
    dag_id=Path(__file__).stem,
    description=(__doc__ or "").strip().splitlines()[0].lstrip("# "),
    doc_md=__doc__,
    schedule=os.environ.get("HALO_C1_SCHEDULE", "@hourly"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=REFRESH_TIMEOUT,
    tags=["halo-c1", "haloitsm", "end-users"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
    },
)
def haloitsm_end_users() -> None:
    @task(multiple_outputs=False)
    def refresh() -> dict[str, Any]:
        """Re-read every end user into a new end-user extraction when due; skip otherwise."""
        from halo_c1_airflow.stage import run_end_user_refresh

        return run_end_user_refresh()

    refresh()


haloitsm_end_users()
