"""Apply `airflow_settings.yaml` (the Astro CLI schema) to a plain Airflow install.

    python -m scripts.airflow_settings apply   # import connections, variables and pools into the metadata DB
    python -m scripts.airflow_settings env     # print them as AIRFLOW_CONN_*/AIRFLOW_VAR_* exports instead
                                               # (and, commented, the `airflow pools set` each pool needs)

`${PROJECT_DIR}` and other `${VAR}`s in hosts, extras and variable values are expanded from the
environment (PROJECT_DIR defaults to the project root); logins and passwords are taken verbatim.
Keys follow astro-cli's `settings/types.go`: `conn_id`, `conn_type`, `conn_host`, `conn_schema`,
`conn_login`, `conn_password`, `conn_port`, `conn_extra`; `pool_name`, `pool_slot`,
`pool_description`; `variable_name`, `variable_value`.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from string import Template
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]
SETTINGS_FILE = PROJECT_DIR / "airflow_settings.yaml"


def _expand(value: Any) -> Any:
    """`${VAR}` from the environment; an unknown `$…` is left as written (it may belong to a value)."""
    if isinstance(value, str):
        env = {"PROJECT_DIR": str(PROJECT_DIR), **os.environ}
        return Template(value).safe_substitute(env)
    if isinstance(value, dict):
        return {key: _expand(item) for key, item in value.items()}
    return value


def load_settings(path: Path = SETTINGS_FILE) -> dict[str, Any]:
    """Connections, variables and pools in the shapes `airflow ... import` reads."""
    airflow = (yaml.safe_load(path.read_text()) or {}).get("airflow") or {}
    connections = {}
    for conn in airflow.get("connections") or []:
        if not conn.get("conn_id") or not conn.get("conn_type"):
            raise ValueError(f"{path}: every connection needs conn_id and conn_type, got keys {sorted(conn)}")
        extra = _expand(conn.get("conn_extra") or {})
        connections[conn["conn_id"]] = {
            "conn_type": conn["conn_type"],
            "host": _expand(conn.get("conn_host")),
            "schema": conn.get("conn_schema"),
            "login": conn.get("conn_login"),
            "password": conn.get("conn_password"),  # verbatim: a `$` in a secret is not a variable
            "port": conn.get("conn_port"),
            "extra": json.dumps(extra) if isinstance(extra, dict) else extra,
        }
    variables = {
        v["variable_name"]: _expand(str(v["variable_value"])) for v in airflow.get("variables") or []
    }
    pools = {
        p["pool_name"]: {
            "slots": int(p["pool_slot"]),
            "description": p.get("pool_description", ""),
            "include_deferred": False,
        }
        for p in airflow.get("pools") or []
    }
    return {"connections": connections, "variables": variables, "pools": pools}


def as_environment(settings: dict[str, Any]) -> dict[str, str]:
    """The same settings as AIRFLOW_CONN_*/AIRFLOW_VAR_* variables (no metadata DB needed)."""
    env = {}
    for conn_id, conn in settings["connections"].items():
        payload = {key: value for key, value in conn.items() if value is not None}
        if "extra" in payload:
            payload["extra"] = json.loads(payload["extra"])
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(payload)
    for key, value in settings["variables"].items():
        env[f"AIRFLOW_VAR_{key.upper()}"] = value
    return env


def pool_commands(settings: dict[str, Any]) -> list[str]:
    """`airflow pools set …` for each pool: Airflow has no environment variables for pools."""
    return [
        shlex.join(["airflow", "pools", "set", name, str(pool["slots"]), pool["description"]])
        for name, pool in settings["pools"].items()
    ]


def apply(settings: dict[str, Any], airflow_bin: str = "airflow") -> None:
    """Import everything with Airflow's own CLI, overwriting what exists."""
    with tempfile.TemporaryDirectory() as tmp:
        commands = []
        for kind, extra_args in (
            ("connections", ["--overwrite"]),
            ("variables", ["-a", "overwrite"]),
            ("pools", []),
        ):
            if not settings[kind]:
                continue
            file = Path(tmp) / f"{kind}.json"
            file.write_text(json.dumps(settings[kind]))
            commands.append([airflow_bin, kind, "import", *extra_args, str(file)])
        for command in commands:
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            print(f"applied {command[1]} from {SETTINGS_FILE.name}")


def main(argv: list[str]) -> int:
    action = argv[0] if argv else "apply"
    settings = load_settings()
    if action == "env":
        for key, value in as_environment(settings).items():
            print(f"export {key}={shlex.quote(value)}")
        for line in pool_commands(settings):
            print(
                f"# not an environment variable; create it once (the scheduler never runs a task whose pool is missing): {line}"
            )
    elif action == "apply":
        apply(settings, str(Path(sys.executable).parent / "airflow"))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
