"""Airflow metadata DB and DagBag for DAG tests (the environment is set in tests/conftest.py)."""

import copy

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
