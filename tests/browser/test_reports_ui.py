"""The halo-c1 view in the real Airflow UI, driven by real headless Debian chromium.

Three real DAG runs (`dag.test()` against the HaloITSM simulator; between the first two, two agents
are disabled and one gains a role; before the third, half the agents leave and the deletion guard
blocks it) write snapshots, change logs and reports into a file:// lake. Then the UI starts the way
the README says, `make airflow-standalone`'s own command (`python -m scripts.standalone start`) on
free ports with the test session's metadata DB, and must list the halo-c1 plugin. Chromium logs in
through Airflow's login form and opens the nav item, the second run's tab, the reports and the Data
Docs: the expected numbers are on screen, and no request leaves the server.

Screenshots go to `screenshots/` (git-ignored); with `HALO_C1_DOCS_SCREENSHOTS=1` the ones the docs
show are written to `docs/img/` instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PROJECT
from tests.integration.conftest import UNTHROTTLED, airflow_halo_connection
from tests.servers import free_port

pytestmark = [pytest.mark.dag, pytest.mark.integration]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
AIRFLOW = str(Path(sys.executable).parent / "airflow")
SCREENSHOTS = PROJECT / "screenshots"
DOCS_IMAGES = PROJECT / "docs" / "img"
DAG_ID = "haloitsm_to_c1"
T1, T2, T3 = (datetime(2026, 11, 20, hour, tzinfo=UTC) for hour in (8, 9, 10))
DEV_ID, DEV_SECRET = "halo-c1-dev", "halo-c1-dev-secret"

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"no Debian chromium at {CHROMIUM}: the browser tests need it "
        "(`make test` installs it through scripts/system_deps.sh; no browser is downloaded)",
        allow_module_level=True,
    )
playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


@dataclass
class World:
    url: str
    password: str
    startup: str  # what `make airflow-standalone` printed
    run_id: str
    first: str  # the snapshot ids the three runs took
    second: str
    blocked: str  # the third run's: the guard blocked it
    expected: dict[str, int]
    reports: Path  # the tenant's reports folder in the lake
    requests: list[str] = field(default_factory=list)


def _grants(tenant: Any) -> set[str]:
    slug = {"team": "member", "department": "member", "role": "assigned"}
    return {
        f"{m.resource_type}:{m.resource_id}:{slug[m.resource_type]}:agent:{m.agent_id}"
        for m in tenant.memberships()
        if m.agent_id != tenant.unassigned_agent_id
    }


def _snapshot(dag_run: Any) -> str:
    return dag_run.get_task_instance("plan").xcom_pull(task_ids="plan")["snapshot_id"]


def _run_pipeline(tmp: Path) -> tuple[str, str, str, str, dict[str, int]]:
    """Two DAG runs with known changes between them, then a third after half the agents left (the
    guard blocks it): the second run's id, the three runs' snapshot ids and the expected counts."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    from dev.halo_simulator import SimulatorConfig, TenantSpec, running_simulator

    db.initdb()
    spec = TenantSpec(seed=11, agents=30, users=60, teams=5, roles=4, departments=3)
    with running_simulator(SimulatorConfig(tenant=spec, client_id=DEV_ID, client_secret=DEV_SECRET)) as sim:
        os.environ["AIRFLOW_CONN_HALOITSM_DEFAULT"] = airflow_halo_connection(
            sim, tenant="demo", **UNTHROTTLED
        )
        dag = DagBag(dag_folder=str(PROJECT / "dags")).get_dag(DAG_ID)
        first = dag.test(logical_date=T1)
        assert str(first.state) == "success"
        before = _grants(sim.tenant)
        enabled = [a for a in sim.tenant.non_system_agents() if not a["isdisabled"]]
        for agent in enabled[:2]:
            agent["isdisabled"] = True
        admin = sim.tenant.roles[0]
        gainer = next(a for a in enabled[2:] if all(r["id"] != admin["id"] for r in a["roles"]))
        gainer["roles"].append({"id": admin["id"], "name": admin["name"], "id_int": admin["id_int"]})
        after = _grants(sim.tenant)
        second = dag.test(logical_date=T2)
        assert str(second.state) == "success"
        agents = len(sim.tenant.agents) - 1  # without the system "Unassigned" agent
        sim.tenant.drop_agents(0.5)
        third = dag.test(logical_date=T3)
        assert str(third.state) == "failed"
    expected = {
        "grant_added": len(after - before),
        "grant_removed": len(before - after),
        "resource_disabled": 2,
        "agents": agents,
    }
    return second.run_id, _snapshot(first), _snapshot(second), _snapshot(third), expected


def _store_settings_in_the_metadata_db() -> None:
    """Point the running UI at this test's lake and simulator connection (the standalone applied the
    project's airflow_settings.yaml); the api-server reads both from the metadata DB on each request."""
    lake_url, connection = (
        os.environ["AIRFLOW_VAR_HALO_C1_LAKE_URL"],
        os.environ["AIRFLOW_CONN_HALOITSM_DEFAULT"],
    )
    for command in (
        ["variables", "set", "halo_c1_lake_url", lake_url],
        ["connections", "delete", "haloitsm_default"],
        ["connections", "add", "haloitsm_default", "--conn-json", connection],
    ):
        subprocess.run([AIRFLOW, *command], cwd=PROJECT, check=True, capture_output=True)


def _make_recipe(target: str) -> list[str]:
    """The command lines of a Makefile target's recipe."""
    lines = (PROJECT / "Makefile").read_text().splitlines()
    at = lines.index(next(line for line in lines if line.startswith(f"{target}:")))
    recipe = []
    for line in lines[at + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


STANDALONE = [sys.executable, "-m", "scripts.standalone"]


def test_the_tests_start_the_ui_with_the_readme_command():
    assert _make_recipe("airflow-standalone") == ["$(BIN)/python -m scripts.standalone start"]


@contextmanager
def _standalone() -> Generator[tuple[str, str], None, None]:
    """`make airflow-standalone`'s own command on free ports, in this session's Airflow home (where the
    DAG runs above are recorded); (url, its start-up output). Stopped with `make airflow-stop`'s."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_VAR_", "AIRFLOW_CONN_"))},
        "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'include'}",  # as the Makefile exports it
        "HALO_C1_AIRFLOW_HOME": os.environ["AIRFLOW_HOME"],
        "HALO_C1_STANDALONE_PORT": str(port),
        "HALO_C1_USE_SIMULATOR": "0",  # the runs above had their own simulator
        # The log servers' fixed defaults (8793, 8794) collide with any other Airflow on the machine.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # no scheduled run against a simulator that is gone
    }
    started = subprocess.run(
        [*STANDALONE, "start"], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=400
    )
    try:
        log = Path(os.environ["AIRFLOW_HOME"]) / "standalone.log"
        assert started.returncode == 0, (
            started.stdout + started.stderr + (log.read_text()[-3000:] if log.exists() else "")
        )
        yield f"http://127.0.0.1:{port}", started.stdout
    finally:
        subprocess.run([*STANDALONE, "stop"], env=env, cwd=PROJECT, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("ui")
    lake, delivered = tmp / "lake", tmp / "c1" / "sync.c1z"
    saved = dict(os.environ)
    os.environ["AIRFLOW_VAR_HALO_C1_LAKE_URL"] = f"file://{lake}"
    os.environ["AIRFLOW_VAR_HALO_C1_DELIVERY_URL"] = f"file://{delivered}"
    try:
        runs = _run_pipeline(tmp)
        with _metadata_settings_restored(), _standalone() as (url, output):
            _store_settings_in_the_metadata_db()
            passwords = Path(os.environ["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
            password = json.loads(passwords.read_text())["admin"]
            yield World(url, password, output, *runs, reports=next(lake.glob("*/reports")))
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _metadata_settings_restored() -> Generator[None, None, None]:
    """Remove, afterwards, every variable, connection and pool the standalone applied from the
    project's airflow_settings.yaml: this session's metadata DB serves the later DAG tests, which
    would otherwise all deliver to the project's own .lake/delivered/sync.c1z."""
    from airflow.utils.session import create_session
    from sqlalchemy import text

    tables = {"variable": "key", "connection": "conn_id", "slot_pool": "pool"}
    with create_session() as session:
        before = {
            table: {key for (key,) in session.execute(text(f"SELECT {column} FROM {table}"))}
            for table, column in tables.items()
        }
    try:
        yield
    finally:
        with create_session() as session:
            for table, column in tables.items():
                for (key,) in list(session.execute(text(f"SELECT {column} FROM {table}"))):
                    if key not in before[table]:
                        session.execute(text(f"DELETE FROM {table} WHERE {column} = :key"), {"key": key})


@pytest.fixture(scope="module")
def page(world) -> Iterator[Any]:
    """A chromium page logged in as the standalone's admin through Airflow's own login form."""
    SCREENSHOTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("request", lambda request: world.requests.append(request.url))
        page.goto(f"{world.url}/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", world.password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{world.url}/", timeout=60_000)
        yield page
        browser.close()


def _frame(page: Any, fragment: str) -> Any:
    """The plugin's iframe once it shows `fragment` in its URL and has a body."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for frame in page.frames:
            if fragment in frame.url and frame.query_selector("body h1"):
                return frame
        page.wait_for_timeout(250)
    raise AssertionError(f"no frame with {fragment!r}: {[f.url for f in page.frames]}")


def _text(frame: Any) -> str:
    return re.sub(r"\s+", " ", frame.inner_text("body"))


def _screenshot(page: Any, name: str, *, docs: bool = False) -> None:
    """Into screenshots/ (the whole page); a docs picture into docs/img/ (what a screen shows first)
    when HALO_C1_DOCS_SCREENSHOTS=1."""
    to_docs = docs and os.environ.get("HALO_C1_DOCS_SCREENSHOTS") == "1"
    folder = DOCS_IMAGES if to_docs else SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=not to_docs)


def test_the_standalone_lists_the_halo_c1_plugin(world):
    assert "with the halo-c1 plugin" in world.startup
    login = {"username": "admin", "password": world.password}
    token = httpx.post(f"{world.url}/auth/token", json=login, timeout=30).json()["access_token"]
    answer = httpx.get(
        f"{world.url}/api/v2/plugins", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert "halo_c1_reports" in [plugin["name"] for plugin in answer.json()["plugins"]]


def test_a_run_page_has_the_halo_c1_tab(world, page):
    page.goto(f"{world.url}/dags/{DAG_ID}/runs/{world.run_id}")
    tab = page.get_by_role("link", name="halo-c1 report")
    tab.wait_for(timeout=60_000)
    tab.click()
    frame = _frame(page, f"snapshot={world.second}/report.html")
    assert f"halo-c1 snapshot {world.second}" in _text(frame)
    _screenshot(page, "run-tab", docs=True)


def test_anonymous_requests_are_refused(world):
    for path in ("/halo-c1/", "/halo-c1/lake/reports/index.html", f"/halo-c1/runs/{DAG_ID}/{world.run_id}"):
        assert httpx.get(f"{world.url}{path}", timeout=10).status_code == 401, path
    report = f"/halo-c1/lake/reports/snapshot={world.second}/report.html"
    forged = httpx.get(f"{world.url}{report}", headers={"Authorization": "Bearer not-a-token"}, timeout=10)
    assert forged.status_code in (401, 403)
    assert "halo-c1" not in forged.text


def test_nav_item_lists_both_snapshots_with_their_checks_and_changes(world, page):
    page.goto(f"{world.url}/plugin/halo-c1-reports")
    frame = _frame(page, "/halo-c1/lake/reports/index.html")
    text = _text(frame)
    assert world.first in text and world.second in text
    assert text.index(world.second) < text.index(world.first)  # newest first
    assert "resources.agent_without_email" in text
    assert f"grant added {world.expected['grant_added']}" in text
    assert f"resource disabled {world.expected['resource_disabled']}" in text
    # The blocked delivery looks blocked: its row's guard column, not a lone green "passed".
    blocked = frame.query_selector(f'tr[data-snapshot="{world.blocked}"]').inner_text()
    assert "BLOCKED" in blocked and "no: blocked" in blocked and "resource type 'agent'" in blocked
    passed = frame.query_selector(f'tr[data-snapshot="{world.second}"] td.guard').inner_text()
    assert passed.strip() == "passed"
    _screenshot(page, "index", docs=True)


def test_a_blocked_snapshot_report_names_the_drops_and_the_override(world, page):
    page.goto(f"{world.url}/halo-c1/lake/reports/snapshot={world.blocked}/report.html")
    banner = page.query_selector("#guard-banner")
    text = re.sub(r"\s+", " ", banner.inner_text())
    assert text.startswith("Delivery blocked by the deletion guard.")
    assert f"Compared with snapshot {world.second}" in text and "e.g." in text
    assert "make run CONF='{\"allow_mass_deletion\": true}'" in text
    assert banner.evaluate("e => getComputedStyle(e).borderTopColor") == "rgb(207, 34, 46)"  # red
    assert "the deletion guard blocked it" in page.inner_text("body")
    _screenshot(page, "blocked-report", docs=True)


def test_the_change_log_filter_works_without_script(world, page):
    page.goto(f"{world.url}/halo-c1/lake/reports/snapshot={world.second}/changes.html")
    rows = page.locator("table.changes tr[data-group]")
    assert rows.first.get_attribute("data-group") == "removed"  # removals first
    total = rows.count()
    page.click("label[for=show-added]")
    shown = [r for r in rows.all() if r.is_visible()]
    assert 0 < len(shown) < total
    assert {r.get_attribute("data-group") for r in shown} == {"added"}


def test_dag_run_tab_shows_that_runs_report_with_its_numbers(world, page):
    page.goto(f"{world.url}/dags/{DAG_ID}/runs/{world.run_id}/plugin/halo-c1-run-report")
    frame = _frame(page, f"snapshot={world.second}/report.html")
    text = _text(frame)
    assert f"halo-c1 snapshot {world.second}" in text
    assert "quality gate passed" in text
    assert f"compared with {world.first}, the last snapshot delivered to C1 before {world.second}" in text
    cards = {
        el.get_attribute("data-kind"): el.query_selector("b").inner_text()
        for el in frame.query_selector_all("#change-counts .card[data-kind]")
    }
    assert cards["grant_added"] == str(world.expected["grant_added"])
    assert cards["resource_disabled"] == "2"
    assert cards.get("grant_removed", "0") == str(world.expected["grant_removed"])
    agents = frame.query_selector('#counts tr[data-type="agent"] td.num').inner_text()
    assert agents == str(world.expected["agents"])
    assert re.search(rf"\d+ of {world.expected['agents']} agents", text)  # the right population
    _screenshot(page, "run-tab-report")


def test_report_and_data_docs_render_from_the_server_alone(world, page):
    page.goto(f"{world.url}/halo-c1/lake/reports/snapshot={world.second}/report.html")
    assert page.query_selector("#verdict").inner_text() == "quality gate passed"
    assert page.query_selector_all("#trends svg polyline")
    assert len(page.query_selector_all("#trends circle.marker")) >= 2 * len(
        page.query_selector_all("#trends svg")
    )
    _screenshot(page, "report", docs=True)
    page.click("text=GX Data Docs (details)")
    page.wait_for_load_state("load")
    rows = page.query_selector_all("table tbody tr")
    assert len(rows) >= 5  # bootstrap-table's job, done by the inline stand-in: not blank offline
    assert "Passed with" in page.inner_text("body")
    logo = page.query_selector("img[src^='data:image/png']")  # sandboxed: no login for image requests
    assert logo is not None and logo.evaluate("img => img.complete && img.naturalWidth > 0")
    icon = page.query_selector("table tbody tr td i.fas")  # the Status column has its icon back
    assert icon.evaluate("e => getComputedStyle(e, '::before').content") in ('"\u2714"', '"\u26a0"')
    _screenshot(page, "data-docs-index")
    page.click("text=Passed with >> nth=0")
    page.wait_for_load_state("load")
    assert page.query_selector_all(".fa-check-circle")
    _screenshot(page, "data-docs", docs=True)
    page.click("#halo-c1-report-link")  # back to the snapshot report
    page.wait_for_load_state("load")
    assert page.query_selector("#snapshot-id").inner_text() == world.second


def _docs_frame(page: Any, fragment: str, selector: str) -> Any:
    """The plugin's iframe once it shows `fragment` in its URL and has `selector`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for frame in page.frames:
            if fragment in frame.url and frame.query_selector(selector):
                return frame
        page.wait_for_timeout(250)
    raise AssertionError(f"no frame with {fragment!r} and {selector!r}: {[f.url for f in page.frames]}")


def test_data_docs_and_their_links_work_inside_the_airflow_frame(world, page):
    page.goto(f"{world.url}/plugin/halo-c1-reports")
    index = _frame(page, "/halo-c1/lake/reports/index.html")
    index.click(f"a[href='snapshot={world.second}/data_docs/index.html']")
    docs = _docs_frame(page, f"snapshot={world.second}/data_docs/index.html", "table tbody tr")
    assert "Passed with" in docs.inner_text("body")  # the tables the gate drew, no script needed
    docs.click("tbody a[href^='validations/curated_resources/']")
    validation = _docs_frame(page, "/data_docs/validations/curated_resources/", ".halo-c1-banner")
    assert "halo-c1 gate verdict" in validation.inner_text("body")  # the viewer's login went along


PLANTED_SCRIPT = """<!doctype html><html><body><h1 id="result">script did not run</h1><script>
  var out = document.getElementById("result");
  out.textContent = "ran in origin " + self.origin;
  fetch("/api/v2/dags", {credentials: "include"})
    .then(function (r) { return r.text(); })
    .then(function (t) { out.textContent += "; read the API: " + t.slice(0, 40); })
    .catch(function () { out.textContent += "; API blocked"; });
</script></body></html>"""


def test_a_file_planted_in_the_reports_runs_no_script_on_the_airflow_origin(world, page):
    snapshot = world.reports / f"snapshot={world.second}"
    (snapshot / "planted.html").write_text(PLANTED_SCRIPT)
    (snapshot / "data_docs" / "planted.html").write_text(PLANTED_SCRIPT)

    page.goto(f"{world.url}/halo-c1/lake/reports/snapshot={world.second}/planted.html")
    page.wait_for_timeout(1000)
    assert page.inner_text("#result") == "script did not run"

    # Data Docs need their inline scripts: they run, but sandboxed, in an origin of their own.
    page.goto(f"{world.url}/halo-c1/lake/reports/snapshot={world.second}/data_docs/planted.html")
    page.wait_for_function("document.getElementById('result').textContent.includes(';')", timeout=10_000)
    assert page.inner_text("#result") == "ran in origin null; API blocked"


def test_no_page_requested_anything_outside_the_server(world, page):
    assert world.requests, "the browser tests above recorded no request"
    outside = sorted({u for u in world.requests if not u.startswith((world.url + "/", "blob:", "data:"))})
    assert outside == []
