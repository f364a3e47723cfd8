"""
### ConductorOne connector (service mode)

halo-c1 as a self-hosted Baton connector: each run waits for ConductorOne's next task without a
worker slot (a deferrable trigger says Hello, then polls GetTask at the cadence C1 asks for) and
then serves it in a worker:

- `sync_full`: uploads the last delivered snapshot (passed the gate and the guard) if it is fresh
  enough, otherwise runs the ETL pipeline now and uploads its result; heartbeats throughout.
- `grant` / `revoke`: JIT provisioning into HaloITSM when the connection enables `provisioning`.
- `hello`: answered; anything else is finished UNIMPLEMENTED.

Runs continuously, one at a time. One run serves exactly one task, or ends with "no task" after
`wait_seconds`: `airflow dags test c1_connector -c '{"wait_seconds": 120}'` serves one task.

Configuration: connection `conductorone_default` (login = C1 client id, password = client secret,
extra: api_host, token_url, ca_bundle, host_id, provisioning); plus the ETL's lake settings.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import Param, dag

from halo_c1_airflow.c1_trigger import ServeC1TaskOperator


@dag(
    dag_id=Path(__file__).stem,
    description=(__doc__ or "").strip().splitlines()[0].lstrip("# "),
    doc_md=__doc__,
    schedule="@continuous",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["halo-c1", "conductorone", "service-mode"],
    # A retry waits for C1's next task; it never serves a task twice.
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "wait_seconds": Param(
            600,
            type="integer",
            minimum=1,
            maximum=86400,
            title="Wait for a task (seconds)",
            description="How long this run waits for C1's next task before ending with 'no task'.",
        ),
    },
)
def c1_connector() -> None:
    ServeC1TaskOperator(
        task_id="serve_next_task", conn_id="conductorone_default", wait_s="{{ params.wait_seconds }}"
    )


c1_connector()
