"""OpenLineage: one real run (`airflow dags test`, the simulator, a local lake) with the provider's file
transport configured emits every stage's datasets, named by their lake locations, and the edges
between the stages; a run whose quality gate fails still reports the gate's assertions.

`airflow dags test` runs in its own process: the provider reads its configuration once per process,
and every other test runs with OpenLineage off (no transport configured), as a deployment does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from halo_c1.tenancy import TenantIdentity, tenant_folder
from tests.conftest import PROJECT
from tests.integration.conftest import UNTHROTTLED, airflow_halo_connection

pytestmark = pytest.mark.dag

DAG_ID = "haloitsm_to_c1"
DEV_ID, DEV_SECRET = "halo-c1-dev", "halo-c1-dev-secret"
STAGES = ("extract", "transform", "validate", "guard", "package", "deliver")


def _run_dag(
    sim: Any, base: Path, delivered: Path, events: Path, logical_date: str
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'include'}",
        "AIRFLOW_CONN_HALOITSM_DEFAULT": airflow_halo_connection(sim, tenant="demo", **UNTHROTTLED),
        "AIRFLOW_VAR_HALO_C1_LAKE_URL": f"file://{base}",
        "AIRFLOW_VAR_HALO_C1_DELIVERY_URL": f"file://{delivered}",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "halo_c1_test",
        # docs/lineage.md's rule: no per-file datasets from Airflow's hook lineage (temporary names).
        "AIRFLOW__OPENLINEAGE__EMISSION_POLICY": json.dumps(
            [{"scope": {"dag_id": DAG_ID}, "controls": {"hook_lineage": False}}]
        ),
    }
    return subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", DAG_ID, logical_date],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _by_task(events: list[dict[str, Any]], event_type: str) -> dict[str, dict[str, Any]]:
    """The task events of one type, by task id (the job name is `<dag id>.<task id>`)."""
    found = {}
    for event in events:
        name = event.get("job", {}).get("name", "")
        if event.get("eventType") == event_type and name.startswith(f"{DAG_ID}."):
            found[name.removeprefix(f"{DAG_ID}.")] = event
    return found


def _names(datasets: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for d in datasets}


def test_one_run_emits_every_stage_dataset_and_edge(airflow_db, tmp_path):
    from dev.halo_simulator import SimulatorConfig, TenantSpec, running_simulator

    spec = TenantSpec(seed=31, agents=20, users=30, teams=4, roles=3, departments=2)
    config = SimulatorConfig(tenant=spec, client_id=DEV_ID, client_secret=DEV_SECRET)
    base, delivered, events_file = (
        tmp_path / "lake",
        tmp_path / "c1" / "sync.c1z",
        tmp_path / "ol" / "events.json",
    )
    events_file.parent.mkdir()
    with running_simulator(config) as sim:
        done = _run_dag(sim, base, delivered, events_file, "2026-11-20T08:00:00+00:00")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        lake = base / tenant_folder(TenantIdentity.from_connection(sim.base_url, "demo"))
        complete = _by_task(_events(events_file), "COMPLETE")

        assert set(STAGES) <= set(complete), sorted(complete)
        assert not complete["plan"]["inputs"] and not complete["plan"]["outputs"]  # the emission policy
        io = {t: (_names(complete[t]["inputs"]), _names(complete[t]["outputs"])) for t in STAGES}
        (snapshot,) = [p.name.removeprefix("snapshot=") for p in (lake / "c1z").iterdir()]

        manifest = json.loads((lake / "raw" / "_manifests" / f"snapshot={snapshot}.json").read_text())
        raw = {("file", str(lake / "raw" / f"entity={e}")) for e in manifest["counts"]}
        assert io["extract"] == ({(sim.base_url, "api")}, raw)
        curated = {
            ("file", str(lake / "curated" / t))
            for t in ("resource_types", "resources", "entitlements", "grants", "rejected_rows", "data_issues")
        }
        assert io["transform"][0] <= raw and io["transform"][0]  # edge extract -> transform
        assert io["transform"][1] == curated
        assert (
            io["validate"][0] <= curated and ("file", str(lake / "curated" / "grants")) in io["validate"][0]
        )
        assert io["validate"][1] == {
            ("file", str(lake / "reports" / "dq_history")),
            ("file", str(lake / "curated" / "access_changes")),
        }
        assert io["guard"] == (
            {("file", str(lake / "curated" / "resources")), ("file", str(lake / "curated" / "grants"))},
            set(),
        )
        c1z = ("file", str(lake / "c1z"))
        assert io["package"][0] <= curated and io["package"][1] == {c1z}
        assert io["deliver"] == ({c1z}, {("file", str(delivered))})  # edge package -> deliver -> target

        # Row counts, schemas and the snapshot as the version, from the files themselves.
        for dataset in complete["transform"]["outputs"]:
            table = Path(dataset["name"]).name
            rows = pq.ParquetFile(
                lake / "curated" / table / f"snapshot={snapshot}" / "part-0.parquet"
            ).metadata.num_rows
            assert dataset["outputFacets"]["outputStatistics"]["rowCount"] == rows
            assert dataset["facets"]["version"]["datasetVersion"] == snapshot
            columns = [f["name"] for f in dataset["facets"]["schema"]["fields"]]
            assert columns[:2] == ["snapshot_id", columns[1]] and "snapshot_id" in columns
        for dataset in complete["extract"]["outputs"]:
            entity = dataset["name"].rsplit("entity=", 1)[1]
            assert dataset["outputFacets"]["outputStatistics"]["rowCount"] == manifest["counts"][entity]
        assert (
            complete["deliver"]["outputs"][0]["outputFacets"]["outputStatistics"]["size"]
            == delivered.stat().st_size
        )

        # The gate's result: one assertion per expectation of each table, as dq_history has them.
        dq = pq.read_table(
            lake / "reports" / "dq_history" / f"snapshot={snapshot}" / "part-0.parquet"
        ).to_pylist()
        for dataset in complete["validate"]["inputs"]:
            table = Path(dataset["name"]).name
            assertions = dataset["inputFacets"]["dataQualityAssertions"]["assertions"]
            expected = {(r["expectation"], r["success"], r["severity"]) for r in dq if r["table"] == table}
            assert {(a["assertion"], a["success"], a["severity"]) for a in assertions} == expected
            assert expected

        # A run whose gate fails: the validate task's FAIL event still carries the failed assertion.
        sim.tenant.agents.append({"id": None, "name": "Broken agent", "email": "broken@example.com"})
        events_file.unlink()
        failed = _run_dag(sim, base, delivered, events_file, "2026-11-20T09:00:00+00:00")
        assert failed.returncode != 0
        fail = _by_task(_events(events_file), "FAIL")
        assert "validate" in fail, sorted(fail)
        assertions = [
            a
            for d in fail["validate"]["inputs"]
            for a in d.get("inputFacets", {}).get("dataQualityAssertions", {}).get("assertions", [])
        ]
        assert any(a["assertion"] == "agents.missing_id" and a["success"] is False for a in assertions), (
            assertions
        )
