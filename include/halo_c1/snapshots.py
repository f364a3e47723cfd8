"""Which snapshot a run works on: the time its data was taken, recorded once per DAG run.

A live run names its snapshot after the UTC second it starts taking data, never after its logical
date: a run scheduled for 12:00 that starts at 12:44 takes 12:44's data, and calling it 12:00 would
make it look older than a manual run of 12:39. The name is recorded in the lake, keyed by the DAG run
(`runs/<run id>.json`), so a retried task or a cleared run finds it and reuses the archived raw
snapshot instead of asking HaloITSM again under an old name.

A backfill cannot ask HaloITSM about the past: it re-derives the raw snapshot archived inside its
data interval (the newest one, if several were taken there), or has nothing to do.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from upath import UPath

from halo_c1.lake import SNAPSHOT_FORMAT, Lake, read_json, snapshot_time, write_json

log = logging.getLogger(__name__)

_MANIFEST_PREFIX, _MANIFEST_SUFFIX = "snapshot=", ".json"


def taken_now(now: datetime | None = None) -> str:
    """The snapshot id for data taken now: the UTC time to the second."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime(SNAPSHOT_FORMAT)


def run_record_path(lake: Lake, run_id: str) -> UPath:
    """Where a DAG run's snapshot id is recorded (the run id quoted: it holds ':' and '+')."""
    return lake.base / "runs" / f"{quote(run_id, safe='')}.json"


def recorded_snapshot(lake: Lake, run_id: str) -> dict[str, Any] | None:
    """The run's record (`snapshot_id`, `recorded_at`, ...), or None if the run never recorded one."""
    path = run_record_path(lake, run_id)
    if not path.exists():
        return None
    record = read_json(path)
    if not isinstance(record, dict) or "snapshot_id" not in record:
        raise ValueError(f"{path} is not a run record (no snapshot_id); fix or remove it")
    snapshot_time(record["snapshot_id"])
    return record


def record_snapshot(lake: Lake, run_id: str, snapshot_id: str, **facts: Any) -> dict[str, Any]:
    """Record the run's snapshot id; an earlier id of the same run is kept in `replaced`."""
    previous = recorded_snapshot(lake, run_id)
    replaced = [*previous.get("replaced", []), previous["snapshot_id"]] if previous else []
    record = {
        "run_id": run_id,
        "snapshot_id": snapshot_id,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "replaced": replaced,
        **facts,
    }
    write_json(run_record_path(lake, run_id), record)
    return record


def archived_snapshots(lake: Lake) -> list[str]:
    """Ids of the complete raw snapshots (those with a manifest), oldest first."""
    folder = lake.base / "raw" / "_manifests"
    if not folder.exists():
        return []
    ids = []
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith(_MANIFEST_PREFIX) and name.endswith(_MANIFEST_SUFFIX):
            candidate = name[len(_MANIFEST_PREFIX) : -len(_MANIFEST_SUFFIX)]
            try:
                snapshot_time(candidate)
            except ValueError:
                continue
            ids.append(candidate)
    return sorted(ids)


def newest_taken_in(lake: Lake, start: datetime, end: datetime) -> str | None:
    """The newest archived raw snapshot taken in [start, end), or None."""
    inside = [sid for sid in archived_snapshots(lake) if start <= snapshot_time(sid) < end]
    return inside[-1] if inside else None


def describe_interval(start: datetime, end: datetime) -> str:
    return f"[{start.astimezone(UTC):%Y-%m-%d %H:%M:%S}, {end.astimezone(UTC):%Y-%m-%d %H:%M:%S}) UTC"
