"""`python -m dev.halo_simulator`: prints where and how to connect, serves, logs counts on SIGTERM."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]


def test_cli_serves_until_sigterm_and_logs_counts_per_endpoint():
    command = [
        sys.executable,
        "-m",
        "dev.halo_simulator",
        "--port",
        "0",
        "--seed",
        "1",
        "--agents",
        "6",
        "--users",
        "12",
        "--teams",
        "3",
        "--roles",
        "2",
        "--departments",
        "2",
        "--page-cap",
        "5",
        "--agent-envelope",
        "results",
        "--rate-limit",
        "50/60",
        "--retry-after",
    ]
    env = {**os.environ, "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'include'}"}
    proc = subprocess.Popen(
        command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert info["client_id"] == "halo-c1-dev"
        assert (info["agents"], info["users"], info["teams"], info["roles"]) == (7, 12, 3, 2)
        form = {
            "grant_type": "client_credentials",
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
        }
        token = httpx.post(info["token_url"], data=form, trust_env=False).json()["access_token"]
        body = httpx.get(
            f"{info['base_url']}/api/Users",
            params={"pageinate": "true", "page_size": 50},
            headers={"Authorization": f"Bearer {token}"},
            trust_env=False,
        ).json()
        assert body["page_size"] == 5
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    assert "     1  GET /api/Users" in stderr
    assert "     1  POST /auth/token" in stderr
    assert "2  total, 0 rate-limited" in stderr


def test_cli_rejects_a_bad_rate_limit():
    result = subprocess.run(
        [sys.executable, "-m", "dev.halo_simulator", "--rate-limit", "lots"],
        cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'include'}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "expected REQUESTS/SECONDS" in result.stderr


def test_cli_serves_an_evolved_tenant_and_a_mass_deletion_on_request():
    from dev.halo_simulator import TenantSpec, build_tenant
    from dev.halo_simulator.__main__ import config_from_args, parse_args

    base = ["--seed", "7", "--agents", "40", "--users", "30"]
    evolved = config_from_args(parse_args([*base, "--evolve", "2"])).tenant
    expected = build_tenant(TenantSpec(seed=7, agents=40, users=30))
    expected.evolve(2)
    assert evolved.agents == expected.agents and evolved.users == expected.users
    dropped = config_from_args(parse_args([*base, "--evolve", "2", "--drop-agents", "0.5"])).tenant
    assert len(dropped.agents) < len(evolved.agents) * 0.6
    assert isinstance(config_from_args(parse_args(base)).tenant, TenantSpec)  # no step: built by the server


@pytest.mark.parametrize(
    ("option", "value"), [("--drop-agents", "2"), ("--drop-agents", "half"), ("--evolve", "-1")]
)
def test_cli_refuses_a_bad_step_or_share_with_a_usage_error(option, value, capsys):
    from dev.halo_simulator.__main__ import parse_args

    with pytest.raises(SystemExit) as exit_:
        parse_args([option, value])
    assert exit_.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err
