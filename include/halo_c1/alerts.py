"""Failure alerts: what to tell a person when a run fails or a safety gate blocks delivery.

A blocked delivery leaves C1 on older data without any error in C1, so each of the three events
(a failed run, a blocked quality gate, a blocked deletion guard) becomes one message naming the stage,
the reason, the snapshot and what C1 holds now (the last delivered snapshot and its age). Messages
carry counts and names of checks, never secrets or rows. `halo_c1_airflow.alerts.FailureAlert`
(Airflow's notifier) gathers the facts and sends the message by e-mail and/or to a webhook; this
module builds the text and posts the webhook's Slack/Teams-compatible JSON.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from halo_c1.lake import snapshot_time

log = logging.getLogger(__name__)

RUN_FAILED = "run_failed"
GATE_BLOCKED = "quality_gate_blocked"
GUARD_BLOCKED = "deletion_guard_blocked"
TITLES = {
    RUN_FAILED: "run failed",
    GATE_BLOCKED: "quality gate blocked delivery",
    GUARD_BLOCKED: "deletion guard blocked delivery",
}
MAX_REASON_CHARS = 800
WEBHOOK_TIMEOUT_S = 10.0


def _causes(error: BaseException | None) -> list[BaseException]:
    """The exception and what it was raised from (the DAG wraps domain errors to fail without retry)."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def _is(error: BaseException, class_name: str) -> bool:
    return any(klass.__name__ == class_name for klass in type(error).__mro__)


def classify(error: BaseException | None) -> tuple[str, BaseException | None]:
    """The event (`RUN_FAILED`, `GATE_BLOCKED`, `GUARD_BLOCKED`) and the domain error behind it.

    Errors are recognised by class name (`QualityGateError`, `MassDeletionError`), so an alert never
    depends on which stage module defines them, and this module imports no stage.
    """
    chain = _causes(error)
    for cause in chain:
        if _is(cause, "QualityGateError"):
            return GATE_BLOCKED, cause
        if _is(cause, "MassDeletionError"):
            return GUARD_BLOCKED, cause
    return RUN_FAILED, chain[-1] if chain else None


def _reason(event: str, cause: BaseException | None) -> str:
    """Why, in counts: the failed checks, the drops, or the error's type and (truncated) message."""
    if cause is None:
        return "the task failed without an exception (timeout, killed worker or upstream failure)"
    if event == GATE_BLOCKED:
        result: Mapping[str, Any] = getattr(cause, "result", None) or {}
        failed = [f for f in result.get("failed", []) if f.get("severity") == "error"]
        if failed:
            checks = "; ".join(
                f"{f['table']}.{f['name']}: {f['unexpected_count']} unexpected" for f in failed
            )
            return f"{len(failed)} error expectation(s) failed: {checks}"
    if event == GUARD_BLOCKED:
        drops = (getattr(cause, "result", None) or {}).get("drops", [])
        if drops:
            listed = "; ".join(
                f"{d['item']}: {d['before']} → {d['after']} (-{d['drop_ratio']:.1%})" for d in drops
            )
            return f"{len(drops)} drop(s) above the threshold: {listed}"
    message = " ".join(str(cause).split()) or "(no message)"
    if len(message) > MAX_REASON_CHARS:
        message = message[: MAX_REASON_CHARS - 1] + "…"
    return f"{type(cause).__name__}: {message}"


def describe_age(since: datetime, now: datetime) -> str:
    """'3 d 4 h', '2 h 5 min', '7 min': how long ago, at the precision a reader needs."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


@dataclass(frozen=True)
class Alert:
    """One event, ready to send: `text` for chat and e-mail bodies, `details` for machines."""

    event: str
    stage: str
    reason: str
    snapshot_id: str | None
    dag_id: str
    run_id: str
    c1_holds: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return f"[halo-c1] {TITLES[self.event]}: stage {self.stage}, snapshot {self.snapshot_id or '?'}"

    @property
    def text(self) -> str:
        return "\n".join(
            [
                self.subject,
                f"Stage: {self.stage}",
                f"Reason: {self.reason}",
                f"Snapshot: {self.snapshot_id or 'not yet planned'}",
                f"C1 currently holds: {self.c1_holds}",
                f"DAG run: {self.dag_id} / {self.run_id}",
            ]
        )

    def html(self) -> str:
        rows = "".join(
            f"<tr><th align='left'>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
            for label, value in [
                ("Stage", self.stage),
                ("Reason", self.reason),
                ("Snapshot", self.snapshot_id or "not yet planned"),
                ("C1 currently holds", self.c1_holds),
                ("DAG run", f"{self.dag_id} / {self.run_id}"),
            ]
        )
        return f"<p>{html.escape(self.subject)}</p><table>{rows}</table>"

    def webhook_payload(self) -> dict[str, Any]:
        """Slack and Teams incoming webhooks both render `text`; `halo_c1` carries the same facts as data."""
        return {"text": self.text, "halo_c1": self.details}


def build_alert(
    *,
    stage: str,
    error: BaseException | None,
    snapshot_id: str | None,
    dag_id: str,
    run_id: str,
    last_delivery: Mapping[str, Any] | None,
    last_delivery_error: str | None = None,
    now: datetime | None = None,
) -> Alert:
    """The alert for a failed task. `last_delivery` is the lake's latest delivery manifest (None before
    the first delivery); `last_delivery_error` says why it could not be read, if it could not."""
    now = now or datetime.now(UTC)
    event, cause = classify(error)
    delivered: dict[str, Any] = {"snapshot_id": None, "delivered_at": None, "age_s": None}
    if last_delivery_error:
        holds = f"unknown (the lake could not be read: {last_delivery_error})"
    elif not last_delivery:
        holds = "nothing from halo-c1 yet (no delivery recorded)"
    else:
        delivered_snapshot = str(last_delivery["snapshot_id"])
        taken = snapshot_time(delivered_snapshot)
        holds = (
            f"snapshot {delivered_snapshot}, data {describe_age(taken, now)} old"
            f" (delivered {last_delivery.get('delivered_at') or 'at an unknown time'})"
        )
        delivered = {
            "snapshot_id": delivered_snapshot,
            "delivered_at": last_delivery.get("delivered_at"),
            "age_s": int((now - taken).total_seconds()),
        }
    reason = _reason(event, cause)
    details = {
        "event": event,
        "stage": stage,
        "reason": reason,
        "snapshot_id": snapshot_id,
        "dag_id": dag_id,
        "run_id": run_id,
        "c1_last_delivered": delivered,
    }
    return Alert(event, stage, reason, snapshot_id, dag_id, run_id, holds, details)


def post_webhook(url: str, alert: Alert, *, timeout_s: float = WEBHOOK_TIMEOUT_S) -> None:
    """POST the alert's JSON. The URL is a secret (Slack/Teams embed the token in it): errors name
    only the status, never the URL."""
    try:
        response = httpx.post(url, json=alert.webhook_payload(), timeout=timeout_s)
    except httpx.HTTPError as error:
        raise AlertDeliveryError(f"alert webhook unreachable ({type(error).__name__})") from None
    if response.status_code >= 300:
        raise AlertDeliveryError(f"alert webhook answered HTTP {response.status_code}")


class AlertDeliveryError(RuntimeError):
    """An alert channel refused or could not be reached; the message holds no URL or credential."""
