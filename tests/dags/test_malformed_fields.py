"""A tenant with malformed flags, end to end with `dag.test()`: every account and grant reaches C1.

An agent whose `isdisabled` is "yes" and a user whose `inactive` is "no" used to be rejected as rows:
the agent and its memberships vanished from the c1z (for C1, a deleted account that still has access
in HaloITSM). They are delivered with status UNSPECIFIED and named in the task log, the run summary
and the snapshot report.
"""

from __future__ import annotations

import logging

import pytest

from halo_c1.c1z.messages import UserTrait
from halo_c1.c1z.reader import C1zReader
from tests.dags import test_dag_end_to_end as end_to_end
from tests.dags.test_dag_end_to_end import T1, Pipeline
from tests.integration.test_transform_simulator import expected_grants

pytestmark = pytest.mark.dag

pipeline = end_to_end.pipeline  # the end-to-end world: simulator, tenant lake folder, delivery file


def test_a_malformed_flag_delivers_every_account_and_grant_and_names_the_account(
    pipeline: Pipeline,
    caplog,
):
    tenant = pipeline.sim.tenant
    agent = max(
        tenant.non_system_agents(), key=lambda a: len(a.get("teams") or []) + len(a.get("roles") or [])
    )
    agent["isdisabled"] = "yes"
    user = tenant.users[0]
    user["inactive"] = "no"
    held = {g for g in expected_grants(tenant) if g.endswith(f":agent:{agent['id']}")}
    assert len(held) >= 2, "the malformed agent must hold access"
    caplog.set_level(logging.INFO)

    dag_run = pipeline.run(T1)

    assert str(dag_run.state) == "success", pipeline.states(dag_run)
    with C1zReader.open(pipeline.delivered) as c1z:
        resources = {
            (r["message"].id.resource_type, r["message"].id.resource): r["message"]
            for r in c1z.rows("v1_resources")
        }
        grants = {r["external_id"] for r in c1z.rows("v1_grants")}
    agents = {i for t, i in resources if t == "agent"}
    assert agents == {str(a["id"]) for a in tenant.agents if a["id"] != tenant.unassigned_agent_id}
    assert {i for t, i in resources if t == "user"} == {str(u["id"]) for u in tenant.users}
    assert grants == expected_grants(tenant) and held <= grants
    for key in (("agent", str(agent["id"])), ("user", str(user["id"]))):
        trait = UserTrait()
        assert resources[key].annotations[0].Unpack(trait)
        assert trait.status.status == UserTrait.Status.STATUS_UNSPECIFIED, key  # never guessed ENABLED
        assert resources[key].status.status == 0  # RESOURCE_STATUS_UNSPECIFIED

    named = f"agents {agent['id']}: isdisabled='yes' delivered as unknown"
    user_named = f"users {user['id']}: inactive='no' delivered as unknown"
    transform_log = [r.getMessage() for r in caplog.records if r.name == "halo_c1.transform"]
    assert any(named in m and user_named in m for m in transform_log)
    summary = [r.getMessage() for r in caplog.records if r.name == "halo_c1.summary"]
    assert any(named in m and user_named in m for m in summary)
    page = (pipeline.lake / "reports" / f"snapshot={pipeline.snapshot(dag_run)}" / "report.html").read_text()
    table = page[page.index('id="data-issues"') :]
    assert f'<td class="id">{agent["id"]}</td><td><code>isdisabled</code></td>' in table
    assert f'<td class="id">{user["id"]}</td><td><code>inactive</code></td>' in table
