"""DAG parse time: importing dags/haloitsm_to_c1.py in a fresh interpreter, vs `import airflow.sdk` alone.

The floor is what any TaskFlow DAG file pays (importing the Airflow SDK); the difference is what the
DAG file itself costs. Also reports which heavy modules the parse pulled in (should be none).

    python bench/dag_parse.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
DAG_FILE = PROJECT / "dags" / "haloitsm_to_c1.py"
HEAVY = ["pandas", "pyarrow", "great_expectations", "httpx", "halo_c1.transform"]

FLOOR = "import time; t = time.perf_counter(); import airflow.sdk; print(time.perf_counter() - t)"
PARSE = (
    "import time, runpy, sys, json; t = time.perf_counter();"
    f"runpy.run_path({str(DAG_FILE)!r}); elapsed = time.perf_counter() - t;"
    f"print(json.dumps([elapsed, [m for m in {HEAVY!r} if m in sys.modules]]))"
)


def _run(code: str) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'include'}",
        "AIRFLOW_HOME": str(PROJECT / ".airflow_test"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    floors = [float(_run(FLOOR)) for _ in range(args.runs)]
    parses, heavy = [], set()
    for _ in range(args.runs):
        elapsed, modules = json.loads(_run(PARSE))
        parses.append(elapsed)
        heavy.update(modules)
    print(f"runs: {args.runs} (fresh interpreter each)")
    print(
        f"import airflow.sdk (floor):     median {statistics.median(floors):.3f} s, min {min(floors):.3f} s"
    )
    print(f"parse {DAG_FILE.name}: median {statistics.median(parses):.3f} s, min {min(parses):.3f} s")
    print(
        f"DAG file's own cost:           {statistics.median(parses) - statistics.median(floors):+.3f} s (median)"
    )
    print(f"heavy modules imported at parse: {sorted(heavy) or 'none'} (httpx comes with airflow.sdk itself)")


if __name__ == "__main__":
    main()
