"""Per-entity freshness: where each raw entity of a snapshot comes from, and how old it is.

Why: a 1M-user tenant's end users cost ~20,000 requests (5.7 hours of HaloITSM's 300-per-5-minutes
budget), its access data (agents, teams, roles, memberships) a few hundred. With the connection's
`end_user_refresh_hours` = N > 0, the hourly run reads only the access data and *reuses* the newest
complete end-user extraction by reference, while the end-user refresh (its own DAG,
`haloitsm_end_users`) re-reads end users when they would otherwise grow older than N hours. N = 0
(the default) keeps everything in every run.

In the lake:

    raw/entity=users/snapshot=<E>/part-0.parquet   an end-user extraction: a full snapshot's own
                                                   users, or an end-user refresh's
    raw/_end_users/snapshot=<E>.json               the refresh's manifest (written last: complete)
    raw/_manifests/snapshot=<S>.json               a snapshot's manifest; `freshness` says, per raw
                                                   entity, the snapshot whose file it is (`snapshot_id`),
                                                   when its listing started (`taken_at`) and ended,
                                                   its rows, and its age when the extraction ended

A snapshot that reuses end users has no `raw/entity=users/snapshot=<S>/` folder of its own: every
reader goes through `raw_entity_file`. Retention keeps an end-user extraction while a snapshot it
keeps references it. A refresh's manifest lives outside `raw/_manifests`, so it is never taken for
a complete snapshot (no backfill, no delivery).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from upath import UPath

from halo_c1.lake import PARQUET_FILE, Lake, read_json, snapshot_ids

log = logging.getLogger(__name__)

END_USERS = "users"
ACCESS_ENTITIES = ("teams", "roles", "agents", "agent_memberships")
# A refresh shares the budget with the hourly runs (and retries): the last read's duration is a
# floor, not a promise (a first read ran alone; a 1M-user read took 5.7 h alone, ~6.5 h shared).
DURATION_MARGIN = 1.5


def entity_record(
    snapshot_id: str,
    taken_at: datetime,
    finished_at: datetime,
    rows: int,
    *,
    ended: datetime,
    file: str = PARQUET_FILE,
) -> dict[str, Any]:
    """One manifest `freshness` entry: the snapshot and file that hold it, its listing's times, age."""
    return {
        "snapshot_id": snapshot_id,
        "file": file,
        "taken_at": taken_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "rows": rows,
        "age_s": round((ended - taken_at).total_seconds(), 3),
    }


def source_snapshot(manifest: dict[str, Any], entity: str) -> str:
    """The snapshot whose raw file holds `entity` for this manifest (itself unless reused)."""
    record = _record(manifest, entity)
    return record["snapshot_id"] if record else manifest["snapshot_id"]


def _record(manifest: dict[str, Any], entity: str) -> dict[str, Any] | None:
    records = manifest.get("freshness")
    return records.get(entity) if isinstance(records, dict) else None


def _source_file(manifest: dict[str, Any], entity: str) -> str:
    record = _record(manifest, entity)
    return record.get("file", PARQUET_FILE) if record else PARQUET_FILE


def raw_entity_file(
    lake: Lake, entity: str, snapshot_id: str, manifest: dict[str, Any] | None = None
) -> UPath:
    """Where the raw `entity` of `snapshot_id` lives: its own folder, or the extraction it reuses."""
    if manifest is None:
        path = lake.raw_manifest(snapshot_id)
        manifest = read_json(path) if path.exists() else {"snapshot_id": snapshot_id}
    return lake.raw_file(entity, source_snapshot(manifest, entity), _source_file(manifest, entity))


@dataclass(frozen=True)
class EndUserExtraction:
    """One complete end-user extraction: whose file, when its listing started and ended, its rows."""

    snapshot_id: str
    taken_at: datetime
    finished_at: datetime
    rows: int
    requests: int | None
    file: str = PARQUET_FILE

    @property
    def duration(self) -> timedelta:
        return self.finished_at - self.taken_at

    def age(self, at: datetime) -> timedelta:
        return at - self.taken_at

    def as_record(self, *, ended: datetime) -> dict[str, Any]:
        return {
            **entity_record(
                self.snapshot_id, self.taken_at, self.finished_at, self.rows, ended=ended, file=self.file
            ),
            "reused": True,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any], requests: int | None = None) -> EndUserExtraction:
        return cls(
            snapshot_id=record["snapshot_id"],
            taken_at=datetime.fromisoformat(record["taken_at"]),
            finished_at=datetime.fromisoformat(record["finished_at"]),
            rows=int(record["rows"]),
            requests=requests,
            file=record.get("file", PARQUET_FILE),
        )


def newest_end_users(lake: Lake) -> EndUserExtraction | None:
    """The newest complete end-user extraction: a refresh's, or the end users a snapshot read itself.

    Reads the newest refresh manifest and the manifests of complete snapshots newest first until one
    has end users (a snapshot's own, or the extraction it reused, which is never newer than a refresh
    it could see), so an hourly run reads a handful of small files, not the archive.
    """
    from halo_c1.snapshots import archived_snapshots

    found: list[EndUserExtraction] = []
    refreshes = snapshot_ids(lake.base / "raw" / "_end_users", ".json")
    if refreshes:
        manifest = read_json(lake.end_user_manifest(refreshes[-1]))
        found.append(
            EndUserExtraction.from_record(manifest["freshness"][END_USERS], manifest.get("requests"))
        )
    for snapshot_id in reversed(archived_snapshots(lake)):
        manifest = read_json(lake.raw_manifest(snapshot_id))
        if manifest.get("include_end_users") is False:
            continue
        record = _record(manifest, END_USERS)
        if record is None:  # archived before per-entity freshness: its own users, read during the run
            record = {
                "snapshot_id": snapshot_id,
                "taken_at": manifest["started_at"],
                "finished_at": manifest["finished_at"],
                "rows": manifest["counts"][END_USERS],
            }
        found.append(EndUserExtraction.from_record(record))
        break
    return max(found, key=lambda e: e.taken_at) if found else None


def referenced_end_users(lake: Lake, snapshot_ids: list[str]) -> set[str]:
    """The end-user extractions the given complete snapshots read their users from (retention).

    A manifest that is not a JSON object is skipped with a warning: its snapshot cannot be read or
    re-derived anyway, so nothing it might point at is worth keeping for it.
    """
    referenced = set()
    for snapshot_id in snapshot_ids:
        path = lake.raw_manifest(snapshot_id)
        if not path.exists():
            continue
        try:
            manifest = read_json(path)
        except ValueError:
            manifest = None
        if not isinstance(manifest, dict) or "snapshot_id" not in manifest:
            log.warning("raw manifest %s is unreadable: it keeps no end-user extraction", path)
            continue
        referenced.add(source_snapshot(manifest, END_USERS))
    return referenced


@dataclass(frozen=True)
class RefreshDecision:
    """Whether the end-user refresh reads end users now, and why (for the task log and summary)."""

    due: bool
    reason: str


def refresh_decision(
    newest: EndUserExtraction | None, cadence_hours: float, interval: timedelta, now: datetime | None = None
) -> RefreshDecision:
    """Due when the newest end users would be older than the cadence before a refresh started at the
    next scheduled run could land: age + one interval + `DURATION_MARGIN` x the last read's duration
    >= cadence."""
    now = now or datetime.now(UTC)
    cadence = timedelta(hours=cadence_hours)
    if newest is None:
        return RefreshDecision(True, "no complete end-user extraction yet")
    age = newest.age(now)
    lead = interval + newest.duration * DURATION_MARGIN
    if age + lead >= cadence:
        return RefreshDecision(
            True,
            f"end users from {newest.snapshot_id} are {hours(age)} old; with {DURATION_MARGIN:g} x the "
            f"last read's {hours(newest.duration)} and the next run in {hours(interval)} they would pass "
            f"end_user_refresh_hours={cadence_hours:g}",
        )
    return RefreshDecision(
        False,
        f"end users from {newest.snapshot_id} are {hours(age)} old; a refresh is due in "
        f"{hours(cadence - lead - age)} (end_user_refresh_hours={cadence_hours:g})",
    )


def hours(delta: timedelta | float) -> str:
    """A duration for people: "2 h 05 min", "4 min 10 s", "12 s"."""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    sign, seconds = ("-" if seconds < 0 else ""), abs(round(seconds))
    if seconds >= 3600:
        return f"{sign}{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{sign}{seconds // 60} min {seconds % 60:02d} s"
    return f"{sign}{seconds} s"


def age_lines(entities: dict[str, dict[str, Any]], cadence_hours: float | None) -> list[str]:
    """The summary's and report's "how old is each entity" lines, from a manifest's `freshness`."""
    lines = []
    for entity, record in entities.items():
        origin = "reused from " if record.get("reused") else "read in "
        line = (
            f"  {entity:<18} taken {record['taken_at'][:19].replace('T', ' ')} UTC, "
            f"{hours(record['age_s'])} old at extraction end ({origin}{record['snapshot_id']})"
        )
        if entity == END_USERS and cadence_hours and record["age_s"] > cadence_hours * 3600:
            line += f"; OLDER than end_user_refresh_hours={cadence_hours:g}: check the haloitsm_end_users DAG"
        lines.append(line)
    return lines
