"""Test-session environment: an isolated Airflow home and no analytics, set before anything imports Airflow."""

import os
import tempfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]

# A fresh Airflow home (SQLite metadata DB) per test session: no run of an earlier session leaks in.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="halo-c1-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(PROJECT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
pytest_plugins = ["tests.fake_c1.fixtures"]


@pytest.fixture(autouse=True)
def _own_request_budget(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own shared-budget folder (`halo_c1.halo.budget`): no test waits for slots
    another test (or another session on the machine) used against the same fake tenant URL."""
    monkeypatch.setenv("HALO_C1_RATE_LIMIT_DIR", str(tmp_path_factory.mktemp("rate-limits")))
