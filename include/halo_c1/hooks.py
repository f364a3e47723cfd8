"""Airflow glue: turn Airflow connections, variables and the task context into the domain's objects,
and the domain's verdicts into Airflow's (a `PermanentError` fails without retry, `StageSkipped` skips).

This is the only module of `include/halo_c1` that imports Airflow, so everything else runs and is
tested without a scheduler. Airflow is imported inside functions: DAG files import this module
cheaply at parse time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from halo_c1.errors import ConfigurationError

if TYPE_CHECKING:
    from upath import UPath

    from halo_c1.deliver.target import Target
    from halo_c1.halo.settings import HaloSettings
    from halo_c1.lake import Lake
    from halo_c1.results import StageResult
    from halo_c1.runs import RunPlan
    from halo_c1.stages import Environment

__all__ = [
    "DELIVERY_TARGETS",
    "ConfigurationError",
    "delivery_target",
    "environment",
    "halo_settings",
    "lake",
    "log_failure",
    "max_drop_ratio",
    "plan_run",
    "run_stage",
]

log = logging.getLogger("halo_c1.hooks")

HALO_CONN_ID = "haloitsm_default"
LAKE_URL_VARIABLE = "halo_c1_lake_url"
LAKE_CONN_VARIABLE = "halo_c1_lake_conn_id"
DELIVERY_TARGET_VARIABLE = "halo_c1_delivery_target"
DELIVERY_URL_VARIABLE = "halo_c1_delivery_url"
DELIVERY_CONN_VARIABLE = "halo_c1_delivery_conn_id"
MAX_DROP_RATIO_VARIABLE = "halo_c1_max_drop_ratio"
DEFAULT_DELIVERY_TARGET = "object_storage"
# The Azure SDK logs every request's and response's headers at INFO: hundreds of lines per task.
AZURE_HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


def halo_settings(conn_id: str = HALO_CONN_ID) -> HaloSettings:
    """HaloITSM client settings from the Airflow connection (host, login, password, extra)."""
    from airflow.sdk import BaseHook

    from halo_c1.halo.settings import HaloSettings

    conn = BaseHook.get_connection(conn_id)
    return HaloSettings.from_connection_fields(
        host=conn.host or "",
        login=conn.login or "",
        password=conn.password or "",
        extra=conn.extra_dejson,
    )


def _variable(key: str, default: Any = None) -> Any:
    from airflow.sdk import Variable

    return Variable.get(key, default=default)


def _object_storage_path(url: str, conn_id: str | None) -> UPath:
    from airflow.sdk import ObjectStoragePath

    path = ObjectStoragePath(url, conn_id=conn_id or None)
    if path.protocol in ("abfs", "abfss"):
        logging.getLogger(AZURE_HTTP_LOGGER).setLevel(logging.WARNING)
    return path


def lake() -> Lake:
    """The lake from `halo_c1_lake_url` (and `halo_c1_lake_conn_id` for object storage)."""
    from halo_c1.lake import Lake

    url = _variable(LAKE_URL_VARIABLE)
    if not url:
        raise ConfigurationError(
            f"Airflow variable {LAKE_URL_VARIABLE!r} is not set: give the lake's base URL, "
            "e.g. file:///data/halo_c1 or s3://bucket/halo_c1"
        )
    return Lake(_object_storage_path(url, _variable(LAKE_CONN_VARIABLE)))


def _object_storage_target() -> Target:
    """The c1z at `halo_c1_delivery_url` (with `halo_c1_delivery_conn_id`): a file or object-store key."""
    from halo_c1.deliver.objectstore import ObjectStorageTarget

    url = _variable(DELIVERY_URL_VARIABLE)
    if not url:
        raise ConfigurationError(
            f"Airflow variable {DELIVERY_URL_VARIABLE!r} is not set: give the c1z's URL, e.g. "
            "s3://bucket/halo/sync.c1z (a C1 external data source) or file:///exports/sync.c1z"
        )
    return ObjectStorageTarget(_object_storage_path(url, _variable(DELIVERY_CONN_VARIABLE)))


# `halo_c1_delivery_target` names one of these; a new target registers its builder here.
DELIVERY_TARGETS: dict[str, Callable[[], Target]] = {DEFAULT_DELIVERY_TARGET: _object_storage_target}


def delivery_target() -> Target:
    """The target named by `halo_c1_delivery_target` (default `object_storage`), checked."""
    name = _variable(DELIVERY_TARGET_VARIABLE, default=DEFAULT_DELIVERY_TARGET)
    if name not in DELIVERY_TARGETS:
        raise ConfigurationError(
            f"Airflow variable {DELIVERY_TARGET_VARIABLE!r} is {name!r}; expected one of {sorted(DELIVERY_TARGETS)}"
        )
    target = DELIVERY_TARGETS[name]()
    target.check()
    return target


def max_drop_ratio(override: float | None = None) -> float:
    """The deletion guard's threshold: the run's param, else `halo_c1_max_drop_ratio`, else the guard's 20%."""
    from halo_c1.guard import DEFAULT_MAX_DROP_RATIO, validate_max_drop_ratio

    value = override if override is not None else _variable(MAX_DROP_RATIO_VARIABLE, default=None)
    if value is None:
        return DEFAULT_MAX_DROP_RATIO
    try:
        return validate_max_drop_ratio(float(value))
    except ValueError as error:
        raise ConfigurationError(f"{MAX_DROP_RATIO_VARIABLE} / param max_drop_ratio: {error}") from None


def environment() -> Environment:
    """What the stages reach, from Airflow configuration (the lake now; the rest when asked for)."""
    from halo_c1.stages import Environment

    return Environment(
        lake=lake(),
        halo_settings=halo_settings,
        delivery_target=delivery_target,
        max_drop_ratio=max_drop_ratio,
    )


@contextmanager
def _airflow_verdicts() -> Generator[None, None, None]:
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

    from halo_c1 import stages

    ctx = get_current_context()
    run = ctx["dag_run"]
    with _airflow_verdicts():
        decided = stages.plan(
            environment(),
            logical_date=ctx.get("logical_date"),
            run_after=run.run_after,
            run_type=getattr(run.run_type, "value", str(run.run_type)),
            params=dict(ctx["params"]),
        )
    return decided.to_xcom()


def run_stage(
    stage: Callable[[RunPlan, Environment], StageResult], plan: dict[str, Any], *, outlet: Any = None
) -> dict[str, Any]:
    """Run one stage for the plan (XCom JSON) and return its result as XCom JSON; with `outlet` (an
    Asset the task declares), attach the result's facts to the asset event."""
    from airflow.sdk import get_current_context

    from halo_c1.runs import RunPlan

    with _airflow_verdicts():
        result = stage(RunPlan.from_xcom(plan), environment())
    if outlet is not None:
        get_current_context()["outlet_events"][outlet].extra.update(result.asset_extra())
    return result.to_xcom()


def log_failure(context: Any) -> None:
    """Failure callback: one line naming the stage, the snapshot and the reason, for alerting."""
    from halo_c1.summary import failure_line

    plan = context["ti"].xcom_pull(task_ids="plan") or {}
    log.error(failure_line(context["ti"].task_id, plan.get("snapshot_id"), context.get("exception")))
