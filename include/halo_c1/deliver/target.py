"""The delivery-target seam: a target only publishes a snapshot's bytes; bookkeeping is elsewhere.

`deliver.bookkeeping.deliver_snapshot` does everything every target needs (the stale and conflict
checks, counts from the lake, the delivery record and `latest.json`) and calls a target in two
steps, so nothing becomes visible to C1 unless the record can still be updated:

    staged = target.stage(c1z, snapshot_id)    # bytes published beside the target, verified, invisible
    ... bookkeeping re-checks the delivery record ...
    staged.commit()                            # quick: the staged snapshot becomes the one C1 takes
    (or staged.discard() on any failure)

Every target also says what it holds (`held`: the SHA-256 of its c1z and the writer record beside
it) and keeps the writer record of each delivery (`record_writer`), so a delivery never replaces what
another lake folder or tenant delivered without comparing (`deliver.writer`).

A new target (e.g. C1 service mode) is one module implementing `Target` and one builder registered
in `halo_c1_airflow.targets.DELIVERY_TARGETS`; the DAG does not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from upath import UPath


@dataclass(frozen=True)
class Held:
    """What a target holds now: the SHA-256 of its c1z (None: nothing), the writer record beside it
    (None: none, or unreadable), and where that c1z can be read (a path, or a URL in the lake)."""

    sha256: str | None
    writer: dict[str, Any] | None = None
    content: UPath | str | None = None


class WriterStore(Protocol):
    """Where a target without a place of its own keeps its writer record (C1 service mode)."""

    def get(self) -> dict[str, Any] | None: ...

    def put(self, record: dict[str, Any]) -> None: ...


class Staged(Protocol):
    """A snapshot published but not yet in place."""

    sha256: str  # of the bytes C1 will get
    size_bytes: int

    def commit(self) -> None:
        """Put the staged snapshot in place, atomically; raise (retryable) if that fails."""

    def discard(self) -> None:
        """Remove whatever `stage` left; never raises (log instead)."""


class Target(Protocol):
    """Where delivered snapshots go."""

    def describe(self) -> str:
        """Where, without secrets: recorded in the delivery record and logged."""

    def check(self) -> None:
        """Refuse a setting that does not mean what it says (`ConfigurationError`), before any work."""

    def stage(self, c1z: UPath, snapshot_id: str) -> Staged:
        """Publish the snapshot's c1z where C1 does not take it yet, verified."""

    def held(self) -> Held:
        """What the target holds now (read fresh, never cached)."""

    def record_writer(self, record: dict[str, Any]) -> None:
        """Keep the writer record of the delivery just committed beside it."""
