"""Delivery bookkeeping, the same for every target: may this snapshot go to C1, and the record of it.

`deliver_snapshot` reads everything it records from the lake (the guard's report, the curated
counts, the c1z), refuses a stale snapshot or one whose guard compared against a delivery that is no
longer the latest, has the target stage the bytes, re-checks the delivery record, has the target
commit, and writes the record (`deliver.manifest`). A failure before the commit leaves the target
and the record as they were.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from halo_c1.deliver.errors import DeliveryConflictError, DeliveryRefused, StaleSnapshotError
from halo_c1.deliver.manifest import last_delivery, record_delivery
from halo_c1.deliver.objectstore import public_url
from halo_c1.deliver.target import Target
from halo_c1.lake import Lake, read_json, snapshot_is_older

log = logging.getLogger(__name__)


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


def deliver_snapshot(lake: Lake, snapshot_id: str, target: Target) -> dict[str, Any]:
    """Deliver the snapshot's c1z through `target` and record it; return the delivery record."""
    from halo_c1.c1z.writer import sync_id_for
    from halo_c1.guard import snapshot_counts

    target.check()
    source = lake.c1z_file(snapshot_id)
    if not source.exists():
        raise DeliveryRefused(f"no c1z for snapshot {snapshot_id} at {source}; run the package task first")
    guard = _guard_report(lake, snapshot_id)
    compared_with = guard["previous_snapshot_id"]
    check_against_record(snapshot_id, compared_with, last_delivery(lake))
    counts = snapshot_counts(lake, snapshot_id)

    staged = target.stage(source, snapshot_id)
    try:
        # Re-checked after the bytes are published and before they are put in place.
        check_against_record(snapshot_id, compared_with, last_delivery(lake))
        staged.commit()
    except BaseException:
        staged.discard()
        raise
    record = {
        "snapshot_id": snapshot_id,
        "target": target.describe(),
        "source": public_url(source),
        "sha256": staged.sha256,
        "size_bytes": staged.size_bytes,
        "counts": counts,
        "c1z_sync_id": sync_id_for(snapshot_id),
        "delivered_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "guard": {
            "previous_snapshot_id": compared_with,
            "overridden": guard["overridden"],
            "drops": guard["drops"],
        },
    }
    record_delivery(lake, record)
    log.info(
        "Delivered snapshot %s to %s (%d bytes, sha256 %s)",
        snapshot_id,
        record["target"],
        staged.size_bytes,
        staged.sha256,
    )
    return record
