"""The real scheduler and UI locally: `airflow standalone` on this project, with a clean stop.

    python -m scripts.standalone start   # simulator on :8900 + airflow standalone on http://127.0.0.1:8080
    python -m scripts.standalone stop

`start` migrates `.airflow/airflow.db`, applies airflow_settings.yaml (connections, variables, pools),
starts the HaloITSM simulator (unless HALO_C1_USE_SIMULATOR=0) and `airflow standalone` with the
project's `plugins/` in the background (logs in .airflow/standalone.log), waits until the API answers
healthy and checks, logged in, that `/api/v2/plugins` lists the halo-c1 plugin (the reports under
Browse and the "halo-c1 report" tab on each run); without it the start fails and stops what it started.
`HALO_C1_AIRFLOW_HOME` puts the Airflow home elsewhere than `.airflow/`.
`stop` signals standalone's children first and the parent last: SIGTERM to the parent alone
orphans its scheduler and workers (shared/spec/airflow-gx-notes.md §3).

The UI and REST API listen on 127.0.0.1 only and always ask for a login (user `admin`, password
generated into `.airflow/simple_auth_manager_passwords.json.generated`): the lake holds every agent's
and end user's name and email, and the API can trigger runs. To listen elsewhere on purpose, set
`HALO_C1_STANDALONE_HOST` (e.g. `0.0.0.0`) and `HALO_C1_STANDALONE_PORT`; the login stays.

`.airflow/` holds that password, airflow.cfg (the JWT and Fernet secrets) and the metadata DB (the
connections), so it is owner-only like the lake: the folder 0700, the password file 0600, and Airflow
runs with umask 077, so nothing it writes there is readable by other users of the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from scripts.airflow_settings import apply, load_settings
from scripts.run_local import DEMO_TENANT, PROJECT_DIR, SIMULATOR_PORT, airflow_environment, airflow_home

PROCESSES = ("standalone", "simulator")
PLUGIN_NAME = "halo_c1_reports"  # plugins/halo_c1_plugin.py
HOST_VARIABLE, PORT_VARIABLE = "HALO_C1_STANDALONE_HOST", "HALO_C1_STANDALONE_PORT"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
PRIVATE_UMASK = 0o077


def prepare_home(home: Path) -> None:
    """Make the Airflow home owner-only (0700) and its password file 0600 before Airflow writes it.

    Airflow creates the password file with the process umask (0644 on most hosts), and an earlier
    start may have left one that way: both are made private here, before anything is written.
    """
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    passwords = home / PASSWORDS_FILE
    os.close(os.open(passwords, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(passwords, 0o600)


def launch(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start an Airflow process in its own session with umask 077 (its files are owner-only)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            env=env,
            cwd=PROJECT_DIR,
            stdout=out,
            stderr=out,
            start_new_session=True,
            umask=PRIVATE_UMASK,
        )


def listen_address(environ: dict[str, str]) -> tuple[str, int]:
    """Where the UI and API listen: 127.0.0.1:8080 unless the environment says otherwise on purpose."""
    host = environ.get(HOST_VARIABLE, "").strip() or "127.0.0.1"
    port = environ.get(PORT_VARIABLE, "").strip() or "8080"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SystemExit(f"{PORT_VARIABLE} must be a TCP port number, got {port!r}")
    return host, int(port)


def local_url(host: str, port: int) -> str:
    """The URL this machine reaches the API on (a wildcard bind is reached on loopback)."""
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{f'[{reachable}]' if ':' in reachable else reachable}:{port}"


def standalone_environment(base: dict[str, str], host: str, port: int) -> dict[str, str]:
    """`base` with the API bound to `host:port` and a login required for the UI and the REST API.

    `simple_auth_manager_all_admins` is forced off: with it on, every request (also from another
    host, also to the REST API) is an anonymous admin.
    """
    return {
        **base,
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{local_url(host, port)}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
    }


def _pid_file(home: Path, name: str) -> Path:
    return home / f"{name}.pid"


def _spawn(home: Path, name: str, command: list[str], env: dict[str, str]) -> None:
    _pid_file(home, name).write_text(str(launch(command, env, home / f"{name}.log").pid))


def plugin_problem(url: str, home: Path) -> str | None:
    """Why the halo-c1 plugin is not in the running UI (asked as admin, as a person would), or None."""
    password = json.loads((home / PASSWORDS_FILE).read_text())["admin"]
    token = httpx.post(f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=30)
    if token.status_code not in (200, 201):
        return f"the admin login was refused ({token.status_code}), so the plugins could not be listed"
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    answer = httpx.get(f"{url}/api/v2/plugins", headers=headers, timeout=30)
    if answer.status_code != 200:
        return f"/api/v2/plugins answered {answer.status_code}"
    names = [plugin.get("name") for plugin in answer.json().get("plugins", [])]
    if PLUGIN_NAME not in names:
        return f"/api/v2/plugins lists {names or 'no plugin'}, not {PLUGIN_NAME!r}"
    return None


def start() -> int:
    home = airflow_home()
    prepare_home(home)
    host, port = listen_address(dict(os.environ))
    env = standalone_environment(airflow_environment(), host, port)
    url = local_url(host, port)
    # The metadata DB holds the settings so the UI shows them; env-var copies would hide them.
    for key in [k for k in env if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))]:
        del env[key]
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run(
        [airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL, umask=PRIVATE_UMASK
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith("AIRFLOW")})
    apply(load_settings(), airflow)
    if env.get("HALO_C1_USE_SIMULATOR", "1") != "0":
        _spawn(
            home,
            "simulator",
            [sys.executable, "-m", "dev.halo_simulator", "--port", str(SIMULATOR_PORT), *DEMO_TENANT],
            env,
        )
    _spawn(home, "standalone", [airflow, "standalone"], env)
    if not _healthy(url):
        print(f"Airflow did not become healthy in 180 s; see {home / 'standalone.log'}", file=sys.stderr)
        return 1
    problem = plugin_problem(url, home)
    if problem is not None:
        print(
            f"the halo-c1 plugin is not loaded: {problem}. Airflow reads plugins from "
            f"{env['AIRFLOW__CORE__PLUGINS_FOLDER']}; see {home / 'standalone.log'}. Stopping.",
            file=sys.stderr,
        )
        stop()
        return 1
    print(f"Airflow is up: {url} (listening on {host}:{port}), with the halo-c1 plugin")
    print(f"log in as `admin` with the password in {home / PASSWORDS_FILE}")
    print(
        f"reports: {url}/plugin/halo-c1-reports (Browse → halo-c1 reports; each run has a 'halo-c1 report' tab)"
    )
    if host not in LOOPBACK_HOSTS:
        print(f"NOTE: {HOST_VARIABLE}={host}: other hosts can reach the login page")
    print(f"logs: {home / 'standalone.log'}; stop with `make airflow-stop`")
    return 0


def _healthy(url: str, wait_s: float = 180) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(2)
    return False


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop() -> int:
    home = airflow_home()
    for name in PROCESSES:
        pid_file = _pid_file(home, name)
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text())
        for child in _children(pid):
            os.kill(child, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(c) for c in _children(pid)):
            time.sleep(1)
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
        # Whatever ignored SIGTERM (LocalExecutor workers do) is in the same session: kill it.
        time.sleep(2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        pid_file.unlink()
        print(f"stopped {name} (pid {pid})")
    return 0


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else ""
    if action not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(start() if action == "start" else stop())
