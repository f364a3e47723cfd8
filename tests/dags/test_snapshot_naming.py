"""Snapshot ids name when the data was taken, with `dag.test()` against the HaloITSM simulator.

The scenario of issue 8: a manual run, then the scheduled run of an earlier hour (what "unpause on
trigger" starts) both deliver, in the order their data was taken. A cleared run reuses its snapshot
without a HaloITSM request, and backfill runs re-derive the snapshot taken in their interval.

`dag.test()` always creates manual runs; `run_as` re-types the run it creates (scheduled or backfill)
the way the scheduler would have created it, so the DAG sees the run type it decides on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from halo_c1.lake import Lake, snapshot_time
from halo_c1.tenancy import TenantIdentity, tenant_folder
from tests.integration.conftest import UNTHROTTLED, airflow_halo_connection

DAG_ID = "haloitsm_to_c1"
DEV_ID, DEV_SECRET = "halo-c1-dev", "halo-c1-dev-secret"


pytestmark = pytest.mark.dag


@pytest.fixture
def world(dagbag, tmp_path, monkeypatch) -> Iterator[tuple[Any, Any, Path]]:
    """(dag, simulator, the tenant's lake folder), with a fresh lake and delivery file."""
    from dev.halo_simulator import SimulatorConfig, TenantSpec, running_simulator

    spec = TenantSpec(seed=21, agents=20, users=20, teams=4, roles=3, departments=2)
    with running_simulator(SimulatorConfig(tenant=spec, client_id=DEV_ID, client_secret=DEV_SECRET)) as sim:
        monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", airflow_halo_connection(sim, **UNTHROTTLED))
        monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"file://{tmp_path / 'lake'}")
        monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", f"file://{tmp_path / 'c1' / 'sync.c1z'}")
        folder = tmp_path / "lake" / tenant_folder(TenantIdentity.from_connection(sim.base_url, None))
        yield dagbag.get_dag(DAG_ID), sim, folder


@contextmanager
def run_as(monkeypatch: Any, run_type: str) -> Generator[None, None, None]:
    """Inside the block, `dag.test()` creates its run with `run_type` (and the scheduler's zero-length
    interval at the logical date) instead of a manual one."""
    import airflow.models.dagrun as dagrun_module
    from airflow.utils.types import DagRunType

    real = dagrun_module.get_or_create_dagrun

    def create(**kwargs: Any) -> Any:
        logical_date = kwargs["logical_date"]
        kwargs["data_interval"] = (logical_date, logical_date)
        dag_run = real(**kwargs)
        dag_run.run_type = DagRunType(run_type)
        kwargs["session"].merge(dag_run)
        kwargs["session"].commit()
        return dag_run

    with monkeypatch.context() as patch:
        patch.setattr(dagrun_module, "get_or_create_dagrun", create)
        yield


def _snapshot(dag_run: Any) -> str:
    return dag_run.get_task_instance("plan").xcom_pull(task_ids="plan")["snapshot_id"]


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_a_manual_run_then_an_earlier_scheduled_run_both_deliver_in_the_order_taken(world, monkeypatch):
    dag, _sim, lake = world
    start = datetime.now(UTC)
    manual = dag.test(run_conf={})
    assert str(manual.state) == "success", _states(manual)
    earlier_hour = start.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)

    with run_as(monkeypatch, "scheduled"):
        scheduled = dag.test(logical_date=earlier_hour, run_conf={})

    assert str(scheduled.run_type) in ("scheduled", "DagRunType.SCHEDULED")
    assert str(scheduled.state) == "success", _states(scheduled)
    first, second = _snapshot(manual), _snapshot(scheduled)
    # Named after the time the data was taken, not after the logical date (12:00 would be "older").
    assert snapshot_time(first) >= start.replace(microsecond=0)
    assert first < second
    assert snapshot_time(second) > earlier_hour + timedelta(hours=1)
    deliveries = lake / "deliveries"
    assert (deliveries / f"snapshot={first}.json").exists()
    assert json.loads((deliveries / "latest.json").read_text())["snapshot_id"] == second
    guard = json.loads((lake / "reports" / f"snapshot={second}" / "guard.json").read_text())
    assert guard["previous_snapshot_id"] == first


def test_a_cleared_run_reuses_its_snapshot_and_asks_halo_nothing(world):
    dag, sim, lake = world
    hour, run_after = datetime(2026, 11, 20, 8, tzinfo=UTC), datetime.now(UTC)
    first = dag.test(logical_date=hour, run_after=run_after, run_conf={})
    assert str(first.state) == "success", _states(first)
    sim.reset_counts()

    cleared = dag.test(logical_date=hour, run_after=run_after, run_conf={})  # the same run, run again

    assert cleared.run_id == first.run_id
    assert str(cleared.state) == "success", _states(cleared)
    assert _snapshot(cleared) == _snapshot(first)
    assert sim.total_requests() == 0
    record = next((lake / "runs").iterdir())
    assert json.loads(record.read_text())["snapshot_id"] == _snapshot(first)
    assert cleared.get_task_instance("extract").xcom_pull(task_ids="extract")["reused"] is True


def test_a_backfill_run_rederives_the_newest_snapshot_taken_in_its_hour_or_skips(world, monkeypatch, caplog):
    dag, sim, lake = world
    taken = dag.test(run_conf={"dry_run": True})  # archive one raw snapshot, taken now
    snapshot_id = _snapshot(taken)
    hour = snapshot_time(snapshot_id).replace(minute=0, second=0)
    sim.reset_counts()
    caplog.set_level(logging.INFO)

    with run_as(monkeypatch, "backfill"):
        rederived = dag.test(logical_date=hour, run_conf={})
        empty = dag.test(logical_date=hour - timedelta(hours=5), run_conf={})

    assert _snapshot(rederived) == snapshot_id
    assert _states(rederived)["deliver"] == "skipped"
    assert _states(rederived)["package"] == "success"
    assert _states(empty)["extract"] == "skipped"
    window = (
        f"[{hour - timedelta(hours=5):%Y-%m-%d %H:%M:%S}, {hour - timedelta(hours=4):%Y-%m-%d %H:%M:%S}) UTC"
    )
    assert f"no archived raw snapshot taken in {window}" in caplog.text
    assert sim.total_requests() == 0
    assert not Lake(str(lake)).latest_delivery().exists()
