"""Serve one C1 task (spec §3): hello, sync_full, grant/revoke, and a clear error for the rest.

    outcome = serve_task(client, task, services, next_heartbeat_s=polled.next_heartbeat_s)

Every path that claims a task either finishes it or, for hello, answers it; nothing is finished for
work not done (a crash leaves C1 free to re-issue the task). Returns a small summary for XCom:
task id, type and outcome, never data or secrets. A sync that could not deliver (a failed or
blocked pipeline, C1 unreachable) is finished with the error and then re-raised, so the Airflow
task fails visibly too.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from google.protobuf.unknown_fields import UnknownFieldSet

from halo_c1.c1.client import BatonClient, UploadCancelled
from halo_c1.c1.errors import C1Error, C1TaskError, C1UnavailableError
from halo_c1.c1.heartbeat import Heartbeat, HeartbeatLost, TaskCancelled
from halo_c1.c1.pb.c1.connectorapi.baton.v1 import baton_pb2
from halo_c1.c1.provisioning import NOT_ENABLED, parse_request, success_response
from halo_c1.c1.snapshots import PipelineFailed, ServedSnapshot, SnapshotSource, choose_snapshot
from halo_c1.lake import as_path, is_local

if TYPE_CHECKING:
    from halo_c1.provision import ProvisionOutcome, ProvisionRequest

log = logging.getLogger(__name__)

# Task types outside our proto subset (spec §2.3), to name them in the UNIMPLEMENTED error.
UNMODELLED_TASK_TYPES = {
    105: "create_account",
    106: "create_resource",
    107: "delete_resource",
    108: "rotate_credentials",
    109: "event_feed",
    110: "create_ticket_task",
    111: "list_ticket_schemas",
    112: "get_ticket",
    113: "bulk_create_tickets",
    114: "bulk_get_tickets",
    115: "action_list_schemas",
    116: "action_get_schema",
    117: "action_invoke",
    118: "action_status",
    119: "create_sync_diff",
    120: "compact_syncs",
    121: "list_event_feeds",
    122: "list_events",
    123: "issue_credential",
}
C1Z_TABLES_SKIPPED = {
    "skip_grants": ("v1_grants",),
    "skip_entitlements_and_grants": ("v1_entitlements", "v1_grants"),
}


@dataclass(frozen=True)
class Services:
    """What serving needs beyond the client: where snapshots come from and how to provision.

    `provision` is None when provisioning is not enabled."""

    snapshots: SnapshotSource
    max_snapshot_age: timedelta
    provision: Callable[[ProvisionRequest], ProvisionOutcome] | None = None


def task_type(task: baton_pb2.Task) -> str:
    """The task's type name, also for types we do not model (found among its unknown fields)."""
    kind = task.WhichOneof("task_type")
    if kind:
        return kind
    numbers = sorted(field.field_number for field in UnknownFieldSet(task))
    names = [UNMODELLED_TASK_TYPES.get(n, f"field {n}") for n in numbers if n >= 100]
    return names[0] if names else "unknown"


def serve_task(
    client: BatonClient, task: baton_pb2.Task, services: Services, *, next_heartbeat_s: float
) -> dict[str, Any]:
    kind = task_type(task)
    log.info("Serving C1 task %s (%s)", task.id, kind)
    if kind == "hello":
        client.hello(task.id)
        return {"task_id": task.id, "type": kind, "outcome": "hello answered (not finished)"}
    if kind == "sync_full":
        return {"task_id": task.id, "type": kind, **serve_sync_full(client, task, services, next_heartbeat_s)}
    if kind in ("grant", "revoke"):
        return {"task_id": task.id, "type": kind, **serve_provisioning(client, task, services)}
    message = f"unsupported task type {kind}: halo-c1 serves hello, sync_full, grant and revoke"
    client.finish_error(task.id, "UNIMPLEMENTED", message, non_retryable=True)
    return {"task_id": task.id, "type": kind, "outcome": "UNIMPLEMENTED"}


def _skipped_tables(flags: baton_pb2.Task.SyncFullTask) -> tuple[str, ...]:
    """Tables to leave empty for the task's flags; logs the flags a c1z cannot honour."""
    if flags.targeted_sync_resources:
        log.warning(
            "Ignoring targeted_sync_resources (%d resources): halo-c1 uploads its whole snapshot",
            len(flags.targeted_sync_resources),
        )
    if flags.sync_resource_type_ids:
        log.warning(
            "Ignoring sync_resource_type_ids %s: uploading every type", list(flags.sync_resource_type_ids)
        )
    if flags.storage_engine and flags.storage_engine != "sqlite":
        log.warning("Ignoring storage_engine %r: halo-c1 uploads a v1 (SQLite) c1z", flags.storage_engine)
    if flags.skip_expand_grants:
        log.info("skip_expand_grants: halo-c1's grants are already expanded; nothing to skip")
    for flag in ("skip_entitlements_and_grants", "skip_grants"):
        if getattr(flags, flag):
            log.info("%s: uploading a copy without %s", flag, ", ".join(C1Z_TABLES_SKIPPED[flag]))
            return C1Z_TABLES_SKIPPED[flag]
    return ()


def _local_upload_file(snapshot: ServedSnapshot, skipped: tuple[str, ...], workdir: Path) -> Path:
    """A local file with the bytes to upload: the lake's c1z itself, a local copy, or a trimmed copy."""
    if skipped:
        from halo_c1.c1z.trim import without_rows

        trimmed = workdir / "sync.c1z"
        without_rows(snapshot.c1z, as_path(str(trimmed)), skipped)
        return trimmed
    if is_local(snapshot.c1z):
        return Path(snapshot.c1z.path)
    copy = workdir / "sync.c1z"
    with snapshot.c1z.open("rb") as source, copy.open("wb") as target:
        while chunk := source.read(8 * 1024 * 1024):
            target.write(chunk)
    return copy


def serve_sync_full(
    client: BatonClient, task: baton_pb2.Task, services: Services, next_heartbeat_s: float
) -> dict[str, Any]:
    """Heartbeat from the claim; choose or build the snapshot; upload it; finish (spec §3.4)."""
    skipped = _skipped_tables(task.sync_full)
    with (
        Heartbeat(client, task.id, next_heartbeat_s) as beat,
        tempfile.TemporaryDirectory(prefix="halo-c1-sync-") as tmp,
    ):
        try:
            beat.check()
            snapshot = choose_snapshot(
                services.snapshots, max_age=services.max_snapshot_age, checkpoint=beat.check
            )
            beat.check()
            upload = _local_upload_file(snapshot, skipped, Path(tmp))
            beat.check()
            sha256 = client.upload(task.id, upload, cancelled=beat.cancelled)
        except (TaskCancelled, UploadCancelled) as stop:
            client.finish_error(task.id, "CANCELLED", str(stop), non_retryable=False)
            return {"outcome": "CANCELLED", "uploaded": False}
        except PipelineFailed as failed:
            message = f"{failed}; C1 keeps its previous data"
            code = "FAILED_PRECONDITION" if failed.permanent else "UNAVAILABLE"
            client.finish_error(task.id, code, message, non_retryable=failed.permanent)
            raise
        except (HeartbeatLost, C1UnavailableError) as lost:
            client.finish_error(task.id, "UNAVAILABLE", str(lost), non_retryable=False)
            raise
        client.finish_success(task.id)
    return {
        "outcome": "OK",
        "uploaded": True,
        "snapshot_id": snapshot.snapshot_id,
        "origin": snapshot.origin,
        "sha256": sha256,
        "skipped_tables": list(skipped),
        "heartbeats": beat.beats,
    }


def serve_provisioning(client: BatonClient, task: baton_pb2.Task, services: Services) -> dict[str, Any]:
    """Grant or revoke through `halo_c1.provision`; every failure is non-retryable (spec §3.5)."""
    if services.provision is None:
        client.finish_error(task.id, "FAILED_PRECONDITION", NOT_ENABLED, non_retryable=True)
        return {"outcome": "FAILED_PRECONDITION", "reason": NOT_ENABLED}
    try:
        request = parse_request(task)
    except C1TaskError as malformed:
        client.finish_error(task.id, malformed.code, str(malformed), non_retryable=True)
        return {"outcome": malformed.code, "reason": str(malformed)}
    try:
        outcome = services.provision(request)
    except C1Error:
        raise
    except Exception as error:
        message = f"provisioning {request.action} of {request.entitlement_id} failed: {type(error).__name__}: {error}"
        client.finish_error(task.id, "INTERNAL", message, non_retryable=True)
        raise
    if outcome.code == "OK":
        annotations, response = success_response(task, outcome)
        client.finish_success(task.id, annotations=annotations, response=response)
    else:
        client.finish_error(task.id, outcome.code, outcome.message, non_retryable=True)
    return {"outcome": outcome.code, "annotations": list(outcome.annotations), "grant_id": outcome.grant_id}
