"""`make run` as a demo that teaches, for real: the simulator's tenant moves on between runs, a mass
deletion on request is blocked by the guard and let through with the run param the guard names.

Runs `make run`'s own command (`python -m scripts.run_local`) four times in a fresh Airflow home and
lake: real simulator, real `airflow dags test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT

pytestmark = [pytest.mark.dag, pytest.mark.integration]


def _make_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.run_local", *args],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _outputs(stdout: str) -> list[str]:
    """The labels of the final output listing, in order."""
    block = stdout[stdout.rindex("halo-c1 outputs of snapshot") :].split("\n\n")[0].splitlines()[1:]
    return [
        line.strip().split("  ")[0] for line in block if line.startswith("  ") and not line.startswith("    ")
    ]


def _snapshot(stdout: str) -> str:
    return stdout[stdout.rindex("halo-c1 outputs of snapshot") :].split()[4]


def test_make_run_recipe_passes_conf_and_args():
    recipe = (PROJECT / "Makefile").read_text().split("\nrun: venv\n", 1)[1].splitlines()[0].strip()
    assert recipe == '$(BIN)/python -m scripts.run_local $(if $(CONF),--conf "$$CONF") $(ARGS)'


def test_an_unknown_run_param_is_refused_before_any_work(tmp_path):
    env = {**os.environ, "HALO_C1_AIRFLOW_HOME": str(tmp_path / "home")}
    result = _make_run(env, "--conf", '{"allow_mass_deletions": true}')
    assert result.returncode == 2
    assert (
        "unknown param(s) ['allow_mass_deletions']" in result.stderr
        and "allow_mass_deletion" in result.stderr
    )
    assert not (tmp_path / "home" / "airflow.db").exists()


def test_runs_show_changes_then_a_blocked_mass_deletion_then_its_override(tmp_path):
    lake = tmp_path / "lake"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_VAR_", "AIRFLOW_CONN_"))},
        "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'include'}",
        "HALO_C1_AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW_VAR_HALO_C1_LAKE_URL": f"file://{lake}",
        "AIRFLOW_VAR_HALO_C1_DELIVERY_URL": f"file://{tmp_path / 'c1' / 'sync.c1z'}",
    }

    first = _make_run(env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "the demo tenant, step 0" in first.stdout
    assert _outputs(first.stdout)[:3] == ["snapshot report", "details: GX Data Docs", "reports index"]

    second = _make_run(env)
    assert second.returncode == 0, second.stdout[-3000:]
    assert "the demo tenant, step 1" in second.stdout
    tenant = next(lake.iterdir())
    changes = json.loads(
        (tenant / "reports" / f"snapshot={_snapshot(second.stdout)}" / "access_changes.json").read_text()
    )["counts"]
    for kind in ("grant_added", "grant_removed", "resource_added", "resource_removed", "resource_disabled"):
        assert changes[kind] > 0, changes

    blocked = _make_run(env, "--mass-deletion")
    assert blocked.returncode == 1
    tail = blocked.stdout.rstrip().splitlines()[-2:]
    sid = _snapshot(blocked.stdout)
    assert tail[0].startswith(
        f"DAG run FAILED (exit 1): halo-c1 stage 'guard' failed for snapshot {sid}: MassDeletionError: "
        "Deletion guard blocked delivery"
    ), tail
    assert "resource type 'agent'" in tail[0]
    assert (
        tail[1]
        == """if these deletions are intended: make run ARGS=--mass-deletion CONF='{"allow_mass_deletion": true}'"""
    )
    listed = _outputs(blocked.stdout)
    assert listed[0] == "snapshot report"
    assert not {"c1z", "delivered c1z", "delivery manifest"} & set(listed)  # never written by this run
    assert "MISSING" not in blocked.stdout

    allowed = _make_run(env, "--mass-deletion", "--conf", '{"allow_mass_deletion": true}')
    assert allowed.returncode == 0, allowed.stdout[-3000:]
    assert 'run params: {"allow_mass_deletion": true}' in allowed.stdout
    sid = _snapshot(allowed.stdout)
    assert json.loads((tenant / "deliveries" / "latest.json").read_text())["snapshot_id"] == sid
    assert "Deletion guard overridden" in (tenant / "reports" / f"snapshot={sid}" / "report.html").read_text()
    assert json.loads((Path(env["HALO_C1_AIRFLOW_HOME"]) / "demo_tenant.json").read_text()) == {"runs": 4}
