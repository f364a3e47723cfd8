"""`POST /api/Agent` on the simulator: upsert, each list semantic, inherited rows, 404s, write counters."""

from __future__ import annotations

import httpx
import pytest

from dev.halo_simulator import LIST_SEMANTICS, TenantSpec

from .conftest import api_client

pytestmark = pytest.mark.integration

TENANT = TenantSpec(seed=1, agents=12, users=5, teams=5, roles=4)
# In this tenant: role "2nd Line Agent" grants team 2; "1st Line Agent" grants team 1.


def agent_of(client: httpx.Client, agent_id: int) -> dict:
    response = client.get(f"/api/Agent/{agent_id}", params={"includedetails": "true"})
    assert response.status_code == 200, response.text
    return response.json()


def direct_teams(agent: dict) -> set[int]:
    return {int(r["team_id"]) for r in agent["teams"] if r["role_id"] in (None, "")}


def inherited_teams(agent: dict) -> set[tuple[int, str]]:
    return {(int(r["team_id"]), r["role_id"]) for r in agent["teams"] if r["role_id"] not in (None, "")}


def plain_agent(sim) -> dict:
    """A human agent holding no role and exactly one direct team (made so for the test)."""
    agent = next(a for a in sim.tenant.non_system_agents() if not a["isapiagent"])
    team = sim.tenant.team(3)
    agent["roles"] = []
    agent["teams"] = [
        {"id": 4999, "team_id": 3, "team_name": team["name"], "role_id": None, "is_manager": True}
    ]
    agent["departments"] = []
    agent["role_list"] = ""
    return agent


def role_named(sim, name: str) -> dict:
    return next(r for r in sim.tenant.roles if r["name"] == name)


@pytest.mark.parametrize(
    ("semantics", "after_add", "after_remove", "after_empty"),
    [
        ("replace", {3, 4}, {4}, set()),
        ("merge", {3, 4}, {3, 4}, {3, 4}),
        ("ignore_empty", {3, 4}, {4}, {4}),
        ("drop_removal", {3, 4}, {3, 4}, {3, 4}),
    ],
)
def test_posted_team_list_follows_the_configured_semantics(
    make_sim, semantics, after_add, after_remove, after_empty
):
    sim = make_sim(tenant=TENANT, list_semantics=semantics)
    agent = plain_agent(sim)
    existing = agent_of(api_client(sim), agent["id"])["teams"]
    with api_client(sim) as client:
        added = client.post("/api/Agent", json=[{"id": agent["id"], "teams": [*existing, {"team_id": 4}]}])
        assert added.status_code == 200, added.text
        assert direct_teams(agent_of(client, agent["id"])) == after_add
        four = [r for r in agent_of(client, agent["id"])["teams"] if int(r["team_id"]) == 4]
        assert client.post("/api/Agent", json=[{"id": agent["id"], "teams": four}]).status_code == 200
        assert direct_teams(agent_of(client, agent["id"])) == after_remove
        assert client.post("/api/Agent", json=[{"id": agent["id"], "teams": []}]).status_code == 200
        assert direct_teams(agent_of(client, agent["id"])) == after_empty
    assert sim.write_counts() == {"posts": 3, "agents_updated": 3, "agents_created": 0, "rejected": 0}


def test_kept_rows_stay_verbatim_and_new_rows_are_completed_from_the_team(make_sim):
    sim = make_sim(tenant=TENANT)
    agent = plain_agent(sim)
    with api_client(sim) as client:
        before = agent_of(client, agent["id"])
        client.post("/api/Agent", json={"id": agent["id"], "teams": [*before["teams"], {"team_id": 4}]})
        after = agent_of(client, agent["id"])
    kept = next(r for r in after["teams"] if int(r["team_id"]) == 3)
    assert kept["id"] == 4999 and kept["is_manager"] is True
    new = next(r for r in after["teams"] if int(r["team_id"]) == 4)
    assert new["team_name"] == sim.tenant.team(4)["name"]
    assert new["agent_id"] == agent["id"] and new["role_id"] is None and new["id"] != 4999
    assert {k: v for k, v in after.items() if k != "teams"} == {
        k: v for k, v in before.items() if k != "teams"
    }


def test_role_write_recomputes_inherited_team_and_department_rows(make_sim):
    sim = make_sim(tenant=TENANT)
    agent = plain_agent(sim)
    second = role_named(sim, "2nd Line Agent")
    granted = {int(t["team_id"]) for t in second["teams"]}
    assert granted, "the fixture role must grant a team"
    with api_client(sim) as client:
        client.post("/api/Agent", json=[{"id": agent["id"], "roles": [{"id": second["id"].upper()}]}])
        held = agent_of(client, agent["id"])
        assert [r["id"] for r in held["roles"]] == [second["id"]]
        assert inherited_teams(held) == {(t, second["id"]) for t in granted}
        assert {(int(d["department_id"]), d["role_id"]) for d in held["departments"]} == {
            (int(d["department_id"]), second["id"]) for d in second["departments"]
        }
        assert direct_teams(held) == {3}
        client.post("/api/Agent", json=[{"id": agent["id"], "roles": []}])
        dropped = agent_of(client, agent["id"])
    assert dropped["roles"] == [] and inherited_teams(dropped) == set() and direct_teams(dropped) == {3}


@pytest.mark.parametrize("reject", [False, True])
def test_posted_inherited_rows_are_ignored_or_refused(make_sim, reject):
    sim = make_sim(tenant=TENANT, reject_inherited_rows=reject)
    agent = plain_agent(sim)
    fake = {"team_id": 4, "role_id": role_named(sim, "1st Line Agent")["id"]}
    with api_client(sim) as client:
        response = client.post("/api/Agent", json=[{"id": agent["id"], "teams": [*agent["teams"], fake]}])
        after = agent_of(client, agent["id"])
    assert response.status_code == (400 if reject else 200)
    if reject:
        assert "inherited rows cannot be written" in response.json()["error"]
    assert direct_teams(after) == {3} and inherited_teams(after) == set()


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"teams": [{"team_id": 999}]}, "team_id 999 does not exist"),
        ({"roles": [{"id": "no-such-role"}]}, "role 'no-such-role' does not exist"),
        ({"teams": "3"}, "teams must be an array of objects"),
    ],
)
def test_bad_writes_are_refused_with_400_and_change_nothing(make_sim, body, needle):
    sim = make_sim(tenant=TENANT)
    agent = plain_agent(sim)
    with api_client(sim) as client:
        before = agent_of(client, agent["id"])
        response = client.post("/api/Agent", json=[{"id": agent["id"], **body}])
        assert response.status_code == 400
        assert needle in response.json()["error"]
        assert client.post("/api/Agent", content=b"{not json").status_code == 400
        assert client.post("/api/Agent", json=[]).status_code == 400
        assert agent_of(client, agent["id"]) == before
    assert sim.write_counts()["rejected"] == 3 and sim.write_counts()["posts"] == 0


def test_post_without_id_creates_and_object_body_answers_an_object(make_sim):
    sim = make_sim(tenant=TENANT)
    count = len(sim.tenant.agents)
    with api_client(sim) as client:
        created = client.post("/api/Agent", json={"name": "New Agent", "teams": [{"team_id": 2}]})
        assert created.status_code == 200
        body = created.json()
        assert isinstance(body, dict) and body["name"] == "New Agent"
        assert body["id"] > max(a["id"] for a in sim.tenant.agents[:count])
        assert direct_teams(agent_of(client, body["id"])) == {2}
        renamed = client.post("/api/Agent", json=[{"id": body["id"], "jobtitle": "Engineer"}]).json()
    assert (
        isinstance(renamed, list)
        and renamed[0]["name"] == "New Agent"
        and renamed[0]["jobtitle"] == "Engineer"
    )
    assert len(sim.tenant.agents) == count + 1
    stats = httpx.get(f"{sim.base_url}/_sim/stats", trust_env=False).json()
    assert stats["writes"] == {"posts": 2, "agents_updated": 1, "agents_created": 1, "rejected": 0}
    assert stats["requests"]["POST /api/Agent"] == 2


def test_unknown_team_and_role_ids_are_404(make_sim):
    sim = make_sim(tenant=TENANT)
    with api_client(sim) as client:
        assert client.get("/api/Team/999").status_code == 404
        assert client.get("/api/Roles/00000000-0000-4000-8000-000000000000").status_code == 404
        assert client.get("/api/Team/3").status_code == 200
        assert client.get(f"/api/Roles/{sim.tenant.roles[1]['id']}").status_code == 200


def test_write_hook_runs_inside_the_write(make_sim):
    sim = make_sim(tenant=TENANT)
    agent = plain_agent(sim)
    seen = []
    sim.on_write(lambda tenant: seen.append(len(tenant.agent(agent["id"])["teams"])))
    with api_client(sim) as client:
        client.post("/api/Agent", json=[{"id": agent["id"], "teams": []}])
    assert seen == [1]


def test_unknown_list_semantics_is_refused():
    from dev.halo_simulator import SimulatorConfig

    assert set(LIST_SEMANTICS) == {"replace", "merge", "ignore_empty", "drop_removal"}
    with pytest.raises(ValueError, match="list_semantics must be one of"):
        SimulatorConfig(list_semantics="append")
