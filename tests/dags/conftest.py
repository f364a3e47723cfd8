"""Airflow metadata DB and DagBag for DAG tests (the environment is set in tests/conftest.py)."""

import copy
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT


@pytest.fixture(scope="session")
def airflow_db():
    from airflow.utils import db

    db.initdb()


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT / "dags"))


@pytest.fixture(autouse=True)
def _params_back_to_defaults(request):
    """Every param back at its default after a test that used the DagBag.

    `dag.test()` runs tasks in this process, and Airflow merges a run's conf into the DAG's own `Param`
    objects (`process_params` shares them), so one test's `{"dry_run": true}` would otherwise be the
    next test's default.
    """
    if "dagbag" not in request.fixturenames:
        yield
        return
    bag = request.getfixturevalue("dagbag")
    holders = [dag.params for dag in bag.dags.values()]
    holders += [task.params for dag in bag.dags.values() for task in dag.tasks]
    saved = [{key: copy.deepcopy(held.get_param(key).value) for key in held} for held in holders]
    yield
    for held, values in zip(holders, saved, strict=True):
        for key, value in values.items():
            held.get_param(key).value = value


def heavy_modules_loaded_by_parsing(dag_file: str, heavy: list[str]) -> list[str]:
    """Which of `heavy` a fresh interpreter has imported after parsing `dags/<dag_file>` (should be none)."""
    result = in_fresh_interpreter(
        "import runpy, sys, json;"
        f"runpy.run_path({str(PROJECT / 'dags' / dag_file)!r});"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def in_fresh_interpreter(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run `code` in a new Python with only the project on its path, this session's Airflow home and
    `env`: what a DAG processor sees when it parses a DAG file, without this process's imports."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        check=False,
        env={
            "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'include'}",
            "AIRFLOW_HOME": os.environ["AIRFLOW_HOME"],
            "PATH": "/usr/bin:/bin",
            **env,
        },
    )
