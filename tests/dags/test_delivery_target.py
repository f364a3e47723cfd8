"""The delivery target's own record protects C1's file, whichever lake folder is configured now.

`dag.test()` runs against the HaloITSM simulator (two servers on two ports serving one live tenant: the
HaloITSM URL changes, the data does not). After a good delivery, a run with 40 % fewer agents under a
changed HaloITSM URL (another tenant folder) or a new lake URL (another lake) must fail naming the
target and leave the delivered c1z byte-identical; the run param `takeover_delivery_target` lets a
deliberate takeover through. File, S3 (moto server) and C1 service mode (fake C1) targets.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from halo_c1.tenancy import TenantIdentity, tenant_folder
from tests.integration.conftest import UNTHROTTLED, airflow_halo_connection

if TYPE_CHECKING:
    from tests.integration.s3_server import S3Server

pytest_plugins = ["tests.integration.s3_server"]
pytestmark = pytest.mark.dag

DAG_ID = "haloitsm_to_c1"
T1, T2, T3 = (datetime(2026, 11, 20, hour, tzinfo=UTC) for hour in (8, 9, 10))
DEV_ID, DEV_SECRET = "halo-c1-dev", "halo-c1-dev-secret"
SERVICE_WRITER_VARIABLE = "halo_c1_c1_service_writer"


@dataclass
class World:
    """One live tenant served on two URLs, a lake base per lake URL, and the DAG."""

    first: Any  # the simulator on its first URL
    second: Any  # the same tenant on another port
    tmp: Path
    dag: Any
    monkeypatch: Any

    def use(self, sim: Any, lake: str) -> Path:
        """Point the connection at `sim` and the lake URL at `<tmp>/<lake>`; the tenant's folder."""
        connection = airflow_halo_connection(sim, tenant="demo", **UNTHROTTLED)
        self.monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", connection)
        self.monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"file://{self.tmp / lake}")
        return self.tmp / lake / tenant_folder(TenantIdentity.from_connection(sim.base_url, "demo"))

    def run(self, moment: datetime, **conf: Any) -> Any:
        return self.dag.test(logical_date=moment, run_conf=conf)


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def _snapshot(dag_run: Any) -> str:
    return dag_run.get_task_instance("plan").xcom_pull(task_ids="plan")["snapshot_id"]


@pytest.fixture
def world(dagbag, tmp_path, monkeypatch) -> Iterator[World]:
    from dev.halo_simulator import SimulatorConfig, TenantSpec, running_simulator
    from dev.halo_simulator.tenant import build_tenant

    tenant = build_tenant(TenantSpec(seed=11, agents=30, users=40, teams=5, roles=4, departments=3))
    config = SimulatorConfig(tenant=tenant, client_id=DEV_ID, client_secret=DEV_SECRET)
    with ExitStack() as stack:
        first = stack.enter_context(running_simulator(config))
        second = stack.enter_context(running_simulator(config))
        yield World(first, second, tmp_path, dagbag.get_dag(DAG_ID), monkeypatch)


@pytest.fixture
def file_target(world) -> Path:
    delivered = world.tmp / "c1" / "sync.c1z"
    world.monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", f"file://{delivered}")
    return delivered


def _refused(caplog: Any, target: str) -> str:
    """The failure line naming the target (logged by the DAG's failure callback)."""
    lines = [
        r.getMessage()
        for r in caplog.records
        if f"not replacing the delivery target {target}" in r.getMessage()
    ]
    assert lines, f"no failure names the target {target}"
    return lines[-1]


def test_a_changed_halo_url_cannot_replace_c1s_file_until_a_takeover_is_confirmed(world, file_target, caplog):
    caplog.set_level(logging.INFO)
    first_folder = world.use(world.first, "lake")
    assert str(world.run(T1).state) == "success"
    delivered = file_target.read_bytes()
    writer_path = file_target.parent / "sync.c1z.writer.json"
    writer = json.loads(writer_path.read_text())
    assert writer["lake"] == f"file://{first_folder}"
    assert writer["tenant"]["host"] == world.first.base_url.removeprefix("http://")
    assert writer["sha256"] == hashlib.sha256(delivered).hexdigest()
    assert writer["counts"]["resources"]["agent"] > 0

    world.first.tenant.drop_agents(0.4)
    second_folder = world.use(world.second, "lake")  # only the port differs: another tenant folder
    assert second_folder != first_folder

    refused = world.run(T2)

    assert str(refused.state) == "failed"
    assert _states(refused)["guard"] == "failed"
    assert _states(refused)["deliver"] == "upstream_failed"
    assert file_target.read_bytes() == delivered
    assert json.loads(writer_path.read_text()) == writer
    message = _refused(caplog, f"file://{file_target}")
    assert f"written by lake folder file://{first_folder}" in message
    assert "takeover_delivery_target=true" in message

    taken = world.run(T3, takeover_delivery_target=True)

    assert str(taken.state) == "success", _states(taken)
    sid = _snapshot(taken)
    assert file_target.read_bytes() == (second_folder / "c1z" / f"snapshot={sid}" / "sync.c1z").read_bytes()
    assert json.loads(writer_path.read_text())["lake"] == f"file://{second_folder}"
    guard = json.loads((second_folder / "reports" / f"snapshot={sid}" / "guard.json").read_text())
    assert guard["target"]["verdict"] == "taken over"


def test_a_new_lake_url_is_compared_with_c1s_file_itself(world, file_target, caplog):
    caplog.set_level(logging.INFO)
    world.use(world.first, "lake")
    assert str(world.run(T1).state) == "success"

    # The same tenant in a new lake: its first run is compared with the delivered c1z, and passes.
    moved = world.use(world.first, "new-lake")
    moved_run = world.run(T2)
    assert str(moved_run.state) == "success", _states(moved_run)
    guard = json.loads((moved / "reports" / f"snapshot={_snapshot(moved_run)}" / "guard.json").read_text())
    assert guard["target"]["verdict"] == "compare"
    assert guard["compared_with"].startswith(f"the c1z at file://{file_target} (written by lake folder")
    assert guard["drops"] == []
    assert guard["resources"]["agent"]["removed"] == 0
    delivered = file_target.read_bytes()

    world.first.tenant.drop_agents(0.4)
    third = world.use(world.first, "third-lake")
    blocked = world.run(T3)

    assert _states(blocked)["guard"] == "failed"
    assert file_target.read_bytes() == delivered
    blocked_line = next(r.getMessage() for r in caplog.records if "Deletion guard blocked" in r.getMessage())
    assert f"against the c1z at file://{file_target} (written by lake folder file://{moved}" in blocked_line
    report = json.loads((third / "reports" / f"snapshot={_snapshot(blocked)}" / "guard.json").read_text())
    assert "resource type 'agent'" in [drop["item"] for drop in report["drops"]]
    assert report["resources"]["agent"]["before"] == guard["resources"]["agent"]["after"]  # the target's c1z


def test_an_s3_target_keeps_its_writer_record_and_refuses_another_tenant_folder(
    world, s3_bucket: S3Server, caplog
):
    caplog.set_level(logging.INFO)
    connection = {"conn_type": "aws", "login": s3_bucket.key, "password": s3_bucket.secret}
    connection["extra"] = {"endpoint_url": s3_bucket.endpoint_url, "region_name": "us-east-1"}
    world.monkeypatch.setenv("AIRFLOW_CONN_DELIVERY_S3", json.dumps(connection))
    world.monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", f"s3://{s3_bucket.bucket}/c1/sync.c1z")
    world.monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_CONN_ID", "delivery_s3")
    client = s3_bucket.client()

    def stored(key: str) -> bytes:
        return client.get_object(Bucket=s3_bucket.bucket, Key=key)["Body"].read()

    first_folder = world.use(world.first, "lake")
    assert str(world.run(T1).state) == "success"
    assert s3_bucket.object_keys() == ["c1/sync.c1z", "c1/sync.c1z.writer.json"]
    delivered, writer = stored("c1/sync.c1z"), json.loads(stored("c1/sync.c1z.writer.json"))
    assert writer["lake"] == f"file://{first_folder}"
    assert s3_bucket.secret not in json.dumps(writer)

    world.first.tenant.drop_agents(0.4)
    world.use(world.second, "new-lake")  # a changed HaloITSM URL and a new lake URL at once
    refused = world.run(T2)

    assert _states(refused)["guard"] == "failed"
    assert stored("c1/sync.c1z") == delivered
    assert json.loads(stored("c1/sync.c1z.writer.json")) == writer
    message = _refused(caplog, f"s3://delivery_s3@{s3_bucket.bucket}/c1/sync.c1z")
    assert f"written by lake folder file://{first_folder}" in message

    taken = world.run(T3, takeover_delivery_target=True)

    assert str(taken.state) == "success", _states(taken)
    assert stored("c1/sync.c1z") != delivered
    assert json.loads(stored("c1/sync.c1z.writer.json"))["snapshot_id"] == _snapshot(taken)


@pytest.fixture
def service_mode(world, fake_c1, monkeypatch) -> Iterator[Any]:
    """C1 service mode as the delivery target; its writer record (an Airflow variable) is removed after."""
    from airflow.models.variable import Variable  # the metadata DB, read outside any task

    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_TARGET", "c1_service")
    monkeypatch.delenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", raising=False)
    monkeypatch.delenv("BATON_C1_API_HOST", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_CONDUCTORONE_DEFAULT", fake_c1.connection())
    yield fake_c1
    Variable.delete(SERVICE_WRITER_VARIABLE)


def test_service_mode_keeps_its_writer_record_outside_the_lake_folder(world, service_mode, caplog):
    from airflow.models.variable import Variable  # the metadata DB, read outside any task

    caplog.set_level(logging.INFO)
    first_folder = world.use(world.first, "lake")
    assert str(world.run(T1).state) == "success"
    record = json.loads(Variable.get(SERVICE_WRITER_VARIABLE))
    sid = json.loads((first_folder / "deliveries" / "latest.json").read_text())["snapshot_id"]
    assert record["lake"] == f"file://{first_folder}"
    assert record["snapshot_id"] == sid
    assert record["source"] == f"file://{first_folder}/c1z/snapshot={sid}/sync.c1z"
    assert record["target"].startswith(f"c1-service-mode://{service_mode.api_host}")

    world.first.tenant.drop_agents(0.4)
    second_folder = world.use(world.second, "lake")
    refused = world.run(T2)

    assert _states(refused)["guard"] == "failed"
    assert json.loads(Variable.get(SERVICE_WRITER_VARIABLE)) == record
    assert not (second_folder / "deliveries" / "latest.json").exists()  # the connector serves nothing new
    _refused(caplog, record["target"])

    taken = world.run(T3, takeover_delivery_target=True)

    assert str(taken.state) == "success", _states(taken)
    assert json.loads(Variable.get(SERVICE_WRITER_VARIABLE))["lake"] == f"file://{second_folder}"
