"""Snapshot ids named by when the data was taken, recorded per DAG run; archived snapshots by interval."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from upath import UPath

from halo_c1.lake import Lake
from halo_c1.snapshots import (
    archived_snapshots,
    newest_taken_in,
    record_snapshot,
    recorded_snapshot,
    run_record_path,
    taken_now,
)

RUN_ID = "scheduled__2026-11-29T12:00:00+00:00"


def _archive(lake: Lake, *snapshot_ids: str) -> None:
    for snapshot_id in snapshot_ids:
        path = lake.raw_manifest(snapshot_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")


def test_a_snapshot_is_named_after_the_utc_second_the_data_is_taken():
    assert taken_now(datetime(2026, 11, 29, 13, 44, 7, 999, tzinfo=UTC)) == "20261129T134407Z"
    berlin = datetime(2026, 11, 29, 13, 44, 7, tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin"))
    assert taken_now(berlin) == "20261129T134407Z"


def test_a_run_records_its_snapshot_once_and_a_replacement_keeps_the_history(tmp_path):
    lake = Lake(UPath(tmp_path))
    assert recorded_snapshot(lake, RUN_ID) is None

    record_snapshot(lake, RUN_ID, "20261129T124400Z", run_type="scheduled")
    assert recorded_snapshot(lake, RUN_ID)["snapshot_id"] == "20261129T124400Z"
    assert run_record_path(lake, RUN_ID).name == "scheduled__2026-11-29T12%3A00%3A00%2B00%3A00.json"

    record_snapshot(lake, RUN_ID, "20261129T150000Z")
    record = recorded_snapshot(lake, RUN_ID)
    assert record["snapshot_id"] == "20261129T150000Z"
    assert record["replaced"] == ["20261129T124400Z"]


def test_a_broken_run_record_is_named(tmp_path):
    lake = Lake(UPath(tmp_path))
    path = run_record_path(lake, RUN_ID)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"snapshot_id": "noon"}))

    with pytest.raises(ValueError, match="not a snapshot id"):
        recorded_snapshot(lake, RUN_ID)


def test_only_complete_raw_snapshots_count_and_the_newest_in_an_interval_wins(tmp_path):
    lake = Lake(UPath(tmp_path))
    _archive(lake, "20261120T010500Z", "20261120T014500Z", "20261120T020000Z", "20261119T235959Z")
    (lake.base / "raw" / "_manifests" / ".tmp-abc-snapshot=20261120T013000Z.json").write_text("{}")
    hour = datetime(2026, 11, 20, 1, tzinfo=UTC)

    assert archived_snapshots(lake) == [
        "20261119T235959Z",
        "20261120T010500Z",
        "20261120T014500Z",
        "20261120T020000Z",
    ]
    assert newest_taken_in(lake, hour, hour + timedelta(hours=1)) == "20261120T014500Z"
    assert newest_taken_in(lake, hour + timedelta(hours=1), hour + timedelta(hours=2)) == "20261120T020000Z"
    assert newest_taken_in(lake, hour - timedelta(hours=1), hour) is None  # 23:59:59 is the day before
    assert newest_taken_in(Lake(UPath(tmp_path / "empty")), hour, hour + timedelta(hours=1)) is None
