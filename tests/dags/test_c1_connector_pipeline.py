"""Service mode with the real pipeline: the ETL DAG delivering to C1 service mode, and the connector
running the pipeline itself when the last snapshot is too old (gate and guard included).

Real servers on 127.0.0.1: the HaloITSM simulator and the fake C1 (TLS gRPC + HTTPS token/REST).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from halo_c1.c1z.reader import C1zReader
from halo_c1.lake import snapshot_time
from halo_c1.tenancy import TenantIdentity, tenant_folder
from tests.fake_c1 import FakeC1
from tests.integration.conftest import UNTHROTTLED, airflow_halo_connection

T1 = datetime(2026, 11, 20, 8, tzinfo=UTC)
HALO_ID, HALO_SECRET = "halo-c1-dev", "halo-c1-dev-secret"


pytestmark = pytest.mark.dag


@dataclass
class World:
    sim: Any
    c1: FakeC1
    lake: Path
    etl: Any
    connector: Any
    monkeypatch: Any

    def configure_c1(self, **extra: Any) -> None:
        self.monkeypatch.setenv("AIRFLOW_CONN_CONDUCTORONE_DEFAULT", self.c1.connection(**extra))

    def latest(self) -> dict[str, Any]:
        return json.loads((self.lake / "deliveries" / "latest.json").read_text())

    def c1z(self, snapshot_id: str) -> Path:
        return self.lake / "c1z" / f"snapshot={snapshot_id}" / "sync.c1z"

    def serve(self, wait_seconds: int = 30) -> Any:
        return self.connector.test(run_conf={"wait_seconds": wait_seconds})


@pytest.fixture
def world(dagbag, fake_c1, tmp_path, monkeypatch) -> Iterator[World]:
    from dev.halo_simulator import SimulatorConfig, TenantSpec, running_simulator

    spec = TenantSpec(seed=11, agents=30, users=60, teams=5, roles=4, departments=3)
    with running_simulator(SimulatorConfig(tenant=spec, client_id=HALO_ID, client_secret=HALO_SECRET)) as sim:
        halo = airflow_halo_connection(sim, tenant="demo", **UNTHROTTLED)
        monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", halo)
        monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"file://{tmp_path / 'lake'}")
        monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_TARGET", "c1_service")
        monkeypatch.delenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", raising=False)
        monkeypatch.delenv("BATON_C1_API_HOST", raising=False)
        fake_c1.baton.next_poll_s = 1
        fake_c1.baton.next_heartbeat_s = 1
        lake = tmp_path / "lake" / tenant_folder(TenantIdentity.from_connection(sim.base_url, "demo"))
        world = World(
            sim, fake_c1, lake, dagbag.get_dag("haloitsm_to_c1"), dagbag.get_dag("c1_connector"), monkeypatch
        )
        world.configure_c1(app_id="app-halo", connector_id="conn-7")
        yield world


MAX_AGE_S = 5  # snapshots are named when their data is taken: "too old" means seconds here


def _snapshot(dag_run: Any) -> str:
    """The snapshot the run took (named when its data was taken), from its plan."""
    return dag_run.get_task_instance("plan").xcom_pull(task_ids="plan")["snapshot_id"]


def _older_than(snapshot_id: str, seconds: int) -> None:
    """Wait until the snapshot's data is more than `seconds` old."""
    while datetime.now(UTC) - snapshot_time(snapshot_id) <= timedelta(seconds=seconds):
        time.sleep(0.5)


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_etl_with_service_mode_records_the_snapshot_asks_c1_to_sync_and_the_connector_serves_it(world):
    dag_run = world.etl.test(logical_date=T1)

    assert str(dag_run.state) == "success", _states(dag_run)
    sid = _snapshot(dag_run)
    latest = world.latest()
    assert latest["snapshot_id"] == sid
    assert latest["target"].startswith(f"c1-service-mode://{world.c1.api_host}")
    assert world.c1.tokens.force_syncs == [{"app_id": "app-halo", "connector_id": "conn-7"}]

    world.configure_c1(max_snapshot_age_s=10**9)
    task_id = world.c1.enqueue_sync_full()
    served = world.serve()

    assert str(served.state) == "success"
    assert world.c1.baton.uploads[task_id] == world.c1z(sid).read_bytes()
    assert world.c1.finished(task_id).WhichOneof("final_state") == "success"


def test_connector_runs_the_pipeline_when_the_last_snapshot_is_too_old(world, tmp_path):
    first = world.etl.test(logical_date=T1)
    assert str(first.state) == "success"
    old = _snapshot(first)
    world.configure_c1(max_snapshot_age_s=MAX_AGE_S)
    _older_than(old, MAX_AGE_S)  # the delivered snapshot is now too old to serve
    task_id = world.c1.enqueue_sync_full()

    served = world.serve()

    assert str(served.state) == "success", _states(served)
    fresh = world.latest()["snapshot_id"]
    assert fresh > old
    uploaded = world.c1.baton.uploads[task_id]
    assert uploaded == world.c1z(fresh).read_bytes()
    received = tmp_path / "received.c1z"
    received.write_bytes(uploaded)
    with C1zReader.open(received) as reader:
        assert reader.counts()["resources_by_type"]["agent"] > 0
    assert world.c1.finished(task_id).WhichOneof("final_state") == "success"
    assert (world.lake / "reports" / f"snapshot={fresh}" / "gate_result.json").exists()
    beats = world.c1.baton.calls_to("Heartbeat")
    assert len(beats) >= 3  # claim, worker start, and at least one while the pipeline ran
    assert all(beat.at <= world.c1.baton.calls_to("FinishTask")[0].at for beat in beats)


def test_connector_gate_failure_finishes_the_task_with_an_error_naming_the_gate(world):
    assert str(world.etl.test(logical_date=T1).state) == "success"
    before = world.latest()
    world.sim.tenant.agents.append({"id": None, "name": "Broken agent", "email": "broken@example.com"})
    world.configure_c1(max_snapshot_age_s=MAX_AGE_S)
    _older_than(before["snapshot_id"], MAX_AGE_S)
    task_id = world.c1.enqueue_sync_full()

    served = world.serve()

    assert str(served.state) == "failed"  # visible in Airflow too
    finish = world.c1.finished(task_id)
    code = next(c for c in grpc.StatusCode if c.value[0] == finish.status.code).name
    assert (code, finish.error.non_retryable) == ("FAILED_PRECONDITION", True)
    assert "stage 'validate'" in finish.status.message
    assert "agents.missing_id" in finish.status.message
    assert "C1 keeps its previous data" in finish.status.message
    assert task_id not in world.c1.baton.upload_attempts
    assert world.latest() == before


def test_service_mode_secret_and_tokens_reach_no_log_xcom_or_lake_file(world, caplog, capsys):
    import logging
    import os

    caplog.set_level(logging.DEBUG)
    assert str(world.etl.test(logical_date=T1).state) == "success"  # delivery + force_sync (REST token)
    world.configure_c1(max_snapshot_age_s=MAX_AGE_S)
    _older_than(world.latest()["snapshot_id"], MAX_AGE_S)
    task_id = world.c1.enqueue_sync_full()
    assert str(world.serve().state) == "success"  # the connector's own pipeline run
    assert task_id in world.c1.baton.finished

    secrets = [world.c1.credentials.client_secret, world.c1.credentials.jwk_d, *world.c1.tokens.tokens_issued]
    assert len(world.c1.tokens.tokens_issued) >= 3  # ETL force_sync, connector trigger, connector worker
    haystacks = {"caplog": caplog.text, "output": "".join(capsys.readouterr())}
    for root in (Path(os.environ["AIRFLOW_HOME"]), world.lake):
        for path in root.rglob("*"):
            if path.is_file():
                haystacks[str(path)] = path.read_bytes().decode("latin-1")
    leaks = [(name, secret[:12]) for name, text in haystacks.items() for secret in secrets if secret in text]
    assert leaks == []
