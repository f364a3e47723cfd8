"""Which snapshot a `sync_full` task uploads: the last delivered one if fresh enough, else a new run.

"Delivered" means it passed the quality gate and the deletion guard and was recorded in the lake
(`deliveries/latest.json`); with service mode as the ETL's delivery target, recording it is all
delivery does. A fresh run goes through the same stages, gate and guard (the DAG wires the ETL's
stage functions in as `pipeline`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from upath import UPath

from halo_c1.c1.errors import C1Error
from halo_c1.lake import Lake, snapshot_time

log = logging.getLogger(__name__)

Checkpoint = Callable[[], None]


@dataclass(frozen=True)
class ServedSnapshot:
    snapshot_id: str
    c1z: UPath
    origin: str  # "last delivery" or "fresh pipeline run"


class PipelineFailed(C1Error):
    """The fresh run stopped: `stage` and `reason` go to C1 in the FinishTask error."""

    def __init__(self, stage: str, reason: str, *, permanent: bool) -> None:
        super().__init__(f"halo-c1 pipeline stage {stage!r} failed: {reason}")
        self.stage = stage
        self.reason = reason
        self.permanent = permanent


class SnapshotSource(Protocol):
    def latest(self) -> ServedSnapshot | None: ...

    def refresh(self, checkpoint: Checkpoint) -> ServedSnapshot: ...


class LakeSnapshots:
    """Snapshots from the lake's delivery record; `pipeline(checkpoint)` runs the ETL and returns the
    new snapshot id (raising `PipelineFailed`), calling `checkpoint` between stages."""

    def __init__(self, lake: Lake, pipeline: Callable[[Checkpoint], str] | None = None) -> None:
        self.lake = lake
        self.pipeline = pipeline

    def latest(self) -> ServedSnapshot | None:
        from halo_c1.deliver.manifest import last_delivery

        record = last_delivery(self.lake)
        if record is None:
            return None
        snapshot_id = record["snapshot_id"]
        return ServedSnapshot(snapshot_id, self.lake.c1z_file(snapshot_id), "last delivery")

    def refresh(self, checkpoint: Checkpoint) -> ServedSnapshot:
        if self.pipeline is None:
            raise PipelineFailed("plan", "no ETL pipeline is wired into the connector", permanent=True)
        snapshot_id = self.pipeline(checkpoint)
        return ServedSnapshot(snapshot_id, self.lake.c1z_file(snapshot_id), "fresh pipeline run")


def choose_snapshot(
    source: SnapshotSource, *, max_age: timedelta, checkpoint: Checkpoint, now: datetime | None = None
) -> ServedSnapshot:
    """The last delivered snapshot if younger than `max_age`, else the result of a fresh run."""
    now = now or datetime.now(UTC)
    latest = source.latest()
    if latest is not None:
        age = now - snapshot_time(latest.snapshot_id)
        if age <= max_age and latest.c1z.exists():
            log.info("Serving the last delivered snapshot %s (age %s ≤ %s)", latest.snapshot_id, age, max_age)
            return latest
        log.info(
            "Last delivered snapshot %s is %s old (limit %s) or its c1z is gone: running the pipeline now",
            latest.snapshot_id,
            age,
            max_age,
        )
    else:
        log.info("No snapshot delivered yet: running the pipeline now")
    return source.refresh(checkpoint)
