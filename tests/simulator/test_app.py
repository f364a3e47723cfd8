"""The simulated HaloITSM API over real HTTP: auth, filters, envelopes, paging, stats."""

from __future__ import annotations

import time

import httpx
import pytest

from dev.halo_simulator import TenantSpec, build_tenant

from .conftest import api_client, get_token

pytestmark = pytest.mark.integration

FORM = {"grant_type": "client_credentials", "client_id": "halo-c1-dev", "client_secret": "halo-c1-dev-secret"}


def post_token(sim, path="/auth/token", params=None, **changes):
    form = {k: v for k, v in {**FORM, **changes}.items() if v is not None}
    return httpx.post(f"{sim.base_url}{path}", params=params, data=form, trust_env=False)


def ids(rows):
    return [r["id"] for r in rows]


# -- auth -----------------------------------------------------------------------------------------


class TestToken:
    @pytest.mark.parametrize("path", ["/auth/token", "/token", "/AUTH/Token"])
    def test_token_is_issued_for_client_credentials(self, sim, path):
        response = post_token(sim, path, scope="all")
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        assert body["scope"] == "all"
        assert len(body["access_token"]) > 20

    def test_token_scope_defaults_to_all_and_echoes_a_space_separated_list(self, sim):
        assert post_token(sim).json()["scope"] == "all"
        assert post_token(sim, scope="admin edit:customers").json()["scope"] == "admin edit:customers"

    def test_tokens_are_random(self, sim):
        assert post_token(sim).json()["access_token"] != post_token(sim).json()["access_token"]

    def test_token_rejects_a_wrong_secret_as_invalid_client(self, sim):
        response = post_token(sim, client_secret="nope")
        assert response.status_code == 401
        assert response.json() == {"error": "invalid_client"}
        assert post_token(sim, client_id="someone").json() == {"error": "invalid_client"}

    @pytest.mark.parametrize("scope", ["read:agents", "read:users", "all read:teams"])
    def test_token_rejects_unknown_scopes_as_invalid_scope(self, sim, scope):
        response = post_token(sim, scope=scope)
        assert response.status_code == 400
        assert response.json() == {"error": "invalid_scope"}

    def test_token_rejects_other_grant_types(self, sim):
        response = post_token(sim, grant_type="password")
        assert response.status_code == 400
        assert response.json() == {"error": "unsupported_grant_type"}
        assert post_token(sim, grant_type=None).json()["error"] == "invalid_request"

    def test_token_rejects_a_json_body(self, sim):
        response = httpx.post(f"{sim.base_url}/auth/token", json=FORM, trust_env=False)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"

    def test_token_accepts_http_basic_client_credentials(self, sim):
        response = httpx.post(
            f"{sim.base_url}/auth/token",
            data={"grant_type": "client_credentials"},
            auth=("halo-c1-dev", "halo-c1-dev-secret"),
            trust_env=False,
        )
        assert response.status_code == 200

    def test_token_expires_in_is_configurable(self, make_sim):
        assert post_token(make_sim(token_expires_in=120)).json()["expires_in"] == 120

    def test_token_tenant_is_optional_unless_required(self, sim, make_sim):
        assert post_token(sim).status_code == 200
        assert post_token(sim, params={"tenant": "demo"}).status_code == 200
        assert post_token(sim, params={"tenant": "other"}).json() == {"error": "invalid_client"}
        strict = make_sim(require_tenant=True, tenant_name="acme")
        missing = post_token(strict)
        assert missing.status_code == 400
        assert missing.json()["error"] == "invalid_request"
        assert post_token(strict, params={"tenant": "acme"}).status_code == 200
        assert post_token(strict, tenant="acme").status_code == 200  # as a form field
        assert post_token(strict, params={"tenant": "demo"}).status_code == 401


class TestBearer:
    def test_authinfo_needs_no_token_and_points_at_the_auth_server(self, sim):
        response = httpx.get(f"{sim.base_url}/api/authinfo", trust_env=False)
        assert response.status_code == 200
        assert response.json() == {"auth_url": f"{sim.base_url}/auth", "tenant_id": "demo"}

    @pytest.mark.parametrize(
        "path", ["/api/Agent", "/api/Team", "/api/Roles", "/api/Users", "/api/Agent/7", "/api/Nope"]
    )
    def test_api_needs_a_bearer_token(self, sim, path):
        response = httpx.get(f"{sim.base_url}{path}", trust_env=False)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')

    def test_api_rejects_an_unknown_token(self, sim):
        response = httpx.get(
            f"{sim.base_url}/api/Agent", headers={"Authorization": "Bearer forged"}, trust_env=False
        )
        assert response.status_code == 401

    def test_api_rejects_an_expired_token(self, make_sim):
        server = make_sim(token_expires_in=1)
        headers = {"Authorization": f"Bearer {get_token(server)}"}
        assert httpx.get(f"{server.base_url}/api/Team", headers=headers, trust_env=False).status_code == 200
        time.sleep(1.1)
        assert httpx.get(f"{server.base_url}/api/Team", headers=headers, trust_env=False).status_code == 401


# -- agents ---------------------------------------------------------------------------------------


def agent_truth(sim, *, disabled=False, api=False, unassigned=False):
    out = []
    for a in sim.tenant.agents:
        if a["id"] == 1:
            if unassigned:
                out.append(a["id"])
        elif (disabled or not a["isdisabled"]) and (api or not a["isapiagent"]):
            out.append(a["id"])
    return out


class TestAgentList:
    def test_agent_list_excludes_disabled_api_and_unassigned_agents_by_default(self, sim):
        with api_client(sim) as client:
            rows = client.get("/api/Agent").json()
        assert isinstance(rows, list)
        assert ids(rows) == agent_truth(sim)
        assert not any(r["isdisabled"] or r["isapiagent"] for r in rows)

    @pytest.mark.parametrize(
        ("params", "truth"),
        [
            ({"includedisabled": "true"}, {"disabled": True}),
            ({"includeapiagents": "true"}, {"api": True}),
            ({"includedisabled": "true", "includeapiagents": "true"}, {"disabled": True, "api": True}),
            ({"includeunassigned": "true"}, {"unassigned": True}),
            (
                {"includedisabled": "True", "includeapiagents": "TRUE", "includeunassigned": "true"},
                {"disabled": True, "api": True, "unassigned": True},
            ),
        ],
    )
    def test_agent_list_includes_each_category_only_when_asked(self, sim, params, truth):
        with api_client(sim) as client:
            assert ids(client.get("/api/Agent", params=params).json()) == agent_truth(sim, **truth)

    def test_agent_list_ignores_includeinactive(self, sim):
        with api_client(sim) as client:
            assert (
                client.get("/api/Agent", params={"includeinactive": "true"}).json()
                == client.get("/api/Agent").json()
            )

    def test_agent_list_can_exclude_enabled_agents(self, sim):
        with api_client(sim) as client:
            rows = client.get(
                "/api/Agent", params={"includeenabled": "false", "includedisabled": "true"}
            ).json()
        assert rows and all(r["isdisabled"] for r in rows)

    def test_agent_list_parameter_names_are_case_insensitive(self, sim):
        with api_client(sim) as client:
            assert ids(client.get("/api/agent", params={"IncludeDisabled": "true"}).json()) == agent_truth(
                sim, disabled=True
            )

    def test_agent_list_rows_carry_memberships_and_roles_only_with_includeroles(self, sim):
        with api_client(sim) as client:
            plain = client.get("/api/Agent").json()
            with_roles = client.get("/api/Agent", params={"includeroles": "true"}).json()
        assert all("teams" in r and "departments" in r and "roles" not in r for r in plain)
        assert all("roles" in r for r in with_roles)
        zoe = next(r for r in with_roles if r["name"] == "Zoë Ångström")
        assert zoe == sim.tenant.agent(zoe["id"])  # unicode survives, rows are served as stored

    def test_agent_list_without_inline_memberships_carries_none(self, make_sim):
        server = make_sim(membership_inline=False)
        with api_client(server) as client:
            rows = client.get(
                "/api/Agent", params={"includeroles": "true", "include_membership_info": "true"}
            ).json()
        assert rows
        assert not any({"teams", "departments", "roles"} & set(r) for r in rows)

    def test_agent_list_exclude_membership_info_strips_inline_rows(self, sim):
        with api_client(sim) as client:
            rows = client.get("/api/Agent", params={"exclude_membership_info": "true"}).json()
        assert not any("teams" in r for r in rows)

    def test_agent_list_filters_by_role_string_id_or_id_int(self, sim):
        role = next(r for r in sim.tenant.roles if r["name"] == "1st Line Agent")
        truth = sorted(
            a["id"]
            for a in sim.tenant.agents
            if any(h["id"] == role["id"] for h in a["roles"]) and not a["isdisabled"] and not a["isapiagent"]
        )
        assert truth
        with api_client(sim) as client:
            assert ids(client.get("/api/Agent", params={"role": role["id"]}).json()) == truth
            assert ids(client.get("/api/Agent", params={"role": role["id"].upper()}).json()) == truth
            assert ids(client.get("/api/Agent", params={"role": str(role["id_int"])}).json()) == truth

    def test_agent_list_filters_by_team_and_department_including_inherited_rows(self, sim):
        everyone = {"includedisabled": "true", "includeapiagents": "true"}
        team_id = sim.tenant.teams[0]["id"]
        dep_id = next(iter(sim.tenant.departments()))
        with api_client(sim) as client:
            by_team = client.get("/api/Agent", params={**everyone, "team_id": team_id}).json()
            by_dep = client.get("/api/Agent", params={**everyone, "department_id": dep_id}).json()
            bad = client.get("/api/Agent", params={"team_id": "x"})
        assert set(ids(by_team)) == sim.tenant.team_members(team_id)
        truth = {
            m.agent_id
            for m in sim.tenant.memberships()
            if m.resource_type == "department" and m.resource_id == str(dep_id)
        }
        assert set(ids(by_dep)) == truth
        assert bad.status_code == 400
        assert bad.json() == {"team_id": "The value 'x' is not valid."}

    def test_agent_list_searches_names_and_emails(self, sim):
        with api_client(sim) as client:
            assert ids(client.get("/api/Agent", params={"search": "ÅNGSTRÖM"}).json()) == [
                a["id"]
                for a in sim.tenant.agents[1:]
                if "ångström" in a["name"].lower() and a["id"] in agent_truth(sim)
            ]
            assert (
                client.get("/api/Agent", params={"search": "ZOE.ANGSTROM@"}).json()[0]["name"]
                == "Zoë Ångström"
            )


class TestAgentEnvelope:
    def test_bare_envelope_ignores_pageinate(self, sim):
        with api_client(sim) as client:
            rows = client.get("/api/Agent", params={"pageinate": "true", "page_size": 2, "page_no": 2}).json()
        assert ids(rows) == agent_truth(sim)

    @pytest.mark.parametrize("key", ["results", "agents"])
    def test_paged_envelope_uses_the_configured_key_and_caps_the_page(self, make_sim, key):
        server = make_sim(agent_envelope=key, page_cap=4, tenant=TenantSpec(seed=2, agents=15))
        truth = agent_truth(server, disabled=True, api=True)
        params = {"includedisabled": "true", "includeapiagents": "true", "pageinate": "true", "page_size": 50}
        with api_client(server) as client:
            assert (
                ids(
                    client.get(
                        "/api/Agent", params={k: v for k, v in params.items() if k != "pageinate"}
                    ).json()
                )
                == truth
            )
            seen, page_no = [], 1
            while True:
                body = client.get("/api/Agent", params={**params, "page_no": page_no}).json()
                assert list(body) == ["page_no", "page_size", "record_count", key]
                assert (body["page_no"], body["page_size"], body["record_count"]) == (page_no, 4, len(truth))
                if not body[key]:
                    break
                seen += ids(body[key])
                page_no += 1
        assert seen == truth
        assert page_no == -(-len(truth) // 4) + 1


class TestSingleAgent:
    def test_single_agent_adds_details_only_when_asked(self, sim):
        agent = next(a for a in sim.tenant.agents if a["name"] == "Zoë Ångström")
        with api_client(sim) as client:
            plain = client.get(f"/api/Agent/{agent['id']}").json()
            detailed = client.get(f"/api/agent/{agent['id']}", params={"includedetails": "true"}).json()
        assert not {"teams", "departments", "roles"} & set(plain)
        assert plain["name"] == "Zoë Ångström"
        assert detailed == agent

    def test_single_agent_serves_disabled_and_unassigned_agents(self, sim):
        disabled = next(a for a in sim.tenant.agents if a["isdisabled"])
        with api_client(sim) as client:
            assert client.get(f"/api/Agent/{disabled['id']}").json()["isdisabled"] is True
            assert client.get("/api/Agent/1").json()["name"] == "Unassigned"

    def test_single_agent_is_404_for_an_unknown_id(self, sim):
        with api_client(sim) as client:
            assert client.get("/api/Agent/999999").status_code == 404
            assert client.get("/api/Agent/abc").status_code == 404

    def test_agent_me_is_the_integration_agent(self, sim):
        with api_client(sim) as client:
            me = client.get("/api/Agent/me", params={"includedetails": "true"}).json()
        assert me["id"] == sim.tenant.service_agent_id
        assert me["isapiagent"] is True
        assert me["roles"][0]["name"] == "HaloITSM Administrator"


# -- teams and roles ------------------------------------------------------------------------------


class TestTeamsAndRoles:
    def test_team_list_is_a_bare_array_without_disabled_teams_unless_asked(self, sim):
        with api_client(sim) as client:
            enabled = client.get("/api/Team").json()
            everything = client.get("/api/Team", params={"includedisabled": "true"}).json()
        assert ids(enabled) == [t["id"] for t in sim.tenant.teams if not t["inactive"]]
        assert everything == sim.tenant.teams

    def test_single_team_lists_its_membership_rows_with_includeagents(self, sim):
        with api_client(sim) as client:
            for team in sim.tenant.teams:
                plain = client.get(f"/api/Team/{team['id']}").json()
                body = client.get(f"/api/Team/{team['id']}", params={"includeagents": "true"}).json()
                assert "agents" not in plain
                assert {int(r["agent_id"]) for r in body["agents"]} == sim.tenant.team_members(team["id"])
                assert all(int(r["team_id"]) == team["id"] for r in body["agents"])
            assert client.get("/api/Team/424242").status_code == 404

    def test_roles_are_a_bare_array_with_string_ids(self, sim):
        with api_client(sim) as client:
            roles = client.get("/api/Roles").json()
            one = client.get(f"/api/roles/{roles[0]['id']}").json()
            missing = client.get("/api/Roles/00000000-0000-0000-0000-000000000000")
        assert sorted(ids(roles)) == ids(roles) == sorted(r["id"] for r in sim.tenant.roles)
        assert all(isinstance(r["id"], str) and isinstance(r["id_int"], int) for r in roles)
        assert one == roles[0]
        assert missing.status_code == 404

    def test_roles_filter_by_agentid(self, sim):
        agent = next(a for a in sim.tenant.agents if len(a["roles"]) >= 1 and a["id"] != 1)
        with api_client(sim) as client:
            held = client.get("/api/Roles", params={"agentid": agent["id"]}).json()
        assert set(ids(held)) == {r["id"] for r in agent["roles"]}


# -- end users ------------------------------------------------------------------------------------


class TestUsers:
    def test_users_envelope_without_paging(self, sim):
        active = [u["id"] for u in sim.tenant.users if not u["inactive"]]
        with api_client(sim) as client:
            body = client.get("/api/Users").json()
            limited = client.get("/api/Users", params={"count": 5}).json()
            everyone = client.get("/api/Users", params={"includeinactive": "true"}).json()
            inactive_only = client.get(
                "/api/Users", params={"includeinactive": "true", "includeactive": "false"}
            ).json()
        assert list(body) == ["record_count", "users"]
        assert (body["record_count"], ids(body["users"])) == (len(active), active)
        assert ids(limited["users"]) == active[:5]
        assert ids(everyone["users"]) == [u["id"] for u in sim.tenant.users]
        assert inactive_only["users"] and all(u["inactive"] for u in inactive_only["users"])

    def test_users_pages_cap_the_size_echo_it_and_end_empty(self, make_sim):
        server = make_sim(page_cap=50, tenant=TenantSpec(seed=4, users=230))
        truth = [u["id"] for u in server.tenant.users]
        seen = []
        with api_client(server) as client:
            for page_no in range(1, 6):
                body = client.get(
                    "/api/Users",
                    params={
                        "pageinate": "true",
                        "page_no": page_no,
                        "page_size": 200,
                        "includeinactive": "true",
                    },
                ).json()
                assert list(body) == ["page_no", "page_size", "record_count", "users"]
                assert (body["page_no"], body["page_size"], body["record_count"]) == (page_no, 50, 230)
                seen += ids(body["users"])
            past = client.get(
                "/api/Users", params={"pageinate": "true", "page_no": 6, "includeinactive": "true"}
            ).json()
            small = client.get("/api/Users", params={"pageinate": "true", "page_size": 7}).json()
        assert seen == truth
        assert past["users"] == [] and past["record_count"] == 230
        assert (small["page_size"], len(small["users"])) == (7, 7)

    def test_single_user_and_sites_and_clients(self, sim):
        user = sim.tenant.users[3]
        with api_client(sim) as client:
            assert client.get(f"/api/Users/{user['id']}").json() == user
            assert client.get("/api/Users/1").status_code == 404
            assert client.get("/api/Site").json()["record_count"] == len(sim.tenant.sites)
            assert client.get("/api/Client").json()["clients"] == sim.tenant.clients

    def test_users_serve_live_mutations_in_id_order(self, make_sim):
        server = make_sim(tenant=build_tenant(TenantSpec(seed=9, users=20, inactive_users=0.0)))
        users = server.tenant.users
        duplicate = dict(users[5])
        users.append(duplicate)
        users.append({"id": None, "name": "broken row"})
        with api_client(server) as client:
            served = client.get("/api/Users").json()["users"]
        assert served[:7] == [*users[:6], duplicate]
        assert served[-1] == {"id": None, "name": "broken row"}
        assert len(served) == 22


# -- stats ----------------------------------------------------------------------------------------


class TestStats:
    def test_stats_count_requests_per_endpoint_and_status(self, make_sim):
        server = make_sim()
        with api_client(server) as client:
            client.get("/api/Agent")
            client.get("/api/agent")
            client.get("/api/Agent/7")
            client.get("/api/Agent/999999")
            client.get("/api/Nope")
        httpx.get(f"{server.base_url}/api/Team", trust_env=False)
        expected = {
            "GET /api/Agent": 2,
            "GET /api/Agent/{id}": 2,
            "GET /api/Nope": 1,
            "GET /api/Team": 1,
            "POST /auth/token": 1,
        }
        assert server.request_counts() == expected
        assert server.total_requests() == 7
        assert server.responses_by_status() == {200: 4, 401: 1, 404: 2}
        stats = httpx.get(f"{server.base_url}/_sim/stats", trust_env=False).json()
        assert stats == {
            "requests": expected,
            "total": 7,
            "by_status": {"200": 4, "401": 1, "404": 2},
            "rate_limited": 0,
            "faults_fired": {},
            "writes": {"posts": 0, "agents_updated": 0, "agents_created": 0, "rejected": 0},
        }
        server.reset_counts()
        assert (server.request_counts(), server.total_requests(), server.responses_by_status()) == ({}, 0, {})
