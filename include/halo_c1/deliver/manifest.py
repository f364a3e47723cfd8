"""Delivery manifests: the lake's record of what was delivered where, and the last one delivered.

`deliveries/snapshot=<id>.json` is written per delivery and `deliveries/latest.json` (a full copy of
the newest manifest, so one read answers "what does C1 have now") is written last. A run reads it
once when it is planned (the guard's baseline) and delivery re-reads it to check nothing changed.
"""

from __future__ import annotations

from typing import Any

from halo_c1.deliver.errors import DeliveryRecordError
from halo_c1.lake import Lake, read_json, write_json


def last_delivery(lake: Lake) -> dict[str, Any] | None:
    """The manifest of the last delivery, or None before the first one."""
    path = lake.latest_delivery()
    if not path.exists():
        return None
    manifest = read_json(path)
    if not isinstance(manifest, dict) or "snapshot_id" not in manifest or "counts" not in manifest:
        raise DeliveryRecordError(
            f"{path} is not a delivery manifest (no snapshot_id/counts); fix or remove it"
        )
    return manifest


def record_delivery(lake: Lake, manifest: dict[str, Any]) -> None:
    """Write the snapshot's manifest, then `latest.json`: a crash in between leaves latest unchanged."""
    write_json(lake.delivery_manifest(manifest["snapshot_id"]), manifest)
    write_json(lake.latest_delivery(), manifest)
