"""The alert text: event classification, reason in counts, what C1 holds and its age."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from halo_c1 import alerts
from halo_c1.guard import MassDeletionError
from halo_c1.quality.gate import QualityGateError

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
DELIVERED = {"snapshot_id": "20261120T090000Z", "delivered_at": "2026-11-20T09:04:00+00:00", "counts": {}}


def _wrapped(error: Exception) -> Exception:
    """As the DAG raises it: a fail-fast exception raised from the domain error."""
    try:
        raise RuntimeError(str(error)) from error
    except RuntimeError as wrapper:
        return wrapper


def _gate_error() -> QualityGateError:
    failed = [
        {
            "table": "resources",
            "name": "unique_ids",
            "unexpected_count": 2,
            "severity": "error",
            "description": "d",
        },
        {
            "table": "resources",
            "name": "email_syntax",
            "unexpected_count": 5,
            "severity": "warning",
            "description": "d",
        },
    ]
    return QualityGateError(
        {
            "snapshot_id": "20261120T100000Z",
            "failed": failed,
            "docs_index": "x",
            "gate_result": "/lake/reports/snapshot=20261120T100000Z/gate_result.json",
        }
    )


def test_a_blocked_gate_names_the_failed_error_checks_with_counts_only():
    alert = alerts.build_alert(
        stage="validate",
        error=_wrapped(_gate_error()),
        snapshot_id="20261120T100000Z",
        dag_id="haloitsm_to_c1",
        run_id="r1",
        last_delivery=DELIVERED,
        now=NOW,
    )

    assert alert.event == alerts.GATE_BLOCKED
    assert alert.reason == "1 error expectation(s) failed: resources.unique_ids: 2 unexpected"
    assert alert.c1_holds == (
        "snapshot 20261120T090000Z, data 3 h 30 min old (delivered 2026-11-20T09:04:00+00:00)"
    )
    assert alert.details["c1_last_delivered"]["age_s"] == 3 * 3600 + 1800
    assert (
        alert.subject == "[halo-c1] quality gate blocked delivery: stage validate, snapshot 20261120T100000Z"
    )


def test_a_blocked_guard_lists_the_drops():
    drops = [
        {"item": "resource type 'agent'", "before": 30, "after": 12, "drop_ratio": 0.6, "emptied": False}
    ]
    alert = alerts.build_alert(
        stage="guard",
        error=_wrapped(MassDeletionError("blocked", {"drops": drops})),
        snapshot_id="s",
        dag_id="d",
        run_id="r",
        last_delivery=None,
        now=NOW,
    )

    assert alert.event == alerts.GUARD_BLOCKED
    assert alert.reason == "1 drop(s) above the threshold: resource type 'agent': 30 → 12 (-60.0%)"
    assert alert.c1_holds == "nothing from halo-c1 yet (no delivery recorded)"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ValueError("bad\n  config"), "ValueError: bad config"),
        (None, "the task failed without an exception (timeout, killed worker or upstream failure)"),
        (OSError("x" * 2000), "OSError: " + "x" * (alerts.MAX_REASON_CHARS - 1) + "…"),
    ],
)
def test_any_other_failure_is_a_failed_run_with_a_bounded_reason(error, reason):
    alert = alerts.build_alert(
        stage="extract", error=error, snapshot_id=None, dag_id="d", run_id="r", last_delivery=None, now=NOW
    )

    assert alert.event == alerts.RUN_FAILED
    assert alert.reason == reason
    assert "Snapshot: not yet planned" in alert.text


def test_an_unreadable_lake_is_reported_not_raised():
    alert = alerts.build_alert(
        stage="extract",
        error=ValueError("x"),
        snapshot_id="s",
        dag_id="d",
        run_id="r",
        last_delivery=None,
        last_delivery_error="PermissionError",
        now=NOW,
    )

    assert alert.c1_holds == "unknown (the lake could not be read: PermissionError)"


def test_html_escapes_what_it_shows():
    alert = alerts.build_alert(
        stage="extract", error=ValueError("<b>&"), snapshot_id="s", dag_id="d", run_id="r", last_delivery=None
    )

    assert "ValueError: &lt;b&gt;&amp;" in alert.html()
    assert "<b>&" not in alert.html()


def test_ages_read_naturally():
    assert alerts.describe_age(datetime(2026, 11, 17, 8, tzinfo=UTC), NOW) == "3 d 4 h"
    assert alerts.describe_age(datetime(2026, 11, 20, 12, 23, tzinfo=UTC), NOW) == "7 min"


def test_without_configuration_the_notifier_does_nothing(monkeypatch):
    from halo_c1_airflow.alerts import send_failure_alert

    monkeypatch.delenv("AIRFLOW_VAR_HALO_C1_ALERT_EMAILS", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_HALO_C1_ALERT_WEBHOOK", raising=False)

    # An empty context would fail any attempt to build a message: nothing is attempted.
    assert send_failure_alert({}) is None
