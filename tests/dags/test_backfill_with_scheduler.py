"""A real `airflow backfill create`, run by a real scheduler (`airflow standalone`), against the simulator.

The DAG runs every 6 hours here, and the lake holds raw snapshots taken at 01:10, 07:20, 12:05 and 13:30
on 2026-11-20 (and one on the next day). A backfill over 2026-11-20 makes four runs (00:00, 06:00, 12:00,
18:00): each re-derives the newest snapshot taken in its interval (01:10, 07:20, 13:30; 12:05 is older
than 13:30 in the same interval), the 18:00 run has none and is skipped with its message, nothing calls
HaloITSM and nothing is delivered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from halo_c1.halo import HaloClient, HaloSettings
from halo_c1.halo.extract import extract_snapshot
from halo_c1.lake import Lake
from halo_c1.tenancy import TenantIdentity, tenant_folder
from tests.conftest import PROJECT
from tests.integration.conftest import airflow_halo_connection
from tests.servers import airflow_serving, free_port

DAG_ID = "haloitsm_to_c1"
TAKEN = ["20261120T011000Z", "20261120T072000Z", "20261120T120500Z", "20261120T133000Z", "20261121T010000Z"]
REDERIVED = ["20261120T011000Z", "20261120T072000Z", "20261120T133000Z"]
DEV_ID, DEV_SECRET = "halo-c1-dev", "halo-c1-dev-secret"
AIRFLOW = str(Path(sys.executable).parent / "airflow")

pytestmark = pytest.mark.dag


def _airflow(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [AIRFLOW, *args], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"airflow {' '.join(args)} failed:\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture
def standalone(tmp_path, start_simulator_for_backfill) -> Iterator[tuple[dict[str, str], object, Path]]:
    """`airflow standalone` in its own home, with the DAG scheduled daily and env-var settings."""
    sim = start_simulator_for_backfill
    port, lake = free_port(), tmp_path / "lake"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__PORT": str(port),
        # The log servers' fixed defaults (8793, 8794) collide with any other Airflow on the machine.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "1",
        # Only the backfill's runs: no scheduled (live) run of the unpaused DAG may call the simulator.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'include'}",
        "PATH": f"{Path(AIRFLOW).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HALO_C1_SCHEDULE": "0 */6 * * *",
        "AIRFLOW_CONN_HALOITSM_DEFAULT": airflow_halo_connection(sim),
        "AIRFLOW_VAR_HALO_C1_LAKE_URL": f"file://{lake}",
        "AIRFLOW_VAR_HALO_C1_DELIVERY_URL": f"file://{tmp_path / 'c1' / 'sync.c1z'}",
    }
    _airflow(env, "db", "migrate")
    _airflow(env, "dags", "reserialize")
    _airflow(env, "pools", "set", "halo_api", "1", "HaloITSM requests")  # a missing pool is never scheduled
    _airflow(env, "dags", "unpause", DAG_ID)
    url = f"http://127.0.0.1:{port}"
    with airflow_serving([AIRFLOW, "standalone"], env, tmp_path / "standalone.log", url, timeout_s=180):
        yield env, sim, lake / tenant_folder(TenantIdentity.from_connection(sim.base_url, None))


@pytest.fixture
def start_simulator_for_backfill() -> Iterator[object]:
    from dev.halo_simulator import SimulatorConfig, TenantSpec, running_simulator

    spec = TenantSpec(seed=5, agents=12, users=20, teams=3, roles=2, departments=2)
    with running_simulator(SimulatorConfig(tenant=spec, client_id=DEV_ID, client_secret=DEV_SECRET)) as sim:
        yield sim


def _runs(env: dict[str, str]) -> dict[str, dict]:
    out = _airflow(env, "dags", "list-runs", DAG_ID, "-o", "json")
    listing = next((line for line in reversed(out.splitlines()) if line.startswith("[")), "[]")
    runs = json.loads(listing)
    return {run["run_id"]: run for run in runs}


def test_a_backfill_over_a_day_rederives_exactly_the_snapshots_taken_in_its_intervals(standalone):
    env, sim, lake_dir = standalone
    settings = HaloSettings(base_url=sim.base_url, client_id=DEV_ID, client_secret=DEV_SECRET)
    with HaloClient(settings) as client:
        for snapshot_id in TAKEN:
            extract_snapshot(client, Lake(str(lake_dir)), snapshot_id)
    sim.reset_counts()

    _airflow(
        env,
        "backfill",
        "create",
        "--dag-id",
        DAG_ID,
        "--from-date",
        "2026-11-20T00:00:00+00:00",
        "--to-date",
        "2026-11-20T18:00:00+00:00",
    )

    deadline = time.monotonic() + 300
    while True:
        runs = _runs(env)
        backfills = {rid: run for rid, run in runs.items() if rid.startswith("backfill__")}
        if len(backfills) == 4 and all(run["state"] in ("success", "failed") for run in backfills.values()):
            break
        assert time.monotonic() < deadline, f"backfill runs did not finish: {backfills}"
        time.sleep(3)

    assert {run["state"] for run in backfills.values()} == {"success"}, backfills
    assert sim.total_requests() == 0
    curated = sorted(
        p.parent.name.removeprefix("snapshot=") for p in (lake_dir / "curated" / "grants").glob("*/*")
    )
    assert curated == REDERIVED
    assert sorted(p.name.removeprefix("snapshot=") for p in (lake_dir / "c1z").iterdir()) == REDERIVED
    assert not (lake_dir / "deliveries").exists()
    logs = Path(env["AIRFLOW_HOME"]) / "logs" / f"dag_id={DAG_ID}"
    extract_logs = "".join(
        p.read_text() for p in logs.glob("run_id=backfill__*/task_id=extract/attempt=*.log")
    )
    assert "no archived raw snapshot taken in [2026-11-20 18:00:00, 2026-11-21 00:00:00) UTC" in extract_logs
    for snapshot_id in REDERIVED:
        assert f"raw snapshot {snapshot_id} is archived already" in extract_logs
