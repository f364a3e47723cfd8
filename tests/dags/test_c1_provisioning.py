"""JIT provisioning end to end: fake C1 (gRPC over TLS + token endpoint) → c1_connector DAG (dag.test())
→ halo_c1.provision → HaloITSM simulator, all on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from halo_c1.c1.pb.c1.connector.v2 import connector_pb2
from tests.fake_c1 import FakeC1
from tests.integration.conftest import DEV_CLIENT_ID, DEV_CLIENT_SECRET, airflow_halo_connection
from tests.integration.provision_helpers import (
    TENANT,
    ZOE,
    audit_rows,
    deliver_catalog,
    direct_teams,
    plain_agent,
    role_named,
    tenant_lake_of,
)

pytestmark = pytest.mark.dag

Cap = connector_pb2.Capability


@dataclass
class World:
    c1: FakeC1
    sim: Any
    lake: Path
    dag: Any
    monkeypatch: Any

    def configure(self, *, provisioning: bool) -> None:
        self.monkeypatch.setenv(
            "AIRFLOW_CONN_CONDUCTORONE_DEFAULT",
            self.c1.connection(provisioning=provisioning, max_snapshot_age_s=10**9),
        )

    def run(self) -> Any:
        return self.dag.test(run_conf={"wait_seconds": 30})

    def error(self, task_id: str) -> tuple[str, str, bool]:
        finish = self.c1.finished(task_id)
        assert finish.WhichOneof("final_state") == "error"
        code = next(c for c in grpc.StatusCode if c.value[0] == finish.status.code)
        return code.name, finish.status.message, finish.error.non_retryable

    def hello_capabilities(self) -> dict[str, list[int]]:
        hello = self.c1.baton.calls_to("Hello")[0].request
        caps = hello.connector_metadata.capabilities
        per_type = {c.resource_type.id: list(c.capabilities) for c in caps.resource_type_capabilities}
        return {"*": list(caps.connector_capabilities), **per_type}


@pytest.fixture
def world(dagbag, fake_c1, tmp_path, monkeypatch) -> Iterator[World]:
    from dev.halo_simulator import SimulatorConfig, running_simulator

    config = SimulatorConfig(tenant=TENANT, client_id=DEV_CLIENT_ID, client_secret=DEV_CLIENT_SECRET)
    with running_simulator(config) as sim:
        yield _world(dagbag, fake_c1, sim, tmp_path, monkeypatch)


def _world(dagbag: Any, fake_c1: FakeC1, sim: Any, tmp_path: Path, monkeypatch: Any) -> World:
    lake_dir = tmp_path / "lake"
    monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", airflow_halo_connection(sim))
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"file://{lake_dir}")
    monkeypatch.delenv("BATON_C1_API_HOST", raising=False)
    fake_c1.baton.next_poll_s = 1
    fake_c1.baton.next_heartbeat_s = 1
    deliver_catalog(sim, tenant_lake_of(sim, lake_dir))  # what C1 was given: the ids it may name
    return World(fake_c1, sim, lake_dir, dagbag.get_dag("c1_connector"), monkeypatch)


def test_grant_team_via_c1_changes_halo_and_finishes_success_with_the_grant(world):
    world.configure(provisioning=True)
    agent = plain_agent(world.sim)
    task_id = world.c1.enqueue_grant("team:4:member", principal_id=str(agent["id"]))

    dag_run = world.run()

    assert str(dag_run.state) == "success"
    finish = world.c1.finished(task_id)
    assert finish.WhichOneof("final_state") == "success"
    (grant,) = world.c1.grant_response(task_id).grants
    assert grant.id == f"team:4:member:agent:{agent['id']}"
    assert grant.entitlement.id == "team:4:member" and grant.principal.id.resource == str(agent["id"])
    assert world.c1.annotation_names(task_id) == []
    assert direct_teams(agent) == {3, 4}
    assert world.sim.write_counts()["posts"] == 1
    (row,) = audit_rows(tenant_lake_of(world.sim, world.lake))
    assert (row["task_id"], row["code"], row["finish_task"]) == (task_id, "OK", "success")
    capabilities = world.hello_capabilities()
    assert Cap.CAPABILITY_PROVISION in capabilities["*"]
    assert {t for t, caps in capabilities.items() if t != "*" and Cap.CAPABILITY_PROVISION in caps} == {
        "team",
        "role",
    }

    # C1 sends the same grant again (a retried task): success with GrantAlreadyExists, no second write.
    again = world.c1.enqueue_grant("team:4:member", principal_id=str(agent["id"]))
    world.run()
    assert world.c1.annotation_names(again) == ["GrantAlreadyExists"]
    assert [g.id for g in world.c1.grant_response(again).grants] == [grant.id]
    assert world.sim.write_counts()["posts"] == 1
    assert world.c1.baton.violations == []


def test_the_next_sync_c1_receives_holds_a_grant_made_through_c1(world):
    """Grant via C1, run the ETL stages into the connector's lake, then C1's sync_full uploads a c1z with it."""
    from halo_c1.c1z.reader import C1zReader
    from halo_c1.c1z.writer import write_c1z
    from halo_c1.deliver.manifest import record_delivery
    from halo_c1.halo import HaloClient, extract_snapshot
    from halo_c1.transform import transform_snapshot
    from tests.integration.conftest import halo_settings

    world.configure(provisioning=True)
    agent = plain_agent(world.sim)
    grant_task = world.c1.enqueue_grant("team:4:member", principal_id=str(agent["id"]))
    world.run()
    assert world.c1.finished(grant_task).WhichOneof("final_state") == "success"

    lake, snapshot = tenant_lake_of(world.sim, world.lake), "20261129T120000Z"
    with HaloClient(halo_settings(world.sim)) as client:
        extract_snapshot(client, lake, snapshot)
    transform_snapshot(lake, snapshot)
    packaged = write_c1z(lake, snapshot)
    record_delivery(lake, {"snapshot_id": snapshot, "counts": {}, "sha256": packaged["sha256"]})
    sync_task = world.c1.enqueue_sync_full()
    world.run()

    received = world.lake.parent / "received.c1z"
    received.write_bytes(world.c1.baton.uploads[sync_task])
    with C1zReader.open(received) as c1z:
        grants = {row["external_id"]: row["message"] for row in c1z.rows("v1_grants")}
    assert f"team:4:member:agent:{agent['id']}" in grants
    assert not grants[f"team:4:member:agent:{agent['id']}"].annotations  # direct: revocable in C1


def test_revoke_via_c1_of_a_role_inherited_team_is_failed_precondition_without_a_write(world):
    world.configure(provisioning=True)
    task_id = world.c1.enqueue_revoke("team:1:member", principal_id=str(ZOE))

    world.run()

    code, message, non_retryable = world.error(task_id)
    assert (code, non_retryable) == ("FAILED_PRECONDITION", True)
    assert f"role:{role_named(world.sim, '1st Line Agent')['id']}:assigned" in message
    assert world.sim.write_counts()["posts"] == 0


def test_provisioning_off_declares_no_capability_refuses_tasks_and_never_calls_halo(world):
    world.configure(provisioning=False)
    agent = plain_agent(world.sim)
    grant = world.c1.enqueue_grant("team:4:member", principal_id=str(agent["id"]))
    world.run()
    revoke = world.c1.enqueue_revoke("team:3:member", principal_id=str(agent["id"]))
    world.run()

    for task_id in (grant, revoke):
        assert world.error(task_id) == ("FAILED_PRECONDITION", "provisioning is not enabled", True)
    capabilities = world.hello_capabilities()
    assert all(Cap.CAPABILITY_PROVISION not in caps for caps in capabilities.values())
    assert Cap.CAPABILITY_SYNC in capabilities["*"]
    assert world.sim.total_requests() == 0  # not even a read
    assert world.sim.write_counts()["posts"] == 0 and direct_teams(agent) == {3}


def test_crafted_ids_via_c1_are_invalid_argument_and_reach_no_halo_endpoint(world):
    """`role:../Team/1:assigned` once read team 1 and posted it as a role; `team:²` crashed (INTERNAL)."""
    world.configure(provisioning=True)
    agent = plain_agent(world.sim)
    guid = role_named(world.sim, "2nd Line Agent")["id"]
    crafted = {
        world.c1.enqueue_grant("role:../Team/1:assigned", principal_id=str(agent["id"])): "'../Team/1'",
        world.c1.enqueue_grant(
            "role:x/../../Agent/3:assigned", principal_id=str(agent["id"])
        ): "'x/../../Agent/3'",
        world.c1.enqueue_grant(f"role:{guid}?x=1:assigned", principal_id=str(agent["id"])): f"'{guid}?x=1'",
        world.c1.enqueue_grant(f"role:{guid}#frag:assigned", principal_id=str(agent["id"])): f"'{guid}#frag'",
        world.c1.enqueue_grant(f"role:{guid}/:assigned", principal_id=str(agent["id"])): f"'{guid}/'",
        world.c1.enqueue_grant("team:\u00b2:member", principal_id=str(agent["id"])): "'\u00b2'",
        world.c1.enqueue_revoke("team:01:member", principal_id=str(agent["id"])): "'01'",
        world.c1.enqueue_grant("team:4:member", principal_id="1"): "agent '1'",
    }
    for _ in crafted:
        world.run()

    for task_id, named in crafted.items():
        code, message, non_retryable = world.error(task_id)
        assert (code, non_retryable) == ("INVALID_ARGUMENT", True), message
        assert named in message and "nothing was asked of HaloITSM" in message
    assert world.sim.request_log() == []
    assert world.sim.write_counts()["posts"] == 0 and direct_teams(agent) == {3}
    assert world.c1.baton.violations == []
