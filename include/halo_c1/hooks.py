"""Airflow glue: turn Airflow connections, variables and the task context into the domain's objects,
and the domain's verdicts into Airflow's (a `PermanentError` fails without retry, `StageSkipped` skips).

This is the only module of `include/halo_c1` that imports Airflow, so everything else runs and is
tested without a scheduler. Airflow is imported inside functions: DAG files import this module
cheaply at parse time.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Callable, Generator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from halo_c1.errors import ConfigurationError

if TYPE_CHECKING:
    from upath import UPath

    from halo_c1.alerts import Alert
    from halo_c1.c1.settings import ServiceSettings
    from halo_c1.c1.tasks import Services
    from halo_c1.deliver.target import Target
    from halo_c1.halo.settings import HaloSettings
    from halo_c1.lake import Lake
    from halo_c1.results import StageResult
    from halo_c1.retention import RetentionPolicy
    from halo_c1.runs import RunPlan
    from halo_c1.stages import Environment


log = logging.getLogger(__name__)

HALO_CONN_ID = "haloitsm_default"
LAKE_URL_VARIABLE = "halo_c1_lake_url"
LAKE_CONN_VARIABLE = "halo_c1_lake_conn_id"
DELIVERY_TARGET_VARIABLE = "halo_c1_delivery_target"
DELIVERY_URL_VARIABLE = "halo_c1_delivery_url"
DELIVERY_CONN_VARIABLE = "halo_c1_delivery_conn_id"
MAX_DROP_RATIO_VARIABLE = "halo_c1_max_drop_ratio"
C1Z_MAX_DECODED_GIB_VARIABLE = "halo_c1_c1z_max_decoded_gib"
DEFAULT_C1Z_MAX_DECODED_GIB = 3  # baton-sdk before v0.25 refuses a c1z whose SQLite passes 3 GiB
DEFAULT_DELIVERY_TARGET = "object_storage"
ALERT_EMAILS_VARIABLE = "halo_c1_alert_emails"
ALERT_SMTP_CONN_VARIABLE = "halo_c1_alert_smtp_conn_id"
DEFAULT_SMTP_CONN_ID = "smtp_default"
ALERT_WEBHOOK_CONN_ID = "halo_c1_alert_webhook"
PLAN_TASK_ID = "plan"
# The Azure SDK logs every request's and response's headers at INFO: hundreds of lines per task.
AZURE_HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


def _connection(conn_id: str) -> Any:
    """The Airflow connection, or a `ConfigurationError` naming it (never retried: it will not appear)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise ConfigurationError(
            f"Airflow connection {conn_id!r} is not defined: add it (UI Admin > Connections, "
            f"AIRFLOW_CONN_{conn_id.upper()}, or your secrets backend)"
        ) from None


def halo_settings(conn_id: str = HALO_CONN_ID) -> HaloSettings:
    """HaloITSM client settings from the Airflow connection (host, login, password, extra)."""
    from halo_c1.halo.settings import HaloSettings

    conn = _connection(conn_id)
    return HaloSettings.from_connection_fields(
        host=conn.host or "",
        login=conn.login or "",
        password=conn.password or "",
        extra=conn.extra_dejson,
    )


def _variable(key: str, default: Any = None) -> Any:
    from airflow.sdk import Variable

    return Variable.get(key, default=default)


def _object_storage_path(url: str, conn_id: str | None, variable: str) -> UPath:
    from airflow.sdk import ObjectStoragePath

    if conn_id:
        _connection(conn_id)
    try:
        path = ObjectStoragePath(url, conn_id=conn_id or None)
    except ValueError as error:  # e.g. "Unsupported filesystem: 'nonsense'"
        raise ConfigurationError(f"Airflow variable {variable!r} is not a usable URL: {error}") from None
    if path.protocol in ("abfs", "abfss"):
        logging.getLogger(AZURE_HTTP_LOGGER).setLevel(logging.WARNING)
    return path


def lake() -> Lake:
    """This tenant's lake: its folder under `halo_c1_lake_url` (+ `halo_c1_lake_conn_id`).

    The folder comes from the HaloITSM connection (see `halo_c1.tenancy`); a folder another tenant
    claimed is refused with `TenantMismatchError`.
    """
    from halo_c1.tenancy import TenantIdentity, tenant_lake

    url = _variable(LAKE_URL_VARIABLE)
    if not url:
        raise ConfigurationError(
            f"Airflow variable {LAKE_URL_VARIABLE!r} is not set: give the lake's base URL, "
            "e.g. file:///data/halo_c1 or s3://bucket/halo_c1"
        )
    settings = halo_settings()
    identity = TenantIdentity.from_connection(settings.base_url, settings.tenant)
    return tenant_lake(
        _object_storage_path(url, _variable(LAKE_CONN_VARIABLE), LAKE_URL_VARIABLE),
        identity,
        settings.lake_prefix,
    )


def _object_storage_target() -> Target:
    """The c1z at `halo_c1_delivery_url` (with `halo_c1_delivery_conn_id`): a file or object-store key."""
    from halo_c1.deliver.objectstore import ObjectStorageTarget, check_target_url

    url = _variable(DELIVERY_URL_VARIABLE)
    if not url:
        raise ConfigurationError(
            f"Airflow variable {DELIVERY_URL_VARIABLE!r} is not set: give the c1z's URL, e.g. "
            "s3://bucket/halo/sync.c1z (a C1 external data source) or file:///exports/sync.c1z"
        )
    check_target_url(url)
    return ObjectStorageTarget(
        _object_storage_path(url, _variable(DELIVERY_CONN_VARIABLE), DELIVERY_URL_VARIABLE)
    )


def _c1_service_target() -> Target:
    """C1 service mode: the delivery record is what the `c1_connector` DAG serves; with `app_id` and
    `connector_id` in `conductorone_default`, C1 is also asked to sync now (REST force_sync)."""
    from halo_c1.c1.force_sync import force_sync
    from halo_c1.deliver.c1_service import C1ServiceTarget

    settings = c1_settings()
    nudge = None
    if settings.app_id and settings.connector_id:

        def nudge() -> None:
            force_sync(settings)

    return C1ServiceTarget(settings.api_host, nudge)


# `halo_c1_delivery_target` names one of these; a new target registers its builder here.
DELIVERY_TARGETS: dict[str, Callable[[], Target]] = {
    DEFAULT_DELIVERY_TARGET: _object_storage_target,
    "c1_service": _c1_service_target,
}


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


def c1z_max_decoded_bytes() -> int:
    """The c1z's decoded-size cap: `halo_c1_c1z_max_decoded_gib` (GiB), else the older readers' 3 GiB.

    Raise it only when every reader of the file runs baton-sdk v0.25+ (10 GiB by default there,
    `BATON_DECODER_MAX_DECODED_SIZE_MB`): an older reader refuses the whole file.
    """
    value = _variable(C1Z_MAX_DECODED_GIB_VARIABLE, default=None)
    if value is None:
        return DEFAULT_C1Z_MAX_DECODED_GIB * 2**30
    try:
        gib = float(value)
    except ValueError:
        gib = math.nan
    if not math.isfinite(gib) or gib <= 0:
        raise ConfigurationError(
            f"{C1Z_MAX_DECODED_GIB_VARIABLE} must be a positive number of GiB (e.g. 10 when every reader "
            f"runs baton-sdk v0.25+), got {value!r}"
        )
    return int(gib * 2**30)


DAGRUN_TIMEOUT_ENV = "HALO_C1_DAGRUN_TIMEOUT_HOURS"
DEFAULT_DAGRUN_TIMEOUT_HOURS = 2


def etl_params() -> dict[str, Any]:
    """The ETL DAG's trigger-form params (validated by Airflow before a run starts)."""
    from airflow.sdk import Param

    return {
        "dry_run": Param(
            False, type="boolean", title="Dry run", description="Everything but delivery to C1."
        ),
        "allow_mass_deletion": Param(
            False,
            type="boolean",
            title="Allow mass deletion (once)",
            description="Deliver even if the deletion-safety guard sees a drop above the threshold.",
        ),
        # A drop-down, not a toggle: a boolean field cannot show "empty" and sends false once touched.
        "include_end_users": Param(
            None,
            type=["null", "string"],
            enum=[None, "include", "exclude"],
            values_display={
                "null": "The connection's setting",
                "include": "Include end users",
                "exclude": "Leave end users out",
            },
            title="End users",
            description="Extract HaloITSM end users? Empty = the connection's `include_end_users`.",
        ),
        "max_drop_ratio": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            exclusiveMaximum=1,
            title="Deletion guard threshold",
            description="Largest allowed drop per resource type and for grants; empty = 0.2 or the variable.",
        ),
        "confirm_first_delivery": Param(
            False,
            type="boolean",
            title="Confirm first delivery",
            description="The delivery record is missing or unreadable: deliver as if C1 never had a snapshot.",
        ),
        "rederive_only": Param(
            False,
            type="boolean",
            title="Re-derive only",
            description="Re-derive the newest archived snapshot taken in this run's interval: no API call, no delivery.",
        ),
        "snapshot_id": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{8}T\d{6}Z$",
            title="Snapshot id",
            description="Re-derive this archived snapshot (e.g. 20261127T050000Z): no API call, no delivery.",
        ),
    }


def dagrun_timeout() -> timedelta:
    """The ETL run's timeout, from `HALO_C1_DAGRUN_TIMEOUT_HOURS` at parse time (default 2 h).

    A tenant's first full extraction can take hours within HaloITSM's rate budget (1M end users at 50
    rows a page: ~5.7 h); a run stopped by the timeout starts over, so size it above that.
    """
    value = os.environ.get(DAGRUN_TIMEOUT_ENV)
    if value is None or not value.strip():
        return timedelta(hours=DEFAULT_DAGRUN_TIMEOUT_HOURS)
    try:
        hours = float(value)
    except ValueError:
        hours = math.nan
    if not math.isfinite(hours) or hours <= 0:
        raise ConfigurationError(
            f"{DAGRUN_TIMEOUT_ENV} must be a positive number of hours (e.g. 8 for a 1M-user first "
            f"extraction), got {value!r}"
        )
    return timedelta(hours=hours)


def environment() -> Environment:
    """What the stages reach, from Airflow configuration (the lake now; the rest when asked for)."""
    from halo_c1.stages import Environment

    return Environment(
        lake=lake(),
        halo_settings=halo_settings,
        delivery_target=delivery_target,
        max_drop_ratio=max_drop_ratio,
        c1z_max_decoded_bytes=c1z_max_decoded_bytes,
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

    with _airflow_verdicts():
        result = stage(RunPlan.from_xcom(plan), environment())
    if outlet is not None:
        get_current_context()["outlet_events"][outlet].extra.update(result.asset_extra())
    return result.to_xcom()


def run_report(plan: dict[str, Any], results: dict[str, dict[str, Any] | None]) -> str:
    """The report task: the run summary from the stages' XCom results (None for a skipped stage)."""
    from halo_c1 import stages
    from halo_c1.runs import RunPlan

    with _airflow_verdicts():
        return stages.report(RunPlan.from_xcom(plan), environment(), results)


def run_end_user_refresh() -> dict[str, Any]:
    """The end-user refresh task (`haloitsm_end_users`): due against the ETL's schedule interval."""
    from halo_c1 import stages

    with _airflow_verdicts():
        return stages.refresh_end_users(environment(), interval=etl_schedule_interval()).to_xcom()


def log_failure(context: Any) -> None:
    """Failure callback: one line naming the stage, the snapshot and the reason, for alerting."""
    from halo_c1.summary import failure_line

    plan = context["ti"].xcom_pull(task_ids="plan") or {}
    log.error(failure_line(context["ti"].task_id, plan.get("snapshot_id"), context.get("exception")))


C1_CONN_ID = "conductorone_default"
ETL_SCHEDULE_ENV = "HALO_C1_SCHEDULE"
DEFAULT_ETL_SCHEDULE = "@hourly"


def _c1_settings_from(conn: Any) -> ServiceSettings:
    from halo_c1.c1.settings import ServiceSettings

    return ServiceSettings.from_connection_fields(
        login=conn.login or "", password=conn.password or "", extra=conn.extra_dejson
    )


def c1_settings(conn_id: str = C1_CONN_ID) -> ServiceSettings:
    """C1 service-mode settings from `conductorone_default`: login = client id, password = secret,
    extra = api_host, token_url, ca_bundle, host_id, provisioning (+ app_id, connector_id,
    max_snapshot_age_s); env BATON_C1_API_HOST is honoured."""
    return _c1_settings_from(_connection(conn_id))


async def c1_settings_async(conn_id: str = C1_CONN_ID) -> ServiceSettings:
    """`c1_settings` for the triggerer: the connection is fetched without blocking its event loop."""
    import asyncio

    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = await BaseHook.aget_connection(conn_id)
    except AirflowNotFoundException:
        raise ConfigurationError(f"Airflow connection {conn_id!r} is not defined") from None
    return await asyncio.to_thread(_c1_settings_from, conn)


def etl_schedule_interval() -> timedelta:
    """The ETL DAG's schedule period (`HALO_C1_SCHEDULE`, default hourly), from two consecutive fire times."""
    import os
    from datetime import UTC, datetime

    from croniter import croniter

    schedule = os.environ.get(ETL_SCHEDULE_ENV, DEFAULT_ETL_SCHEDULE)
    presets = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}
    expression = presets.get(schedule, schedule)
    if not croniter.is_valid(expression):
        raise ConfigurationError(f"{ETL_SCHEDULE_ENV}={schedule!r} is not a cron expression or preset")
    fires = croniter(expression, datetime(2026, 1, 5, tzinfo=UTC))
    first = fires.get_next(datetime)
    return fires.get_next(datetime) - first


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


RETENTION_VARIABLE = "halo_c1_retention"


def retention_policy() -> RetentionPolicy:
    """Retention from the JSON variable `halo_c1_retention`; unset = the defaults (30/90/90 days)."""
    from halo_c1.retention import RetentionConfigError, RetentionPolicy

    value = _variable(RETENTION_VARIABLE, default=None)
    if value in (None, ""):
        return RetentionPolicy()
    try:
        settings = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError as error:
        raise RetentionConfigError(f"variable {RETENTION_VARIABLE!r} is not JSON: {error.msg}") from None
    if not isinstance(settings, dict):
        raise RetentionConfigError(
            f'variable {RETENTION_VARIABLE!r} must be a JSON object like {{"raw_days": 30}}, got {settings!r}'
        )
    return RetentionPolicy.from_mapping(settings)


def housekeeping(dry_run: bool) -> dict[str, Any]:
    """The housekeeping task: retention on this tenant's lake, and stale temporary files a killed run
    left there. A `PermanentError` (bad settings, another tenant's folder) fails at once; I/O errors
    are retried."""
    from halo_c1.leftovers import sweep_lake
    from halo_c1.retention import apply_retention

    with _airflow_verdicts():
        the_lake = lake()
        result = apply_retention(the_lake, retention_policy(), dry_run=dry_run).to_dict()
        if not dry_run:
            result["stale_temporaries_removed"] = len(sweep_lake(the_lake.base))
        return result


def data_interval(context: Any) -> tuple[datetime, datetime] | None:
    """The run's data interval, never empty: a cron trigger timetable (Airflow 3's default for cron
    schedules) gives a zero-length interval at the logical date, so it ends at the next scheduled time."""
    start = context.get("data_interval_start") or context.get("logical_date")
    if start is None:
        return None
    end = context.get("data_interval_end")
    if end is None or end <= start:
        end = next_scheduled_after(context["dag"].timetable, start)
    return start, end


def next_scheduled_after(timetable: Any, moment: datetime) -> datetime:
    """The schedule's next time after `moment` (cron or fixed-delta timetables; else a day later)."""
    from zoneinfo import ZoneInfo

    from croniter import croniter

    expression = getattr(timetable, "expression", None)
    if expression:
        zone = timetable.timezone
        zone = ZoneInfo(zone) if isinstance(zone, str) else zone
        return croniter(expression, moment.astimezone(zone)).get_next(datetime)
    delta = getattr(timetable, "delta", None)
    return moment + (delta if isinstance(delta, timedelta) else timedelta(days=1))


def alert_emails() -> list[str]:
    """Recipients from `halo_c1_alert_emails` (comma, semicolon or space separated); [] when unset."""
    value = _variable(ALERT_EMAILS_VARIABLE, default=None) or ""
    return [address for address in re.split(r"[,;\s]+", str(value)) if address]


def alert_webhook_url() -> str | None:
    """The webhook URL of connection `halo_c1_alert_webhook` (its password, which Airflow masks in
    logs, or its host), or None when the connection does not exist."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(ALERT_WEBHOOK_CONN_ID)
    except AirflowNotFoundException:
        return None
    for candidate in (conn.password, conn.host):
        if candidate and re.match(r"https?://", candidate):
            return candidate
    raise ConfigurationError(
        f"connection {ALERT_WEBHOOK_CONN_ID!r} must hold the webhook's full https:// URL in its password "
        "(masked in logs) or host"
    )


def _alert_for(context: Any) -> Alert:
    """The alert for a failed task: its stage, error and snapshot, and what the lake says C1 holds."""
    from halo_c1.alerts import build_alert
    from halo_c1.deliver import last_delivery

    ti = context["ti"]
    try:
        plan = ti.xcom_pull(task_ids=PLAN_TASK_ID) or {}
    except Exception:  # the plan task itself failed or XCom is unreachable: the alert still goes out
        plan = {}
    try:
        delivered, delivered_error = last_delivery(lake()), None
    except Exception as error:
        delivered, delivered_error = None, type(error).__name__
    dag_run = context.get("dag_run")
    return build_alert(
        stage=ti.task_id,
        error=context.get("exception"),
        snapshot_id=plan.get("snapshot_id") if isinstance(plan, dict) else None,
        dag_id=ti.dag_id,
        run_id=getattr(dag_run, "run_id", None) or ti.run_id,
        last_delivery=delivered,
        last_delivery_error=delivered_error,
    )


def send_failure_alert(context: Any) -> None:
    """Send the alert for this failed task to every configured channel; nothing when none is.

    A channel that fails is logged and the others still get the message: an alert never raises.
    """
    from halo_c1.alerts import AlertDeliveryError, post_webhook

    emails = alert_emails()
    try:
        webhook = alert_webhook_url()
    except ConfigurationError as error:
        log.warning("halo-c1 alert webhook not used: %s", error)
        webhook = None
    if not emails and not webhook:
        log.debug(
            "no halo-c1 alert channel configured (%s, %s)", ALERT_EMAILS_VARIABLE, ALERT_WEBHOOK_CONN_ID
        )
        return
    alert = _alert_for(context)
    if emails:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        smtp_conn_id = _variable(ALERT_SMTP_CONN_VARIABLE, default=None) or DEFAULT_SMTP_CONN_ID
        notifier = SmtpNotifier(
            to=emails, subject=alert.subject, html_content=alert.html(), smtp_conn_id=smtp_conn_id
        )
        try:
            # notify(), not __call__: the message is plain text, never a Jinja template to render.
            notifier.notify(context)
            log.info("halo-c1 alert (%s) e-mailed to %d recipient(s)", alert.event, len(emails))
        except Exception as error:
            log.warning("halo-c1 alert e-mail not sent via %r: %s", smtp_conn_id, type(error).__name__)
    if webhook:
        try:
            post_webhook(webhook, alert)
            log.info("halo-c1 alert (%s) posted to %s", alert.event, ALERT_WEBHOOK_CONN_ID)
        except AlertDeliveryError as error:
            log.warning("halo-c1 alert webhook not sent: %s", error)


@cache
def _failure_alert_class() -> type:
    from airflow.sdk import BaseNotifier

    class FailureAlert(BaseNotifier):
        """Airflow notifier for `on_failure_callback`: e-mail (`halo_c1_alert_emails` + SMTP connection)
        and/or webhook (connection `halo_c1_alert_webhook`), read when a task fails, so alerting is
        configured without touching code and a deployment without it sends nothing."""

        template_fields = ()

        def notify(self, context: Any) -> None:
            send_failure_alert(context)

    return FailureAlert


def failure_alert() -> Any:
    """The notifier instance a DAG lists in `on_failure_callback`."""
    return _failure_alert_class()()


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
