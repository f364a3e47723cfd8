"""Grant and revoke tasks through the connector: parsing, the call into halo_c1.provision, FinishTask encoding.

Against the fake C1 (TLS gRPC); the HaloITSM side is the real `provision` on the bundled simulator,
except in the encoding tests, which give `serve_task` a stub outcome to check each FinishTask shape.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from halo_c1.c1.client import BatonClient
from halo_c1.c1.pb.c1.connectorapi.baton.v1 import baton_pb2
from halo_c1.c1.provisioning import provision_outcome
from halo_c1.c1.snapshots import LakeSnapshots
from halo_c1.c1.tasks import Services, serve_task
from halo_c1.lake import Lake
from halo_c1.provision import ProvisionOutcome, ProvisionRequest
from tests.integration.conftest import halo_settings
from tests.integration.provision_helpers import TENANT, deliver_catalog, direct_teams, plain_agent

pytestmark = pytest.mark.integration


def _serve(fake, tmp_path, provision) -> None:
    services = Services(LakeSnapshots(Lake(f"file://{tmp_path}/lake")), timedelta(hours=2), provision)
    with BatonClient(fake.settings(provisioning=True)) as client:
        polled = client.get_task()
        serve_task(client, polled.task, services, next_heartbeat_s=1)


def _stub(outcome: ProvisionOutcome, seen: list[ProvisionRequest]):
    def provision(request: ProvisionRequest) -> ProvisionOutcome:
        seen.append(request)
        return outcome

    return provision


def test_grant_success_carries_the_grant_response_and_already_exists(fake_c1, tmp_path):
    task_id = fake_c1.enqueue_grant("team:3:member", principal_id="12")
    seen: list[ProvisionRequest] = []
    outcome = ProvisionOutcome("OK", "already a member", ("GrantAlreadyExists",), "team:3:member:agent:12")

    _serve(fake_c1, tmp_path, _stub(outcome, seen))

    assert seen == [ProvisionRequest("grant", task_id, "team:3:member", "team", "3", "agent", "12")]
    finish = fake_c1.finished(task_id)
    assert finish.WhichOneof("final_state") == "success"
    assert (
        finish.success.response.type_url
        == "type.googleapis.com/c1.connector.v2.GrantManagerServiceGrantResponse"
    )
    response = fake_c1.grant_response(task_id)
    assert [g.id for g in response.grants] == ["team:3:member:agent:12"]
    assert response.grants[0].principal.id.resource == "12"
    assert response.grants[0].entitlement.id == "team:3:member"
    assert fake_c1.annotation_names(task_id) == ["GrantAlreadyExists"]
    assert [a.type_url.rsplit(".", 1)[1] for a in response.annotations] == ["GrantAlreadyExists"]


def test_revoke_success_carries_the_revoke_response_and_already_revoked(fake_c1, tmp_path):
    task_id = fake_c1.enqueue_revoke("role:7f1c0c1e:assigned", principal_id="12")
    seen: list[ProvisionRequest] = []

    _serve(fake_c1, tmp_path, _stub(ProvisionOutcome("OK", "not held", ("GrantAlreadyRevoked",), None), seen))

    assert seen[0].action == "revoke"
    assert (seen[0].resource_type, seen[0].resource_id, seen[0].principal_id) == ("role", "7f1c0c1e", "12")
    assert fake_c1.revoke_response(task_id).annotations[0].type_url.endswith("GrantAlreadyRevoked")
    assert fake_c1.annotation_names(task_id) == ["GrantAlreadyRevoked"]


def test_provisioning_error_is_a_non_retryable_status_with_the_code_and_message(fake_c1, tmp_path):
    task_id = fake_c1.enqueue_grant("team:99:member", principal_id="12")

    _serve(fake_c1, tmp_path, _stub(ProvisionOutcome("NOT_FOUND", "team 99 does not exist", (), None), []))

    finish = fake_c1.finished(task_id)
    assert finish.WhichOneof("final_state") == "error"
    assert (finish.status.code, finish.status.message, finish.error.non_retryable) == (
        5,
        "team 99 does not exist",
        True,
    )


def test_a_malformed_grant_task_is_invalid_argument_and_never_reaches_provisioning(fake_c1, tmp_path):
    task = baton_pb2.Task(grant=baton_pb2.Task.GrantTask(entitlement=fake_c1.entitlement("team:3:member")))
    task_id = fake_c1.enqueue(task)
    seen: list[ProvisionRequest] = []

    _serve(fake_c1, tmp_path, _stub(ProvisionOutcome("OK", "", (), None), seen))

    finish = fake_c1.finished(task_id)
    assert (finish.status.code, finish.error.non_retryable) == (3, True)
    assert "malformed grant task" in finish.status.message
    assert seen == []


def test_grant_through_the_real_provisioner_changes_halo_and_then_is_already_exists(
    fake_c1, start_simulator, tmp_path
):
    sim = start_simulator(tenant=TENANT)
    agent = plain_agent(sim)
    lake = Lake(f"file://{tmp_path}/lake")
    settings = halo_settings(sim)
    deliver_catalog(sim, lake)

    def provision(request):
        return provision_outcome(request, halo_settings=settings, lake=lake)

    first = fake_c1.enqueue_grant("team:2:member", principal_id=str(agent["id"]))
    _serve(fake_c1, tmp_path, provision)
    second = fake_c1.enqueue_grant("team:2:member", principal_id=str(agent["id"]))
    _serve(fake_c1, tmp_path, provision)

    assert fake_c1.grant_response(first).grants[0].id == f"team:2:member:agent:{agent['id']}"
    assert fake_c1.annotation_names(first) == []
    assert 2 in direct_teams(sim.tenant.agent(agent["id"]))
    assert fake_c1.annotation_names(second) == ["GrantAlreadyExists"]
