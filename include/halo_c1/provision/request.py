"""What C1 asks for and what halo-c1 answers, and the scope check between the two.

Only two entitlements are provisionable, for `agent` principals only (c1-service-mode.md §6.1):
`team:<int>:member` and `role:<id>:assigned`. Departments are derived by HaloITSM from teams and
roles, so they have nothing to write; every other entitlement or principal is refused by name.
Numeric ids must be spelled as the catalog spells them (`canonical_number`); whether the catalog
holds the agent, team or role at all is `catalog.py`'s check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from halo_c1 import model

# gRPC status code names, as C1 receives them in FinishTask.
OK = "OK"
NOT_FOUND = "NOT_FOUND"
FAILED_PRECONDITION = "FAILED_PRECONDITION"
INVALID_ARGUMENT = "INVALID_ARGUMENT"
UNIMPLEMENTED = "UNIMPLEMENTED"
UNAVAILABLE = "UNAVAILABLE"
PERMISSION_DENIED = "PERMISSION_DENIED"
INTERNAL = "INTERNAL"

GRANT_ALREADY_EXISTS = "GrantAlreadyExists"
GRANT_ALREADY_REVOKED = "GrantAlreadyRevoked"

PROVISIONABLE = {model.TEAM: model.MEMBER, model.ROLE: model.ASSIGNED}

# How HaloITSM and the catalog spell a numeric id: ASCII digits, no sign, no leading zero. `01`,
# `١` (Arabic-Indic one) and `²` are other spellings that int() or a server may read as 1; the
# answer's grant id would then match nothing in C1's catalog.
CANONICAL_NUMBER: Final = re.compile(r"[1-9][0-9]*", re.ASCII)


def canonical_number(value: str) -> bool:
    """True for the catalog's spelling of a HaloITSM numeric id (agent and team ids)."""
    return CANONICAL_NUMBER.fullmatch(value) is not None


@dataclass(frozen=True)
class ProvisionRequest:
    """One C1 grant or revoke task, flattened (for a revoke, the entitlement and principal of its grant)."""

    action: Literal["grant", "revoke"]
    task_id: str
    entitlement_id: str  # e.g. "team:3:member"
    resource_type: str  # "team" or "role" (entitlement.resource.id.resource_type)
    resource_id: str  # "3", or the role's id exactly as HaloITSM gives it
    principal_type: str  # "agent"
    principal_id: str  # the agent id, e.g. "12"


@dataclass(frozen=True)
class ProvisionOutcome:
    """What to send C1 in FinishTask: `code` "OK" is success; every other code is a non-retryable error."""

    code: str
    message: str
    annotations: tuple[
        str, ...
    ] = ()  # ("GrantAlreadyExists",) / ("GrantAlreadyRevoked",) when nothing changed
    grant_id: str | None = None  # "<entitlement_id>:agent:<agent_id>" on a successful grant

    @property
    def ok(self) -> bool:
        return self.code == OK


class Refusal(Exception):
    """Stop the operation and answer C1 with `code`; raised anywhere inside a grant or revoke."""

    def __init__(self, code: str, message: str, *, diff: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.diff = diff


@dataclass(frozen=True)
class Target:
    """A request that passed the scope check: which agent, which team or role, grant or revoke."""

    action: str
    kind: str  # "team" or "role"
    target_id: str  # team id as a decimal string, or the role id as requested
    agent_id: int
    entitlement_id: str  # as C1 sent it
    principal_id: str  # as C1 sent it

    @property
    def grant_id(self) -> str:
        return model.grant_id(self.entitlement_id, model.AGENT, self.principal_id)


def parse(request: ProvisionRequest) -> Target:
    """Check scope and shape; raises `Refusal` (UNIMPLEMENTED / INVALID_ARGUMENT) naming what is wrong."""
    if request.action not in ("grant", "revoke"):
        raise Refusal(INVALID_ARGUMENT, f"unknown provisioning action {request.action!r} (grant or revoke)")
    rtype, rid = request.resource_type, request.resource_id
    if rtype == model.DEPARTMENT:
        raise Refusal(
            UNIMPLEMENTED,
            f"{request.entitlement_id}: department membership is not provisionable; HaloITSM derives it "
            "from the agent's teams and roles, so grant a team or a role instead",
        )
    if rtype not in PROVISIONABLE:
        raise Refusal(
            UNIMPLEMENTED,
            f"resource type {rtype!r} ({request.entitlement_id}) is not provisionable; only "
            "team:<id>:member and role:<id>:assigned are",
        )
    if not rid or ":" in rid or rid != rid.strip():
        raise Refusal(INVALID_ARGUMENT, f"{rtype} id {rid!r} is not a HaloITSM {rtype} id")
    slug = request.entitlement_id.removeprefix(f"{rtype}:{rid}:")
    if slug == request.entitlement_id:
        raise Refusal(
            INVALID_ARGUMENT,
            f"entitlement {request.entitlement_id!r} does not belong to resource {rtype}:{rid}",
        )
    if slug != PROVISIONABLE[rtype]:
        raise Refusal(
            UNIMPLEMENTED,
            f"entitlement {request.entitlement_id!r} is not provisionable; for a {rtype} only "
            f"{rtype}:<id>:{PROVISIONABLE[rtype]} is",
        )
    if rtype == model.TEAM and not canonical_number(rid):
        raise Refusal(
            INVALID_ARGUMENT,
            f"team id {rid!r} is not a HaloITSM team id as the catalog spells it (ASCII digits without "
            "a leading zero); nothing was asked of HaloITSM",
        )
    if request.principal_type != model.AGENT:
        raise Refusal(
            INVALID_ARGUMENT,
            f"principal type {request.principal_type!r} cannot be provisioned; teams and roles are "
            "granted to agents only",
        )
    if not canonical_number(request.principal_id):
        raise Refusal(
            INVALID_ARGUMENT,
            f"agent id {request.principal_id!r} is not a HaloITSM agent id as the catalog spells it "
            "(ASCII digits without a leading zero); nothing was asked of HaloITSM",
        )
    return Target(
        action=request.action,
        kind=rtype,
        target_id=rid,
        agent_id=int(request.principal_id),
        entitlement_id=request.entitlement_id,
        principal_id=request.principal_id,
    )
