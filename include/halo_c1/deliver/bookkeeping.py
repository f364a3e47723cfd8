"""Delivery bookkeeping, the same for every target: may this snapshot go to C1, and the record of it.

`deliver_snapshot` reads everything it records from the lake (the guard's report, the curated
counts, the c1z), refuses a stale snapshot or one whose guard compared against a delivery that is no
longer the latest, has the target stage the bytes, re-checks the delivery record and that the target
still holds what the guard saw (`deliver.writer`), has the target commit, leaves the writer record
beside it, and writes the record (`deliver.manifest`). A failure before the commit leaves the target
and the record as they were.

All of it runs under the lake's delivery lease (`deliveries/_lease.json`, created only if absent,
renewed while held, taken over once expired): check, commit and record are one compare-and-swap on
the record, so two deliveries (a second deployment, `dags test` beside the scheduler, a zombie task)
can never interleave and leave C1 older than what a successful run reported.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from halo_c1.deliver.errors import DeliveryConflictError, DeliveryRefused, StaleSnapshotError
from halo_c1.deliver.manifest import last_delivery, record_delivery
from halo_c1.deliver.objectstore import public_url
from halo_c1.deliver.target import Staged, Target
from halo_c1.deliver.writer import COMPARE, REFUSE, check_target, check_unchanged, writer_record
from halo_c1.lake import Lake, read_json, snapshot_is_older, snapshot_time
from halo_c1.lease import MAX_CLOCK_SKEW, Lease

log = logging.getLogger(__name__)

LEASE_TTL_S = 120.0  # renewed every 40 s while held; a dead holder's lease is taken over after this
LEASE_WAIT_S = 600.0  # then LeaseBusy, and the task retries
DELIVERY_LEASE = "the delivery record"  # what the lake's delivery lease locks


def _guard_report(lake: Lake, snapshot_id: str) -> dict[str, Any]:
    """The guard's report of this snapshot; delivery never goes ahead without a passed one."""
    path = lake.guard_report(snapshot_id)
    if not path.exists():
        raise DeliveryRefused(
            f"no deletion-guard report for snapshot {snapshot_id} at {path}; run the guard first"
        )
    report = read_json(path)
    if not report.get("passed"):
        raise DeliveryRefused(f"the deletion guard blocked snapshot {snapshot_id} (see {path})")
    return report


def _refuse_future(snapshot_id: str, now: datetime | None = None) -> None:
    """A snapshot dated ahead of the clock (a bad logical date or param) would be "newer" than every
    later run's snapshot and block all of them: never record one."""
    taken = snapshot_time(snapshot_id)
    now = now or datetime.now(UTC)
    if taken > now + MAX_CLOCK_SKEW:
        raise DeliveryRefused(
            f"snapshot {snapshot_id} is dated {taken - now} in the future (clock skew allowed: "
            f"{MAX_CLOCK_SKEW}); not recording it, or every later delivery would look stale"
        )


def check_against_record(snapshot_id: str, compared_with: str | None, record: dict[str, Any] | None) -> None:
    """Refuse to replace newer data in C1, or to deliver when another delivery happened after the
    guard compared this snapshot with `compared_with` (its comparison no longer holds)."""
    current = record["snapshot_id"] if record else None
    if current is not None and snapshot_is_older(snapshot_id, current):
        raise StaleSnapshotError(
            f"snapshot {snapshot_id} is older than the delivered snapshot {current}: "
            "not replacing newer access data in C1 with older data"
        )
    if current not in (compared_with, snapshot_id):
        raise DeliveryConflictError(
            f"snapshot {snapshot_id} was checked by the deletion guard against delivery "
            f"{compared_with or '(none)'}, but the latest delivery is now {current or '(none)'}: "
            "another run delivered in between; re-run to compare against it"
        )


def _target_seen(
    lake: Lake, snapshot_id: str, target: Target, guard: dict[str, Any], takeover: bool, record: Any
) -> str | None:
    """The SHA-256 of what the target held when the guard looked (None: nothing). A guard report
    without a target check (written before writer records existed) is made up for here: only an empty
    target, this folder's own c1z, or a confirmed takeover may be replaced without a comparison."""
    seen = guard.get("target")
    if isinstance(seen, dict) and seen.get("target") == target.describe():
        return seen.get("sha256")
    check = check_target(target, lake, record, snapshot_id, takeover=takeover)
    if check.verdict in (COMPARE, REFUSE):
        unchecked = (
            f"{check.reason}; this snapshot's deletion guard did not compare with it (re-run the guard)"
        )
        raise replace(check, reason=unchecked).refusal(lake)
    return check.sha256


def deliver_snapshot(
    lake: Lake,
    snapshot_id: str,
    target: Target,
    *,
    first_delivery_confirmed: bool = False,
    takeover: bool = False,
) -> dict[str, Any]:
    """Deliver the snapshot's c1z through `target` and record it; return the delivery record.

    `first_delivery_confirmed`: an operator confirmed that a missing or unreadable delivery record
    means nothing was delivered before (`manifest.last_delivery`). `takeover`: an operator confirmed
    that the target may be replaced whoever wrote it (run param `takeover_delivery_target`)."""
    from halo_c1.guard import snapshot_counts

    target.check()
    _refuse_future(snapshot_id)
    source = lake.c1z_file(snapshot_id)
    if not source.exists():
        raise DeliveryRefused(f"no c1z for snapshot {snapshot_id} at {source}; run the package task first")
    guard = _guard_report(lake, snapshot_id)
    compared_with = guard["previous_snapshot_id"]
    counts = snapshot_counts(lake, snapshot_id)
    confirmed = first_delivery_confirmed
    with Lease(lake.delivery_lease(), what=DELIVERY_LEASE, ttl_s=LEASE_TTL_S, wait_s=LEASE_WAIT_S) as lease:
        latest = last_delivery(lake, first_delivery_confirmed=confirmed)
        check_against_record(snapshot_id, compared_with, latest)
        seen = _target_seen(lake, snapshot_id, target, guard, takeover, latest)
        staged = target.stage(source, snapshot_id)
        try:
            # Re-checked after the bytes are published and before they are put in place.
            check_against_record(
                snapshot_id, compared_with, last_delivery(lake, first_delivery_confirmed=confirmed)
            )
            check_unchanged(target, seen, staged.sha256)
            lease.check()
            staged.commit()
        except BaseException:
            staged.discard()
            raise
        record = _record(lake, snapshot_id, target, staged, counts, guard)
        target.record_writer(
            writer_record(
                lake,
                target=record["target"],
                snapshot_id=snapshot_id,
                sha256=staged.sha256,
                size_bytes=staged.size_bytes,
                counts=counts,
                c1z_sync_id=record["c1z_sync_id"],
                delivered_at=record["delivered_at"],
            )
        )
        record_delivery(lake, record)
    log.info(
        "Delivered snapshot %s to %s (%d bytes, sha256 %s)",
        snapshot_id,
        record["target"],
        staged.size_bytes,
        staged.sha256,
    )
    return record


def _record(
    lake: Lake,
    snapshot_id: str,
    target: Target,
    staged: Staged,
    counts: dict[str, Any],
    guard: dict[str, Any],
) -> dict[str, Any]:
    from halo_c1.c1z.writer import sync_id_for

    return {
        "snapshot_id": snapshot_id,
        "target": target.describe(),
        "source": public_url(lake.c1z_file(snapshot_id)),
        "sha256": staged.sha256,
        "size_bytes": staged.size_bytes,
        "counts": counts,
        "c1z_sync_id": sync_id_for(snapshot_id),
        "delivered_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "guard": {
            "previous_snapshot_id": guard["previous_snapshot_id"],
            "overridden": guard["overridden"],
            "drops": guard["drops"],
            "target": guard.get("target"),
        },
    }
