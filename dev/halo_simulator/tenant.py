"""A seeded HaloITSM tenant: agents, teams, agent roles, departments and end users, messy but valid.

The rows are plain dicts shaped as the simulator serves them (`shared/spec/haloitsm-api.md` §2), kept
in plain mutable lists, so a test can append a duplicate or a broken row, or edit a field, and the
running simulator serves the change on the next request.

Usage::

    tenant = build_tenant(TenantSpec(seed=1, agents=50, users=500))
    tenant.agents[0]            # the system "Unassigned" agent (id 1), then the integration agent
    tenant.departments()        # {2: "IT", ...}: departments referenced by agents and teams
    tenant.memberships()        # the grants a correct extraction must find
    tenant.drop_agents(0.2)     # remove 20% of the non-system agents and their membership rows
    tenant.evolve(3)            # three demo steps later: people joined, left, changed teams and roles

What makes it messy, deterministically for a seed:

- unicode names ("Zoë Ångström" and "李雷" are always the first two human agents), one name with
  stray spaces, two people with the same name;
- emails that are absent, `None`, `""`, whitespace, or padded and mixed-case (agents `email`,
  end users `emailaddress`);
- float-typed ids (`12.0`) on some membership rows and on some users' `site_id`;
- direct membership rows whose `role_id` is `None` or `""`; inherited rows (granted by an agent
  role) carry the role's string id in `role_id`; with two or more roles, Zoë holds the same team and
  the same department both directly and through the "1st Line Agent" role;
- disabled agents (`isdisabled`), API-only agents (`isapiagent`, one of them also disabled), the
  system "Unassigned" agent (id 1), inactive end users, service-account end users, a disabled team
  (`inactive`), an empty team, roles with GUID string ids plus `id_int`, id gaps everywhere.

Counting: `TenantSpec.agents` counts every agent except the system "Unassigned" one, so
`len(tenant.agents) == spec.agents + 1`. The first of them is the API agent the integration logs in
as (`GET /api/Agent/me`); `api_agents` includes it.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

UNASSIGNED_AGENT_ID = 1
EMAIL_DOMAIN = "acme.example"
_CLOCK_ORIGIN = datetime(2026, 11, 1, 8, 0, 0)  # fixed, so a seed always gives the same dates

Row = dict[str, Any]


@dataclass(frozen=True)
class TenantSpec:
    """What to generate. Every share is of the eligible rows; counts are clipped to what fits."""

    seed: int = 0
    agents: int = 20  # every agent except the system "Unassigned" one
    users: int = 100
    teams: int = 5
    roles: int = 4
    departments: int = 3
    api_agents: int = 2  # API-only agents, including the integration agent; the second one is disabled
    disabled_agents: float = 0.15  # share of the human agents
    disabled_teams: int = 1
    empty_teams: int = 1
    max_teams_per_agent: int = 3
    inactive_users: float = 0.1
    service_accounts: int = 3  # end users with isserviceaccount
    linked_users: float = 0.05  # end users linked to an agent (linked_agent_id)
    sites: int = 4

    def __post_init__(self) -> None:
        if self.agents < 1:
            raise ValueError("TenantSpec.agents must be >= 1 (the integration agent)")
        for name in ("users", "teams", "roles", "departments", "api_agents", "sites"):
            if getattr(self, name) < 0:
                raise ValueError(f"TenantSpec.{name} must be >= 0")


class Membership(NamedTuple):
    """One (resource, agent) pair as a correct extraction sees it: one grant per pair.

    `resource_type` is "team", "department" or "role"; `resource_id` is the Halo id as a string
    (`"3"`, never `"3.0"`; a role's string id as given). `direct` is True when a row without a
    `role_id` exists (always True for roles); `via_roles` lists the role ids that granted it.
    """

    resource_type: str
    resource_id: str
    agent_id: int
    direct: bool
    via_roles: tuple[str, ...]


@dataclass
class Tenant:
    """The generated tenant, served live by the simulator. Lists are plain and mutable."""

    spec: TenantSpec
    agents: list[Row] = field(default_factory=list)
    teams: list[Row] = field(default_factory=list)
    roles: list[Row] = field(default_factory=list)
    users: list[Row] = field(default_factory=list)
    sites: list[Row] = field(default_factory=list)
    clients: list[Row] = field(default_factory=list)
    service_agent_id: int = 2
    unassigned_agent_id: int = UNASSIGNED_AGENT_ID

    # -- lookups ---------------------------------------------------------------------------------

    def agent(self, agent_id: int) -> Row | None:
        return next((a for a in _dicts(self.agents) if _int_id(a.get("id")) == agent_id), None)

    def team(self, team_id: int) -> Row | None:
        return next((t for t in _dicts(self.teams) if _int_id(t.get("id")) == team_id), None)

    def role(self, role_id: str) -> Row | None:
        wanted = str(role_id).lower()
        return next((r for r in _dicts(self.roles) if str(r.get("id", "")).lower() == wanted), None)

    def non_system_agents(self) -> list[Row]:
        """Agents other than "Unassigned" and the integration agent."""
        system = {self.unassigned_agent_id, self.service_agent_id}
        return [a for a in _dicts(self.agents) if _int_id(a.get("id")) not in system]

    # -- truth -----------------------------------------------------------------------------------

    def departments(self) -> dict[int, str]:
        """Department id -> name, as referenced by agents' `departments` rows and by teams."""
        found: dict[int, str] = {}
        for team in _dicts(self.teams):
            dep_id = _int_id(team.get("department_id"))
            if dep_id:  # 0 or null: the team belongs to no department
                found.setdefault(dep_id, team.get("department_name") or "")
        for agent in _dicts(self.agents):
            for row in _dicts(agent.get("departments") or ()):
                dep_id = _int_id(row.get("department_id"))
                if dep_id:
                    found.setdefault(dep_id, row.get("department_name") or "")
        return dict(sorted(found.items()))

    def memberships(self) -> list[Membership]:
        """Every (team|department|role, agent) pair, direct and inherited rows merged, sorted."""
        pairs: dict[tuple[str, str, int], tuple[bool, set[str]]] = {}

        def add(kind: str, resource_id: str, agent_id: int, role_id: Any) -> None:
            direct, via = pairs.get((kind, resource_id, agent_id), (False, set()))
            if role_id in (None, ""):
                direct = True
            else:
                via = via | {str(role_id)}
            pairs[kind, resource_id, agent_id] = (direct, via)

        for agent in _dicts(self.agents):
            agent_id = _int_id(agent.get("id"))
            if agent_id is None:
                continue
            for row in _dicts(agent.get("teams") or ()):
                team_id = _int_id(row.get("team_id"))
                if team_id is not None:
                    add("team", str(team_id), agent_id, row.get("role_id"))
            for row in _dicts(agent.get("departments") or ()):
                dep_id = _int_id(row.get("department_id"))
                if dep_id is not None:
                    add("department", str(dep_id), agent_id, row.get("role_id"))
            for role in _dicts(agent.get("roles") or ()):
                if role.get("id") not in (None, ""):
                    add("role", str(role["id"]), agent_id, None)
        return [
            Membership(kind, rid, aid, direct, tuple(sorted(via)))
            for (kind, rid, aid), (direct, via) in sorted(pairs.items())
        ]

    def team_members(self, team_id: int) -> set[int]:
        return {
            m.agent_id
            for m in self.memberships()
            if m.resource_type == "team" and m.resource_id == str(team_id)
        }

    # -- mutation --------------------------------------------------------------------------------

    def drop_agents(self, fraction: float, seed: int = 0) -> list[int]:
        """Remove `fraction` of the non-system agents (their membership rows live on them and go too).

        Returns the removed ids, sorted. The lists are changed in place, so a running simulator
        serves the smaller tenant at once. End users' `linked_agent_id` may then dangle, as in Halo.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be within [0, 1]")
        eligible = self.non_system_agents()
        count = round(fraction * len(eligible))
        removed = {id(a) for a in random.Random(f"drop/{seed}").sample(eligible, count)}
        removed_ids = sorted(_int_id(a.get("id")) or 0 for a in eligible if id(a) in removed)
        self.agents[:] = [a for a in self.agents if id(a) not in removed]
        return removed_ids

    def evolve(self, steps: int) -> list[str]:
        """Move the tenant on by `steps` demo steps, as a tenant changes between two scheduled runs.

        Each step, seeded by the spec's seed and its number (so step 3 is always the same step): two
        people join as agents (teams, sometimes a role), one agent leaves, two agents change teams,
        one gains a role and one loses one, one is disabled, three end users join and two leave.
        `evolve(n)` applies steps 1..n, so a freshly built tenant evolved by n is always the same
        tenant. Returns what happened, one line per change, for the demo's console.
        """
        if steps < 0:
            raise ValueError("steps must be >= 0")
        return [line for step in range(1, steps + 1) for line in _Evolution(self, step).apply()]


def build_tenant(spec: TenantSpec | None = None) -> Tenant:
    """Generate a tenant; the same spec always gives the same rows."""
    return _Builder(spec or TenantSpec()).build()


# -- helpers shared with the app ------------------------------------------------------------------


def _dicts(rows: Iterable[Any]) -> Iterable[Row]:
    return (r for r in rows if isinstance(r, dict))


def _int_id(value: Any) -> int | None:
    """12, 12.0 and "12" -> 12; anything else -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except ValueError:
            return None
    return None


# -- generation -----------------------------------------------------------------------------------

_FIRST = (
    "Zoë",
    "José",
    "Søren",
    "Łukasz",
    "Chloé",
    "Björn",
    "Anaïs",
    "Dmitri",
    "Aoife",
    "Siobhán",
    "Mateo",
    "Priya",
    "Olúwaseun",
    "Jürgen",
    "Émile",
    "Fatima",
    "Kenji",
    "Ingrid",
    "Nguyễn Văn",
    "Amara",
    "Oscar",
    "Hannah",
    "Liam",
    "Mia",
    "Noah",
    "Grace",
    "Ethan",
    "Isla",
    "Raj",
    "Sofía",
    "Tomás",
    "Yara",
)
_LAST = (
    "Ångström",
    "Müller",
    "O'Brien",
    "García-López",
    "Nowak",
    "Kowalczyk",
    "Smith",
    "Öztürk",
    "Dubois",
    "Ó Súilleabháin",
    "van der Berg",
    "Patel",
    "Nakamura",
    "Ødegaard",
    "Jones",
    "Brown",
    "Wilson",
    "Taylor",
    "Davies",
    "Evans",
    "Thomas",
    "Roberts",
    "Lefèvre",
    "Šimić",
    "Ferreira",
    "Lindqvist",
)
# (surname, given name) pairs written without a space, family name first.
_EAST_ASIAN = (("李", "雷"), ("王", "芳"), ("山田", "太郎"), ("김", "민준"), ("陈", "静"), ("佐藤", "花子"))
_OTHER_SCRIPTS = (("Иванов", "Дмитрий"), ("Παπαδόπουλος", "Νίκος"), ("حداد", "سارة"), ("Kovács", "Réka"))
_TEAM_NAMES = (
    "1st Line",
    "2nd Line",
    "Network & Infrastructure",
    "Änderungsmanagement",
    "Service Desk 東京",
    "Field Services",
    "Security Operations",
    "Applications",
    "Identity & Access",
    "Équipe Support",
    "Desktop Support",
    "Database Admins",
    "Procurement",
    "Onboarding",
    "Major Incidents",
)
_DEPARTMENT_NAMES = (
    "IT",
    "Human Resources",
    "Facilities",
    "Finance",
    "Développement",
    "Operations",
    "Legal",
    "Sales",
)
_ROLE_NAMES = (
    "HaloITSM Administrator",
    "1st Line Agent",
    "2nd Line Agent",
    "Change Approver",
    "Read-Only Auditor",
    "Team Lead",
    "Asset Manager",
    "Knowledge Author",
)
_API_AGENT_NAMES = ("HaloC1 Integration", "Azure AD Sync (retired)", "Monitoring Bot", "Okta Provisioning")
_SITE_NAMES = ("Head Office", "Zürich Office", "東京 Branch", "Remote", "Warehouse", "São Paulo")
_JOB_TITLES = ("Service Desk Analyst", "Engineer", "Team Lead", "", "Change Manager", "Administrator")
_EMAIL_QUIRKS = ("padded_mixed_case", "blank", "absent", "none", "whitespace")


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_NO_DECOMPOSITION = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "æ": "ae", "ß": "ss", "đ": "d"})


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_NO_DECOMPOSITION))
    ascii_text = folded.encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def _ids(rng: random.Random, start: int, count: int) -> list[int]:
    """Ascending ids with occasional gaps, as deleted rows leave in Halo."""
    ids, current = [], start
    for _ in range(count):
        ids.append(current)
        current += rng.choice((1, 1, 1, 1, 2, 3))
    return ids


def _quirks(rng: random.Random, count: int, share: float, keep_clean: int = 0) -> list[str | None]:
    """One email quirk (or None) per row: every quirk at least once when there is room, then random.

    The first `keep_clean` rows keep clean emails (fixture rows tests can rely on).
    """
    out: list[str | None] = [None] * count
    positions = list(range(keep_clean, count))
    rng.shuffle(positions)
    for quirk, pos in zip(_EMAIL_QUIRKS, positions, strict=False):
        out[pos] = quirk
    for pos in positions[len(_EMAIL_QUIRKS) :]:
        if rng.random() < share:
            out[pos] = rng.choice(_EMAIL_QUIRKS)
    return out


def _set_email(row: Row, key: str, clean: str, quirk: str | None) -> None:
    if quirk is None:
        row[key] = clean
    elif quirk == "padded_mixed_case":
        local, _, domain = clean.partition("@")
        row[key] = f"  {local.title()}@{domain.upper()} "
    elif quirk == "blank":
        row[key] = ""
    elif quirk == "whitespace":
        row[key] = "   "
    elif quirk == "none":
        row[key] = None
    # "absent": no key at all


class _Builder:
    def __init__(self, spec: TenantSpec) -> None:
        self.spec = spec
        self._emails: set[str] = set()
        self._team_row_id = 5001
        self._dep_row_id = 9001

    def rng(self, stream: str) -> random.Random:
        # One stream per entity, so changing the user count does not reshuffle the agents.
        return random.Random(f"halo-sim/{self.spec.seed}/{stream}")

    def build(self) -> Tenant:
        deps = self._departments()
        teams, empty_team_ids = self._teams(deps)
        assignable = [t for t in teams if t["id"] not in empty_team_ids]  # empty teams stay empty
        roles, grants = self._roles([t for t in assignable if not t["inactive"]])
        agents = self._agents(deps, assignable, roles, grants)
        sites, clients = self._sites()
        users = self._users(agents, sites, clients[0])
        return Tenant(
            spec=self.spec,
            agents=agents,
            teams=teams,
            roles=roles,
            users=users,
            sites=sites,
            clients=clients,
            service_agent_id=agents[1]["id"],
        )

    # -- reference data --------------------------------------------------------------------------

    def _departments(self) -> list[Row]:
        rng = self.rng("departments")
        ids = _ids(rng, 2, self.spec.departments)
        return [
            {"id": dep_id, "guid": _guid(rng), "name": _pick_name(_DEPARTMENT_NAMES, i, "Department")}
            for i, dep_id in enumerate(ids)
        ]

    def _teams(self, deps: list[Row]) -> tuple[list[Row], set[int]]:
        rng = self.rng("teams")
        n = self.spec.teams
        special = max(0, n - 1)  # keep at least one ordinary team
        disabled = min(self.spec.disabled_teams, special)
        empty = min(self.spec.empty_teams, special - disabled)
        teams, empty_ids = [], set()
        for i, team_id in enumerate(_ids(rng, 1, n)):
            dep = deps[i % len(deps)] if deps else None
            name = _pick_name(_TEAM_NAMES, i, "Team")
            is_disabled = i >= n - disabled
            if n - disabled - empty <= i < n - disabled:
                empty_ids.add(team_id)
            teams.append(
                {
                    "id": team_id,
                    "guid": _guid(rng),
                    "name": name,
                    "sequence": i + 1,
                    "forrequests": True,
                    "foropps": False,
                    "forprojects": i % 4 == 3,
                    "ticket_count": rng.randrange(0, 400),
                    "department_id": dep["id"] if dep else 0,
                    "department_name": dep["name"] if dep else "",
                    "department_guid": dep["guid"] if dep else None,
                    "org_team_name": f"{dep['name']}/{name}" if dep else name,
                    "inactive": is_disabled,
                }
            )
        return teams, empty_ids

    def _roles(self, grantable: list[Row]) -> tuple[list[Row], dict[str, tuple[list[Row], list[int]]]]:
        """The roles, and per role id the teams and department ids it grants (never a disabled team)."""
        rng = self.rng("roles")
        roles, grants = [], {}
        for i in range(self.spec.roles):
            name = _pick_name(_ROLE_NAMES, i, "Role")
            role_id = _guid(rng)
            if i == 0:  # the administrator role grants nothing
                granted: list[Row] = []
            elif i == 1 and grantable:  # "1st Line Agent" always grants the first team
                granted = [grantable[0]]
            else:
                granted = rng.sample(grantable, min(len(grantable), rng.choice((0, 1, 1, 2))))
            dep_ids = sorted({t["department_id"] for t in granted if t["department_id"]})
            role = {
                "id": role_id,
                "name": name,
                "normalizedName": name.upper(),
                "concurrencyStamp": _guid(rng),
                "id_int": i + 1,
                "notes": "",
                "is_integration": False,
                "access_control_level": 0,
            }
            role["teams"] = [
                {
                    "id": 700 + 10 * i + k,
                    "team_id": t["id"],
                    "team_name": t["name"],
                    "department_id": t["department_id"],
                    "role_id": role_id,
                    "role_name": name,
                }
                for k, t in enumerate(granted)
            ]
            role["departments"] = [
                {"id": 800 + 10 * i + k, "department_id": d, "role_id": role_id, "role_name": name}
                for k, d in enumerate(dep_ids)
            ]
            roles.append(role)
            grants[role_id] = (granted, dep_ids)
        return roles, grants

    def _sites(self) -> tuple[list[Row], list[Row]]:
        client = {
            "id": 12,
            "name": "Acme Internal",
            "toplevel_id": 1,
            "toplevel_name": "Acme",
            "inactive": False,
        }
        sites = [
            {
                "id": site_id,
                "name": _pick_name(_SITE_NAMES, i, "Site"),
                "client_id": 12.0,
                "client_name": client["name"],
                "inactive": False,
            }
            for i, site_id in enumerate(_ids(self.rng("sites"), 1, self.spec.sites))
        ]
        for site in sites:
            site["clientsite_name"] = f"{client['name']}/{site['name']}"
        return sites, [client]

    # -- agents ----------------------------------------------------------------------------------

    def _agents(
        self,
        deps: list[Row],
        assignable: list[Row],
        roles: list[Row],
        grants: dict[str, tuple[list[Row], list[int]]],
    ) -> list[Row]:
        rng = self.rng("agents")
        spec = self.spec
        n_api = max(1, min(spec.api_agents, spec.agents))
        n_humans = spec.agents - n_api
        ids = _ids(rng, 2, spec.agents)
        dep_by_id = {d["id"]: d for d in deps}

        agents = [_unassigned_agent()]
        for k in range(n_api):
            name = _pick_name(_API_AGENT_NAMES, k, "API Agent")
            agents.append(
                self._agent_base(rng, ids[k], name, "", name, quirk="absent", api=True, disabled=k == 1)
            )

        humans = self._human_names(rng, n_humans)
        quirks = _quirks(rng, n_humans, 0.1, keep_clean=2)  # Zoë and 李雷 keep clean emails
        pool = list(range(2, n_humans))
        n_disabled = round(spec.disabled_agents * n_humans) if n_humans >= 3 else 0
        disabled = set(rng.sample(pool, min(len(pool), max(1, n_disabled)))) if pool and n_disabled else set()
        for h, (first, last, name) in enumerate(humans):
            agents.append(
                self._agent_base(
                    rng, ids[n_api + h], name, first, last, quirk=quirks[h], api=False, disabled=h in disabled
                )
            )

        # Roles: the integration agent is the administrator; humans hold zero to two roles.
        for agent in agents[1:]:
            if agent["id"] == ids[0]:
                held = roles[:1]
            elif agent["isapiagent"]:
                held = []
            else:
                held = rng.sample(roles, min(len(roles), rng.choice((0, 1, 1, 1, 2))))
            agent["roles"] = [{"id": r["id"], "name": r["name"], "id_int": r["id_int"]} for r in held]

        # Zoë (first human) holds "1st Line Agent" and is also a direct member of what it grants.
        zoe = agents[1 + n_api] if n_humans else None
        if zoe is not None and len(roles) > 1 and not any(r["id"] == roles[1]["id"] for r in zoe["roles"]):
            zoe["roles"].append(
                {"id": roles[1]["id"], "name": roles[1]["name"], "id_int": roles[1]["id_int"]}
            )

        for agent in agents[1:]:
            direct_teams: list[Row] = []
            direct_deps: list[Row] = []
            if not agent["isapiagent"] and assignable:
                direct_teams = rng.sample(
                    assignable, min(len(assignable), rng.randint(0, spec.max_teams_per_agent))
                )
                direct_deps = rng.sample(deps, min(len(deps), rng.choice((0, 1, 1, 2)))) if deps else []
            if agent is zoe and len(roles) > 1:
                for team in grants[roles[1]["id"]][0]:
                    if team not in direct_teams:
                        direct_teams.insert(0, team)
                for dep_id in grants[roles[1]["id"]][1]:
                    if dep_by_id[dep_id] not in direct_deps:
                        direct_deps.insert(0, dep_by_id[dep_id])
            team_rows = [self._team_row(agent, t, None) for t in direct_teams]
            dep_rows = [self._dep_row(rng, agent, d, None) for d in direct_deps]
            for held in agent["roles"]:
                granted_teams, granted_deps = grants[held["id"]]
                team_rows += [self._team_row(agent, t, held) for t in granted_teams]
                dep_rows += [self._dep_row(rng, agent, dep_by_id[d], held) for d in granted_deps]
            agent["teams"], agent["departments"], agent["clients"] = team_rows, dep_rows, []
            agent["team"] = direct_teams[0]["name"] if direct_teams else ""
            agent["department"] = direct_deps[0]["name"] if direct_deps else ""
            agent["role_list"] = ", ".join(r["name"] for r in agent["roles"])
        return agents

    def _human_names(self, rng: random.Random, count: int) -> list[tuple[str, str, str]]:
        names: list[tuple[str, str, str]] = []
        for i in range(count):
            if i == 0:
                first, last, name = "Zoë", "Ångström", "Zoë Ångström"
            elif i == 1:
                first, last, name = "雷", "李", "李雷"
            elif i == 2:
                first, last, name = "Jane", "Doe", " Jane Doe "  # stray spaces
            elif i in (3, 4):
                first, last, name = "Jane", "Doe", "Jane Doe"  # two people with the same name
            else:
                first, last, name = _person(rng)
            names.append((first, last, name))
        return names

    def _agent_base(
        self,
        rng: random.Random,
        agent_id: int,
        name: str,
        first: str,
        last: str,
        *,
        quirk: str | None,
        api: bool,
        disabled: bool,
    ) -> Row:
        login = _slug(first)[:1] + _slug(last) if _slug(last) else f"agent{agent_id}"
        agent: Row = {
            "id": agent_id,
            "name": name,
            "firstname": first,
            "surname": last,
            "initials": "".join(p[:1] for p in (first, last) if p).upper(),
        }
        _set_email(agent, "email", self._unique_email(_email_local(first, last, f"agent{agent_id}")), quirk)
        agent.update(
            {
                "ad": "" if api or rng.random() < 0.3 else f"ACME\\{login}",
                "isdisabled": disabled,
                "is_agent": True,
                "isapiagent": api,
                "lastlogindate": None
                if api or rng.random() < 0.1
                else (_CLOCK_ORIGIN - timedelta(minutes=rng.randrange(60 * 24 * 400))).isoformat(
                    timespec="seconds"
                ),
                "jobtitle": "" if api else rng.choice(_JOB_TITLES),
                "namewithinactive": f"{name} (Inactive)" if disabled else name,
                "licence_type": 0 if api else 1,
            }
        )
        return agent

    def _team_row(self, agent: Row, team: Row, role: Row | None) -> Row:
        row_id = self._team_row_id
        self._team_row_id += 1
        floaty = row_id % 7 == 3  # some rows carry float-typed ids, as Halo's "number" fields can
        if role is not None:
            role_id, role_name = role["id"], role["name"]
        else:
            role_id, role_name = ("", "") if row_id % 5 == 1 else (None, None)
        name = team["name"]
        return {
            "id": row_id,
            "agent_id": float(agent["id"]) if floaty else agent["id"],
            "agent_name": agent["name"],
            "team_id": float(team["id"]) if floaty else team["id"],
            "team_guid": team["guid"],
            "team_name": name,
            "department_id": team["department_id"],
            "org_department_team_name": team["org_team_name"],
            "role_id": role_id,
            "role_name": role_name,
            "is_manager": row_id % 11 == 0,
            "no_config_access": False,
            "unassigned_access": True,
            "otheragent_access": True,
            "fortickets": True,
            "foropps": False,
            "forprojects": team["forprojects"],
            "in_section": True,
            "namewithinactive": f"{name} (Inactive)" if team["inactive"] else name,
        }

    def _dep_row(self, rng: random.Random, agent: Row, dep: Row, role: Row | None) -> Row:
        row_id = self._dep_row_id
        self._dep_row_id += 1
        if role is not None:
            role_id, role_name = role["id"], role["name"]
        else:
            role_id, role_name = ("", "") if row_id % 5 == 2 else (None, None)
        return {
            "id": row_id,
            "agent_id": agent["id"],
            "agent_name": agent["name"],
            "department_id": float(dep["id"]) if row_id % 7 == 3 else dep["id"],
            "department_guid": dep["guid"],
            "department_name": dep["name"],
            "role_id": role_id,
            "role_name": role_name,
            "membershiplevel": rng.choice((0, 1, 1, 2)),
            "includeteamsintree": rng.random() < 0.3,
        }

    # -- end users -------------------------------------------------------------------------------

    def _users(self, agents: list[Row], sites: list[Row], client: Row) -> list[Row]:
        rng = self.rng("users")
        spec = self.spec
        n = spec.users
        ids = _ids(rng, 11, n)
        quirks = _quirks(rng, n, 0.08)
        positions = list(range(n))
        rng.shuffle(positions)
        n_service = min(spec.service_accounts, n)
        service = set(positions[:n_service])
        inactive = set(positions[n_service : n_service + round(spec.inactive_users * n)])
        humans = [a for a in agents if not a["isapiagent"] and a["id"] != UNASSIGNED_AGENT_ID]
        linked = positions[len(service) + len(inactive) :][: min(len(humans), round(spec.linked_users * n))]
        link_to = dict(zip(linked, humans, strict=False))

        users = []
        for i, user_id in enumerate(ids):
            agent = link_to.get(i)
            if i in service:
                first, last, name = "", "", f"svc-{('backup', 'scanner', 'mfa', 'reporting')[i % 4]}-{i}"
            elif agent is not None:
                first, last, name = agent["firstname"], agent["surname"], agent["name"].strip()
            else:
                first, last, name = _person(rng)
            user: Row = {"id": user_id, "name": name, "firstname": first, "surname": last}
            clean = self._unique_email(_email_local(first, last, name if i in service else f"user{user_id}"))
            _set_email(user, "emailaddress", clean, quirks[i])
            site = sites[rng.randrange(len(sites))] if sites else None
            user.update(
                {
                    "login": ""
                    if rng.random() < 0.2
                    else clean
                    if rng.random() < 0.6
                    else f"ACME\\{clean.partition('@')[0]}",
                    "inactive": i in inactive,
                    "site_id": (float(site["id"]) if i % 2 else site["id"]) if site else 0,
                    "site_id_int": site["id"] if site else 0,
                    "site_name": site["name"] if site else "",
                    "client_id": client["id"],
                    "client_name": client["name"],
                    "isserviceaccount": i in service,
                    "linked_agent_id": agent["id"] if agent else 0,
                    "role_list": "End User",
                    "use": "user",
                }
            )
            users.append(user)
        return users

    def _unique_email(self, local: str) -> str:
        candidate, n = f"{local}@{EMAIL_DOMAIN}", 1
        while candidate in self._emails:
            n += 1
            candidate = f"{local}{n}@{EMAIL_DOMAIN}"
        self._emails.add(candidate)
        return candidate


def _unassigned_agent() -> Row:
    return {
        "id": UNASSIGNED_AGENT_ID,
        "name": "Unassigned",
        "firstname": "",
        "surname": "",
        "initials": "",
        "ad": "",
        "isdisabled": False,
        "is_agent": True,
        "isapiagent": False,
        "lastlogindate": None,
        "jobtitle": "",
        "namewithinactive": "Unassigned",
        "licence_type": 0,
        "team": "",
        "department": "",
        "role_list": "",
        "teams": [],
        "departments": [],
        "roles": [],
        "clients": [],
    }


def _person(rng: random.Random) -> tuple[str, str, str]:
    draw = rng.random()
    if draw < 0.08:
        last, first = rng.choice(_EAST_ASIAN)
        return first, last, f"{last}{first}"
    if draw < 0.12:
        last, first = rng.choice(_OTHER_SCRIPTS)
        return first, last, f"{first} {last}"
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return first, last, f"{first} {last}"


def _email_local(first: str, last: str, fallback: str) -> str:
    parts = [p for p in (_slug(first), _slug(last)) if p]
    return ".".join(parts) if len(parts) == 2 else _slug(fallback) or "user"


def _pick_name(pool: tuple[str, ...], i: int, prefix: str) -> str:
    return pool[i] if i < len(pool) else f"{prefix} {i + 1}"


class _Evolution:
    """One seeded demo step of a tenant (`Tenant.evolve`): joiners, leavers, movers, role changes."""

    def __init__(self, tenant: Tenant, step: int) -> None:
        self.tenant = tenant
        self.step = step
        self.rng = random.Random(f"halo-sim/{tenant.spec.seed}/evolve/{step}")
        self.builder = _Builder(tenant.spec)
        rows = [r for a in _dicts(tenant.agents) for r in _dicts(a.get("teams") or ())]
        deps = [r for a in _dicts(tenant.agents) for r in _dicts(a.get("departments") or ())]
        self.builder._team_row_id = max((_int_id(r.get("id")) or 0 for r in rows), default=5000) + 1
        self.builder._dep_row_id = max((_int_id(r.get("id")) or 0 for r in deps), default=9000) + 1
        self.builder._emails = {
            str(row.get(key) or "").strip().lower()
            for row, key in [(a, "email") for a in _dicts(tenant.agents)]
            + [(u, "emailaddress") for u in _dicts(tenant.users)]
        }
        self.lines: list[str] = []

    def apply(self) -> list[str]:
        for _ in range(2):
            self._join()
        self._leave()
        for _ in range(2):
            self._move()
        self._gain_role()
        self._lose_role()
        self._disable()
        self._users()
        return self.lines

    # -- who may change --------------------------------------------------------------------------

    def _humans(self, *, enabled: bool = False) -> list[Row]:
        """Human agents other than the fixture rows tests rely on (Zoë and 李雷, the first two)."""
        humans = [a for a in self.tenant.non_system_agents() if not a.get("isapiagent")]
        return [a for a in humans[2:] if not (enabled and a.get("isdisabled"))]

    def _active_teams(self) -> list[Row]:
        return [t for t in _dicts(self.tenant.teams) if not t.get("inactive")]

    def _department(self, dep_id: int) -> Row:
        name = self.tenant.departments().get(dep_id, "")
        guid = next(
            (
                t.get("department_guid")
                for t in _dicts(self.tenant.teams)
                if _int_id(t.get("department_id")) == dep_id
            ),
            None,
        )
        return {"id": dep_id, "guid": guid, "name": name}

    # -- changes ---------------------------------------------------------------------------------

    def _add_role(self, agent: Row, role: Row) -> None:
        agent["roles"].append({"id": role["id"], "name": role["name"], "id_int": role["id_int"]})
        for granted in role.get("teams") or ():
            team = self.tenant.team(_int_id(granted.get("team_id")) or 0)
            if team is not None:
                agent["teams"].append(self.builder._team_row(agent, team, role))
        for granted in role.get("departments") or ():
            dep = self._department(_int_id(granted.get("department_id")) or 0)
            agent["departments"].append(self.builder._dep_row(self.rng, agent, dep, role))
        agent["role_list"] = ", ".join(r["name"] for r in agent["roles"])

    def _join(self) -> None:
        agents = list(_dicts(self.tenant.agents))
        agent_id = max(_int_id(a.get("id")) or 0 for a in agents) + self.rng.choice((1, 1, 2))
        first, last, name = _person(self.rng)
        agent = self.builder._agent_base(
            self.rng, agent_id, name, first, last, quirk=None, api=False, disabled=False
        )
        teams = self._active_teams()
        joined = self.rng.sample(teams, min(len(teams), self.rng.choice((1, 1, 2))))
        agent.update(
            {
                "roles": [],
                "teams": [self.builder._team_row(agent, t, None) for t in joined],
                "departments": [],
                "clients": [],
                "team": joined[0]["name"] if joined else "",
                "department": "",
                "role_list": "",
            }
        )
        if self.tenant.roles and self.rng.random() < 0.5:
            self._add_role(agent, self.rng.choice(self.tenant.roles[1:] or self.tenant.roles))
        self.tenant.agents.append(agent)
        self.lines.append(
            f"joined: agent {agent_id} {name} ({', '.join(t['name'] for t in joined) or 'no team'})"
        )

    def _leave(self) -> None:
        humans = self._humans()
        if humans:
            gone = self.rng.choice(humans)
            self.tenant.agents.remove(gone)
            self.lines.append(f"left: agent {gone['id']} {gone['name']}")

    def _move(self) -> None:
        humans, teams = self._humans(enabled=True), self._active_teams()
        if not humans or not teams:
            return
        agent = self.rng.choice(humans)
        direct = [r for r in agent["teams"] if r.get("role_id") in (None, "")]
        held = {_int_id(r.get("team_id")) for r in agent["teams"]}
        if direct:
            left = self.rng.choice(direct)
            agent["teams"].remove(left)
            self.lines.append(f"moved: agent {agent['id']} {agent['name']} left team {left['team_name']}")
        candidates = [t for t in teams if t["id"] not in held]
        if candidates:
            team = self.rng.choice(candidates)
            agent["teams"].append(self.builder._team_row(agent, team, None))
            self.lines.append(f"moved: agent {agent['id']} {agent['name']} joined team {team['name']}")

    def _gain_role(self) -> None:
        humans = self._humans(enabled=True)
        if not humans or not self.tenant.roles:
            return
        agent = self.rng.choice(humans)
        held = {r["id"] for r in agent["roles"]}
        missing = [r for r in self.tenant.roles if r["id"] not in held]
        if missing:
            role = self.rng.choice(missing)
            self._add_role(agent, role)
            self.lines.append(f"role: agent {agent['id']} {agent['name']} gained {role['name']}")

    def _lose_role(self) -> None:
        holders = [a for a in self._humans() if a["roles"]]
        if not holders:
            return
        agent = self.rng.choice(holders)
        role = self.rng.choice(agent["roles"])
        agent["roles"].remove(role)
        for key in ("teams", "departments"):
            agent[key] = [r for r in agent[key] if r.get("role_id") != role["id"]]
        agent["role_list"] = ", ".join(r["name"] for r in agent["roles"])
        self.lines.append(f"role: agent {agent['id']} {agent['name']} lost {role['name']}")

    def _disable(self) -> None:
        humans = self._humans(enabled=True)
        if humans:
            agent = self.rng.choice(humans)
            agent["isdisabled"] = True
            agent["namewithinactive"] = f"{agent['name']} (Inactive)"
            self.lines.append(f"disabled: agent {agent['id']} {agent['name']}")

    def _users(self) -> None:
        users = self.tenant.users
        template = next((u for u in _dicts(users) if not u.get("isserviceaccount")), None)
        for _ in range(3):
            user_id = max((_int_id(u.get("id")) or 0 for u in _dicts(users)), default=10) + 1
            first, last, name = _person(self.rng)
            email = self.builder._unique_email(_email_local(first, last, f"user{user_id}"))
            user = {**(template or {}), "id": user_id, "name": name, "firstname": first, "surname": last}
            user.update({"emailaddress": email, "login": email, "inactive": False, "linked_agent_id": 0})
            users.append(user)
        people = [u for u in _dicts(users) if not u.get("isserviceaccount")]
        for gone in self.rng.sample(people, min(2, len(people))):
            users.remove(gone)
        self.lines.append("end users: 3 joined, 2 left")
