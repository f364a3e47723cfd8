"""The c1_connector DAG, run with dag.test() against the fake C1 (gRPC over TLS + HTTPS token endpoint).

Each test queues tasks in a fresh fake C1, points `conductorone_default` at it (AIRFLOW_CONN_*), and
gives the connector a lake holding one delivered snapshot (hand-built curated tables → c1z →
delivery record), so `sync_full` has something to upload.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from halo_c1.c1z.reader import C1zReader
from halo_c1.c1z.writer import write_c1z
from halo_c1.deliver.manifest import record_delivery
from halo_c1.lake import as_path
from halo_c1.tenancy import TenantIdentity, tenant_lake
from tests.fake_c1 import FakeC1
from tests.unit.c1z_curated import SNAPSHOT, curated_rows, write_curated

DAG_ID = "c1_connector"
FRESH_FOR_EVER = 10**9
HALO_HOST = "https://acme.haloitsm.com"
HALO_CONNECTION = {
    "conn_type": "http",
    "host": HALO_HOST,
    "login": "halo-id",
    "password": "halo-pw",
    "extra": {"tenant": "acme"},
}

pytestmark = pytest.mark.dag


@dataclass
class Connector:
    c1: FakeC1
    lake: Path
    dag: Any
    monkeypatch: Any

    def configure(self, **extra: Any) -> None:
        self.monkeypatch.setenv("AIRFLOW_CONN_CONDUCTORONE_DEFAULT", self.c1.connection(**extra))

    def run(self, wait_seconds: int = 30) -> Any:
        return self.dag.test(run_conf={"wait_seconds": wait_seconds})

    def served(self, dag_run: Any) -> dict[str, Any]:
        return dag_run.get_task_instance("serve_next_task").xcom_pull(task_ids="serve_next_task")

    @property
    def c1z(self) -> Path:
        return self.lake / "c1z" / f"snapshot={SNAPSHOT}" / "sync.c1z"


@pytest.fixture
def connector(dagbag, fake_c1, tmp_path, monkeypatch) -> Connector:
    base = tmp_path / "lake"
    lake = tenant_lake(as_path(f"file://{base}"), TenantIdentity.from_connection(HALO_HOST, "acme"))
    lake_dir = Path(lake.base.path)
    write_curated(lake, curated_rows())
    packaged = write_c1z(lake, SNAPSHOT)
    record_delivery(
        lake,
        {"snapshot_id": SNAPSHOT, "counts": {"resources": {}, "grants": 0}, "sha256": packaged["sha256"]},
    )
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"file://{base}")
    monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", json.dumps(HALO_CONNECTION))
    monkeypatch.delenv("BATON_C1_API_HOST", raising=False)
    fake_c1.baton.next_poll_s = 1
    fake_c1.baton.next_heartbeat_s = 1
    world = Connector(fake_c1, lake_dir, dagbag.get_dag(DAG_ID), monkeypatch)
    world.configure(max_snapshot_age_s=FRESH_FOR_EVER)
    return world


def _error(finish) -> tuple[str, str, bool]:
    return (
        grpc.StatusCode(next(c for c in grpc.StatusCode if c.value[0] == finish.status.code)).name,
        finish.status.message,
        finish.error.non_retryable,
    )


def test_connector_hello_comes_first_and_a_hello_task_is_answered_not_finished(connector):
    task_id = connector.c1.enqueue_hello()

    dag_run = connector.run()

    assert str(dag_run.state) == "success"
    calls = [c.method for c in connector.c1.baton.calls]
    assert calls[0] == "Hello"
    hellos = connector.c1.baton.calls_to("Hello")
    assert [h.request.task_id for h in hellos] == ["", task_id]
    assert hellos[1].request.connector_metadata.display_name == "HaloITSM (halo-c1)"
    assert task_id not in connector.c1.baton.finished
    assert connector.c1.baton.violations == []


def test_connector_sync_full_uploads_the_delivered_snapshot_with_heartbeats(connector):
    task_id = connector.c1.enqueue_sync_full()

    dag_run = connector.run()

    assert str(dag_run.state) == "success"
    baton = connector.c1.baton
    uploaded = baton.uploads[task_id]
    assert uploaded == connector.c1z.read_bytes()
    assert hashlib.sha256(uploaded).hexdigest() == connector.served(dag_run)["sha256"]
    received = connector.lake.parent / "received.c1z"
    received.write_bytes(uploaded)
    with C1zReader.open(received) as reader:
        assert reader.counts()["v1_grants"] == len(curated_rows()["grants"])
    finish = connector.c1.finished(task_id)
    assert finish.WhichOneof("final_state") == "success"
    assert not finish.success.HasField("response")
    beats = baton.calls_to("Heartbeat")
    finished_at = baton.calls_to("FinishTask")[0].at
    assert len(beats) >= 2  # at the claim (trigger) and when the worker starts
    assert all(beat.at <= finished_at for beat in beats)
    assert baton.upload_attempts[task_id] == 1
    assert max(baton.upload_chunk_sizes[task_id]) <= 512 * 1024
    assert baton.violations == []


def test_connector_sync_full_honours_skip_grants(connector):
    task_id = connector.c1.enqueue_sync_full(skip_grants=True)

    connector.run()

    received = connector.lake.parent / "received.c1z"
    received.write_bytes(connector.c1.baton.uploads[task_id])
    with C1zReader.open(received) as reader:
        counts = reader.counts()
    assert counts["v1_grants"] == 0
    assert counts["v1_entitlements"] == len(curated_rows()["entitlements"])
    assert connector.c1.finished(task_id).WhichOneof("final_state") == "success"


def test_connector_sync_full_cancelled_finishes_cancelled_and_uploads_nothing(connector):
    task_id = connector.c1.enqueue_sync_full()
    connector.c1.baton.cancel_after_beats[task_id] = 2  # the worker's first beat is answered "cancelled"

    dag_run = connector.run()

    assert str(dag_run.state) == "success"
    code, message, non_retryable = _error(connector.c1.finished(task_id))
    assert (code, non_retryable) == ("CANCELLED", False)
    assert "cancelled" in message
    assert task_id not in connector.c1.baton.upload_attempts
    assert connector.c1.baton.uploads == {}


def test_connector_sync_full_retries_a_dropped_upload_stream(connector):
    task_id = connector.c1.enqueue_sync_full()
    connector.c1.baton.drop_uploads = 1

    connector.run()

    assert connector.c1.baton.upload_attempts[task_id] == 2
    assert connector.c1.baton.uploads[task_id] == connector.c1z.read_bytes()
    assert connector.c1.finished(task_id).WhichOneof("final_state") == "success"


def test_connector_unknown_task_type_is_unimplemented_and_non_retryable(connector):
    task_id = connector.c1.enqueue_unknown(117)

    connector.run()

    code, message, non_retryable = _error(connector.c1.finished(task_id))
    assert (code, non_retryable) == ("UNIMPLEMENTED", True)
    assert "action_invoke" in message


def test_connector_grant_without_provisioning_is_refused_non_retryable(connector):
    task_id = connector.c1.enqueue_grant("team:3:member", principal_id="12")

    connector.run()

    code, message, non_retryable = _error(connector.c1.finished(task_id))
    assert (code, message, non_retryable) == ("FAILED_PRECONDITION", "provisioning is not enabled", True)


def test_connector_get_task_unavailable_backs_off_and_keeps_polling(connector, caplog):
    caplog.set_level(logging.WARNING, logger="halo_c1")
    connector.c1.baton.get_task_errors = 2
    task_id = connector.c1.enqueue_unknown(117)

    dag_run = connector.run()

    assert str(dag_run.state) == "success"
    polls = [c.at for c in connector.c1.baton.calls_to("GetTask")]
    assert len(polls) == 3
    assert polls[1] - polls[0] >= 0.9  # 1² s after the first failure
    assert polls[2] - polls[1] >= 3.9  # 2² s after the second
    assert "backing off" in caplog.text
    assert task_id in connector.c1.baton.finished


def test_connector_ends_with_no_task_after_the_wait(connector):
    dag_run = connector.run(wait_seconds=2)

    assert str(dag_run.state) == "success"
    assert connector.served(dag_run) == {"outcome": "no_task"}
    assert connector.c1.baton.finished == {}
    assert len(connector.c1.baton.calls_to("GetTask")) >= 2


def test_connector_secret_and_tokens_reach_no_log_xcom_or_lake(connector, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    sync_id = connector.c1.enqueue_sync_full()
    connector.run()
    grant_id = connector.c1.enqueue_grant("team:3:member", principal_id="12")
    connector.run()
    assert sync_id in connector.c1.baton.finished and grant_id in connector.c1.baton.finished

    import os

    secrets = [
        connector.c1.credentials.client_secret,
        connector.c1.credentials.jwk_d,
        *connector.c1.tokens.tokens_issued,
    ]
    assert len(secrets) >= 3
    haystacks = {"caplog": caplog.text, "stdout/stderr": "".join(capsys.readouterr())}
    for root in (Path(os.environ["AIRFLOW_HOME"]), connector.lake):
        for path in root.rglob("*"):
            if path.is_file():
                haystacks[str(path)] = path.read_bytes().decode("latin-1")
    xcoms = [json.dumps(r.value, default=str) for r in _all_xcoms()]
    assert xcoms, "the runs pushed XComs"
    haystacks["xcom"] = "\n".join(xcoms)
    leaks = [(name, s[:12]) for name, text in haystacks.items() for s in secrets if s in text]
    assert leaks == []


def _all_xcoms() -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.dag_id == DAG_ID).all()
        session.expunge_all()
    return rows


def test_connector_dag_runs_continuously_one_at_a_time_and_serves_where_it_claims(dagbag):
    dag = dagbag.get_dag(DAG_ID)
    assert type(dag.timetable).__name__ == "ContinuousTimetable"
    assert dag.max_active_runs == 1
    assert [t.task_id for t in dag.tasks] == ["serve_next_task"]  # claim and serve in one task instance
    assert dag.params["wait_seconds"] == 600


def test_connector_dag_file_parses_without_grpc_or_the_service_package():
    from tests.dags.conftest import heavy_modules_loaded_by_parsing

    heavy = ["grpc", "halo_c1.c1", "pyarrow", "pandas", "cryptography.hazmat.primitives.asymmetric.ed25519"]
    assert heavy_modules_loaded_by_parsing("c1_connector.py", heavy) == []
