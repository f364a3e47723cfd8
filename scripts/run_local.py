"""`make run`: the whole DAG once, end to end, against the bundled HaloITSM simulator.

Starts the simulator with a seeded tenant, prepares a local Airflow home (SQLite, git-ignored
`.airflow/`), runs `airflow dags test haloitsm_to_c1`, stops the simulator and prints where the
snapshot report, the Data Docs, the c1z and the curated tables are. The exit status is the run's; a
failed run ends with its one-line reason.

Each `make run` serves the demo tenant one step further (`.airflow/demo_tenant.json` counts the runs:
people join, leave, change teams and roles), so the second run has a change log to show.
`make run ARGS=--mass-deletion` removes half the agents for that run (the deletion guard blocks it),
and `make run CONF='{"allow_mass_deletion": true}'` passes run params, as a triggered run takes them.

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

import argparse
import contextlib
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Generator, Mapping
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
def simulator(port: int, env: dict[str, str], demo: list[str] | None = None) -> Generator[str, None, None]:
    """The HaloITSM simulator on `port` until the block ends: started as a child process (`demo`: its
    --evolve/--drop-agents), or the demo simulator already serving there, left running as it is."""
    if not _port_is_free(port):
        base_url = running_demo_simulator(port)
        if "--drop-agents" in (demo or []):
            raise SystemExit(
                f"make run: --mass-deletion needs make run's own simulator, but the demo simulator at {base_url} "
                "is already running (make airflow-stop stops the standalone's)"
            )
        print(f"reusing the HaloITSM simulator already serving the demo tenant at {base_url} (as it is now)")
        yield base_url
        return
    base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "dev.halo_simulator", "--port", str(port), *DEMO_TENANT, *(demo or [])],
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


HOME_VARIABLE = "HALO_C1_AIRFLOW_HOME"


def airflow_home(environ: Mapping[str, str] = os.environ) -> Path:
    """The local Airflow home: `.airflow/` of the project unless `HALO_C1_AIRFLOW_HOME` names another."""
    return Path(environ.get(HOME_VARIABLE, "").strip() or PROJECT_DIR / ".airflow")


def airflow_environment() -> dict[str, str]:
    """This project's Airflow: its home, DAGs, plugins (the halo-c1 UI view), import path and settings."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home(env)),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
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


def print_outputs(
    env: dict[str, str], snapshot_id: str, *, succeeded: bool = True, delivers: bool = True
) -> bool:
    """Print where the run's outputs are, the snapshot report first; False if one a successful run
    must have written is missing. A failed run lists only what it wrote (the report says why it
    stopped); a run that does not deliver (dry run, re-derive) is not asked for a delivery."""
    lake = tenant_lake(env)
    report_dir = lake / "reports" / f"snapshot={snapshot_id}"
    delivered = storage_path(
        env["AIRFLOW_VAR_HALO_C1_DELIVERY_URL"], env.get("AIRFLOW_VAR_HALO_C1_DELIVERY_CONN_ID")
    )
    outputs = {
        "snapshot report": report_dir / "report.html",
        "details: GX Data Docs": report_dir / "data_docs" / "index.html",
        "reports index": lake / "reports" / "index.html",
        "raw snapshot": lake / "raw" / "_manifests" / f"snapshot={snapshot_id}.json",
        "curated tables": lake / "curated",
        "c1z": lake / "c1z" / f"snapshot={snapshot_id}" / "sync.c1z",
    }
    manifest = lake / "deliveries" / f"snapshot={snapshot_id}.json"
    if delivers and (succeeded or manifest.exists()):  # else the delivered file is an older snapshot's
        outputs["delivered c1z"] = delivered
        outputs["delivery manifest"] = manifest
    print(f"\nhalo-c1 outputs of snapshot {snapshot_id} (open the snapshot report first):")
    ok = True
    for label, path in outputs.items():
        exists = path.exists()
        if not exists and not succeeded:
            continue
        ok &= exists
        print(f"  {label:<22} {_shown(path)}{'' if exists else '  (MISSING)'}")
    curated = outputs["curated tables"]
    if curated.exists():
        for table in sorted(p.name for p in curated.iterdir()):
            part = curated / table / f"snapshot={snapshot_id}" / "part-0.parquet"
            if part.exists() or succeeded:
                print(f"    {table:<20} {_shown(part)}")
    if "delivery manifest" in outputs and manifest.exists():
        print(f"  delivered sha256       {json.loads(manifest.read_text()).get('sha256')}")
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


def run_conf(text: str) -> dict[str, Any]:
    """`--conf`: the run's params as a JSON object, each one the DAG knows (checked before any work)."""
    from halo_c1_airflow.params import etl_params

    try:
        conf = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error.msg}): {text!r}") from None
    if not isinstance(conf, dict):
        raise argparse.ArgumentTypeError(f'expected a JSON object like {{"dry_run": true}}, got {text!r}')
    known = etl_params()
    unknown = sorted(set(conf) - set(known))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown param(s) {unknown}; the DAG takes {sorted(known)}")
    return conf


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make run",
        description="Run the DAG once, end to end (against the bundled simulator unless HALO_C1_USE_SIMULATOR=0).",
        epilog="""Examples: make run CONF='{"allow_mass_deletion": true}'   make run ARGS=--mass-deletion""",
    )
    parser.add_argument(
        "--conf",
        type=run_conf,
        default={},
        help="the run's params as JSON, e.g. '{\"dry_run\": true}' (make run CONF='…')",
    )
    parser.add_argument(
        "--mass-deletion",
        action="store_true",
        help="the simulated tenant loses half its agents this run (the deletion guard should block it)",
    )
    return parser.parse_args(argv)


DEMO_STATE = "demo_tenant.json"


def demo_step(home: Path) -> int:
    """How many `make run`s this Airflow home has seen: the simulated tenant moves on one step each."""
    state = home / DEMO_STATE
    return int(json.loads(state.read_text()).get("runs", 0)) if state.exists() else 0


def record_demo_run(home: Path, step: int) -> None:
    (home / DEMO_STATE).write_text(json.dumps({"runs": step + 1}))


FAILURE_LINE = re.compile(
    r"(halo-c1 stage '\w+' failed for snapshot \S+: .*?)(?:\s+\[[\w.]+\]\s+loc=\S+)?\s*$"
)


def run_and_watch(command: list[str], env: dict[str, str]) -> tuple[int, str | None]:
    """Run `command`, echoing its output, and return its exit status and the last one-line failure
    reason the DAG's failure callback logged (`halo_c1.summary.failure_line`), if any."""
    reason = None
    process = subprocess.Popen(
        command, env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        found = FAILURE_LINE.search(line)
        if found:
            reason = found.group(1)
    return process.wait(), reason


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = airflow_environment()
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    moment = datetime.now(UTC).replace(microsecond=0)
    if _airflow(env, "db", "migrate") != 0:
        return 1
    test = [str(Path(sys.executable).parent / "airflow"), "dags", "test", DAG_ID, moment.isoformat()]
    if args.conf:
        test += ["--conf", json.dumps(args.conf)]
        print(f"run params: {json.dumps(args.conf)}")
    if env.get("HALO_C1_USE_SIMULATOR", "1") == "0":
        if args.mass_deletion:
            raise SystemExit("--mass-deletion changes the simulated tenant; a real tenant is not touched")
        env = delivery_environment(env)
        print(f"HaloITSM tenant {tenant_key(env)}: lake {tenant_lake(env)}")
        status, reason = run_and_watch(test, env)
    else:
        step = demo_step(home)
        demo = ["--evolve", str(step)] + (["--drop-agents", "0.5"] if args.mass_deletion else [])
        with simulator(SIMULATOR_PORT, env, demo) as base_url:
            conn = json.loads(env["AIRFLOW_CONN_HALOITSM_DEFAULT"])
            env["AIRFLOW_CONN_HALOITSM_DEFAULT"] = json.dumps({**conn, "host": base_url})
            print(
                f"HaloITSM simulator at {base_url}: the demo tenant, step {step} "
                "(each `make run` moves it on: people join, leave, change teams and roles)"
                + ("; half its agents removed (--mass-deletion)" if args.mass_deletion else "")
            )
            status, reason = run_and_watch(test, env)
        record_demo_run(home, step)
    snapshot_id = run_snapshot(env, tested_run_id(env))
    delivers = not any(args.conf.get(key) for key in ("dry_run", "rederive_only", "snapshot_id"))
    if snapshot_id is None:
        print("\nthe run recorded no snapshot (its plan task failed; see the log above)")
        outputs_ok = False
    else:
        outputs_ok = print_outputs(env, snapshot_id, succeeded=status == 0, delivers=delivers)
    if status == 0:
        print(f"\nDAG run succeeded (exit {status})")
    else:
        print(f"\nDAG run FAILED (exit {status}): {reason or 'a task failed; see its log above'}")
        if reason and "Deletion guard blocked delivery" in reason:
            again = "ARGS=--mass-deletion " if args.mass_deletion else ""
            print(
                f"""if these deletions are intended: make run {again}CONF='{{"allow_mass_deletion": true}}'"""
            )
    return status if status != 0 else (0 if outputs_ok else 1)


if __name__ == "__main__":
    raise SystemExit(main())
