"""
### HaloITSM → ConductorOne

Extracts HaloITSM agents, teams, departments, roles and end users; turns them into the Baton access
model as Parquet tables; gates them with Great Expectations; refuses a sudden mass deletion; packages a
`.c1z` and delivers it where ConductorOne imports it. One run is one snapshot of the tenant.

- **Scheduled** (hourly by default, `HALO_C1_SCHEDULE`): the full pipeline; a run is stopped after
  `HALO_C1_DAGRUN_TIMEOUT_HOURS` (default 2).
- **Manual** triggers take the params below (`dry_run`, `allow_mass_deletion`, ...).
- **Backfills** (`airflow backfill create`) re-derive curated tables, the quality report and the c1z from
  the newest raw snapshot archived in the run's data interval: no HaloITSM request and no delivery; an
  interval without raw data is skipped.
- A snapshot is named after when its data was taken (the run's start, recorded per DAG run, so a
  cleared run reuses it), never after the logical date.
- **Large tenants** (`end_user_refresh_hours` in the connection's extra): each run reads the access
  data only and reuses the newest complete end-user read, which `haloitsm_end_users` refreshes on that
  cadence; every c1z still holds every end user (docs/freshness.md).

Configuration: connection `haloitsm_default`; variables `halo_c1_lake_url`, `halo_c1_delivery_url`
(+ `halo_c1_lake_conn_id`, `halo_c1_delivery_target`, `halo_c1_delivery_conn_id`,
`halo_c1_max_drop_ratio`, `halo_c1_c1z_max_decoded_gib`); pool `halo_api`.

Each task runs one stage function of `halo_c1.stages` through `halo_c1_airflow.stage.run_stage`, which fails a
deterministic error (`halo_c1.errors.PermanentError`) without retry and retries the rest. Stages
read their inputs from the lake. The graph is the pipeline, one edge from each stage to the next: the
stage tasks read the plan (and the report task the stages' results) from XCom through a template,
rendered as the Python value (`render_template_as_native_obj`), so no task hangs off `plan`. Stage tasks
are `@stage_task`s: TaskFlow tasks that also tell OpenLineage (when configured) what they read and
wrote (`halo_c1_airflow.lineage`).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, chain, dag, task

from halo_c1_airflow.alerts import failure_alert
from halo_c1_airflow.lineage import stage_task
from halo_c1_airflow.params import etl_params
from halo_c1_airflow.schedule import dagrun_timeout
from halo_c1_airflow.stage import log_failure, plan_run, run_report, run_stage, stages

CURATED_ASSET = Asset("halo_c1/curated")


def _xcom(task_id: str) -> str:
    """A template for the task's XCom result (None when it was skipped)."""
    return f"{{{{ ti.xcom_pull(task_ids={task_id!r}) }}}}"


PLAN = _xcom("plan")
C1Z_ASSET = Asset("halo_c1/c1z")


@dag(
    dag_id=Path(__file__).stem,
    description=(__doc__ or "").strip().splitlines()[0].lstrip("# "),
    doc_md=__doc__,
    schedule=os.environ.get("HALO_C1_SCHEDULE", "@hourly"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    max_consecutive_failed_dag_runs=24,
    dagrun_timeout=dagrun_timeout(),
    tags=["halo-c1", "haloitsm", "conductorone", "identity"],
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": [log_failure, failure_alert()],
    },
    params=etl_params(),
    render_template_as_native_obj=True,  # PLAN below renders as the plan's dict, not its text
)
def haloitsm_to_c1() -> None:
    @task(multiple_outputs=False)
    def plan() -> dict[str, Any]:
        """Fix the snapshot, the mode and the baseline delivery once, so every task agrees on them."""
        return plan_run()

    @stage_task(multiple_outputs=False, pool="halo_api")
    def extract(plan: dict[str, Any]) -> dict[str, Any]:
        """Land the tenant's identities in the raw zone (or reuse the archived raw snapshot)."""
        return run_stage(stages.extract, plan)

    @stage_task(multiple_outputs=False)
    def transform(plan: dict[str, Any]) -> dict[str, Any]:
        """Map raw HaloITSM rows to the access model's curated tables."""
        return run_stage(stages.transform, plan)

    @stage_task(multiple_outputs=False, outlets=[CURATED_ASSET])
    def validate(plan: dict[str, Any]) -> dict[str, Any]:
        """Gate the curated tables with Great Expectations; write Data Docs and dq_history."""
        return run_stage(stages.validate, plan, outlet=CURATED_ASSET)

    @stage_task(multiple_outputs=False)
    def guard(plan: dict[str, Any]) -> dict[str, Any]:
        """Refuse a sudden mass deletion versus the last delivered snapshot, unless allowed once."""
        return run_stage(stages.guard, plan)

    @stage_task(multiple_outputs=False)
    def package(plan: dict[str, Any]) -> dict[str, Any]:
        """Write the snapshot as a Baton v1 .c1z in the lake."""
        return run_stage(stages.package, plan)

    @stage_task(multiple_outputs=False, outlets=[C1Z_ASSET])
    def deliver(plan: dict[str, Any]) -> dict[str, Any]:
        """Hand the c1z to the configured target (object storage/file) and record the delivery."""
        return run_stage(stages.deliver, plan, outlet=C1Z_ASSET)

    # The summary is logged once by the report itself; Airflow would log it again as the return value.
    @task(multiple_outputs=False, trigger_rule="none_failed", retries=0, show_return_value_in_logs=False)
    def report(plan: dict[str, Any], results: dict[str, Any]) -> str:
        """Log the run's summary: counts, changes, quality, delivery and the day's provisioning."""
        return run_report(plan, results)

    stage_tasks = {
        "extract": extract(PLAN),
        "transform": transform(PLAN),
        "quality": validate(PLAN),
        "guard": guard(PLAN),
        "package": package(PLAN),
        "delivery": deliver(PLAN),
    }
    results = {name: _xcom(t.operator.task_id) for name, t in stage_tasks.items()}
    chain(plan(), *stage_tasks.values(), report(PLAN, results))


haloitsm_to_c1()
