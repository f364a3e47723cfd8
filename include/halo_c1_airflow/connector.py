"""C1 service mode's services: what a task C1 hands the connector is served with (the lake's
snapshots, a fresh ETL run when they are too old, HaloITSM provisioning when enabled), and serving
the task `c1_trigger.C1TaskTrigger` claimed."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from halo_c1_airflow.schedule import etl_schedule_interval
from halo_c1_airflow.settings import C1_CONN_ID, c1_settings, halo_settings
from halo_c1_airflow.stage import environment

if TYPE_CHECKING:
    from halo_c1.c1.settings import ServiceSettings
    from halo_c1.c1.tasks import Services


def c1_services(settings: ServiceSettings) -> Services:
    """What the connector serves tasks with: the lake's snapshots (a fresh ETL run through the same
    stages when the last one is older than `max_snapshot_age_s`, default twice the ETL schedule)
    and, only when the connection enables it, HaloITSM provisioning."""
    from halo_c1.c1.pipeline import run_pipeline
    from halo_c1.c1.provisioning import provision_outcome
    from halo_c1.c1.snapshots import LakeSnapshots
    from halo_c1.c1.tasks import Services

    env = environment()
    max_age = (
        timedelta(seconds=settings.max_snapshot_age_s)
        if settings.max_snapshot_age_s
        else 2 * etl_schedule_interval()
    )
    provision = None
    if settings.provisioning:
        halo = halo_settings()

        def provision(request: Any) -> Any:
            return provision_outcome(request, halo_settings=halo, lake=env.lake)

    return Services(
        snapshots=LakeSnapshots(env.lake, pipeline=lambda checkpoint: run_pipeline(env, checkpoint)),
        max_snapshot_age=max_age,
        provision=provision,
    )


def serve_c1_task(event: dict[str, Any], *, conn_id: str = C1_CONN_ID) -> dict[str, Any]:
    """Serve the task a `C1TaskTrigger` claimed (its event), with this deployment's settings."""
    from halo_c1.c1.client import BatonClient
    from halo_c1.c1.poll import decode_task
    from halo_c1.c1.tasks import serve_task

    settings = c1_settings(conn_id)
    with BatonClient(settings) as client:
        return serve_task(
            client,
            decode_task(event["task"]),
            c1_services(settings),
            next_heartbeat_s=event["next_heartbeat_s"],
        )
