"""c1z round trip on real curated tables: simulator → extract → transform → write_c1z → reader."""

from __future__ import annotations

from typing import Any

import pytest

from dev.halo_simulator import TenantSpec
from halo_c1 import model
from halo_c1.c1z.pb.c1.connector.v2 import annotation_trait_pb2
from halo_c1.c1z.reader import C1zReader
from halo_c1.c1z.writer import write_c1z
from halo_c1.halo import HaloClient, extract_snapshot
from halo_c1.lake import Lake, read_parquet
from halo_c1.transform import transform_snapshot
from tests.integration.conftest import halo_settings

pytestmark = pytest.mark.integration

SNAPSHOT = "20261127T050000Z"
TENANT = TenantSpec(seed=3, agents=25, users=30, teams=6, roles=4, departments=3)


def curated(lake: Lake, table: str) -> list[dict[str, Any]]:
    return read_parquet(lake.curated_file(table, SNAPSHOT)).to_pylist()


def test_c1z_of_a_transformed_simulator_snapshot_holds_every_curated_row(start_simulator, tmp_path):
    sim = start_simulator(tenant=TENANT)
    lake = Lake(tmp_path / "lake")
    with HaloClient(halo_settings(sim)) as client:
        extract_snapshot(client, lake, SNAPSHOT)
    transform_snapshot(lake, SNAPSHOT)

    summary = write_c1z(lake, SNAPSHOT)
    again = write_c1z(lake, SNAPSHOT, tmp_path / "again.c1z")
    assert again["sha256"] == summary["sha256"]

    resources = curated(lake, "resources")
    grants = curated(lake, "grants")
    with C1zReader.open(summary["path"]) as c1z:
        assert len(c1z.sync_runs()) == 1
        rows = {table: list(c1z.rows(table)) for table in ("v1_resources", "v1_entitlements", "v1_grants")}

    assert sorted(r["external_id"] for r in rows["v1_resources"]) == sorted(
        model.resource_key(r["resource_type_id"], r["resource_id"]) for r in resources
    )
    assert sorted(r["external_id"] for r in rows["v1_entitlements"]) == sorted(
        r["entitlement_id"] for r in curated(lake, "entitlements")
    )
    assert sorted(r["external_id"] for r in rows["v1_grants"]) == sorted(r["grant_id"] for r in grants)
    assert any(not g["is_direct"] for g in grants), "the tenant has role-inherited-only grants"
    assert any(g["is_direct"] and g["source_role_ids"] for g in grants), "and direct + inherited ones"

    by_key = {r["external_id"]: r["message"] for r in rows["v1_resources"]}
    for row in resources:
        message = by_key[model.resource_key(row["resource_type_id"], row["resource_id"])]
        assert message.display_name == row["display_name"]
        if row["resource_type_id"] in (model.AGENT, model.USER):
            trait = annotation_trait_pb2.UserTrait()
            assert message.annotations[0].Unpack(trait)
            assert [e.address for e in trait.emails] == ([row["email"]] if row["email"] else [])
            assert annotation_trait_pb2.UserTrait.AccountType.Name(trait.account_type) == (
                f"ACCOUNT_TYPE_{row['account_type']}"
            )
        if row["parent_resource_id"] is not None:
            parent = message.parent_resource_id
            assert (parent.resource_type, parent.resource) == (
                row["parent_resource_type_id"],
                row["parent_resource_id"],
            )

    curated_grants = {r["grant_id"]: r for r in grants}
    for row in rows["v1_grants"]:
        grant = row["message"]
        source = curated_grants[grant.id]
        own = grant.sources.sources.get(grant.entitlement.id)
        assert (own is not None and own.is_direct) == source["is_direct"]
        assert sorted(k for k in grant.sources.sources if k != grant.entitlement.id) == sorted(
            model.entitlement_id(model.ROLE, role, model.ASSIGNED) for role in source["source_role_ids"]
        )
        assert bool(grant.annotations) == (not source["is_direct"])


def test_a_halo_name_over_c1s_limit_is_cut_in_the_c1z_and_packaging_goes_on(start_simulator, tmp_path):
    from dev.halo_simulator.tenant import build_tenant
    from halo_c1.results import ExtractResult, PackageResult
    from halo_c1.runs import RunPlan
    from halo_c1.summary import summarize

    tenant = build_tenant(TENANT)
    agent = tenant.non_system_agents()[0]
    agent["name"] = "Ünïcode " * 200  # 1,800 bytes
    tenant.teams[0]["name"] = "🛠" * 300  # 1,200 bytes; its entitlement name is longer still
    sim = start_simulator(tenant=tenant)
    lake = Lake(tmp_path / "lake")
    with HaloClient(halo_settings(sim)) as client:
        extract_snapshot(client, lake, SNAPSHOT)
    transform_snapshot(lake, SNAPSHOT)
    summary = write_c1z(lake, SNAPSHOT)

    assert summary["truncated"]["resources.display_name"]["count"] == 2
    assert f"agent:{agent['id']}" in summary["truncated"]["resources.display_name"]["examples"]
    assert summary["truncated"]["entitlements.display_name"]["count"] == 1
    with C1zReader.open(summary["path"]) as c1z:
        names = {r["external_id"]: r["message"].display_name for r in c1z.rows("v1_resources")}
    assert (
        names[f"agent:{agent['id']}"] == agent["name"].strip()[: len(names[f"agent:{agent['id']}"]) - 1] + "…"
    )
    assert all(len(name.encode()) <= 1024 for name in names.values())
    whole = {(r["resource_type_id"], r["resource_id"]): r["display_name"] for r in curated(lake, "resources")}
    assert whole["agent", str(agent["id"])] == agent["name"].strip()
    text = summarize(
        RunPlan(SNAPSHOT, "live", False, True, False, None, None, "test"),
        ExtractResult(SNAPSHOT, False, 1, True, {}, "-"),
        None,
        None,
        None,
        PackageResult.from_xcom(summary),
        None,
    )
    assert "warning: 2 resources.display_name value(s) cut to C1's 1024 bytes" in text
