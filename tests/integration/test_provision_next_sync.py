"""After provisioning, the next ETL run (extract → transform → c1z) agrees with what was granted."""

from __future__ import annotations

import pytest

from halo_c1.c1z.pb.c1.connector.v2 import annotation_grant_pb2
from halo_c1.c1z.reader import C1zReader
from halo_c1.c1z.writer import write_c1z
from halo_c1.halo import HaloClient, extract_snapshot
from halo_c1.lake import Lake, read_parquet
from halo_c1.provision import provision
from halo_c1.transform import transform_snapshot
from tests.integration.conftest import halo_settings
from tests.integration.provision_helpers import TENANT, deliver_catalog, plain_agent, request, role_named

pytestmark = pytest.mark.integration

IMMUTABLE = "type.googleapis.com/c1.connector.v2.GrantImmutable"


def sync(sim, lake: Lake, snapshot: str) -> tuple[dict, dict]:
    """One ETL run: curated grants by id, and the c1z's grant messages by id."""
    with HaloClient(halo_settings(sim)) as client:
        extract_snapshot(client, lake, snapshot)
    transform_snapshot(lake, snapshot)
    path = write_c1z(lake, snapshot)["path"]
    curated = {g["grant_id"]: g for g in read_parquet(lake.curated_file("grants", snapshot)).to_pylist()}
    with C1zReader.open(path) as c1z:
        messages = {row["external_id"]: row["message"] for row in c1z.rows("v1_grants")}
    return curated, messages


def test_next_sync_holds_the_grants_and_role_brought_teams_as_inherited(start_simulator, tmp_path):
    sim = start_simulator(tenant=TENANT)
    lake = Lake(str(tmp_path / "lake"))
    agent = plain_agent(sim)
    a = agent["id"]
    second = role_named(sim, "2nd Line Agent")
    (brought,) = {int(t["team_id"]) for t in second["teams"]}
    settings = halo_settings(sim)
    deliver_catalog(sim, lake)
    assert provision(request("grant", "team", 4, a, "g1"), halo=settings, lake=lake).code == "OK"
    assert provision(request("grant", "role", second["id"], a, "g2"), halo=settings, lake=lake).code == "OK"

    curated, c1z = sync(sim, lake, "20261129T100000Z")
    team_grant = curated[f"team:4:member:agent:{a}"]
    assert (team_grant["is_direct"], team_grant["source_role_ids"]) == (True, [])
    assert f"role:{second['id']}:assigned:agent:{a}" in curated
    inherited = curated[f"team:{brought}:member:agent:{a}"]
    assert (inherited["is_direct"], inherited["source_role_ids"]) == (False, [second["id"]])
    assert not c1z[f"team:4:member:agent:{a}"].annotations
    (annotation,) = c1z[f"team:{brought}:member:agent:{a}"].annotations
    assert annotation.type_url == IMMUTABLE
    immutable = annotation_grant_pb2.GrantImmutable()
    annotation.Unpack(immutable)
    assert immutable.source_id == f"role:{second['id']}:assigned"

    # Revoking the role takes the inherited team with it at the next sync; the direct grant stays.
    assert provision(request("revoke", "role", second["id"], a, "r1"), halo=settings, lake=lake).code == "OK"
    curated, _ = sync(sim, lake, "20261129T110000Z")
    assert f"team:{brought}:member:agent:{a}" not in curated
    assert f"role:{second['id']}:assigned:agent:{a}" not in curated
    assert f"team:4:member:agent:{a}" in curated
