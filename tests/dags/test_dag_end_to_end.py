"""The DAG, end to end with `dag.test()`, against the HaloITSM simulator (a real HTTP server).

Each test gets its own simulator, lake and delivery target; the connection and variables come from
AIRFLOW_CONN_*/AIRFLOW_VAR_* environment variables, as in production with env-based secrets.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from halo_c1.tenancy import TenantIdentity, tenant_folder
from tests.integration.conftest import UNTHROTTLED, airflow_halo_connection

DAG_ID = "haloitsm_to_c1"
T1 = datetime(2026, 11, 20, 8, tzinfo=UTC)
T2 = datetime(2026, 11, 20, 9, tzinfo=UTC)
T3 = datetime(2026, 11, 20, 10, tzinfo=UTC)
DEV_ID, DEV_SECRET = "halo-c1-dev", "halo-c1-dev-secret"


pytestmark = pytest.mark.dag


@dataclass
class Pipeline:
    """One test's world: the simulator, the tenant's lake folder, the delivered file and a runner."""

    sim: Any
    lake: Path
    delivered: Path
    run: Callable[..., Any]

    def states(self, dag_run: Any) -> dict[str, str]:
        return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}

    def snapshot(self, dag_run: Any) -> str:
        """The snapshot the run took (named when its data was taken), from its plan."""
        return dag_run.get_task_instance("plan").xcom_pull(task_ids="plan")["snapshot_id"]

    def curated(self, table: str, snapshot_id: str) -> Path:
        return self.lake / "curated" / table / f"snapshot={snapshot_id}" / "part-0.parquet"

    def c1z(self, snapshot_id: str) -> Path:
        return self.lake / "c1z" / f"snapshot={snapshot_id}" / "sync.c1z"

    def latest_delivery(self) -> dict[str, Any]:
        return json.loads((self.lake / "deliveries" / "latest.json").read_text())

    def delivered_sha256(self) -> str:
        return hashlib.sha256(self.delivered.read_bytes()).hexdigest()


@pytest.fixture
def pipeline(dagbag, tmp_path, monkeypatch) -> Iterator[Pipeline]:
    from dev.halo_simulator import SimulatorConfig, TenantSpec, running_simulator

    spec = TenantSpec(seed=11, agents=30, users=60, teams=5, roles=4, departments=3)
    config = SimulatorConfig(tenant=spec, client_id=DEV_ID, client_secret=DEV_SECRET)
    with running_simulator(config) as sim:
        base, delivered = tmp_path / "lake", tmp_path / "c1" / "sync.c1z"
        lake = base / tenant_folder(TenantIdentity.from_connection(sim.base_url, "demo"))
        connection = airflow_halo_connection(sim, tenant="demo", **UNTHROTTLED)
        monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", connection)
        monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"file://{base}")
        monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", f"file://{delivered}")
        dag = dagbag.get_dag(DAG_ID)

        def run(moment: datetime, **conf: Any) -> Any:
            return dag.test(
                logical_date=moment, run_conf=conf
            )  # a dict: dag.test keeps a None run's old conf

        yield Pipeline(sim=sim, lake=lake, delivered=delivered, run=run)


def test_happy_path_delivers_a_c1z_and_writes_a_report(pipeline, caplog, capfd):
    caplog.set_level(logging.INFO, logger="halo_c1.summary")
    dag_run = pipeline.run(T1)

    assert str(dag_run.state) == "success", pipeline.states(dag_run)
    assert set(pipeline.states(dag_run).values()) == {"success"}
    sid = pipeline.snapshot(dag_run)
    assert pipeline.c1z(sid).read_bytes()[:5] == b"C1ZF\x00"
    assert pipeline.delivered.read_bytes() == pipeline.c1z(sid).read_bytes()
    assert pipeline.latest_delivery()["snapshot_id"] == sid
    for table in ("resource_types", "resources", "entitlements", "grants"):
        assert pipeline.curated(table, sid).exists()
    report = pipeline.lake / "reports" / f"snapshot={sid}"
    assert json.loads((report / "gate_result.json").read_text())["passed"] is True
    assert (report / "data_docs" / "index.html").exists()
    assert (pipeline.lake / "reports" / "index.html").exists()
    page = (report / "report.html").read_text()
    assert "quality gate passed" in page and "Delivered to C1 at" in page  # re-rendered after delivery
    assert "nothing to compare with" in json.loads((report / "access_changes.json").read_text())["basis"]
    assert f"halo-c1 run summary: snapshot {sid}" in caplog.text
    printed = capfd.readouterr()  # the rest of the task log, as `airflow dags test` prints it
    logged = caplog.text + printed.out + printed.err
    assert logged.count(f"halo-c1 run summary: snapshot {sid}") == 1  # not again as the return value
    assert f"report: {report / 'report.html'} (Airflow UI" in caplog.text
    assert f"delivered: file://{pipeline.delivered}" in caplog.text


def test_error_expectation_blocks_delivery_and_keeps_the_previous_one(pipeline):
    first = pipeline.run(T1)
    assert str(first.state) == "success"
    before = pipeline.delivered_sha256()
    pipeline.sim.tenant.agents.append({"id": None, "name": "Broken agent", "email": "broken@example.com"})

    dag_run = pipeline.run(T2)

    states = pipeline.states(dag_run)
    assert str(dag_run.state) == "failed"
    assert states["validate"] == "failed"
    assert dag_run.get_task_instance("validate").try_number == 1  # a failed gate is not retried
    assert states["package"] == states["deliver"] == "upstream_failed"
    assert pipeline.delivered_sha256() == before
    assert pipeline.latest_delivery()["snapshot_id"] == pipeline.snapshot(first)
    gate = json.loads(
        (
            pipeline.lake / "reports" / f"snapshot={pipeline.snapshot(dag_run)}" / "gate_result.json"
        ).read_text()
    )
    assert gate["passed"] is False
    assert any(f["severity"] == "error" and f["name"] == "agents.missing_id" for f in gate["failed"])
    page = (pipeline.lake / "reports" / f"snapshot={pipeline.snapshot(dag_run)}" / "report.html").read_text()
    assert "quality gate FAILED" in page and "<code>agents.missing_id</code>" in page


def test_mass_deletion_is_blocked_then_let_through_by_the_override(pipeline):
    assert str(pipeline.run(T1).state) == "success"
    before = pipeline.delivered_sha256()
    pipeline.sim.tenant.drop_agents(0.4)

    blocked = pipeline.run(T2)

    assert pipeline.states(blocked)["guard"] == "failed"
    assert blocked.get_task_instance("guard").try_number == 1  # a blocked guard is not retried
    assert pipeline.states(blocked)["deliver"] == "upstream_failed"
    assert pipeline.delivered_sha256() == before
    # The block is shown where the gate's verdict is: the snapshot's report and its row in the index.
    sid = pipeline.snapshot(blocked)
    page = (pipeline.lake / "reports" / f"snapshot={sid}" / "report.html").read_text()
    banner = page[page.index('id="guard-banner"') : page.index("</div>", page.index('id="guard-banner"'))]
    assert "Delivery blocked by the deletion guard" in banner
    assert "resource type &#39;agent&#39;" in banner and "e.g." in banner  # the drops, with example ids
    assert "allow_mass_deletion=true" in banner
    assert "the deletion guard blocked it" in page
    index = (pipeline.lake / "reports" / "index.html").read_text()
    row = index[index.index(f'data-snapshot="{sid}"') :].split("</tr>")[0]
    assert "BLOCKED" in row and "no: blocked" in row

    allowed = pipeline.run(T3, allow_mass_deletion=True)

    assert str(allowed.state) == "success", pipeline.states(allowed)
    assert pipeline.delivered.read_bytes() == pipeline.c1z(pipeline.snapshot(allowed)).read_bytes()
    latest = pipeline.latest_delivery()
    assert latest["snapshot_id"] == pipeline.snapshot(allowed)
    assert latest["guard"]["overridden"] is True
    page = (pipeline.lake / "reports" / f"snapshot={pipeline.snapshot(allowed)}" / "report.html").read_text()
    assert "Deletion guard overridden" in page and "Delivered to C1 at" in page


def test_dry_run_packages_but_delivers_nothing(pipeline):
    dag_run = pipeline.run(T1, dry_run=True)

    states = pipeline.states(dag_run)
    assert str(dag_run.state) == "success"
    assert states["package"] == "success"
    assert states["deliver"] == "skipped"
    assert pipeline.c1z(pipeline.snapshot(dag_run)).exists()
    assert not pipeline.delivered.exists()
    assert not (pipeline.lake / "deliveries").exists()


def test_a_named_snapshot_is_rederived_from_archived_raw_without_calling_halo(pipeline):
    taken = pipeline.run(T1, dry_run=True)
    assert str(taken.state) == "success"
    sid = pipeline.snapshot(taken)
    for path in (pipeline.curated("grants", sid), pipeline.curated("resources", sid), pipeline.c1z(sid)):
        path.unlink()
    pipeline.sim.reset_counts()

    dag_run = pipeline.run(T2, snapshot_id=sid)

    states = pipeline.states(dag_run)
    assert str(dag_run.state) == "success", states
    assert pipeline.snapshot(dag_run) == sid
    assert pipeline.sim.total_requests() == 0
    assert pipeline.curated("grants", sid).exists()
    assert pipeline.curated("resources", sid).exists()
    assert pipeline.c1z(sid).exists()
    assert states["deliver"] == "skipped"
    assert not pipeline.delivered.exists()


def test_a_rederive_of_an_hour_without_raw_is_skipped_with_a_message(pipeline, caplog):
    caplog.set_level(logging.INFO)

    dag_run = pipeline.run(T1, rederive_only=True)

    states = pipeline.states(dag_run)
    assert states["extract"] == "skipped"
    assert states["transform"] == states["package"] == states["deliver"] == "skipped"
    assert pipeline.sim.total_requests() == 0
    assert not (pipeline.lake / "curated").exists()
    assert "no archived raw snapshot taken in [2026-11-20 08:00:00, 2026-11-20 09:00:00) UTC" in caplog.text


@pytest.mark.parametrize(
    ("break_it", "task", "reason"),
    [
        ("duplicate_agent", "extract", "was already returned"),
        ("no_delivery_url", "plan", "'halo_c1_delivery_url' is not set"),
        ("no_halo_connection", "plan", "connection 'haloitsm_default' is not defined"),
    ],
)
def test_deterministic_problems_fail_on_the_first_try_with_one_line(
    pipeline, monkeypatch, caplog, break_it, task, reason
):
    """Issue 9.7: bad input or configuration is a PermanentError, failed at once, never retried."""
    import copy

    if break_it == "duplicate_agent":
        pipeline.sim.tenant.agents.append(copy.deepcopy(pipeline.sim.tenant.non_system_agents()[0]))
    elif break_it == "no_delivery_url":
        monkeypatch.delenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL")
    else:
        monkeypatch.delenv("AIRFLOW_CONN_HALOITSM_DEFAULT")
    caplog.set_level(logging.ERROR)
    dag_run = pipeline.run(T1)

    assert str(dag_run.state) == "failed"
    failed = dag_run.get_task_instance(task)
    assert str(failed.state) == "failed" and failed.try_number == 1, pipeline.states(dag_run)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("halo-c1 stage")]
    assert any(reason in line and "\n" not in line for line in lines), lines
    assert not pipeline.delivered.exists()
    if break_it == "no_delivery_url":  # the plan recorded its snapshot before the delivery check failed
        recorded = json.loads(next((pipeline.lake / "runs").glob("*.json")).read_text())["snapshot_id"]
        assert any(f"failed for snapshot {recorded}: " in line for line in lines), lines
