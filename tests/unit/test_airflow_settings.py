"""airflow_settings.yaml (Astro schema) → Airflow import files and AIRFLOW_CONN_*/AIRFLOW_VAR_* variables."""

import json

import pytest

from scripts.airflow_settings import PROJECT_DIR, SETTINGS_FILE, as_environment, load_settings

SETTINGS = """
airflow:
  connections:
    - conn_id: haloitsm_default
      conn_type: http
      conn_host: http://127.0.0.1:8900
      conn_login: client-id
      conn_password: pa$$word${NOT_A_VAR}
      conn_extra:
        tenant: demo
        page_size: 50
  pools:
    - pool_name: halo_api
      pool_slot: 1
      pool_description: one at a time
  variables:
    - variable_name: halo_c1_lake_url
      variable_value: file://${PROJECT_DIR}/.lake/halo_c1
"""


def test_settings_become_import_shapes_with_project_dir_expanded(tmp_path):
    path = tmp_path / "airflow_settings.yaml"
    path.write_text(SETTINGS)

    settings = load_settings(path)

    conn = settings["connections"]["haloitsm_default"]
    assert conn["host"] == "http://127.0.0.1:8900"
    assert json.loads(conn["extra"]) == {"tenant": "demo", "page_size": 50}
    assert settings["pools"] == {
        "halo_api": {"slots": 1, "description": "one at a time", "include_deferred": False}
    }
    assert settings["variables"] == {"halo_c1_lake_url": f"file://{PROJECT_DIR}/.lake/halo_c1"}


def test_passwords_are_taken_verbatim(tmp_path):
    path = tmp_path / "airflow_settings.yaml"
    path.write_text(SETTINGS)

    env = as_environment(load_settings(path))

    conn = json.loads(env["AIRFLOW_CONN_HALOITSM_DEFAULT"])
    assert conn["password"] == "pa$$word${NOT_A_VAR}"
    assert conn["extra"] == {"tenant": "demo", "page_size": 50}
    assert env["AIRFLOW_VAR_HALO_C1_LAKE_URL"].endswith("/.lake/halo_c1")


def test_a_connection_without_type_is_named(tmp_path):
    path = tmp_path / "airflow_settings.yaml"
    path.write_text("airflow:\n  connections:\n    - conn_id: broken\n      conn_host: x\n")
    with pytest.raises(ValueError, match="conn_id and conn_type"):
        load_settings(path)


def test_the_projects_own_settings_file_loads():
    settings = load_settings(SETTINGS_FILE)
    assert "haloitsm_default" in settings["connections"]
    assert "halo_api" in settings["pools"]
    assert settings["variables"]["halo_c1_lake_url"].startswith("file://")


def test_env_names_the_pool_it_cannot_export_as_a_command(capsys):
    import shlex

    from scripts.airflow_settings import main

    assert main(["env"]) == 0
    lines = capsys.readouterr().out.splitlines()
    pools = [line for line in lines if "airflow pools set" in line]
    assert len(pools) == 1 and pools[0].startswith("# ")  # commented: `eval "$(… env)"` runs nothing
    command = shlex.split(pools[0].split(": ", 1)[1])
    assert command[:5] == ["airflow", "pools", "set", "halo_api", "1"]
