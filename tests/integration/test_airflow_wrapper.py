"""`scripts/airflow` runs the README's `airflow …` commands as written, from a fresh shell and home.

A plain `airflow dags trigger haloitsm_to_c1` in a new shell opens `~/airflow` and answers "Database
migration required"; the wrapper sets the project's environment and prepares a fresh home itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess

import pytest

from tests.conftest import PROJECT

pytestmark = pytest.mark.integration


def test_a_trigger_from_a_fresh_shell_and_home_queues_the_run_with_its_conf(tmp_path):
    home = tmp_path / "home"
    shell = {  # a new terminal: no AIRFLOW_HOME, no PYTHONPATH, somewhere else than the project
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "HALO_C1_AIRFLOW_HOME": str(home),
    }
    wrapper = str(PROJECT / "scripts" / "airflow")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [wrapper, *args], env=shell, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )

    trigger = run("dags", "trigger", "haloitsm_to_c1", "-c", '{"dry_run": true}')
    assert trigger.returncode == 0, trigger.stdout + trigger.stderr
    assert "Database migration required" not in trigger.stdout + trigger.stderr
    assert (home / "airflow.db").exists()  # the project's home, not ~/airflow
    assert not (tmp_path / "airflow").exists()

    with contextlib.closing(sqlite3.connect(home / "airflow.db")) as db:
        runs = db.execute("SELECT dag_id, state, conf FROM dag_run").fetchall()
    assert [(dag, state, json.loads(conf)) for dag, state, conf in runs] == [
        ("haloitsm_to_c1", "queued", {"dry_run": True})
    ]


def test_make_airflow_runs_the_same_wrapper():
    recipe = (PROJECT / "Makefile").read_text().split("\nairflow: venv\n", 1)[1].splitlines()[0]
    assert recipe.strip() == "$(BIN)/python -m scripts.airflow_cli $(ARGS)"
