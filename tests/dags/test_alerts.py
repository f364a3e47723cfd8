"""Alerts, end to end: real DAG runs (`dag.test()`) against the simulator, a real SMTP server (aiosmtpd)
and a real HTTP webhook receiver, all on 127.0.0.1.

A failed run, a blocked quality gate and a blocked deletion guard each send exactly one e-mail and one
webhook message naming the stage, the reason, the snapshot and what C1 holds (the last delivered
snapshot and its age). Without configuration nothing is sent and nothing fails.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.dags import test_dag_end_to_end as end_to_end
from tests.dags.alert_receivers import body_text, smtp_server, webhook_receiver

T1, T2, T3 = end_to_end.T1, end_to_end.T2, end_to_end.T3
T4 = datetime(2026, 11, 20, 11, tzinfo=UTC)
DEV_SECRET = end_to_end.DEV_SECRET
pipeline = end_to_end.pipeline  # the same simulator, lake and runner as the end-to-end tests
RECIPIENTS = "identity-ops@example.com, oncall@example.com"

pytestmark = pytest.mark.dag


@pytest.fixture
def receivers(monkeypatch) -> Iterator[tuple[list[Any], list[dict[str, Any]], str]]:
    """SMTP server + webhook receiver, configured through Airflow variables and connections only."""
    with smtp_server() as (port, inbox), webhook_receiver() as (url, posts):
        smtp = {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "extra": {"from_email": "halo-c1@example.com", "disable_ssl": True, "disable_tls": True},
        }
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(smtp))
        monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_ALERT_EMAILS", RECIPIENTS)
        monkeypatch.setenv(
            "AIRFLOW_CONN_HALO_C1_ALERT_WEBHOOK", json.dumps({"conn_type": "http", "password": url})
        )
        yield inbox, posts, url


def _one_new(inbox: list[Any], posts: list[dict[str, Any]], seen: int) -> tuple[str, str, dict[str, Any]]:
    """The single e-mail and single webhook post sent since `seen` of each had arrived."""
    assert len(inbox) == seen + 1, [m["Subject"] for m in inbox]
    assert len(posts) == seen + 1, [p["json"]["text"].splitlines()[0] for p in posts]
    message, post = inbox[-1], posts[-1]["json"]
    # The e-mail is an HTML table: compare its text as one line ("Stage validate Reason ...").
    plain = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body_text(message))).split())
    return message["Subject"], plain, post


def _snapshot(dag_run: Any) -> str:
    """The snapshot the run took (named when its data was taken), from its plan."""
    return dag_run.get_task_instance("plan").xcom_pull(task_ids="plan")["snapshot_id"]


def _no_secret_or_rows(text: str, pipeline: Any, url: str) -> None:
    assert DEV_SECRET not in text
    assert "not-a-real-token" not in text and url not in text
    agent_emails = [a.get("email") for a in pipeline.sim.tenant.agents if a.get("email")]
    assert not [address for address in agent_emails if address in text]


def test_gate_guard_and_failed_run_each_send_one_message(pipeline, receivers, monkeypatch):
    inbox, posts, url = receivers
    first = pipeline.run(T1)
    assert str(first.state) == "success"
    assert inbox == [] and posts == []  # a good run alerts nobody
    delivered = _snapshot(first)

    # 1. A blocked quality gate.
    pipeline.sim.tenant.agents.append({"id": None, "name": "Broken agent", "email": "broken@example.com"})
    gated = pipeline.run(T2)
    assert str(gated.state) == "failed"
    subject, body, post = _one_new(inbox, posts, 0)
    assert subject == f"[halo-c1] quality gate blocked delivery: stage validate, snapshot {_snapshot(gated)}"
    assert inbox[-1]["X-Envelope-To"] == "identity-ops@example.com, oncall@example.com"
    assert "Stage validate Reason 1 error expectation(s) failed:" in body
    assert f"Snapshot {_snapshot(gated)} C1 currently holds snapshot {delivered}, data " in body
    assert "Stage: validate\nReason: 1 error expectation(s) failed:" in post["text"]
    assert f"C1 currently holds: snapshot {delivered}, data " in post["text"]
    for text in (body, post["text"]):
        assert "agents.missing_id: 1 unexpected" in text
        _no_secret_or_rows(text, pipeline, url)
    assert post["halo_c1"]["event"] == "quality_gate_blocked"
    assert post["halo_c1"]["snapshot_id"] == _snapshot(gated)
    assert post["halo_c1"]["c1_last_delivered"]["snapshot_id"] == delivered
    assert post["halo_c1"]["c1_last_delivered"]["age_s"] > 0
    pipeline.sim.tenant.agents.pop()

    # 2. A blocked deletion guard.
    pipeline.sim.tenant.drop_agents(0.4)
    guarded = pipeline.run(T3)
    assert str(guarded.state) == "failed"
    subject, body, post = _one_new(inbox, posts, 1)
    assert subject == f"[halo-c1] deletion guard blocked delivery: stage guard, snapshot {_snapshot(guarded)}"
    assert post["halo_c1"]["event"] == "deletion_guard_blocked"
    assert "resource type 'agent': 30 → " in post["text"] and "resource type 'agent': 30 → " in body
    assert f"snapshot {delivered}" in post["text"]
    _no_secret_or_rows(body + post["text"], pipeline, url)

    # 3. A failed run: HaloITSM rejects the credentials.
    connection = json.loads(os.environ["AIRFLOW_CONN_HALOITSM_DEFAULT"])
    monkeypatch.setenv(
        "AIRFLOW_CONN_HALOITSM_DEFAULT", json.dumps({**connection, "password": "wrong-secret"})
    )
    refused = pipeline.run(T4)
    assert str(refused.state) == "failed"
    subject, body, post = _one_new(inbox, posts, 2)
    assert subject == f"[halo-c1] run failed: stage extract, snapshot {_snapshot(refused)}"
    assert post["halo_c1"]["event"] == "run_failed"
    assert post["halo_c1"]["stage"] == "extract"
    assert "HaloAuthError" in post["halo_c1"]["reason"]
    assert f"snapshot {delivered}" in body
    assert "wrong-secret" not in body + post["text"]
    _no_secret_or_rows(body + post["text"], pipeline, url)


def test_without_alert_configuration_nothing_is_sent_and_nothing_breaks(pipeline, caplog):
    with smtp_server() as (_, inbox), webhook_receiver() as (_, posts):
        pipeline.sim.tenant.agents.append({"id": None, "name": "Broken agent"})
        dag_run = pipeline.run(T1)

    assert str(dag_run.state) == "failed"
    assert pipeline.states(dag_run)["validate"] == "failed"
    assert inbox == [] and posts == []
    assert "alert e-mail not sent" not in caplog.text and "alert webhook not sent" not in caplog.text
