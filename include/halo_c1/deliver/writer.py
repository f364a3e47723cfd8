"""Who wrote what a delivery target holds, and whether this lake folder may replace it.

What C1 holds is a fact about the delivery target, not about a lake folder: the HaloITSM URL or the
lake URL can change (a new tenant folder, a new bucket) while the target stays the same. So every
delivery leaves, beside what it published, a writer record (`writer_record`): the lake folder (URL
without secrets) and its tenant (canonical host, `tenant` extra, folder key), the snapshot id, the
SHA-256 and size of the c1z, its counts (resources per type, grants), the lake's c1z URL and when.
An object-storage/file target keeps it in `<target>.writer.json`, written after the c1z; C1 service
mode keeps it where that target's state lives, outside any lake folder (see `c1_service`).

Before the guard compares a live snapshot, `check_target` reads the target and decides:

- `empty`: the target holds nothing: the lake's own last delivery is the baseline.
- `ours`: the writer record names this lake folder and tenant and matches the object (or, for a target
  filled before writer records existed, the lake's record names this target and its SHA-256): the
  lake's own last delivery is the baseline.
- `compare`: another folder or lake of the same tenant wrote it, or nothing says who did: the guard
  compares with the target's own content (its c1z decoded: ids per resource type, grants).
- `refuse`: another tenant wrote it, or a newer snapshot than this one: `TargetTakeoverRequired`.

With the run param `takeover_delivery_target` a `compare` or `refuse` becomes `taken over`: the lake's
own baseline only. Delivery re-reads the target under the lake's lease and replaces it only if it
still holds what the guard saw (`check_unchanged`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from upath import UPath

from halo_c1.deliver.errors import DeliveryConflictError, TargetTakeoverRequired
from halo_c1.deliver.objectstore import public_url
from halo_c1.lake import Lake, as_path, snapshot_is_older
from halo_c1.tenancy import TenantIdentity, lake_tenant

if TYPE_CHECKING:
    from halo_c1.deliver.target import Target
    from halo_c1.guard import C1zBaseline

log = logging.getLogger(__name__)

WRITER_FORMAT = 1
EMPTY, OURS, COMPARE, REFUSE, TAKEN_OVER = "empty", "ours", "compare", "refuse", "taken over"
TAKEOVER_PARAM = "takeover_delivery_target"
HOW_TO_TAKE_OVER = (
    f"If this lake folder should replace it on purpose, re-run once with the run param {TAKEOVER_PARAM}=true "
    f"(airflow dags trigger haloitsm_to_c1 --conf '{{\"{TAKEOVER_PARAM}\": true}}'; see docs/delivery-target.md)"
)


@dataclass(frozen=True)
class TargetCheck:
    """`check_target`'s decision; `as_report()` goes into the guard's report, which delivery reads."""

    target: str
    verdict: str
    sha256: str | None
    writer: dict[str, Any] | None
    reason: str
    content: UPath | str | None = field(default=None, compare=False)

    def as_report(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "verdict": self.verdict,
            "sha256": self.sha256,
            "writer": _summary(self.writer),
            "reason": self.reason,
        }

    def refusal(self, lake: Lake) -> TargetTakeoverRequired:
        return TargetTakeoverRequired(
            f"not replacing the delivery target {self.target}: it holds a c1z written by "
            f"{describe_writer(self.writer)}, not by this lake folder {public_url(lake.base)}; "
            f"{self.reason}. {HOW_TO_TAKE_OVER}"
        )


def is_writer_record(value: Any) -> bool:
    return isinstance(value, dict) and value.get("format") == WRITER_FORMAT and "sha256" in value


def _summary(writer: dict[str, Any] | None) -> dict[str, Any] | None:
    if writer is None:
        return None
    keys = ("lake", "tenant", "snapshot_id", "sha256", "counts", "delivered_at")
    return {key: writer.get(key) for key in keys}


def describe_writer(writer: dict[str, Any] | None) -> str:
    """The writer, for messages: lake folder, tenant and snapshot; or that nothing records one."""
    if writer is None:
        return "an unknown writer (no writer record beside it)"
    tenant = writer.get("tenant") or {}
    who = tenant.get("host") or "an unknown HaloITSM tenant"
    if tenant.get("tenant"):
        who += f" (tenant {tenant['tenant']!r})"
    return (
        f"lake folder {writer.get('lake')} of HaloITSM {who}, snapshot {writer.get('snapshot_id')} "
        f"delivered at {writer.get('delivered_at')}"
    )


def writer_record(
    lake: Lake,
    *,
    target: str,
    snapshot_id: str,
    sha256: str,
    size_bytes: int,
    counts: dict[str, Any],
    c1z_sync_id: str,
    delivered_at: str,
) -> dict[str, Any]:
    """The record a delivery leaves beside what it published. Nothing secret: URLs are public_url."""
    tenant = lake_tenant(lake)
    return {
        "format": WRITER_FORMAT,
        "target": target,
        "tenant": tenant.as_record() if tenant else None,
        "lake": public_url(lake.base),
        "snapshot_id": snapshot_id,
        "sha256": sha256,
        "size_bytes": size_bytes,
        "counts": counts,
        "c1z_sync_id": c1z_sync_id,
        "source": public_url(lake.c1z_file(snapshot_id)),
        "delivered_at": delivered_at,
    }


def _writer_tenant(writer: dict[str, Any]) -> TenantIdentity | None:
    tenant = writer.get("tenant")
    return TenantIdentity.from_record(tenant) if isinstance(tenant, dict) and tenant.get("host") else None


def check_target(
    target: Target,
    lake: Lake,
    lake_record: dict[str, Any] | None,
    snapshot_id: str,
    *,
    takeover: bool = False,
) -> TargetCheck:
    """Whether this lake folder may replace what `target` holds, and what the guard compares with."""
    description = target.describe()
    held = target.held()
    if held.sha256 is None:
        return TargetCheck(description, EMPTY, None, None, "the target holds nothing yet")
    writer = held.writer if is_writer_record(held.writer) else None
    matches = writer is not None and writer["sha256"] == held.sha256
    me, my_tenant = public_url(lake.base), lake_tenant(lake)
    if matches and writer is not None and writer.get("lake") == me and _writer_tenant(writer) == my_tenant:
        return TargetCheck(description, OURS, held.sha256, writer, "this lake folder wrote it", held.content)
    if lake_record and lake_record.get("target") == description and lake_record.get("sha256") == held.sha256:
        reason = "this lake folder's delivery record names it (delivered before writer records existed)"
        return TargetCheck(description, OURS, held.sha256, writer, reason, held.content)

    verdict, reason = COMPARE, ""
    if not matches:
        writer = None
        reason = "nothing records who wrote it: the guard compares with its content"
    else:
        assert writer is not None
        theirs = _writer_tenant(writer)
        if theirs is not None and my_tenant is not None and theirs != my_tenant:
            verdict = REFUSE
            reason = f"it is another HaloITSM tenant's ({theirs.describe()}), this folder is {my_tenant.describe()}"
        elif snapshot_is_older(snapshot_id, str(writer.get("snapshot_id") or "")):
            verdict = REFUSE
            reason = f"it holds snapshot {writer.get('snapshot_id')}, newer than this run's {snapshot_id}"
        else:
            reason = "the same tenant from another lake folder: the guard compares with its content"
    if takeover:
        log.warning(
            "Taking over the delivery target %s (run param %s): it holds a c1z written by %s; %s",
            description,
            TAKEOVER_PARAM,
            describe_writer(writer),
            reason,
        )
        return TargetCheck(description, TAKEN_OVER, held.sha256, writer, f"taken over: {reason}")
    return TargetCheck(description, verdict, held.sha256, writer, reason, held.content)


def target_baseline(
    target: Target, lake: Lake, previous: dict[str, Any] | None, snapshot_id: str, *, takeover: bool = False
) -> tuple[TargetCheck, C1zBaseline | None]:
    """What the guard compares a live snapshot with: the target's check and, for `compare`, its c1z
    decoded. Raises `TargetTakeoverRequired` for `refuse`, or when that c1z cannot be read."""
    from halo_c1.c1z.errors import C1zError
    from halo_c1.guard import read_c1z_baseline

    check = check_target(target, lake, previous, snapshot_id, takeover=takeover)
    log.info("Delivery target %s: %s (%s)", check.target, check.verdict, check.reason)
    if check.verdict == REFUSE:
        raise check.refusal(lake)
    if check.verdict != COMPARE:
        return check, None
    label = f"the c1z at {check.target} (written by {describe_writer(check.writer)})"
    try:
        if check.content is None:
            raise FileNotFoundError("the writer record names no c1z")
        held = read_c1z_baseline(
            content_path(check.content, lake),
            label=label,
            snapshot_id=check.writer.get("snapshot_id") if check.writer else None,
        )
    except (C1zError, FileNotFoundError, ValueError) as error:  # other I/O errors are retried
        reason = f"{check.reason}, but it cannot be read as a c1z ({type(error).__name__}: {error})"
        raise replace(check, reason=reason).refusal(lake) from error
    log.info("Deletion guard compares with %s", label)
    return check, held


def content_path(content: UPath | str, lake: Lake) -> UPath:
    """A held c1z as a path; a URL in the lake's store is opened with the lake's credentials."""
    if isinstance(content, UPath):
        return content
    if as_path(content).protocol == lake.base.protocol:
        return type(lake.base)(content, **lake.base.storage_options)
    return as_path(content)


def check_unchanged(target: Target, seen_sha256: str | None, delivering_sha256: str) -> None:
    """Refuse to replace the target if it no longer holds what the guard saw (another writer
    delivered meanwhile). Holding this snapshot already (a retried delivery) is fine."""
    held = target.held()
    if held.sha256 in (seen_sha256, delivering_sha256):
        return
    writer = held.writer if is_writer_record(held.writer) and held.writer["sha256"] == held.sha256 else None
    now = (
        "nothing"
        if held.sha256 is None
        else f"a c1z (sha256 {held.sha256}) written by {describe_writer(writer)}"
    )
    raise DeliveryConflictError(
        f"the delivery target {target.describe()} changed after the guard compared with it (it held "
        f"sha256 {seen_sha256 or '(nothing)'}, now {now}): re-run to compare against it"
    )
