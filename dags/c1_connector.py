"""
### ConductorOne connector (service mode)

halo-c1 as a self-hosted Baton connector: each run waits for ConductorOne's next task without a
worker slot (a deferrable trigger says Hello, then polls GetTask at the cadence C1 asks for) and
serves it in a worker:

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

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, task

from halo_c1_airflow.c1_trigger import WaitForC1TaskOperator

log = logging.getLogger("halo_c1.dag.c1_connector")


@dag(
    dag_id=Path(__file__).stem,
    description=(__doc__ or "").strip().splitlines()[0].lstrip("# "),
    doc_md=__doc__,
    schedule="@continuous",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["halo-c1", "conductorone", "service-mode"],
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
    wait = WaitForC1TaskOperator(
        task_id="wait_for_task", conn_id="conductorone_default", wait_s="{{ params.wait_seconds }}"
    )

    @task(retries=0, multiple_outputs=False)
    def serve(event: dict[str, Any]) -> dict[str, Any]:
        """Serve the claimed task; never retried, since C1 re-issues a task that was not finished."""
        from halo_c1 import hooks
        from halo_c1.c1.client import BatonClient
        from halo_c1.c1.poll import decode_task
        from halo_c1.c1.tasks import serve_task

        if event["status"] != "task":
            log.info("Nothing to serve: %s", event["status"])
            return {"outcome": event["status"]}
        settings = hooks.c1_settings()
        with BatonClient(settings) as client:
            return serve_task(
                client,
                decode_task(event["task"]),
                hooks.c1_services(settings),
                next_heartbeat_s=event["next_heartbeat_s"],
            )

    serve(wait.output)


c1_connector()
