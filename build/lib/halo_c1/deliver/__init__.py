"""Guard and delivery: the last two stages, between a packaged c1z and C1."""

from halo_c1.deliver.counts import snapshot_counts
from halo_c1.deliver.errors import DeliverError, DeliveryError, MassDeletionError, StaleSnapshotError
from halo_c1.deliver.guard import (
    DEFAULT_MAX_DROP_RATIO,
    check_deletion_safety,
    validate_max_drop_ratio,
)
from halo_c1.deliver.manifest import last_delivery, record_delivery
from halo_c1.deliver.objectstore import deliver_c1z, public_url, publish_atomically

__all__ = [
    "DEFAULT_MAX_DROP_RATIO",
    "DeliverError",
    "DeliveryError",
    "MassDeletionError",
    "StaleSnapshotError",
    "check_deletion_safety",
    "deliver_c1z",
    "last_delivery",
    "public_url",
    "publish_atomically",
    "record_delivery",
    "snapshot_counts",
    "validate_max_drop_ratio",
]
