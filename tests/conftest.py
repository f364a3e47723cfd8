"""Test-session environment: an isolated Airflow home and no analytics, set before anything imports Airflow."""

import os
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

os.environ.setdefault("AIRFLOW_HOME", str(PROJECT / ".airflow_test"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(PROJECT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
