"""`make run`: the whole DAG once, end to end, against the bundled HaloITSM simulator.

Starts the simulator with a seeded tenant, prepares a local Airflow home (SQLite, git-ignored
`.airflow/`), runs `airflow dags test haloitsm_to_c1`, stops the simulator and prints where the c1z,
the curated tables and the quality report are. The exit status is the run's.

The simulator always serves on 127.0.0.1:8900, so the tenant (and its lake folder) never changes from
one run to the next. When that port is taken by the bundled simulator serving the same demo tenant
(e.g. `make airflow-standalone`'s), it is reused; when something else holds it, `make run` stops with
one line saying so.

Point it at a real tenant instead with `HALO_C1_USE_SIMULATOR=0` and your own
`AIRFLOW_CONN_HALOITSM_DEFAULT` (see the README): its data goes to its own tenant folder of the lake
(which may be an `s3://…` URL, with `AIRFLOW_VAR_HALO_C1_LAKE_CONN_ID`) and, unless
`AIRFLOW_VAR_HALO_C1_DELIVERY_URL` is given, its c1z to `.lake/delivered/<tenant folder>/sync.c1z`.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Generator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from upath import UPath

from halo_c1.lake import Lake
from halo_c1.snapshots import run_record_path
from halo_c1.tenancy import TenantIdentity, resolve_folder
from scripts.airflow_settings import as_environment, load_settings

PROJECT_DIR = Path(__file__).resolve().parents[1]
DAG_ID = "haloitsm_to_c1"
SIMULATOR_PORT = 8900
DEMO_TENANT = [
    "--seed",
    "7",
    "--agents",
    "60",
    "--users",
    "500",
    "--teams",
    "8",
    "--roles",
    "6",
    "--departments",
    "4",
]


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def demo_simulator_info() -> dict[str, Any]:
    """What the bundled simulator answers on `/_sim/info` when started with `DEMO_TENANT`."""
    from dataclasses import asdict

    from dev.halo_simulator.__main__ import config_from_args, parse_args
    from dev.halo_simulator.app import SIMULATOR_NAME

    config = config_from_args(parse_args(DEMO_TENANT))
    return {
        "simulator": SIMULATOR_NAME,
        "tenant_name": config.tenant_name,
        "client_id": config.client_id,
        "spec": asdict(config.tenant),
    }


def running_demo_simulator(port: int) -> str:
    """The URL of the demo simulator already serving on `port`; `SystemExit` with one line if what
    holds the port is anything else (another program, or the simulator serving another tenant)."""
    base_url = f"http://127.0.0.1:{port}"
    try:
        info = httpx.get(f"{base_url}/_sim/info", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        info = None
    expected = demo_simulator_info()
    if info != expected:
        what = (
            "the HaloITSM simulator serving another tenant"
            if isinstance(info, dict) and info.get("simulator") == expected["simulator"]
            else "a program that is not the bundled HaloITSM simulator"
        )
        raise SystemExit(
            f"make run: port {port} is taken by {what}; stop it (make airflow-stop stops the standalone's "
            "simulator) and run again: another port would be another tenant and another lake folder"
        )
    return base_url


@contextmanager
def simulator(port: int, env: dict[str, str]) -> Generator[str, None, None]:
    """The HaloITSM simulator on `port` until the block ends: started as a child process, or the
    demo simulator already serving there (left running)."""
    if not _port_is_free(port):
        base_url = running_demo_simulator(port)
        print(f"reusing the HaloITSM simulator already serving the demo tenant at {base_url}")
        yield base_url
        return
    base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "dev.halo_simulator", "--port", str(port), *DEMO_TENANT],
        env=env,
        cwd=PROJECT_DIR,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base_url}/api/authinfo", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the HaloITSM simulator did not start on {base_url}") from None
                time.sleep(0.3)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def airflow_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(PROJECT_DIR / ".airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONPATH": f"{PROJECT_DIR}{os.pathsep}{PROJECT_DIR / 'include'}",
            "GX_ANALYTICS_ENABLED": "false",
            # `airflow standalone` starts its components as `airflow …` from PATH.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    for key, value in as_environment(load_settings()).items():
        env.setdefault(key, value)
    return env


def _airflow(env: dict[str, str], *args: str) -> int:
    return subprocess.call([str(Path(sys.executable).parent / "airflow"), *args], env=env, cwd=PROJECT_DIR)


def storage_path(url: str, conn_id: str | None = None) -> UPath:
    """A lake or delivery URL as a path: through its Airflow connection when one is named."""
    if conn_id:
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(url, conn_id=conn_id)
    return UPath(url)


def halo_connection(env: dict[str, str]) -> Any:
    """The HaloITSM connection as the DAG sees it (JSON or URI form of AIRFLOW_CONN_HALOITSM_DEFAULT)."""
    from airflow.sdk import Connection

    value = env["AIRFLOW_CONN_HALOITSM_DEFAULT"]
    if value.lstrip().startswith("{"):
        return Connection.from_json(value, conn_id="haloitsm_default")
    return Connection.from_uri(value, conn_id="haloitsm_default")


def tenant_key(env: dict[str, str]) -> str:
    """The tenant's folder name, as the DAG derives it (halo_c1.tenancy, an earlier folder included)."""
    conn = halo_connection(env)
    identity = TenantIdentity.from_connection(conn.host or "", conn.extra_dejson.get("tenant"))
    return resolve_folder(lake_base(env), identity, conn.extra_dejson.get("lake_prefix"))


def lake_base(env: dict[str, str]) -> UPath:
    return storage_path(env["AIRFLOW_VAR_HALO_C1_LAKE_URL"], env.get("AIRFLOW_VAR_HALO_C1_LAKE_CONN_ID"))


def tenant_lake(env: dict[str, str]) -> UPath:
    """This tenant's folder in the lake (a local folder or an object-store prefix)."""
    return lake_base(env) / tenant_key(env)


def print_outputs(env: dict[str, str], snapshot_id: str) -> bool:
    """Print where the run's outputs are; False if one that should exist does not."""
    lake = tenant_lake(env)
    delivered = storage_path(
        env["AIRFLOW_VAR_HALO_C1_DELIVERY_URL"], env.get("AIRFLOW_VAR_HALO_C1_DELIVERY_CONN_ID")
    )
    outputs = {
        "raw snapshot": lake / "raw" / "_manifests" / f"snapshot={snapshot_id}.json",
        "curated tables": lake / "curated",
        "quality report": lake / "reports" / f"snapshot={snapshot_id}" / "data_docs" / "index.html",
        "reports index": lake / "reports" / "index.html",
        "c1z": lake / "c1z" / f"snapshot={snapshot_id}" / "sync.c1z",
        "delivered c1z": delivered,
        "delivery manifest": lake / "deliveries" / f"snapshot={snapshot_id}.json",
    }
    print(f"\nhalo-c1 outputs of snapshot {snapshot_id}:")
    ok = True
    for label, path in outputs.items():
        exists = path.exists()
        ok &= exists
        print(f"  {label:<18} {_shown(path)}{'' if exists else '  (MISSING)'}")
    if outputs["curated tables"].exists():
        for table in sorted(p.name for p in outputs["curated tables"].iterdir()):
            curated = outputs["curated tables"] / table / f"snapshot={snapshot_id}" / "part-0.parquet"
            print(f"    {table:<16} {_shown(curated)}")
    manifest = outputs["delivery manifest"]
    if manifest.exists():
        print(f"  delivered sha256   {json.loads(manifest.read_text()).get('sha256')}")
    return ok


def _shown(path: UPath) -> str:
    """Local paths as plain paths (clickable in a terminal), object-store paths as URLs."""
    return path.path if path.protocol in ("", "file", "local") else str(path)


def delivery_environment(env: dict[str, str]) -> dict[str, str]:
    """A real tenant delivers to its own local file unless a delivery URL was given explicitly."""
    if env.get("HALO_C1_USE_SIMULATOR", "1") == "0" and "AIRFLOW_VAR_HALO_C1_DELIVERY_URL" not in os.environ:
        target = PROJECT_DIR / ".lake" / "delivered" / tenant_key(env) / "sync.c1z"
        return {**env, "AIRFLOW_VAR_HALO_C1_DELIVERY_URL": f"file://{target}"}
    return env


def tested_run_id(env: dict[str, str]) -> str | None:
    """The run id of the newest `airflow dags test` run of the DAG in the local metadata DB."""
    database = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    with contextlib.closing(sqlite3.connect(database)) as db:
        row = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? AND triggered_by = 'TEST' ORDER BY id DESC LIMIT 1",
            (DAG_ID,),
        ).fetchone()
    return row[0] if row else None


def run_snapshot(env: dict[str, str], run_id: str | None) -> str | None:
    """The snapshot the run took: its record in the tenant's lake (it names when the data was taken)."""
    if run_id is None:
        return None
    record = run_record_path(Lake(tenant_lake(env)), run_id)
    return json.loads(record.read_text())["snapshot_id"] if record.exists() else None


def main() -> int:
    env = airflow_environment()
    moment = datetime.now(UTC).replace(microsecond=0)
    if _airflow(env, "db", "migrate") != 0:
        return 1
    if env.get("HALO_C1_USE_SIMULATOR", "1") == "0":
        env = delivery_environment(env)
        print(f"HaloITSM tenant {tenant_key(env)}: lake {tenant_lake(env)}")
        status = _airflow(env, "dags", "test", DAG_ID, moment.isoformat())
    else:
        with simulator(SIMULATOR_PORT, env) as base_url:
            conn = json.loads(env["AIRFLOW_CONN_HALOITSM_DEFAULT"])
            env["AIRFLOW_CONN_HALOITSM_DEFAULT"] = json.dumps({**conn, "host": base_url})
            print(f"HaloITSM simulator serving a seeded tenant at {base_url}")
            status = _airflow(env, "dags", "test", DAG_ID, moment.isoformat())
    snapshot_id = run_snapshot(env, tested_run_id(env))
    if snapshot_id is None:
        print("\nthe run recorded no snapshot (its plan task failed; see the log above)")
        outputs_ok = False
    else:
        outputs_ok = print_outputs(env, snapshot_id)
    print(f"\nDAG run {'succeeded' if status == 0 else 'FAILED'} (exit {status})")
    return status if status != 0 else (0 if outputs_ok else 1)


if __name__ == "__main__":
    raise SystemExit(main())
