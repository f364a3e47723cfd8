"""The `haloitsm_end_users` DAG with `dag.test()` beside the ETL DAG, against the simulator.

With `end_user_refresh_hours` set, the refresh DAG reads end users into the lake and the ETL run
reuses them (no end-user request), delivering every end user; with the default 0 it skips.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from halo_c1.tenancy import TenantIdentity, tenant_folder
from tests.dags.conftest import heavy_modules_loaded_by_parsing

DAG_ID = "haloitsm_end_users"
T1 = datetime(2026, 11, 20, 8, tzinfo=UTC)
DEV_ID, DEV_SECRET = "halo-c1-dev", "halo-c1-dev-secret"

pytestmark = pytest.mark.dag


@pytest.fixture
def world(dagbag, tmp_path, monkeypatch) -> Iterator[Callable[..., tuple[Any, Path]]]:
    """`world(**extra)`: a simulator and a lake, the connection with `extra`; yields (sim, lake folder)."""
    from dev.halo_simulator import SimulatorConfig, TenantSpec, running_simulator

    config = SimulatorConfig(
        tenant=TenantSpec(seed=4, agents=12, users=40), client_id=DEV_ID, client_secret=DEV_SECRET
    )
    with running_simulator(config) as sim:
        base = tmp_path / "lake"
        monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"file://{base}")
        monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", f"file://{tmp_path / 'c1' / 'sync.c1z'}")

        def configure(**extra: Any) -> tuple[Any, Path]:
            connection = {
                "conn_type": "http",
                "host": sim.base_url,
                "login": DEV_ID,
                "password": DEV_SECRET,
                "extra": {"tenant": "demo", "rate_limit_requests": 1000, "rate_limit_period_s": 1, **extra},
            }
            monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", json.dumps(connection))
            return sim, base / tenant_folder(TenantIdentity.from_connection(sim.base_url, "demo"))

        yield configure


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_the_refresh_dag_parses_without_heavy_imports() -> None:
    heavy = ["pandas", "pyarrow", "great_expectations", "halo_c1.transform", "halo_c1.halo"]
    assert heavy_modules_loaded_by_parsing(DAG_ID + ".py", heavy) == []


def test_the_refresh_dag_follows_the_projects_policies(dagbag) -> None:
    dag = dagbag.get_dag(DAG_ID)
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.get_task("refresh").pool != "halo_api"  # hours long: the ETL's extract must not wait


def test_with_the_default_the_refresh_skips_and_every_etl_run_reads_end_users(dagbag, world) -> None:
    world()
    dag_run = dagbag.get_dag(DAG_ID).test(logical_date=T1, run_conf={})
    assert states(dag_run) == {"refresh": "skipped"}


def test_the_refresh_feeds_the_hourly_run_which_reads_no_end_user(dagbag, world, caplog) -> None:
    caplog.set_level(logging.INFO, logger="halo_c1.summary")
    sim, lake = world(end_user_refresh_hours=24)

    refresh = dagbag.get_dag(DAG_ID).test(logical_date=T1, run_conf={})
    assert states(refresh) == {"refresh": "success"}
    (manifest,) = (lake / "raw" / "_end_users").glob("snapshot=*.json")
    refreshed = json.loads(manifest.read_text())
    assert refreshed["counts"]["users"] == len(sim.tenant.users)

    sim.reset_counts()
    etl = dagbag.get_dag("haloitsm_to_c1").test(logical_date=T1, run_conf={})
    assert str(etl.state) == "success", states(etl)
    assert "GET /api/Users" not in sim.request_counts()
    assert f"(reused from {refreshed['snapshot_id']})" in caplog.text
    again = dagbag.get_dag(DAG_ID).test(logical_date=T1.replace(hour=9), run_conf={})
    assert states(again) == {"refresh": "skipped"}  # not due for another ~23 hours
