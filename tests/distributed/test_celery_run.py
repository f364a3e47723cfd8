"""The ETL DAG on the CeleryExecutor: two workers, Redis broker, PostgreSQL metadata DB, S3 lake.

Proves that the tasks share no local state: every stage reads the previous one's output from the
lake, so a run whose tasks hop between two workers (each with its own working directory, temporary
directory and Airflow home) succeeds and delivers exactly the c1z a single-machine
`airflow dags test` run writes for the same tenant and snapshot. All servers are real and started
here on 127.0.0.1: PostgreSQL and Redis (Debian packages), moto's S3 server, the HaloITSM simulator,
and Airflow's own api-server, scheduler, dag-processor and two `airflow celery worker`s.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from cryptography.fernet import Fernet

from halo_c1.c1z.format import DATA_TABLES
from halo_c1.c1z.reader import C1zReader
from halo_c1.lake import snapshot_time
from tests.conftest import PROJECT
from tests.distributed.servers import free_port, running_postgres, running_redis

if TYPE_CHECKING:
    from tests.integration.s3_server import S3Server

pytest_plugins = ["tests.integration.s3_server"]
pytestmark = [pytest.mark.distributed, pytest.mark.timeout(1200)]

DAG_ID = "haloitsm_to_c1"
LOGICAL_DATE = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
RUN_ID = "distributed_celery"
DEV_ID, DEV_SECRET = "halo-c1-dev", "halo-c1-dev-secret"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
WORKERS = ("worker-a", "worker-b")


@pytest.fixture(scope="module")
def simulator() -> Iterator[Any]:
    from dev.halo_simulator import SimulatorConfig, TenantSpec, running_simulator

    spec = TenantSpec(seed=11, agents=40, users=60, teams=5, roles=4, departments=3)
    with running_simulator(SimulatorConfig(tenant=spec, client_id=DEV_ID, client_secret=DEV_SECRET)) as sim:
        yield sim


def _common_env(sim: Any) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'include'}",
        "PATH": f"{Path(AIRFLOW).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GX_ANALYTICS_ENABLED": "false",
        "AIRFLOW_CONN_HALOITSM_DEFAULT": json.dumps(
            {"conn_type": "http", "host": sim.base_url, "login": DEV_ID, "password": DEV_SECRET}
        ),
    }


def _airflow(env: dict[str, str], *args: str, cwd: Path = PROJECT) -> str:
    result = subprocess.run([AIRFLOW, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"airflow {' '.join(args)} failed:\n{result.stderr[-4000:]}"
    return result.stdout


def _single_machine_run(tmp_path: Path, sim: Any) -> tuple[bytes, dict[str, float]]:
    """`airflow dags test` (what `make run` does): SQLite, one process, a local lake and delivery."""
    home, lake, delivered = (
        tmp_path / "single" / "home",
        tmp_path / "single" / "lake",
        tmp_path / "single" / "c1",
    )
    env = {
        **_common_env(sim),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW_VAR_HALO_C1_LAKE_URL": f"file://{lake}",
        "AIRFLOW_VAR_HALO_C1_DELIVERY_URL": f"file://{delivered}/sync.c1z",
    }
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    _airflow(env, "db", "migrate")
    started = time.monotonic()
    _airflow(env, "dags", "test", DAG_ID, LOGICAL_DATE.isoformat())
    process_seconds = time.monotonic() - started
    with sqlite3.connect(home / "airflow.db") as db:
        (state,) = db.execute("SELECT state FROM dag_run").fetchone()
        # From the first task's start to the last task's end: the same measure as the Celery run's.
        (seconds,) = db.execute(
            "SELECT (julianday(max(end_date)) - julianday(min(start_date))) * 86400 FROM task_instance"
        ).fetchone()
    assert state == "success"
    return (delivered / "sync.c1z").read_bytes(), {
        "single_machine_run_s": round(float(seconds), 1),
        "single_machine_dags_test_process_s": round(process_seconds, 1),
    }


def _c1z_rows(content: bytes, path: Path) -> dict[str, list[tuple[str, bytes]]]:
    """Every data row of a c1z as (external id, protobuf data), per table: what C1 imports."""
    path.write_bytes(content)
    with C1zReader.open(path) as reader:
        return {table: [(r["external_id"], r["data"]) for r in reader.rows(table)] for table in DATA_TABLES}


class Cluster:
    """Airflow's components as child processes, each in its own session so it is stopped whole."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, env: dict[str, str], cwd: Path, *args: str) -> None:
        cwd.mkdir(parents=True, exist_ok=True)
        log = (self.root / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [AIRFLOW, *args], env=env, cwd=cwd, stdout=log, stderr=log, start_new_session=True
        )

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def tails(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.log(name)[-2500:]}" for name in self.processes)

    def assert_alive(self) -> None:
        dead = [name for name, process in self.processes.items() if process.poll() is not None]
        assert not dead, f"{dead} exited early:\n{self.tails()}"

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait(predicate: Any, timeout_s: float, what: str, cluster: Cluster) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        cluster.assert_alive()
        if result := predicate():
            return result
        assert time.monotonic() < deadline, f"{what} within {timeout_s:.0f} s:\n{cluster.tails()}"
        time.sleep(2)


def _api_healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_dag_runs_on_two_celery_workers_and_delivers_the_single_machine_c1z(
    tmp_path: Path, simulator: Any, s3_bucket: S3Server, record_property: Any
) -> None:
    expected, single_figures = _single_machine_run(tmp_path, simulator)

    with ExitStack() as stack:
        pg = stack.enter_context(running_postgres())
        broker = stack.enter_context(running_redis())
        api_port = free_port()
        env = {
            **_common_env(simulator),
            "AIRFLOW_HOME": str(tmp_path / "control" / "home"),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.sqlalchemy_url,
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{pg.user}@127.0.0.1:{pg.port}/{pg.database}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__API_AUTH__JWT_SECRET": Fernet.generate_key().decode(),
            "AIRFLOW__API__SECRET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.distributed.worker_identity.hostname",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "1",
            # Only the triggered run: the unpaused DAG's hourly schedule must not start another.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW_CONN_HALO_C1_LAKE": json.dumps(
                {
                    "conn_type": "aws",
                    "login": s3_bucket.key,
                    "password": s3_bucket.secret,
                    "extra": {"endpoint_url": s3_bucket.endpoint_url, "region_name": "us-east-1"},
                }
            ),
            "AIRFLOW_VAR_HALO_C1_LAKE_URL": f"s3://{s3_bucket.bucket}/lake",
            "AIRFLOW_VAR_HALO_C1_LAKE_CONN_ID": "halo_c1_lake",
            "AIRFLOW_VAR_HALO_C1_DELIVERY_URL": f"s3://{s3_bucket.bucket}/c1/sync.c1z",
            "AIRFLOW_VAR_HALO_C1_DELIVERY_CONN_ID": "halo_c1_lake",
        }
        _airflow(env, "db", "migrate")
        _airflow(env, "pools", "set", "halo_api", "1", "HaloITSM requests")
        _airflow(env, "dags", "reserialize")
        _airflow(env, "dags", "unpause", DAG_ID)

        cluster = Cluster(tmp_path)
        stack.callback(cluster.stop)
        control = tmp_path / "control"
        cluster.start("api-server", env, control, "api-server")
        cluster.start("scheduler", env, control, "scheduler")
        cluster.start("dag-processor", env, control, "dag-processor")
        for worker in WORKERS:
            workdir = tmp_path / worker
            (workdir / "tmp").mkdir(parents=True)
            worker_env = {
                **env,
                "AIRFLOW_HOME": str(workdir / "home"),
                "TMPDIR": str(workdir / "tmp"),
                "HALO_C1_TEST_WORKER": worker,
            }
            cluster.start(
                worker,
                worker_env,
                workdir,
                "celery",
                "worker",
                "--celery-hostname",
                f"{worker}@%h",
                "--concurrency",
                "1",
                "--skip-serve-logs",
            )
        _wait(lambda: _api_healthy(api_port), 240, "the api-server did not become healthy", cluster)
        for worker in WORKERS:
            _wait(
                lambda w=worker: f"{w}@" in cluster.log(w) and "ready" in cluster.log(w),
                240,
                f"celery worker {worker} was not ready",
                cluster,
            )

        started = time.monotonic()
        _airflow(
            env, "dags", "trigger", DAG_ID, "--run-id", RUN_ID, "--logical-date", LOGICAL_DATE.isoformat()
        )
        db = pg.connect()
        stack.callback(db.close)

        def finished() -> tuple[str, float] | None:
            with db.cursor() as cursor:
                cursor.execute("SELECT state FROM dag_run WHERE run_id = %s", (RUN_ID,))
                row = cursor.fetchone()
            return row[0] if row and row[0] in ("success", "failed") else None

        state = _wait(finished, 600, "the run did not finish", cluster)
        trigger_to_done = time.monotonic() - started
        with db.cursor() as cursor:
            cursor.execute(
                "SELECT task_id, state, hostname FROM task_instance WHERE run_id = %s ORDER BY start_date",
                (RUN_ID,),
            )
            tasks = cursor.fetchall()
            cursor.execute(
                "SELECT EXTRACT(EPOCH FROM max(end_date) - min(start_date)) FROM task_instance"
                " WHERE run_id = %s",
                (RUN_ID,),
            )
            (run_seconds,) = cursor.fetchone()

        assert state == "success", f"{tasks}\n{cluster.tails()}"
        assert {task_id for task_id, _, _ in tasks} == {
            "plan",
            "extract",
            "transform",
            "validate",
            "guard",
            "package",
            "deliver",
            "report",
        }
        assert {task_state for _, task_state, _ in tasks} == {"success"}, tasks
        per_worker = Counter(hostname.split(".", 1)[0] for _, _, hostname in tasks)
        assert set(per_worker) == set(WORKERS), f"tasks did not run on both workers: {tasks}"

        delivered = s3_bucket.client().get_object(Bucket=s3_bucket.bucket, Key="c1/sync.c1z")["Body"].read()
        # The two runs took their data at different times, so their snapshot ids (and with them the
        # c1z's sync id and timestamps) differ; every row C1 would import must be the same.
        assert _c1z_rows(delivered, tmp_path / "distributed.c1z") == _c1z_rows(
            expected, tmp_path / "single.c1z"
        )
        (latest,) = [key for key in s3_bucket.object_keys() if key.endswith("/deliveries/latest.json")]
        manifest = json.loads(
            s3_bucket.client().get_object(Bucket=s3_bucket.bucket, Key=latest)["Body"].read()
        )
        # Named after when the run took its data, not after its logical date.
        assert snapshot_time(manifest["snapshot_id"]) > LOGICAL_DATE

    figures = {
        "tasks_per_worker": dict(sorted(per_worker.items())),
        "task_hosts": [(task_id, hostname.split(".", 1)[0]) for task_id, _, hostname in tasks],
        "distributed_run_s": round(float(run_seconds), 1),
        "distributed_trigger_to_success_s": round(trigger_to_done, 1),
        **single_figures,
        "c1z_bytes": len(delivered),
    }
    for key, value in figures.items():
        record_property(key, value)
    print(f"\ndistributed run figures: {json.dumps(figures)}")
