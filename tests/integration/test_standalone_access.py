"""`make airflow-standalone` stays local: the API server with the standalone's settings, for real.

The real `airflow api-server` runs with `scripts.standalone.standalone_environment` in its own Airflow
home on a free port, prepared and launched as `start` does (`prepare_home`, `launch`): it must answer
on 127.0.0.1 only, refuse anonymous REST calls, accept the generated admin login, and leave that
password owner-only.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.run_local import airflow_environment
from scripts.standalone import (
    PASSWORDS_FILE,
    listen_address,
    local_url,
    plugin_problem,
    prepare_home,
    standalone_environment,
)
from tests.conftest import PROJECT
from tests.servers import airflow_serving, free_port

AIRFLOW = str(Path(sys.executable).parent / "airflow")

pytestmark = pytest.mark.integration


def test_listens_on_loopback_unless_asked_otherwise():
    assert listen_address({}) == ("127.0.0.1", 8080)
    assert listen_address({"HALO_C1_STANDALONE_HOST": "0.0.0.0", "HALO_C1_STANDALONE_PORT": "9090"}) == (
        "0.0.0.0",
        9090,
    )
    with pytest.raises(SystemExit, match="HALO_C1_STANDALONE_PORT must be a TCP port"):
        listen_address({"HALO_C1_STANDALONE_PORT": "http"})
    assert local_url("0.0.0.0", 9090) == "http://127.0.0.1:9090"


def test_a_login_is_required_even_if_the_environment_turns_it_off():
    env = standalone_environment({"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}, "0.0.0.0", 8081)

    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    assert env["AIRFLOW__API__HOST"] == "0.0.0.0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8081/execution/"


@pytest.fixture
def api_server(tmp_path) -> Iterator[tuple[str, int, Path]]:
    """`airflow api-server` with the standalone's environment in a fresh home; (url, port, home)."""
    port, home = free_port(), tmp_path / "home"
    base = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "no-dags"),
        "AIRFLOW__API__WORKERS": "1",
    }
    env = standalone_environment(base, "127.0.0.1", port)
    prepare_home(home)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, cwd=PROJECT, check=True, capture_output=True)
    url = local_url("127.0.0.1", port)
    with airflow_serving([AIRFLOW, "api-server"], env, tmp_path / "api.log", url):
        yield url, port, home


def test_api_answers_on_loopback_only_and_never_anonymously(api_server):
    url, port, home = api_server

    # Bound to 127.0.0.1 itself, not to every address: another address of this host is refused
    # (127.0.0.2 is this host too; a 0.0.0.0 bind would answer there).
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.2:{port}/api/v2/monitor/health", timeout=2)

    assert httpx.get(f"{url}/api/v2/dags", timeout=10).status_code == 401
    trigger = httpx.post(f"{url}/api/v2/dags/haloitsm_to_c1/dagRuns", json={"logical_date": None}, timeout=10)
    assert trigger.status_code == 401

    password = json.loads((home / PASSWORDS_FILE).read_text())["admin"]
    wrong = httpx.post(f"{url}/auth/token", json={"username": "admin", "password": "admin"}, timeout=10)
    assert wrong.status_code in (401, 403)
    token = httpx.post(f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=10)
    assert token.status_code in (200, 201), token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert httpx.get(f"{url}/api/v2/dags", headers=headers, timeout=10).status_code == 200


def test_the_generated_password_and_the_airflow_home_are_owner_only(api_server):
    _url, _port, home = api_server
    passwords = home / PASSWORDS_FILE

    assert json.loads(passwords.read_text())["admin"]  # the api-server generated the login into it
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "airflow.cfg").stat().st_mode) & 0o077 == 0  # JWT and Fernet secrets


def test_a_password_file_left_world_readable_by_an_earlier_start_is_made_private(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    (home / PASSWORDS_FILE).write_text('{"admin": "secret"}\n')
    os.chmod(home / PASSWORDS_FILE, 0o644)

    prepare_home(home)

    assert stat.S_IMODE((home / PASSWORDS_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert (home / PASSWORDS_FILE).read_text() == '{"admin": "secret"}\n'  # kept, not truncated


def test_the_standalone_loads_the_projects_plugins_and_names_a_missing_plugin(api_server):
    assert airflow_environment()["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(PROJECT / "plugins")
    url, _port, home = api_server  # started without the project's plugins folder
    problem = plugin_problem(url, home)
    assert problem is not None and "not 'halo_c1_reports'" in problem
