"""Delivery manifests: the lake's record of what was delivered where, and the last one delivered.

`deliveries/snapshot=<id>.json` is written per delivery and `deliveries/latest.json` (a full copy of
the newest manifest, so one read answers "what does C1 have now") is written last. A run reads it
once when it is planned (the guard's baseline) and delivery re-reads it to check nothing changed.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from halo_c1.deliver.errors import DeliveryRecordError
from halo_c1.lake import Lake, is_snapshot_id, read_json, write_json

log = logging.getLogger(__name__)

CONFIRM = (
    "the deletion guard and the stale check have nothing to compare with. If C1 has never received a "
    "snapshot from this lake, re-run with the param confirm_first_delivery=true; otherwise restore the "
    "record: python -m halo_c1.deliver.record --lake <lake URL> rewind <last delivered snapshot id>"
)


def _earlier_deliveries(lake: Lake) -> list[str]:
    folder = lake.latest_delivery().parent
    if not folder.exists():
        return []
    return sorted(
        p.name for p in folder.iterdir() if p.name.startswith("snapshot=") and p.name.endswith(".json")
    )


def _record_problem(manifest: Any) -> str | None:
    """Why `manifest` cannot be a delivery record, or None if it can.

    A record whose `snapshot_id` is not a real snapshot id (null, lower case, a list, missing) would
    protect nothing from retention and give the guard no baseline, so it counts as unreadable.
    """
    if not isinstance(manifest, dict):
        return f"it holds {type(manifest).__name__}, not a JSON object"
    if "snapshot_id" not in manifest:
        return "it has no snapshot_id"
    if not is_snapshot_id(snapshot_id := manifest["snapshot_id"]):
        return f"its snapshot_id {snapshot_id!r} is not a snapshot id like 20261127T050000Z"
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not isinstance(counts.get("resources", {}), dict):
        return f"its counts are {counts!r}, not the delivered counts"
    return None


def last_delivery(lake: Lake, *, first_delivery_confirmed: bool = False) -> dict[str, Any] | None:
    """The record of the last delivery, or None before the first one.

    A missing `latest.json` while per-snapshot manifests exist, or an unreadable one (truncated,
    hand-edited, a `snapshot_id` that is no snapshot id), is not "no delivery yet": it raises
    `DeliveryRecordError` unless an operator confirmed (`first_delivery_confirmed`) that this is a
    first delivery.
    """
    path = lake.latest_delivery()
    if not path.exists():
        earlier = _earlier_deliveries(lake)
        if not earlier:
            return None
        problem = f"{path} is missing but {len(earlier)} earlier deliveries are recorded (last {earlier[-1]})"
    else:
        try:
            reason = _record_problem(manifest := read_json(path))
        except (json.JSONDecodeError, UnicodeDecodeError):
            reason = "it is not JSON"
        if reason is None:
            return manifest
        problem = f"{path} is not a readable delivery record (truncated or edited: {reason})"
    if first_delivery_confirmed:
        log.warning("%s; treated as a first delivery, as the operator confirmed", problem)
        return None
    raise DeliveryRecordError(f"{problem}: {CONFIRM}")


def record_delivery(lake: Lake, manifest: dict[str, Any]) -> None:
    """Write the snapshot's manifest, then `latest.json`: a crash in between leaves latest unchanged."""
    write_json(lake.delivery_manifest(manifest["snapshot_id"]), manifest)
    write_json(lake.latest_delivery(), manifest)
