"""One agent's memberships as `GET /api/Agent/{id}?includedetails=true` returns them, and their diff.

A team or department row is *direct* when its `role_id` is blank (None, "", 0), else *inherited*
from that role (the extraction's rule, `halo.extract.via_role`). HaloITSM derives inherited rows from
the agent's roles, so provisioning never writes them. Each membership becomes one readable fact:

    team:3                   a direct row for team 3
    team:1<-role:8fe2…       a row for team 1 inherited from that role
    role:8fe2…               the agent holds the role (ids compared lower-cased)
    department:2             a direct department row (likewise `department:2<-role:…`)

Comparing the facts before and after a write shows what it changed; anything beyond the target
(and, for a role, the rows that role brings) is an unexpected change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from halo_c1.halo.extract import via_role
from halo_c1.halo.paging import normalize_id
from halo_c1.provision.request import FAILED_PRECONDITION, Refusal

Row = dict[str, Any]


def _rows(payload: dict[str, Any], key: str, agent_id: int, *, required: bool) -> tuple[Row, ...] | None:
    value = payload.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise Refusal(
            FAILED_PRECONDITION,
            f"GET /api/Agent/{agent_id}?includedetails=true returned no usable {key!r} list "
            f"({'absent' if value is None else type(value).__name__}); refusing to compute a new "
            f"{key} list from absent data",
        )
    return tuple(value)


def _target(row: Row, key: str, agent_id: int, list_name: str) -> str:
    value = normalize_id(row.get(key))
    if not value or not value.strip():
        raise Refusal(
            FAILED_PRECONDITION,
            f"agent {agent_id}: a {list_name} row has no {key} ({sorted(row)[:8]}); refusing to rewrite "
            f"the {list_name} list around a row it cannot identify",
        )
    return value


@dataclass(frozen=True)
class AgentAccess:
    """The memberships of one agent, with the rows kept exactly as HaloITSM returned them."""

    agent_id: int
    teams: tuple[Row, ...]
    roles: tuple[Row, ...]
    departments: tuple[Row, ...] | None

    @classmethod
    def from_payload(cls, payload: Any, agent_id: int) -> AgentAccess:
        """Refuses (FAILED_PRECONDITION) unless `teams` and `roles` are present and every row is readable."""
        if not isinstance(payload, dict) or normalize_id(payload.get("id")) != str(agent_id):
            raise Refusal(
                FAILED_PRECONDITION,
                f"GET /api/Agent/{agent_id}?includedetails=true did not return agent {agent_id}",
            )
        access = cls(
            agent_id,
            _rows(payload, "teams", agent_id, required=True) or (),
            _rows(payload, "roles", agent_id, required=True) or (),
            _rows(payload, "departments", agent_id, required=False),
        )
        access.facts()  # every row must be identifiable before anything is computed from them
        return access

    def team_of(self, row: Row) -> str:
        return _target(row, "team_id", self.agent_id, "teams")

    def role_of(self, row: Row) -> str:
        return _target(row, "id", self.agent_id, "roles").lower()

    def direct_team_rows(self) -> list[Row]:
        return [row for row in self.teams if via_role(row.get("role_id")) is None]

    def team_rows(self, team_id: str) -> list[Row]:
        return [row for row in self.teams if self.team_of(row) == team_id]

    def inherited_from(self, team_id: str) -> dict[str, str]:
        """Role id -> role name (or id) for each role that brings team `team_id` to the agent."""
        found = {}
        for row in self.team_rows(team_id):
            role_id = via_role(row.get("role_id"))
            if role_id is not None:
                found[role_id] = str(row.get("role_name") or role_id)
        return found

    def holds_role(self, role_id: str) -> bool:
        return any(self.role_of(row) == role_id.lower() for row in self.roles)

    def facts(self) -> frozenset[str]:
        facts = set()
        for row in self.teams:
            role = via_role(row.get("role_id"))
            facts.add(f"team:{self.team_of(row)}" + (f"<-role:{role.lower()}" if role else ""))
        facts.update(f"role:{self.role_of(row)}" for row in self.roles)
        for row in self.departments or ():
            role = via_role(row.get("role_id"))
            dep = _target(row, "department_id", self.agent_id, "departments")
            facts.add(f"department:{dep}" + (f"<-role:{role.lower()}" if role else ""))
        return frozenset(facts)

    def lists(self) -> dict[str, list[Row]]:
        """The lists as returned, for the audit."""
        out = {"teams": list(self.teams), "roles": list(self.roles)}
        if self.departments is not None:
            out["departments"] = list(self.departments)
        return out


def diff(before: frozenset[str], after: frozenset[str]) -> dict[str, list[str]]:
    return {"added": sorted(after - before), "removed": sorted(before - after)}


def describe(changes: dict[str, list[str]]) -> str:
    parts = [f"+{fact}" for fact in changes.get("added", [])] + [
        f"-{fact}" for fact in changes.get("removed", [])
    ]
    return ", ".join(parts) if parts else "no change"
