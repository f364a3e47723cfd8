"""`scripts/airflow …` / `make airflow ARGS="…"`: the Airflow CLI with this project's environment.

A plain `airflow` in a fresh shell knows nothing of the project: it opens `~/airflow`, cannot import
`halo_c1`, and answers "Database migration required". This runs the same `airflow` with what
`make run` and `make airflow-standalone` use (`run_local.airflow_environment`: AIRFLOW_HOME=.airflow
or `HALO_C1_AIRFLOW_HOME`, PYTHONPATH, the DAGs and plugins folders, airflow_settings.yaml as
AIRFLOW_CONN_*/AIRFLOW_VAR_* defaults). A home without a metadata DB is migrated and its DAGs
serialized first, so `scripts/airflow dags trigger haloitsm_to_c1` works on a fresh clone; the run
it queues is executed by the scheduler of `make airflow-standalone`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scripts.run_local import PROJECT_DIR, airflow_environment

AIRFLOW = str(Path(sys.executable).parent / "airflow")


def prepare(env: dict[str, str]) -> None:
    """Migrate a home that has no metadata DB yet and serialize the project's DAGs into it."""
    if (Path(env["AIRFLOW_HOME"]) / "airflow.db").exists():
        return
    print(f"preparing the Airflow home {env['AIRFLOW_HOME']} (db migrate, dags reserialize)", file=sys.stderr)
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        subprocess.run([AIRFLOW, *command], env=env, cwd=PROJECT_DIR, check=True, capture_output=True)


def main(argv: list[str]) -> int:
    env = airflow_environment()
    prepare(env)
    status = subprocess.call([AIRFLOW, *argv], env=env)
    if status == 0 and argv[:2] == ["dags", "trigger"]:
        print(
            "queued; `make airflow-standalone` runs it (its scheduler), see http://127.0.0.1:8080",
            file=sys.stderr,
        )
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
