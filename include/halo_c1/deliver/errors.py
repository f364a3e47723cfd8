"""Why a snapshot was not delivered to C1.

DeliverError                     any failure of the delivery stage
├── DeliveryError                the bytes could not be put in place at the target (I/O: retried)
└── DeliveryRefused (permanent)  delivering would be wrong or is impossible as configured
    ├── StaleSnapshotError       the snapshot is older than the one C1 already has
    ├── DeliveryConflictError    another run delivered since this run's guard compared
    ├── DeliveryRecordError      the delivery record in the lake is unreadable or missing
    └── TargetTakeoverRequired   the target holds a c1z this lake folder did not write and the guard
                                 cannot compare with (another tenant, or unreadable)
"""

from __future__ import annotations

from halo_c1.errors import PermanentError


class DeliverError(Exception):
    """Base of the delivery errors."""


class DeliveryError(DeliverError):
    """The c1z did not reach the target; the object already there (if any) is untouched."""


class DeliveryRefused(DeliverError, PermanentError):
    """Delivery was refused before anything changed at the target; retrying would not help."""


class StaleSnapshotError(DeliveryRefused):
    """Delivering this snapshot would replace newer access data in C1 with older data."""


class DeliveryConflictError(DeliveryRefused):
    """The delivery record changed after this run's guard compared against it (a concurrent run)."""


class DeliveryRecordError(DeliveryRefused):
    """The lake's delivery record cannot be trusted; the message says how to recover."""


class TargetTakeoverRequired(DeliveryRefused):
    """The target holds what another writer delivered and it cannot be compared: an operator must
    confirm the takeover (run param `takeover_delivery_target`)."""
