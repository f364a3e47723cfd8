"""Grant or revoke one team membership or role in HaloITSM: read, modify, write, verify, audit.

The steps (c1-service-mode.md §6.2-§6.6), under the agent's lease (`lease.py`):

0. The ids must be canonical and in the catalog C1 was delivered (`request.parse`, `catalog.py`),
   else INVALID_ARGUMENT before any HaloITSM request; every id in a URL is quoted (`halo.paths`).
1. `GET /api/Agent/{A}?includedetails=true` (404 → NOT_FOUND). `teams` and `roles` must be lists
   of identifiable rows, else FAILED_PRECONDITION: a new list is never computed from absent data.
2. `GET /api/Team/{T}` or `GET /api/Roles/{G}` (404 → NOT_FOUND); the object read back must carry
   the requested id, else FAILED_PRECONDITION.
3. Decide: already held directly → OK + GrantAlreadyExists; already absent → OK +
   GrantAlreadyRevoked; a team membership inherited from a role (alone or with a direct row) cannot
   be revoked → FAILED_PRECONDITION naming the role(s); a target row with `in_section: false`
   (meaning unknown) → FAILED_PRECONDITION. None of these writes.
4. `POST /api/Agent` `[{"id": A, "teams": [...]}]` (or `"roles"`): only the id and the one list,
   the existing direct rows verbatim, inherited rows never (HaloITSM derives them).
5. Re-read the agent and compare membership facts: the target must have changed and nothing else
   (a role may bring or take its own inherited rows). Otherwise INTERNAL with the before/after
   diff. Never an automatic repair: a second write on an agent HaloITSM just surprised us with
   could make it worse; a person looks at the diff.

HaloITSM errors (after the client's own handling: one token refresh on 401, bounded retries of
429/5xx/timeouts inside the rate budget): 400 → INVALID_ARGUMENT, 401/403 → PERMISSION_DENIED with
a hint, 404 → NOT_FOUND, retries exhausted or host unreachable → UNAVAILABLE.
"""

from __future__ import annotations

import logging
import socket
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from upath import UPath

from halo_c1.halo.client import HaloClient
from halo_c1.halo.errors import (
    HaloAuthError,
    HaloError,
    HaloResponseError,
    HaloRetriesExhausted,
    HaloUnreachableError,
)
from halo_c1.halo.paging import normalize_id
from halo_c1.halo.paths import api_path
from halo_c1.halo.settings import HaloSettings
from halo_c1.lake import Lake
from halo_c1.lease import Lease, LeaseBusy, LeaseLost
from halo_c1.provision import audit
from halo_c1.provision.access import AgentAccess, describe, diff
from halo_c1.provision.catalog import DeliveredCatalog
from halo_c1.provision.request import (
    FAILED_PRECONDITION,
    GRANT_ALREADY_EXISTS,
    GRANT_ALREADY_REVOKED,
    INTERNAL,
    INVALID_ARGUMENT,
    NOT_FOUND,
    OK,
    PERMISSION_DENIED,
    UNAVAILABLE,
    ProvisionOutcome,
    ProvisionRequest,
    Refusal,
    Target,
    parse,
)

log = logging.getLogger("halo_c1.provision")

PERMISSION_HINT = (
    "check the HaloITSM API application (Configuration > Integrations > HaloITSM API > Applications): "
    "its permissions must allow editing agents (Agents: edit, or scope 'all'/'admin'), and the agent it "
    "logs in as needs a role that may edit agents, teams and roles (HaloITSM Administrator)"
)


@dataclass
class _Record:
    """What the audit row collects while the operation runs."""

    before: AgentAccess | None = None
    after: AgentAccess | None = None
    changes: dict[str, list[str]] = field(default_factory=dict)
    inherited: dict[str, list[str]] = field(default_factory=dict)
    unexpected: dict[str, list[str]] = field(default_factory=dict)
    write_sent: bool = False
    writes: int = 0  # POSTs HaloITSM accepted


def provision(
    request: ProvisionRequest,
    *,
    halo: HaloSettings | HaloClient,
    lake: Lake | str | UPath,
    enabled: bool = True,
    lease_ttl_s: float = 60.0,
    lease_wait_s: float = 120.0,
) -> ProvisionOutcome:
    """Carry out one C1 grant/revoke task in HaloITSM and audit it; never raises for a HaloITSM problem.

    `halo`: settings (a client is made and closed here) or an open `HaloClient` (its request log
    must not be shared with concurrent work). `lake`: the lake (base URL or `Lake`) holding the
    audit table and the per-agent leases. `enabled=False` refuses every task with
    FAILED_PRECONDITION "provisioning is not enabled" without calling HaloITSM (still audited).
    """
    lake = lake if isinstance(lake, Lake) else Lake(lake)
    started_at, started = datetime.now(UTC), time.perf_counter()
    record = _Record()
    calls: list[dict[str, Any]] = []
    try:
        if not enabled:
            raise Refusal(
                FAILED_PRECONDITION,
                'provisioning is not enabled (set "provisioning": true in the conductorone_default '
                "connection's extra to let C1 change HaloITSM)",
            )
        target = parse(request)
        DeliveredCatalog.of(lake, target).require(target)
        with ExitStack() as stack:
            client = halo if isinstance(halo, HaloClient) else stack.enter_context(HaloClient(halo))
            first_call = len(client.request_log.rows)
            try:
                lease = stack.enter_context(
                    Lease(
                        lake.provisioning_lease(str(target.agent_id)),
                        what=f"agent {target.agent_id}",
                        ttl_s=lease_ttl_s,
                        wait_s=lease_wait_s,
                    )
                )
                outcome = _Operation(client, target, record, lease).run()
            finally:
                calls = audit.calls_from_request_log(client.request_log.rows[first_call:])
    except Refusal as refusal:
        outcome = ProvisionOutcome(refusal.code, refusal.message)
    except (LeaseBusy, LeaseLost) as exc:
        outcome = ProvisionOutcome(UNAVAILABLE, f"another task may be changing this agent: {exc}")
    except HaloError as exc:
        outcome = _halo_failure(exc, record.write_sent)
    except Exception as exc:  # the task must still be answered and audited
        log.exception("provisioning %s failed unexpectedly", request.task_id)
        outcome = ProvisionOutcome(INTERNAL, f"halo-c1 failed unexpectedly: {type(exc).__name__}: {exc}")
    _log_outcome(request, outcome)
    _audit(lake, request, outcome, record, calls, started_at, time.perf_counter() - started)
    return outcome


class _Operation:
    def __init__(self, client: HaloClient, target: Target, record: _Record, lease: Lease) -> None:
        self.client = client
        self.t = target
        self.record = record
        self.lease = lease
        self.posted_rows = 0

    def run(self) -> ProvisionOutcome:
        before = self.read_agent()
        self.record.before = before
        canonical_role = self.check_target()
        if self.t.kind == "team":
            body_list, expected = self.plan_team(before)
        else:
            body_list, expected = self.plan_role(before, canonical_role)
        if body_list is None:
            annotation = GRANT_ALREADY_EXISTS if self.t.action == "grant" else GRANT_ALREADY_REVOKED
            return self.success(f"{self.what()} already {self.done_word()}; nothing written", annotation)
        key = "teams" if self.t.kind == "team" else "roles"
        self.posted_rows = len(body_list)
        self.lease.check()
        self.record.write_sent = True
        self.client.post_json(api_path("Agent"), [{"id": self.t.agent_id, key: body_list}])
        self.record.writes += 1
        after = self.read_agent()
        self.record.after = after
        self.verify(before, after, expected)
        return self.success(f"{self.what()} {self.done_word()} in HaloITSM and verified", None)

    # -- reads -----------------------------------------------------------------------------------

    def read_agent(self) -> AgentAccess:
        try:
            payload = self.client.get_json(api_path("Agent", self.t.agent_id), {"includedetails": "true"})
        except HaloResponseError as exc:
            if exc.status == 404:
                raise Refusal(NOT_FOUND, f"agent {self.t.agent_id} does not exist in HaloITSM") from None
            raise
        return AgentAccess.from_payload(payload, self.t.agent_id)

    def check_target(self) -> str:
        """404 → NOT_FOUND; the object read back must carry the requested id, else nothing is written.

        Returns the id to write: the team id, or the role id as the catalog (and so HaloITSM) spells it.
        """
        path = api_path("Team" if self.t.kind == "team" else "Roles", self.t.target_id)
        try:
            payload = self.client.get_json(path)
        except HaloResponseError as exc:
            if exc.status == 404:
                raise Refusal(
                    NOT_FOUND, f"{self.t.kind} {self.t.target_id} does not exist in HaloITSM"
                ) from None
            raise
        read_id = normalize_id(payload.get("id")) if isinstance(payload, dict) else None
        same = read_id is not None and (
            read_id.lower() == self.t.target_id.lower()
            if self.t.kind == "role"
            else read_id == self.t.target_id
        )
        if not same:
            raise Refusal(
                FAILED_PRECONDITION,
                f"GET {path} returned {self.t.kind} {read_id!r}, not {self.t.target_id!r}; refusing to "
                "write an id HaloITSM does not confirm. Nothing was written",
            )
        return self.t.target_id

    # -- plans: (the list to post, or None for nothing to do; the facts expected afterwards) ------

    def plan_team(self, before: AgentAccess) -> tuple[list[dict[str, Any]] | None, frozenset[str]]:
        team = self.t.target_id
        rows = before.team_rows(team)
        if any(row.get("in_section") is False for row in rows):
            raise Refusal(
                FAILED_PRECONDITION,
                f"agent {self.t.agent_id}'s row for team {team} has in_section=false, whose meaning in "
                "HaloITSM is not established; change it in HaloITSM by hand",
            )
        direct = before.direct_team_rows()
        has_direct = any(before.team_of(row) == team for row in direct)
        facts = before.facts()
        if self.t.action == "grant":
            if has_direct:
                return None, facts
            if before.inherited_from(team):
                log.info("team %s is inherited by agent %s; adding a direct row", team, self.t.agent_id)
            new_row = {"team_id": int(team), "agent_id": self.t.agent_id}
            return [*direct, new_row], facts | {f"team:{team}"}
        roles = before.inherited_from(team)
        if roles:
            named = ", ".join(f"{name!r} (role:{rid}:assigned)" for rid, name in sorted(roles.items()))
            raise Refusal(
                FAILED_PRECONDITION,
                f"agent {self.t.agent_id}'s membership of team {team} is inherited from role(s) {named}"
                + (" as well as granted directly" if has_direct else "")
                + "; revoke the role(s) instead",
            )
        if not has_direct:
            return None, facts
        return [row for row in direct if before.team_of(row) != team], facts - {f"team:{team}"}

    def plan_role(
        self, before: AgentAccess, canonical: str
    ) -> tuple[list[dict[str, Any]] | None, frozenset[str]]:
        role = self.t.target_id.lower()
        facts = before.facts()
        held = before.holds_role(role)
        if self.t.action == "grant":
            if held:
                return None, facts
            return [*before.roles, {"id": canonical}], facts | {f"role:{role}"}
        if not held:
            return None, facts
        return [row for row in before.roles if before.role_of(row) != role], facts - {f"role:{role}"}

    # -- verify ----------------------------------------------------------------------------------

    def verify(self, before: AgentAccess, after: AgentAccess, expected: frozenset[str]) -> None:
        """The target changed and nothing else did (a role's own inherited rows excepted)."""
        actual = after.facts()
        whole = diff(before.facts(), actual)
        self.record.changes = whole
        role_side = f"<-role:{self.t.target_id.lower()}"
        target_fact = (
            f"{self.t.kind}:{self.t.target_id.lower() if self.t.kind == 'role' else self.t.target_id}"
        )

        def beyond_target(fact: str) -> bool:
            return fact != target_fact and not (self.t.kind == "role" and fact.endswith(role_side))

        if self.t.kind == "role":
            self.record.inherited = {k: [f for f in v if f.endswith(role_side)] for k, v in whole.items()}
        unexpected = {k: [f for f in v if beyond_target(f)] for k, v in diff(expected, actual).items()}
        self.record.unexpected = unexpected
        if (target_fact in actual) != (self.t.action == "grant"):
            key = "teams" if self.t.kind == "team" else "roles"
            reason = "HaloITSM accepted the write but did not apply it"
            if self.t.action == "revoke" and self.posted_rows == 0:
                reason = f"HaloITSM ignored the removal of the last {key[:-1]} (an empty {key} list)"
            raise Refusal(
                INTERNAL,
                f"{reason}: {self.what()} is {'absent' if self.t.action == 'grant' else 'still present'} "
                f"after the write; before->after: {describe(whole)}. Not repaired automatically",
                diff=whole,
            )
        if unexpected["added"] or unexpected["removed"]:
            raise Refusal(
                INTERNAL,
                f"HaloITSM applied the {self.t.action} of {self.what()} but other memberships changed "
                f"too: {describe(unexpected)} (before->after: {describe(whole)}). Not repaired "
                "automatically; check the agent in HaloITSM",
                diff=unexpected,
            )

    # -- answers ---------------------------------------------------------------------------------

    def what(self) -> str:
        return f"{self.t.entitlement_id} for agent {self.t.agent_id}"

    def done_word(self) -> str:
        return "granted" if self.t.action == "grant" else "revoked"

    def success(self, message: str, annotation: str | None) -> ProvisionOutcome:
        return ProvisionOutcome(
            OK,
            message,
            (annotation,) if annotation else (),
            self.t.grant_id if self.t.action == "grant" else None,
        )


def _halo_failure(exc: HaloError, write_sent: bool) -> ProvisionOutcome:
    state = (
        " The write was sent; whether HaloITSM applied it shows at the next sync (a retry is safe)."
        if write_sent and not isinstance(exc, HaloResponseError)  # a 4xx answer: nothing applied
        else " Nothing was written."
    )
    if isinstance(exc, HaloResponseError):
        if exc.status == 400:
            return ProvisionOutcome(INVALID_ARGUMENT, f"HaloITSM refused the request: {exc}.{state}")
        if exc.status in (401, 403):
            return ProvisionOutcome(PERMISSION_DENIED, f"{exc}; {PERMISSION_HINT}.{state}")
        if exc.status == 404:
            return ProvisionOutcome(NOT_FOUND, f"{exc}.{state}")
        return ProvisionOutcome(INVALID_ARGUMENT, f"{exc}.{state}")
    if isinstance(exc, HaloAuthError):
        return ProvisionOutcome(PERMISSION_DENIED, f"{exc}; {PERMISSION_HINT}.{state}")
    if isinstance(exc, (HaloRetriesExhausted, HaloUnreachableError)):
        return ProvisionOutcome(
            UNAVAILABLE, f"{exc}. Retries within the rate budget are spent; retry the task in C1.{state}"
        )
    return ProvisionOutcome(INTERNAL, f"{type(exc).__name__}: {exc}.{state}")


def _log_outcome(request: ProvisionRequest, outcome: ProvisionOutcome) -> None:
    level = logging.INFO if outcome.ok else logging.WARNING
    log.log(
        level,
        "provisioning task %s: %s %s for %s:%s -> %s %s%s",
        request.task_id,
        request.action,
        request.entitlement_id,
        request.principal_type,
        request.principal_id,
        outcome.code,
        outcome.message,
        f" [{', '.join(outcome.annotations)}]" if outcome.annotations else "",
    )


def _audit(
    lake: Lake,
    request: ProvisionRequest,
    outcome: ProvisionOutcome,
    record: _Record,
    calls: list[dict[str, Any]],
    started_at: datetime,
    elapsed_s: float,
) -> None:
    row = {
        "at": started_at,
        "task_id": request.task_id,
        "action": request.action,
        "entitlement_id": request.entitlement_id,
        "resource_type": request.resource_type,
        "resource_id": request.resource_id,
        "principal_type": request.principal_type,
        "principal_id": request.principal_id,
        "host": socket.gethostname(),
        "code": outcome.code,
        "message": outcome.message,
        "annotation": outcome.annotations[0] if outcome.annotations else None,
        "grant_id": outcome.grant_id,
        "finish_task": "success" if outcome.ok else "error non_retryable",
        "before": audit.lists_json(record.before.lists() if record.before else None),
        "after": audit.lists_json(record.after.lists() if record.after else None),
        "changes": audit.signed(record.changes),
        "inherited_changes": audit.signed(record.inherited),
        "unexpected_changes": audit.signed(record.unexpected),
        "halo_calls": calls,
        "halo_writes": record.writes,
        "duration_ms": round(elapsed_s * 1000, 3),
    }
    try:
        audit.write_audit_row(lake, row)
    except Exception:  # the HaloITSM change stands; C1 must still hear about it
        log.exception(
            "could not write the provisioning audit row for task %s (%s %s, outcome %s)",
            request.task_id,
            request.action,
            request.entitlement_id,
            outcome.code,
        )
