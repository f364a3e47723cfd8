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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from upath import UPath

from halo_c1.errors import ConfigurationError, PermanentError
from halo_c1.lake import Lake, read_json, snapshot_id_for, snapshot_ids, snapshot_time, write_json

log = logging.getLogger(__name__)

# Task retries of `extract` (2, 4, 8 minutes of backoff) stay well inside this; a task cleared alone
# hours later does not.
MAX_EXTRACTION_DELAY = timedelta(minutes=45)


class StaleNameError(PermanentError):
    """Extracting now would name today's data after an earlier time."""


def taken_now(now: datetime | None = None) -> str:
    """The snapshot id for data taken now: the UTC time to the second."""
    return snapshot_id_for(now or datetime.now(UTC))


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
    return snapshot_ids(lake.base / "raw" / "_manifests", ".json")


def newest_taken_in(lake: Lake, start: datetime, end: datetime) -> str | None:
    """The newest archived raw snapshot taken in [start, end), or None."""
    inside = [sid for sid in archived_snapshots(lake) if start <= snapshot_time(sid) < end]
    return inside[-1] if inside else None


def describe_interval(start: datetime, end: datetime) -> str:
    return f"[{start.astimezone(UTC):%Y-%m-%d %H:%M:%S}, {end.astimezone(UTC):%Y-%m-%d %H:%M:%S}) UTC"


@dataclass(frozen=True)
class Choice:
    """The snapshot a run works on, where that id came from, and (re-derive) the interval it lacked."""

    snapshot_id: str
    source: str
    missing: str | None = None


def choose_snapshot(
    lake: Lake,
    *,
    run_id: str,
    rederive: bool,
    requested: str | None,
    interval: tuple[datetime, datetime] | None,
    now: datetime | None = None,
    **facts: Any,
) -> Choice:
    """The run's snapshot: the one a manual re-derive names; for another re-derive (a backfill) the
    newest archived one taken in the run's data interval; for a live run the one recorded for this DAG
    run if its raw data is archived, else a new one named now and recorded (`facts` go in the record).
    """
    if requested:
        return Choice(requested, f"snapshot {requested} named by the run")
    if rederive:
        if interval is None:
            raise ConfigurationError(
                "a re-derive without a logical date has no data interval: name the snapshot (param snapshot_id)"
            )
        window = describe_interval(*interval)
        found = newest_taken_in(lake, *interval)
        if found:
            return Choice(found, f"the newest archived snapshot taken in {window}")
        return Choice(taken_now(interval[0]), f"no archived snapshot taken in {window}", missing=window)
    record = recorded_snapshot(lake, run_id)
    if record and lake.has_raw(record["snapshot_id"]):
        return Choice(record["snapshot_id"], "recorded for this DAG run; its raw snapshot is archived")
    snapshot_id = taken_now(now)
    record_snapshot(lake, run_id, snapshot_id, **facts)
    if record:
        log.info(
            "run %s recorded snapshot %s but never archived it: taking data now as %s",
            run_id,
            record["snapshot_id"],
            snapshot_id,
        )
    return Choice(snapshot_id, "data taken now")


def check_fresh(snapshot_id: str, now: datetime | None = None) -> None:
    """Refuse to extract under a name older than `MAX_EXTRACTION_DELAY`: the data would be taken now
    but named after the past (a task cleared alone, long after its run's plan)."""
    age = (now or datetime.now(UTC)) - snapshot_time(snapshot_id)
    if age > MAX_EXTRACTION_DELAY:
        raise StaleNameError(
            f"snapshot {snapshot_id} was named {age} ago and has no archived raw data: extracting now "
            "would label today's data with an old time. Clear the run from its 'plan' task, which names "
            "a new snapshot for data taken now"
        )
