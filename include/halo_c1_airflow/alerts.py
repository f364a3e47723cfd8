"""Failure alerts: the notifier a DAG lists in `on_failure_callback`, its channels (e-mail through an
SMTP connection, a webhook connection) read when a task fails, and the alert built from the task."""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import TYPE_CHECKING, Any

from halo_c1.errors import ConfigurationError
from halo_c1_airflow.settings import lake, variable
from halo_c1_airflow.stage import PLAN_TASK_ID

if TYPE_CHECKING:
    from halo_c1.alerts import Alert

# Under `halo_c1` like the domain's loggers, so configuring `halo_c1` reaches these too.
log = logging.getLogger(__name__.replace("halo_c1_airflow", "halo_c1.airflow"))

ALERT_EMAILS_VARIABLE = "halo_c1_alert_emails"
ALERT_SMTP_CONN_VARIABLE = "halo_c1_alert_smtp_conn_id"
DEFAULT_SMTP_CONN_ID = "smtp_default"
ALERT_WEBHOOK_CONN_ID = "halo_c1_alert_webhook"


def alert_emails() -> list[str]:
    """Recipients from `halo_c1_alert_emails` (comma, semicolon or space separated); [] when unset."""
    value = variable(ALERT_EMAILS_VARIABLE, default=None) or ""
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

        smtp_conn_id = variable(ALERT_SMTP_CONN_VARIABLE, default=None) or DEFAULT_SMTP_CONN_ID
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
