"""Grant and revoke tasks: parse C1's task into a `ProvisionRequest`, encode the outcome for FinishTask.

The HaloITSM side (read-modify-write-verify) lives in `halo_c1.provision`, imported only when
provisioning is enabled. Encoding follows baton-sdk (spec §3.5-3.6): success carries
`GrantManagerService{Grant,Revoke}Response` in an Any plus the annotations; every failure is
non-retryable with a `google.rpc.Status`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf import any_pb2

from halo_c1.c1.errors import C1TaskError
from halo_c1.c1.pb.c1.connector.v2 import connector_pb2
from halo_c1.c1.pb.c1.connectorapi.baton.v1 import baton_pb2
from halo_c1.c1z.pb.c1.connector.v2 import grant_pb2

if TYPE_CHECKING:
    from halo_c1.provision import ProvisionOutcome, ProvisionRequest

NOT_ENABLED = "provisioning is not enabled"
ANNOTATIONS = {
    "GrantAlreadyExists": connector_pb2.GrantAlreadyExists,
    "GrantAlreadyRevoked": connector_pb2.GrantAlreadyRevoked,
}


def _entitlement_and_principal(kind: str, entitlement: Any, principal: Any) -> dict[str, str]:
    resource = entitlement.resource.id
    missing = [
        name
        for name, value in (
            ("entitlement.resource.id.resource_type", resource.resource_type),
            ("entitlement.resource.id.resource", resource.resource),
            ("principal.id.resource_type", principal.id.resource_type),
            ("principal.id.resource", principal.id.resource),
        )
        if not value
    ]
    if missing:
        raise C1TaskError("INVALID_ARGUMENT", f"malformed {kind} task: no {', '.join(missing)}")
    entitlement_id = entitlement.id or (
        f"{resource.resource_type}:{resource.resource}:{entitlement.slug}" if entitlement.slug else ""
    )
    if not entitlement_id:
        raise C1TaskError(
            "INVALID_ARGUMENT", f"malformed {kind} task: the entitlement has neither id nor slug"
        )
    return {
        "entitlement_id": entitlement_id,
        "resource_type": resource.resource_type,
        "resource_id": resource.resource,
        "principal_type": principal.id.resource_type,
        "principal_id": principal.id.resource,
    }


def parse_request(task: baton_pb2.Task) -> ProvisionRequest:
    """The task as a `ProvisionRequest`; a malformed task is a non-retryable INVALID_ARGUMENT."""
    from halo_c1.provision import ProvisionRequest

    kind = task.WhichOneof("task_type")
    if kind == "grant":
        grant = task.grant
        if not grant.HasField("entitlement") or not grant.HasField("principal"):
            raise C1TaskError("INVALID_ARGUMENT", "malformed grant task: no entitlement or principal")
        fields = _entitlement_and_principal("grant", grant.entitlement, grant.principal)
    elif kind == "revoke":
        revoke = task.revoke
        if (
            not revoke.HasField("grant")
            or not revoke.grant.HasField("entitlement")
            or not revoke.grant.HasField("principal")
        ):
            raise C1TaskError(
                "INVALID_ARGUMENT", "malformed revoke task: no grant with entitlement and principal"
            )
        fields = _entitlement_and_principal("revoke", revoke.grant.entitlement, revoke.grant.principal)
    else:
        raise ValueError(f"not a grant or revoke task: {kind}")
    return ProvisionRequest(action=kind, task_id=task.id, **fields)


def provision_outcome(request: ProvisionRequest, *, halo_settings: Any, lake: Any) -> ProvisionOutcome:
    """The one call into `halo_c1.provision` (imported here, only when provisioning is enabled)."""
    from halo_c1.provision import provision

    return provision(request, halo=halo_settings, lake=lake)


def _annotations(names: tuple[str, ...]) -> list[any_pb2.Any]:
    packed = []
    for name in names:
        message = ANNOTATIONS.get(name)
        if message is None:
            raise ValueError(f"unknown provisioning annotation {name!r}; known: {sorted(ANNOTATIONS)}")
        annotation = any_pb2.Any()
        annotation.Pack(message())
        packed.append(annotation)
    return packed


def success_response(
    task: baton_pb2.Task, outcome: ProvisionOutcome
) -> tuple[list[any_pb2.Any], any_pb2.Any]:
    """(annotations, response Any) for FinishTask.success of a grant or revoke."""
    annotations = _annotations(tuple(outcome.annotations))
    response = any_pb2.Any()
    if task.WhichOneof("task_type") == "grant":
        grants = []
        if outcome.grant_id:
            grants.append(
                grant_pb2.Grant(
                    id=outcome.grant_id, entitlement=task.grant.entitlement, principal=task.grant.principal
                )
            )
        response.Pack(connector_pb2.GrantManagerServiceGrantResponse(annotations=annotations, grants=grants))
    else:
        response.Pack(connector_pb2.GrantManagerServiceRevokeResponse(annotations=annotations))
    return annotations, response
