"""The housekeeping DAG with `dag.test()`: retention on the tenant's folder, a dry run, bad settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from halo_c1.lake import snapshot_id_for
from halo_c1.tenancy import TENANT_RECORD, TenantIdentity, tenant_folder

DAG_ID = "halo_c1_housekeeping"
HALO_URL = "https://acme.haloitsm.com"

pytestmark = pytest.mark.dag


def _snapshot(folder: Path, snapshot_id: str) -> list[Path]:
    files = [
        folder / "raw" / "_manifests" / f"snapshot={snapshot_id}.json",
        folder / "raw" / "entity=agents" / f"snapshot={snapshot_id}" / "part-0.parquet",
        folder / "curated" / "grants" / f"snapshot={snapshot_id}" / "part-0.parquet",
        folder / "c1z" / f"snapshot={snapshot_id}" / "sync.c1z",
    ]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return files


@pytest.fixture
def tenant_lake(tmp_path, monkeypatch) -> Path:
    connection = {"conn_type": "http", "host": HALO_URL, "login": "id", "password": "secret"}
    monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", json.dumps(connection))
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"file://{tmp_path}")
    monkeypatch.delenv("AIRFLOW_VAR_HALO_C1_RETENTION", raising=False)
    return tmp_path / tenant_folder(TenantIdentity.from_connection(HALO_URL, None))


def test_housekeeping_lists_in_a_dry_run_then_deletes_old_snapshots(dagbag, tenant_lake):
    now = datetime.now(UTC)
    old = _snapshot(tenant_lake, snapshot_id_for(now - timedelta(days=120)))
    fresh = _snapshot(tenant_lake, snapshot_id_for(now - timedelta(days=1)))
    dag = dagbag.get_dag(DAG_ID)

    listed = dag.test(run_conf={"dry_run": True})

    assert str(listed.state) == "success"
    report = listed.get_task_instance("retention").xcom_pull(task_ids="retention")
    assert report["dry_run"] is True
    assert {d["zone"] for d in report["deleted"]} == {"raw", "curated"}
    assert all(path.exists() for path in old + fresh)

    applied = dag.test(run_conf={"dry_run": False})  # dag.test() keeps the last run's conf otherwise

    assert str(applied.state) == "success"
    assert not any(path.exists() for path in old)
    assert all(path.exists() for path in fresh)


def test_bad_retention_settings_fail_at_once_naming_the_key(dagbag, tenant_lake, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_RETENTION", json.dumps({"raw_day": 7}))
    old = _snapshot(tenant_lake, snapshot_id_for(datetime.now(UTC) - timedelta(days=400)))

    run = dagbag.get_dag(DAG_ID).test(run_conf={"dry_run": False})

    ti = run.get_task_instance("retention")
    assert str(ti.state) == "failed"
    assert ti.try_number == 1  # not retried: the settings do not improve by waiting
    assert all(path.exists() for path in old)


def test_an_impossible_snapshot_folder_is_skipped_and_named_in_the_result(dagbag, tenant_lake):
    old = _snapshot(tenant_lake, snapshot_id_for(datetime.now(UTC) - timedelta(days=120)))
    impossible = _snapshot(tenant_lake, "20261399T999999Z")

    run = dagbag.get_dag(DAG_ID).test(run_conf={"dry_run": False})

    assert str(run.state) == "success"
    result = run.get_task_instance("retention").xcom_pull(task_ids="retention")
    assert {(s["zone"], s["name"]) for s in result["skipped"]} == {
        ("raw", "snapshot=20261399T999999Z"),
        ("curated", "snapshot=20261399T999999Z"),
    }
    assert not any(path.exists() for path in old)  # the pass went on past it
    assert all(path.exists() for path in impossible)


def _nested_delivery(folder: Path, snapshot_id: str) -> dict[Path, bytes]:
    """What a tenant nested in `folder` delivered (as claimed before nesting was refused): its c1z,
    its delivery manifest and latest record, and its tenant record."""
    record = json.dumps({"snapshot_id": snapshot_id, "counts": {"resources": {"agent": 3}, "grants": 5}})
    files = {
        folder / TENANT_RECORD: json.dumps({"host": "globex.haloitsm.com", "tenant": None}).encode(),
        folder / "c1z" / f"snapshot={snapshot_id}" / "sync.c1z": b"globex c1z as delivered",
        folder / "deliveries" / f"snapshot={snapshot_id}.json": record.encode(),
        folder / "deliveries" / "latest.json": record.encode(),
    }
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


@pytest.mark.parametrize("zone", ["reports", "curated"])
def test_a_tenant_nested_in_another_tenants_folder_survives_both_tenants_housekeeping(
    dagbag, tenant_lake, monkeypatch, zone
):
    tenant_lake.mkdir(parents=True)
    (tenant_lake / TENANT_RECORD).write_text(json.dumps({"host": "acme.haloitsm.com", "tenant": None}))
    nested = _nested_delivery(tenant_lake / zone, snapshot_id_for(datetime.now(UTC) - timedelta(days=200)))
    dag = dagbag.get_dag(DAG_ID)

    outer = dag.test(run_conf={"dry_run": False})  # acme's retention would prune its own `zone`

    ti = outer.get_task_instance("retention")
    assert str(ti.state) == "failed"
    assert ti.try_number == 1  # a configuration problem: not retried
    assert {path: path.read_bytes() for path in nested} == nested

    globex = {"conn_type": "http", "host": "https://globex.haloitsm.com", "login": "id", "password": "secret"}
    globex["extra"] = json.dumps({"lake_prefix": f"{tenant_lake.name}/{zone}"})
    monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", json.dumps(globex))
    inner = dag.test(run_conf={"dry_run": False})

    assert str(inner.get_task_instance("retention").state) == "failed"
    assert {path: path.read_bytes() for path in nested} == nested
