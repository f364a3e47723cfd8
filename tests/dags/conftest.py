"""Airflow metadata DB and DagBag for DAG tests (the environment is set in tests/conftest.py)."""

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
