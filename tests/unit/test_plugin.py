"""The halo-c1 Airflow plugin without a server: cheap to load, refuses users who may not read the DAG,
never serves outside the lake's reports, and a broken view answers 503 instead of breaking the UI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from halo_c1.lake import Lake
from tests.conftest import PROJECT
from tests.unit.test_report import lake as report_lake  # ruff: ignore[unused-import]

PLUGINS = PROJECT / "plugins"
HEAVY = ("halo_c1_view", "halo_c1", "fastapi", "pyarrow", "pandas", "great_expectations")


def test_loading_the_plugin_imports_nothing_heavy():
    script = textwrap.dedent(
        f"""
        import importlib.util, sys
        import airflow.plugins_manager
        before = set(sys.modules)
        spec = importlib.util.spec_from_file_location("halo_c1_plugin", {str(PLUGINS / "halo_c1_plugin.py")!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        added = set(sys.modules) - before
        print(sorted(m for m in added if m.split(".")[0] in {HEAVY!r}))
        print(module.HaloC1ReportsPlugin.external_views[1]["destination"])
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "dag_run"]


@pytest.fixture
def plugin_module(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    import halo_c1_plugin

    return halo_c1_plugin


def test_a_view_that_cannot_start_answers_503_with_the_reason(plugin_module, monkeypatch):
    monkeypatch.setitem(sys.modules, "halo_c1_view.app", None)  # the import fails
    client = TestClient(plugin_module.LazyApp())
    response = client.get("/")
    assert response.status_code == 503
    assert "halo-c1 view unavailable" in response.text and "ModuleNotFoundError" in response.text


class _AuthManager:
    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed
        self.asked: list[str] = []

    def is_authorized_dag(self, *, method, access_entity=None, details=None, user=None) -> bool:
        self.asked.append(f"{method} {details.id} {access_entity}")
        return self.allowed


@pytest.fixture
def view(plugin_module, monkeypatch, report_lake: Lake):  # ruff: ignore[redefined-while-unused]
    import airflow.api_fastapi.app as api_app
    from airflow.api_fastapi.core_api.security import get_user
    from halo_c1_view.app import create_app

    folder = Path(report_lake.base.path)
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"file://{folder.parent}")
    connection = {
        "conn_type": "http",
        "host": "https://acme.haloitsm.com",
        "login": "id",
        "password": "secret",
        "extra": {"tenant": "acme", "lake_prefix": folder.name},
    }
    monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", json.dumps(connection))
    manager = _AuthManager(allowed=True)
    monkeypatch.setattr(api_app, "get_auth_manager", lambda: manager)
    app = create_app()
    app.dependency_overrides[get_user] = lambda: object()
    return TestClient(app), manager


def test_a_user_who_may_not_read_the_dag_is_refused_everywhere(view):
    client, manager = view
    manager.allowed = False
    for path in (
        "/",
        "/lake/reports/index.html",
        "/lake/reports/snapshot=x/report.html",
        "/runs/haloitsm_to_c1/r",
    ):
        assert client.get(path, follow_redirects=False).status_code == 403, path
    assert "GET haloitsm_to_c1 None" in manager.asked
    assert "GET haloitsm_to_c1 DagAccessEntity.RUN" in manager.asked


def test_a_reader_gets_the_live_snapshot_list_and_report_files_only(view):
    client, _ = view
    assert client.get("/", follow_redirects=False).headers["location"] == "lake/reports/index.html"
    index = client.get("/lake/reports/index.html")
    assert index.status_code == 200 and "default-src 'none'" in index.headers["content-security-policy"]
    assert 'href="snapshot=' in index.text
    gate = client.get("/lake/reports/snapshot=20261127T050000Z/gate_result.json")
    assert gate.status_code == 200 and gate.headers["content-type"].startswith("application/json")
    for bad in (
        "/lake/reports/../curated/x",
        "/lake/reports/%2e%2e/deliveries/latest.json",
        "/lake/reports/.x",
    ):
        assert client.get(bad).status_code == 404, bad
    other = client.get("/runs/another_dag/some_run")
    assert other.status_code == 404 and "Not a halo-c1 run" in other.text


def _reports(lake: Lake) -> Path:
    return Path(lake.base.path) / "reports"


def test_symlinks_under_reports_never_serve_a_file_outside_the_reports_folder(view, report_lake, tmp_path):  # ruff: ignore[redefined-while-unused]
    client, _ = view
    reports = _reports(report_lake)
    secret = tmp_path / "airflow.cfg"
    secret.write_text("[api_auth]\njwt_secret = do-not-serve-me\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "report.html").write_text("<h1>jwt_secret = do-not-serve-me</h1>")
    snapshot = next(reports.glob("snapshot=*"))
    (snapshot / "cfg.html").symlink_to(secret)
    (reports / "linked").symlink_to(outside, target_is_directory=True)
    (snapshot / "inside.json").symlink_to(snapshot / "gate_result.json")
    os.mkfifo(snapshot / "pipe.json")

    for path in (f"{snapshot.name}/cfg.html", "linked/report.html", f"{snapshot.name}/pipe.json"):
        response = client.get(f"/lake/reports/{path}")
        assert response.status_code == 404, path
        assert "do-not-serve-me" not in response.text
    inside = client.get(f"/lake/reports/{snapshot.name}/inside.json")  # a link that stays inside is fine
    assert inside.status_code == 200 and inside.content == (snapshot / "gate_result.json").read_bytes()


def test_a_symlinked_reports_folder_is_not_followed_out_of_the_tenant_folder(view, report_lake, tmp_path):  # ruff: ignore[redefined-while-unused]
    client, _ = view
    reports = _reports(report_lake)
    moved = tmp_path / "moved-reports"
    reports.rename(moved)
    reports.symlink_to(moved, target_is_directory=True)
    snapshot = next(moved.glob("snapshot=*"))

    assert client.get(f"/lake/reports/{snapshot.name}/gate_result.json").status_code == 404


def test_pages_run_no_script_and_data_docs_with_scripts_run_sandboxed(view, report_lake):  # ruff: ignore[redefined-while-unused]
    client, _ = view
    reports = _reports(report_lake)
    snapshot = next(reports.glob("snapshot=*"))
    docs = snapshot / "data_docs"
    docs.mkdir(exist_ok=True)
    (docs / "index.html").write_text("<table><tr><td>drawn by the gate</td></tr></table>")
    (docs / "old.html").write_text("<SCRIPT>document.title = 'tables'</SCRIPT>")  # built before

    for path in ("index.html", f"{snapshot.name}/report.html", f"{snapshot.name}/data_docs/index.html"):
        csp = client.get(f"/lake/reports/{path}").headers["content-security-policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp, path  # no script at all
        assert "sandbox" not in csp, path  # links and images keep the viewer's login
    old = client.get(f"/lake/reports/{snapshot.name}/data_docs/old.html").headers["content-security-policy"]
    assert old.startswith("sandbox allow-scripts;") and "allow-same-origin" not in old
