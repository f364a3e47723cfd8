"""The Hello request: who this connector is, where it runs, and what it can do (spec §3.1, §4).

Capabilities travel to C1 only in Hello. Every resource type of the access model can be synced;
team and role also declare CAPABILITY_PROVISION, but only when provisioning is enabled.
"""

from __future__ import annotations

import platform
import socket
import sys

from halo_c1 import model
from halo_c1.c1.pb.c1.connector.v2 import connector_pb2
from halo_c1.c1.pb.c1.connectorapi.baton.v1 import baton_pb2
from halo_c1.c1.version import VERSION
from halo_c1.c1z import messages

DISPLAY_NAME = "HaloITSM (halo-c1)"
DESCRIPTION = (
    "HaloITSM agents, end users, teams, departments and agent roles, synced by the halo-c1 Airflow "
    "pipeline (quality-gated snapshots)."
)
PROVISIONABLE_TYPES = (model.TEAM, model.ROLE)

Cap = connector_pb2.Capability


def connector_metadata(*, provisioning: bool) -> connector_pb2.ConnectorMetadata:
    """ConnectorMetadata with per-type capabilities, sorted by type id as the SDK does (§4.1)."""
    per_type = []
    for spec in sorted(model.RESOURCE_TYPES, key=lambda s: s.id):
        caps = [Cap.CAPABILITY_SYNC]
        if provisioning and spec.id in PROVISIONABLE_TYPES:
            caps = [Cap.CAPABILITY_PROVISION, Cap.CAPABILITY_SYNC]
        resource_type = messages.resource_type(
            spec.id, spec.display_name, spec.trait, spec.description, spec.child_resource_type_ids
        )
        per_type.append(
            connector_pb2.ResourceTypeCapability(
                resource_type=resource_type,
                capabilities=caps,
                permissions=connector_pb2.CapabilityPermissions(),
            )
        )
    overall = [Cap.CAPABILITY_PROVISION, Cap.CAPABILITY_SYNC] if provisioning else [Cap.CAPABILITY_SYNC]
    return connector_pb2.ConnectorMetadata(
        display_name=DISPLAY_NAME,
        description=DESCRIPTION,
        capabilities=connector_pb2.ConnectorCapabilities(
            resource_type_capabilities=per_type, connector_capabilities=overall
        ),
    )


def _os_info() -> baton_pb2.BatonServiceHelloRequest.OSInfo:
    """All 8 fields non-empty: C1 refuses to register a connector with an empty one (§3.1)."""
    uname = platform.uname()
    values = {
        "hostname": socket.gethostname(),
        "os": sys.platform,
        "platform": platform.system(),
        "platform_version": platform.version(),
        "platform_family": platform.system(),
        "kernel_version": uname.release,
        "kernel_arch": uname.machine,
        "virtualization_system": "none",
    }
    return baton_pb2.BatonServiceHelloRequest.OSInfo(
        **{key: (value or "unknown")[:256] for key, value in values.items()}
    )


def hello_request(
    *, host_id: str, task_id: str = "", provisioning: bool
) -> baton_pb2.BatonServiceHelloRequest:
    return baton_pb2.BatonServiceHelloRequest(
        host_id=host_id,
        task_id=task_id,
        build_info=baton_pb2.BatonServiceHelloRequest.BuildInfo(
            lang_version=f"python{sys.version_info.major}.{sys.version_info.minor}",
            package="halo-c1",
            package_version=VERSION,
        ),
        os_info=_os_info(),
        connector_metadata=connector_metadata(provisioning=provisioning),
    )
