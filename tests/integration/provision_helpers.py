"""Shared arrangements for the provisioning tests: a known agent state in a simulator tenant, requests."""

from __future__ import annotations

from typing import Any

from dev.halo_simulator import TenantSpec
from halo_c1.lake import Lake
from halo_c1.provision import ProvisionRequest, daily_actions

# seed 1: team 1 is granted by role "1st Line Agent" (and "Change Approver"), team 2 by "2nd Line Agent";
# Zoë (agent 4) holds "1st Line Agent" and is also a direct member of team 1.
TENANT = TenantSpec(seed=1, agents=12, users=5, teams=5, roles=4, departments=3)
ZOE = 4
CATALOG_SNAPSHOT = "20261101T000000Z"


def deliver_catalog(sim: Any, lake: Lake, snapshot_id: str = CATALOG_SNAPSHOT) -> None:
    """Extract the simulator's tenant into `lake`, curate it and record it delivered: the catalog that
    provisioning checks every id against. Faults are off while it reads, and counts start afresh."""
    from dev.halo_simulator import Faults
    from halo_c1.deliver.manifest import record_delivery
    from halo_c1.guard import snapshot_counts
    from halo_c1.halo import HaloClient, extract_snapshot
    from halo_c1.transform import transform_snapshot
    from tests.integration.conftest import halo_settings

    faults = sim.faults
    sim.set_faults(Faults())
    with HaloClient(halo_settings(sim)) as client:
        extract_snapshot(client, lake, snapshot_id)
    transform_snapshot(lake, snapshot_id)
    record_delivery(lake, {"snapshot_id": snapshot_id, "counts": snapshot_counts(lake, snapshot_id)})
    sim.set_faults(faults)
    sim.reset_counts()


def plain_agent(sim: Any) -> dict[str, Any]:
    """A human agent made to hold no role and one direct team (3, as manager, row id 4999)."""
    agent = next(a for a in sim.tenant.non_system_agents() if not a["isapiagent"] and a["id"] != ZOE)
    team = sim.tenant.team(3)
    agent["roles"], agent["departments"], agent["role_list"] = [], [], ""
    agent["teams"] = [
        {"id": 4999, "agent_id": agent["id"], "team_id": 3, "team_name": team["name"], "role_id": None}
        | {"is_manager": True, "in_section": True}
    ]
    return agent


def role_named(sim: Any, name: str) -> dict[str, Any]:
    return next(r for r in sim.tenant.roles if r["name"] == name)


def request(
    action: str, kind: str, resource_id: Any, agent_id: Any, task_id: str = "task1"
) -> ProvisionRequest:
    slug = "member" if kind in ("team", "department") else "assigned"
    return ProvisionRequest(
        action=action,
        task_id=task_id,
        entitlement_id=f"{kind}:{resource_id}:{slug}",
        resource_type=kind,
        resource_id=str(resource_id),
        principal_type="agent",
        principal_id=str(agent_id),
    )


def direct_teams(agent: dict[str, Any]) -> set[int]:
    return {int(r["team_id"]) for r in agent["teams"] if r.get("role_id") in (None, "")}


def inherited_teams(agent: dict[str, Any]) -> set[tuple[int, str]]:
    return {(int(r["team_id"]), r["role_id"]) for r in agent["teams"] if r.get("role_id") not in (None, "")}


def role_ids(agent: dict[str, Any]) -> set[str]:
    return {r["id"] for r in agent["roles"]}


def audit_rows(lake: Lake) -> list[dict[str, Any]]:
    folder = lake.provisioning_audit_dir()
    days = sorted(p.name.removeprefix("date=") for p in folder.iterdir()) if folder.exists() else []
    return [row for day in days for row in daily_actions(lake, day)]


def grant_in_subprocess(
    settings: Any, lake_url: str, req: ProvisionRequest, start: Any, results: Any
) -> None:
    """Worker process body: wait for the common start, then provision (the two-process race test)."""
    from halo_c1.provision import provision

    start.wait(timeout=30)
    outcome = provision(req, halo=settings, lake=lake_url, lease_ttl_s=30.0, lease_wait_s=60.0)
    results.put((req.task_id, outcome.code, outcome.message))


def tenant_lake_of(sim: Any, lake_dir: Any) -> Lake:
    """The simulator tenant's folder of a lake base, as `halo_c1_airflow.settings.lake()` resolves it."""
    from upath import UPath

    from halo_c1.tenancy import TenantIdentity, tenant_lake

    return tenant_lake(UPath(str(lake_dir)), TenantIdentity.from_connection(sim.base_url, None))
