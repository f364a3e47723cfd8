"""Just-in-time provisioning: C1 grants and revokes HaloITSM team memberships and roles of agents.

The interface the service-mode connector calls (stable; c1-service-mode.md §3.5-§3.6, §6):

    from halo_c1.provision import ProvisionRequest, ProvisionOutcome, provision

    outcome = provision(
        ProvisionRequest(action="grant", task_id=task.id, entitlement_id="team:3:member",
                         resource_type="team", resource_id="3", principal_type="agent", principal_id="12"),
        halo=halo_settings,        # HaloSettings (a client is opened and closed) or an open HaloClient
        lake=lake,                 # Lake, or the lake's base URL / UPath: audit table and agent leases
        enabled=True,              # False: FAILED_PRECONDITION "provisioning is not enabled", no HaloITSM call
    )
    outcome.code          # gRPC status code name: "OK", or NOT_FOUND, FAILED_PRECONDITION, INVALID_ARGUMENT,
                          # UNIMPLEMENTED, UNAVAILABLE, PERMISSION_DENIED, INTERNAL (all non-retryable)
    outcome.message       # for FinishTask's status message / the C1 admin; never a secret
    outcome.annotations   # ("GrantAlreadyExists",) or ("GrantAlreadyRevoked",) when nothing had to change
    outcome.grant_id      # "<entitlement_id>:agent:<agent_id>" on a successful grant, else None

For a revoke task, pass the entitlement and principal of the task's grant. `provision` never raises
for a HaloITSM or request problem: every outcome is audited (`audit.py`) and returned. Optional
keywords: `lease_ttl_s`, `lease_wait_s` (the per-agent writer lease, `halo_c1.lease`).

Modules: `request` (the dataclasses and the scope check), `access` (an agent's memberships and
their diff), `operation` (read-modify-write-verify under the agent's `halo_c1.lease.Lease`),
`audit` (the Parquet audit table and the day's summary).
"""

from halo_c1.provision.audit import AUDIT_SCHEMA, daily_actions, summary_lines
from halo_c1.provision.operation import PERMISSION_HINT, provision
from halo_c1.provision.request import (
    GRANT_ALREADY_EXISTS,
    GRANT_ALREADY_REVOKED,
    ProvisionOutcome,
    ProvisionRequest,
)

__all__ = [
    "AUDIT_SCHEMA",
    "GRANT_ALREADY_EXISTS",
    "GRANT_ALREADY_REVOKED",
    "PERMISSION_HINT",
    "ProvisionOutcome",
    "ProvisionRequest",
    "daily_actions",
    "provision",
    "summary_lines",
]
