"""One lake per tenant, end to end: two simulator tenants, one lake base URL, `dag.test()` runs.

The second tenant is much smaller than the first. Compared with the first tenant's baseline, its first
run would look like a mass deletion; it must instead be a first delivery in its own folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from halo_c1.tenancy import TENANT_RECORD, TenantIdentity, tenant_folder
from tests.integration.conftest import UNTHROTTLED, airflow_halo_connection

DAG_ID = "haloitsm_to_c1"
DEV_ID, DEV_SECRET = "halo-c1-dev", "halo-c1-dev-secret"


pytestmark = pytest.mark.dag


@pytest.fixture
def two_tenants() -> Iterator[tuple[Any, Any]]:
    from dev.halo_simulator import SimulatorConfig, TenantSpec, running_simulator

    big = TenantSpec(seed=11, agents=30, users=40, teams=5, roles=4, departments=3)
    small = TenantSpec(seed=12, agents=6, users=5, teams=2, roles=2, departments=1)
    with ExitStack() as stack:
        first = stack.enter_context(
            running_simulator(
                SimulatorConfig(tenant=big, client_id=DEV_ID, client_secret=DEV_SECRET, tenant_name="demo")
            )
        )
        second = stack.enter_context(
            running_simulator(
                SimulatorConfig(tenant=small, client_id=DEV_ID, client_secret=DEV_SECRET, tenant_name="other")
            )
        )
        yield first, second


def _use(monkeypatch, sim: Any, tenant: str, base: Path, delivered: Path) -> Path:
    """Point the connection at `sim`; the lake base URL stays `base`. Returns the tenant's folder."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_HALOITSM_DEFAULT", airflow_halo_connection(sim, tenant=tenant, **UNTHROTTLED)
    )
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"file://{base}")
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", f"file://{delivered}")
    return base / tenant_folder(TenantIdentity.from_connection(sim.base_url, tenant))


def test_a_second_tenant_on_the_same_lake_never_sees_the_first_tenants_baseline(
    dagbag, tmp_path, monkeypatch, two_tenants
):
    first, second = two_tenants
    base = tmp_path / "lake"
    dag = dagbag.get_dag(DAG_ID)

    first_folder = _use(monkeypatch, first, "demo", base, tmp_path / "c1-demo" / "sync.c1z")
    assert str(dag.test(logical_date=datetime(2026, 11, 20, 8, tzinfo=UTC)).state) == "success"
    first_latest = json.loads((first_folder / "deliveries" / "latest.json").read_text())

    second_folder = _use(monkeypatch, second, "other", base, tmp_path / "c1-other" / "sync.c1z")
    run = dag.test(logical_date=datetime(2026, 11, 20, 9, tzinfo=UTC))

    assert str(run.state) == "success", {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert second_folder != first_folder
    guard = run.get_task_instance("guard").xcom_pull(task_ids="guard")
    assert guard["previous_snapshot_id"] is None  # a first delivery, not a 80 % drop against "demo"
    second_latest = json.loads((second_folder / "deliveries" / "latest.json").read_text())
    assert second_latest["counts"]["resources"]["agent"] < first_latest["counts"]["resources"]["agent"]
    # The first tenant's record is untouched, and each folder names its own tenant.
    assert json.loads((first_folder / "deliveries" / "latest.json").read_text()) == first_latest
    assert json.loads((first_folder / TENANT_RECORD).read_text())["tenant"] == "demo"
    assert json.loads((second_folder / TENANT_RECORD).read_text())["tenant"] == "other"
    assert sorted(p.name for p in base.iterdir()) == sorted([first_folder.name, second_folder.name])
