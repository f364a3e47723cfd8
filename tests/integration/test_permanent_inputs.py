"""Deterministic problems in what HaloITSM returns fail at once with one line naming the record; a
tenant without teams, roles or departments is valid data; an empty tenant fails the gate's rule."""

from __future__ import annotations

import copy

import pytest

from dev.halo_simulator import TenantSpec
from dev.halo_simulator.tenant import build_tenant
from halo_c1.c1z.writer import write_c1z
from halo_c1.errors import PermanentError
from halo_c1.halo import HaloClient, HaloPagingError, extract_snapshot
from halo_c1.lake import Lake, read_parquet
from halo_c1.quality import QualityGateError, raise_for_errors, run_quality_gate
from halo_c1.transform import transform_snapshot
from tests.integration.conftest import halo_settings

pytestmark = pytest.mark.integration

SNAPSHOT = "20261127T050000Z"
SPEC = TenantSpec(seed=7, agents=8, users=10, teams=3, roles=2, departments=2)


def run(sim, tmp_path) -> Lake:
    lake = Lake(str(tmp_path / "lake"))
    with HaloClient(halo_settings(sim)) as client:
        extract_snapshot(client, lake, SNAPSHOT)
    return lake


@pytest.mark.parametrize(("entity", "listing"), [("agents", "/api/Agent"), ("teams", "/api/Team")])
def test_duplicate_rows_fail_on_the_first_try_naming_the_id(start_simulator, tmp_path, entity, listing):
    tenant = build_tenant(SPEC)
    rows = getattr(tenant, entity)
    twin = copy.deepcopy(tenant.non_system_agents()[0] if entity == "agents" else rows[0])
    rows.append(twin)
    sim = start_simulator(tenant=tenant, agent_envelope="results")
    with pytest.raises(HaloPagingError) as info:
        run(sim, tmp_path)
    message = str(info.value)
    assert isinstance(info.value, PermanentError)
    assert f"id {twin['id']} was already returned" in message and listing in message
    assert len(message.splitlines()) == 1


def test_a_tenant_without_teams_roles_or_departments_is_valid(start_simulator, tmp_path):
    sim = start_simulator(tenant=TenantSpec(seed=7, agents=6, users=4, teams=0, roles=0, departments=0))
    lake = run(sim, tmp_path)
    stats = transform_snapshot(lake, SNAPSHOT)
    assert stats["rows"]["entitlements"] == stats["rows"]["grants"] == 0
    raise_for_errors(run_quality_gate(lake, SNAPSHOT, data_docs=False))
    assert write_c1z(lake, SNAPSHOT)["counts"]["v1_entitlements"] == 0


def test_an_empty_tenant_fails_the_gate_rule_at_least_one_agent(start_simulator, tmp_path):
    tenant = build_tenant(TenantSpec(seed=7, agents=1, users=0, teams=0, roles=0, departments=0))
    tenant.agents[:] = [a for a in tenant.agents if a["id"] == tenant.unassigned_agent_id]
    sim = start_simulator(tenant=tenant)
    lake = run(sim, tmp_path)
    transform_snapshot(lake, SNAPSHOT)
    assert read_parquet(lake.curated_file("resources", SNAPSHOT)).num_rows == 0
    with pytest.raises(QualityGateError, match="at_least_one_agent") as info:
        raise_for_errors(run_quality_gate(lake, SNAPSHOT, data_docs=False))
    assert isinstance(info.value, PermanentError)
