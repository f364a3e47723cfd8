"""The operator's write probe, run against the simulator under each list semantic, names that semantic."""

from __future__ import annotations

import json

import pytest

from scripts import probe_halo_writes
from tests.integration.conftest import DEV_CLIENT_SECRET, airflow_halo_connection
from tests.integration.provision_helpers import TENANT, plain_agent, role_named

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("semantics", "verdict", "restored"),
    [
        ("replace", "replace", True),
        ("merge", "merge or drop_removal", False),
        ("drop_removal", "merge or drop_removal", False),
        ("ignore_empty", "ignore_empty", False),
    ],
)
def test_probe_reports_the_tenants_list_semantics(
    start_simulator, monkeypatch, capsys, semantics, verdict, restored
):
    sim = start_simulator(tenant=TENANT, list_semantics=semantics)
    agent = plain_agent(sim)
    agent["teams"] = []  # a disposable agent without teams, so the empty-list case is probed too
    role = role_named(sim, "2nd Line Agent")
    monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", airflow_halo_connection(sim))
    argv = ["--agent", str(agent["id"]), "--team", "1", "--team", "4", "--role", role["id"]]
    code = probe_halo_writes.main([*argv, f"--i-understand-agent-{agent['id']}-will-be-changed"])
    report = json.loads(capsys.readouterr().out)
    assert report["semantics"].startswith(verdict)
    assert report["restored"] is restored and code == (0 if semantics == "replace" else 1)
    assert report["teams_add_works"] is True and report["roles_add_works"] is True
    assert report["inherited_rows_survive_a_teams_write"] is True
    brought = {f"+team:{int(t['team_id'])}<-role:{role['id']}" for t in role["teams"]}
    assert brought and brought <= set(report["role_brings"])
    assert DEV_CLIENT_SECRET not in json.dumps(report)


def test_probe_refuses_without_the_confirmation(start_simulator, monkeypatch):
    with pytest.raises(SystemExit):
        probe_halo_writes.main(["--agent", "5", "--team", "1", "--team", "4"])
