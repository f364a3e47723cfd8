"""The stage wrapper: what a stage reaches (`environment`), the plan task, one stage per task, the
report task, and the mapping of the domain's verdicts to Airflow's (a `PermanentError` fails without
retry, `StageSkipped` skips).

The DAG names the stage functions it hands to `run_stage` as `halo_c1_airflow.stage.stages` (the
domain's `halo_c1.stages`, cheap to import), so DAG files import only from this package.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from halo_c1 import stages
from halo_c1_airflow.schedule import data_interval
from halo_c1_airflow.settings import c1z_max_decoded_bytes, halo_settings, lake, max_drop_ratio
from halo_c1_airflow.targets import delivery_target

if TYPE_CHECKING:
    from halo_c1.results import StageResult
    from halo_c1.runs import RunPlan
    from halo_c1.stages import Environment

# Under `halo_c1` like the domain's loggers, so configuring `halo_c1` reaches these too.
log = logging.getLogger(__name__.replace("halo_c1_airflow", "halo_c1.airflow"))

PLAN_TASK_ID = "plan"


def environment() -> Environment:
    """What the stages reach, from Airflow configuration (the lake now; the rest when asked for)."""
    return stages.Environment(
        lake=lake(),
        halo_settings=halo_settings,
        delivery_target=delivery_target,
        max_drop_ratio=max_drop_ratio,
        c1z_max_decoded_bytes=c1z_max_decoded_bytes,
    )


@contextmanager
def airflow_verdicts() -> Generator[None, None, None]:
    """Map the domain's verdicts to Airflow's: no retry for a `PermanentError`, a skip for `StageSkipped`."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from halo_c1.errors import PermanentError, StageSkipped

    try:
        yield
    except StageSkipped as skipped:
        raise AirflowSkipException(str(skipped)) from skipped
    except PermanentError as error:
        raise AirflowFailException(str(error)) from error


def plan_run() -> dict[str, Any]:
    """The plan task: the run's plan from the task context, as XCom JSON."""
    from airflow.sdk import get_current_context

    ctx = get_current_context()
    run = ctx["dag_run"]
    with airflow_verdicts():
        decided = stages.plan(
            environment(),
            run_id=run.run_id,
            run_type=getattr(run.run_type, "value", str(run.run_type)),
            params=dict(ctx["params"]),
            interval=data_interval(ctx),
        )
    return decided.to_xcom()


def run_stage(
    stage: Callable[[RunPlan, Environment], StageResult], plan: dict[str, Any], *, outlet: Any = None
) -> dict[str, Any]:
    """Run one stage for the plan (XCom JSON) and return its result as XCom JSON; with `outlet` (an
    Asset the task declares), attach the result's facts to the asset event."""
    from airflow.sdk import get_current_context

    from halo_c1.runs import RunPlan

    with airflow_verdicts():
        result = stage(RunPlan.from_xcom(plan), environment())
    if outlet is not None:
        get_current_context()["outlet_events"][outlet].extra.update(result.asset_extra())
    return result.to_xcom()


def run_report(plan: dict[str, Any], results: dict[str, dict[str, Any] | None]) -> str:
    """The report task: the run summary from the stages' XCom results (None for a skipped stage)."""
    from halo_c1.runs import RunPlan

    with airflow_verdicts():
        return stages.report(RunPlan.from_xcom(plan), environment(), results)


def run_end_user_refresh() -> dict[str, Any]:
    """The end-user refresh task (`haloitsm_end_users`): due against the ETL's schedule interval."""
    from halo_c1_airflow.schedule import etl_schedule_interval

    with airflow_verdicts():
        return stages.refresh_end_users(environment(), interval=etl_schedule_interval()).to_xcom()


def log_failure(context: Any) -> None:
    """Failure callback: one line naming the stage, the snapshot and the reason, for alerting."""
    from halo_c1.summary import failure_line

    ti = context["ti"]
    plan = ti.xcom_pull(task_ids=PLAN_TASK_ID) or {}
    snapshot_id = plan.get("snapshot_id") if isinstance(plan, dict) else None
    log.error(
        failure_line(ti.task_id, snapshot_id or _recorded_snapshot(ti.run_id), context.get("exception"))
    )


def _recorded_snapshot(run_id: str) -> str | None:
    """The snapshot a run recorded in the lake before its plan failed (e.g. on a bad delivery URL)."""
    from halo_c1.snapshots import recorded_snapshot

    try:
        record = recorded_snapshot(lake(), run_id)
    except Exception:  # the lake itself may be what failed: the line still goes out, with "?"
        return None
    return record["snapshot_id"] if record else None
