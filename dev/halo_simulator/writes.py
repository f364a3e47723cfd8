"""`POST /api/Agent`: Halo's upsert, with the list semantics the spec leaves open switchable.

What is known (haloitsm-api.md §2.0, c1-service-mode.md §6): the body is an array of agents (one
object is accepted too); an element whose `id` names an agent updates it with the fields given (a
partial body); an element without a known `id` creates an agent. What a posted `teams`,
`departments` or `roles` list does to the agent's memberships is open (§6 [O]), so
`SimulatorConfig.list_semantics` picks one reading, for all three lists alike:

- `"replace"`: the posted list becomes the agent's direct rows (rows left out are removed).
- `"merge"`: posted rows are added, or update the direct row for the same team/department/role;
  nothing is ever removed.
- `"ignore_empty"`: as `"replace"`, but an empty list changes nothing (so the last row cannot go).
- `"drop_removal"`: rows for new teams/departments/roles are added; rows left out silently stay
  and existing rows are not touched: a removal is accepted (200) and dropped.

Inherited rows (a non-empty `role_id`) are never taken from the body: Halo derives them from the
agent's roles, and so does the simulator after every write (`recompute_inherited`). A posted
inherited row is ignored, or refused with 400 under `SimulatorConfig.reject_inherited_rows`, so
a test can prove a client never posts them. Unknown team, department or role ids are refused
with 400, as is a body that is not an agent object or array of them.
"""

from __future__ import annotations

from typing import Any

from .tenant import Row, Tenant, _dicts, _int_id

LIST_SEMANTICS = ("replace", "merge", "ignore_empty", "drop_removal")
_LIST_KEYS = ("teams", "departments", "roles")


class WriteRejected(Exception):
    """The write is refused with HTTP 400; the message names the offending field or row."""


def is_direct(row: Row) -> bool:
    """A membership row without a role is direct; "", None and 0 all mean "no role"."""
    role_id = row.get("role_id")
    return role_id in (None, "", 0) or (isinstance(role_id, str) and role_id.strip() in ("", "0"))


class AgentWriter:
    """Applies posted agents to a live tenant, under one list semantic."""

    def __init__(self, tenant: Tenant, semantics: str, *, reject_inherited_rows: bool = False) -> None:
        if semantics not in LIST_SEMANTICS:
            raise ValueError(f"list_semantics must be one of {LIST_SEMANTICS}, not {semantics!r}")
        self.tenant = tenant
        self.semantics = semantics
        self.reject_inherited_rows = reject_inherited_rows
        self._issued: dict[str, int] = {}

    def validate(self, body: Any) -> list[Row]:
        """The posted agents as a list; raises `WriteRejected` before anything changes."""
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(item, dict) for item in items):
            raise WriteRejected("the body must be an agent object or a non-empty array of agent objects")
        for item in items:
            for key in _LIST_KEYS:
                if key in item:
                    self._posted_rows(key, item[key])  # raises on an unknown id or a bad row
        return items

    def apply(self, item: Row) -> tuple[Row, bool]:
        """Upsert one validated agent; returns the stored agent and whether it was created."""
        agent = self.tenant.agent(_int_id(item.get("id"))) if item.get("id") is not None else None
        created = agent is None
        if agent is None:
            agent = _new_agent(self._next_agent_id())
            self.tenant.agents.append(agent)
        for key, value in item.items():
            if key != "id" and key not in _LIST_KEYS:
                agent[key] = value
        for key in _LIST_KEYS:
            if key in item:
                direct = self._merge(key, _existing_direct(agent, key), self._posted_rows(key, item[key]))
                agent[key] = direct + ([] if key == "roles" else _inherited(agent, key))
        self.recompute_inherited(agent)
        for key in ("teams", "departments"):
            for row in _dicts(agent[key]):
                row.setdefault("agent_id", agent["id"])
                row.setdefault("agent_name", agent.get("name", ""))
        return agent, created

    # -- lists -----------------------------------------------------------------------------------

    def _merge(self, key: str, existing: list[Row], posted: list[Row]) -> list[Row]:
        target = _TARGET_KEY[key]
        if self.semantics == "replace" or (self.semantics == "ignore_empty" and posted):
            return posted
        if self.semantics == "ignore_empty":
            return existing
        by_target = {_key(r, target): r for r in existing}
        merged = list(existing)
        for row in posted:
            old = by_target.get(_key(row, target))
            if old is None:
                merged.append(row)
            elif self.semantics == "merge":
                merged[merged.index(old)] = {**old, **row}
        return merged

    def _posted_rows(self, key: str, value: Any) -> list[Row]:
        """The posted direct rows, completed from the tenant; inherited rows dropped or refused."""
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise WriteRejected(f"{key} must be an array of objects")
        rows, seen = [], set()
        for posted in value:
            if key != "roles" and not is_direct(posted):
                if self.reject_inherited_rows:
                    raise WriteRejected(
                        f"{key}: row for {_TARGET_KEY[key]} {posted.get(_TARGET_KEY[key])} carries "
                        f"role_id {posted.get('role_id')!r}; inherited rows cannot be written"
                    )
                continue
            row = self._complete(key, posted)
            if _key(row, _TARGET_KEY[key]) not in seen:
                seen.add(_key(row, _TARGET_KEY[key]))
                rows.append(row)
        return rows

    def _complete(self, key: str, posted: Row) -> Row:
        if key == "roles":
            role = self.tenant.role(str(posted.get("id", posted.get("role_id", ""))))
            if role is None:
                raise WriteRejected(f"roles: role {posted.get('id')!r} does not exist")
            return {"id": role["id"], "name": role["name"], "id_int": role["id_int"]}
        target = _TARGET_KEY[key]
        target_id = _int_id(posted.get(target))
        if key == "teams":
            team = self.tenant.team(target_id) if target_id is not None else None
            if team is None:
                raise WriteRejected(f"teams: team_id {posted.get(target)!r} does not exist")
            template = team_row(team, None, self._next_row_id("teams"))
        else:
            name = self.tenant.departments().get(target_id) if target_id is not None else None
            if name is None:
                raise WriteRejected(f"departments: department_id {posted.get(target)!r} does not exist")
            template = department_row(target_id, name, None, self._next_row_id("departments"))
        row = {**template, **posted, "role_id": None, "role_name": None}
        row[target] = target_id
        if not isinstance(row.get("id"), int):
            row["id"] = template["id"]
        return row

    def recompute_inherited(self, agent: Row) -> None:
        """Replace the agent's inherited team and department rows by what its roles grant now."""
        held = [self.tenant.role(str(r.get("id"))) for r in _dicts(agent.get("roles") or ())]
        for key, target in (("teams", "team_id"), ("departments", "department_id")):
            old = {(_key(r, target), str(r.get("role_id")).lower()): r for r in _inherited(agent, key)}
            fresh: list[Row] = []
            for role in held:
                if role is None:
                    continue
                for granted in _dicts(role.get(key) or ()):
                    pair = (_key(granted, target), str(role["id"]).lower())
                    row = old.get(pair) or self._inherited_row(key, granted, role)
                    if row is not None and row not in fresh:
                        fresh.append(row)
            agent[key] = _existing_direct(agent, key) + fresh
        agent["role_list"] = ", ".join(str(r.get("name", "")) for r in _dicts(agent.get("roles") or ()))

    def _inherited_row(self, key: str, granted: Row, role: Row) -> Row | None:
        if key == "teams":
            team = self.tenant.team(_int_id(granted.get("team_id")))
            return team_row(team, role, self._next_row_id(key)) if team is not None else None
        dep_id = _int_id(granted.get("department_id"))
        name = self.tenant.departments().get(dep_id) if dep_id is not None else None
        return department_row(dep_id, name or "", role, self._next_row_id(key))

    def _next_row_id(self, key: str) -> int:
        ids = [
            _int_id(r.get("id")) or 0 for a in _dicts(self.tenant.agents) for r in _dicts(a.get(key) or ())
        ]
        floor = 9000 if key == "departments" else 5000
        self._issued[key] = max([*ids, floor, self._issued.get(key, 0)]) + 1
        return self._issued[key]

    def _next_agent_id(self) -> int:
        return max([_int_id(a.get("id")) or 0 for a in _dicts(self.tenant.agents)] + [1]) + 1


_TARGET_KEY = {"teams": "team_id", "departments": "department_id", "roles": "id"}


def _key(row: Row, target: str) -> str:
    value = row.get(target)
    number = _int_id(value) if target != "id" else None
    return str(number) if number is not None else str(value).lower()


def _existing_direct(agent: Row, key: str) -> list[Row]:
    rows = list(_dicts(agent.get(key) or ()))
    return rows if key == "roles" else [r for r in rows if is_direct(r)]


def _inherited(agent: Row, key: str) -> list[Row]:
    return [r for r in _dicts(agent.get(key) or ()) if not is_direct(r)]


def team_row(team: Row, role: Row | None, row_id: int) -> Row:
    """An agent's team row (UnameSection) as the simulator serves it; `agent_*` filled by the caller."""
    name = team["name"]
    return {
        "id": row_id,
        "team_id": team["id"],
        "team_guid": team.get("guid"),
        "team_name": name,
        "department_id": team.get("department_id"),
        "org_department_team_name": team.get("org_team_name", name),
        "role_id": role["id"] if role else None,
        "role_name": role["name"] if role else None,
        "is_manager": False,
        "no_config_access": False,
        "unassigned_access": True,
        "otheragent_access": True,
        "fortickets": True,
        "foropps": False,
        "forprojects": bool(team.get("forprojects")),
        "in_section": True,
        "namewithinactive": f"{name} (Inactive)" if team.get("inactive") else name,
    }


def department_row(dep_id: int | None, name: str, role: Row | None, row_id: int) -> Row:
    return {
        "id": row_id,
        "department_id": dep_id,
        "department_name": name,
        "role_id": role["id"] if role else None,
        "role_name": role["name"] if role else None,
        "membershiplevel": 1,
        "includeteamsintree": False,
    }


def _new_agent(agent_id: int) -> Row:
    return {
        "id": agent_id,
        "name": "",
        "isdisabled": False,
        "is_agent": True,
        "isapiagent": False,
        "teams": [],
        "departments": [],
        "roles": [],
        "clients": [],
    }
