"""Why a snapshot was not delivered to C1.

DeliverError                 any failure of the guard or delivery stage
├── MassDeletionError        the deletion-safety guard blocked the snapshot
├── StaleSnapshotError       the snapshot is older than the one C1 already has
└── DeliveryError            the c1z could not be put in place at the target
"""

from __future__ import annotations

from typing import Any

from halo_c1.errors import PermanentError


class DeliverError(Exception):
    """Base of the guard and delivery errors."""


class MassDeletionError(DeliverError, PermanentError):
    """Too many resources or grants would disappear in C1; `result` is the guard's full report."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


class DeliveryError(DeliverError):
    """The c1z did not reach the target; the object already there (if any) is untouched."""


class StaleSnapshotError(DeliverError, PermanentError):
    """Delivering this snapshot would replace newer access data in C1 with older data."""
