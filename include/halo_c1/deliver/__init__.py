"""Delivery: generic bookkeeping (stale and conflict checks, the record, `latest.json`) and targets
that only publish bytes (`deliver.target` is the seam; `ObjectStorageTarget` is object storage/file)."""

from halo_c1.deliver.bookkeeping import check_against_record, deliver_snapshot
from halo_c1.deliver.errors import (
    DeliverError,
    DeliveryConflictError,
    DeliveryError,
    DeliveryRecordError,
    DeliveryRefused,
    StaleSnapshotError,
)
from halo_c1.deliver.manifest import last_delivery, record_delivery
from halo_c1.deliver.objectstore import ObjectStorageTarget, public_url, publish_atomically
from halo_c1.deliver.target import Staged, Target

__all__ = [
    "DeliverError",
    "DeliveryConflictError",
    "DeliveryError",
    "DeliveryRecordError",
    "DeliveryRefused",
    "ObjectStorageTarget",
    "Staged",
    "StaleSnapshotError",
    "Target",
    "check_against_record",
    "deliver_snapshot",
    "last_delivery",
    "public_url",
    "publish_atomically",
    "record_delivery",
]
