"""Provisioning seen by the ETL DAG (`dag.test()` against the simulator): the grant is in the next
snapshot, and the run summary lists the day's provisioning actions from the audit table."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from halo_c1.lake import read_parquet
from halo_c1.provision import provision
from tests.integration.conftest import (
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    airflow_halo_connection,
    halo_settings,
)
from tests.integration.provision_helpers import TENANT, deliver_catalog, plain_agent, request, tenant_lake_of

pytestmark = pytest.mark.dag


def test_next_dag_run_holds_the_grant_and_its_summary_lists_the_action(dagbag, tmp_path, monkeypatch, caplog):
    from dev.halo_simulator import SimulatorConfig, running_simulator

    config = SimulatorConfig(tenant=TENANT, client_id=DEV_CLIENT_ID, client_secret=DEV_CLIENT_SECRET)
    with running_simulator(config) as sim:
        lake_dir = tmp_path / "lake"
        monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", airflow_halo_connection(sim))
        monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"file://{lake_dir}")
        monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", f"file://{tmp_path / 'c1' / 'sync.c1z'}")
        agent = plain_agent(sim)
        deliver_catalog(sim, tenant_lake_of(sim, lake_dir))
        outcome = provision(
            request("grant", "team", 4, agent["id"], "2xTaskFromC1"),
            halo=halo_settings(sim),
            lake=tenant_lake_of(sim, lake_dir),
        )
        assert outcome.code == "OK"

        caplog.set_level(logging.INFO, logger="halo_c1.summary")
        moment = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        dag_run = dagbag.get_dag("haloitsm_to_c1").test(logical_date=moment, run_conf={})

    assert {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}["report"] == "success"
    lake = tenant_lake_of(sim, lake_dir)
    snapshot_id = dag_run.get_task_instance("plan").xcom_pull(task_ids="plan")["snapshot_id"]
    grants = read_parquet(lake.curated_file("grants", snapshot_id)).to_pylist()
    held = {g["grant_id"]: g["is_direct"] for g in grants}
    assert held[f"team:4:member:agent:{agent['id']}"] is True
    assert "provisioning today: 1 action(s) (OK 1)" in caplog.text
    assert f"grant  team:4:member -> agent {agent['id']}: OK (+team:4) task 2xTaskFromC1" in caplog.text
