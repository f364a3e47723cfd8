"""Snapshot ids named by when the data was taken, recorded per DAG run; archived snapshots by interval."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from upath import UPath

from halo_c1.errors import ConfigurationError, PermanentError
from halo_c1.lake import Lake
from halo_c1.snapshots import (
    StaleNameError,
    archived_snapshots,
    check_fresh,
    choose_snapshot,
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


NOON = datetime(2026, 11, 29, 12, tzinfo=UTC)
HOUR = (NOON, NOON + timedelta(hours=1))


def test_a_live_run_names_its_snapshot_now_and_a_cleared_run_reuses_it_once_archived(tmp_path):
    lake = Lake(UPath(tmp_path))
    later = NOON + timedelta(minutes=44, seconds=1)

    first = choose_snapshot(lake, run_id=RUN_ID, rederive=False, requested=None, interval=HOUR, now=later)

    assert first.snapshot_id == "20261129T124401Z"  # when the data is taken, not the 12:00 logical date
    assert recorded_snapshot(lake, RUN_ID)["snapshot_id"] == first.snapshot_id
    _archive(lake, first.snapshot_id)
    cleared = choose_snapshot(
        lake, run_id=RUN_ID, rederive=False, requested=None, interval=HOUR, now=later + timedelta(days=2)
    )
    assert cleared.snapshot_id == first.snapshot_id
    assert "recorded for this DAG run" in cleared.source


def test_a_cleared_run_whose_extraction_never_finished_takes_data_under_a_new_name(tmp_path):
    lake = Lake(UPath(tmp_path))
    choose_snapshot(lake, run_id=RUN_ID, rederive=False, requested=None, interval=HOUR, now=NOON)

    again = choose_snapshot(
        lake, run_id=RUN_ID, rederive=False, requested=None, interval=HOUR, now=NOON + timedelta(hours=3)
    )

    assert again.snapshot_id == "20261129T150000Z"
    assert recorded_snapshot(lake, RUN_ID)["replaced"] == ["20261129T120000Z"]


def test_a_rederive_takes_the_named_snapshot_or_the_newest_in_its_interval_or_none(tmp_path):
    lake = Lake(UPath(tmp_path))
    _archive(lake, "20261129T120500Z", "20261129T124400Z", "20261129T130000Z")

    named = choose_snapshot(lake, run_id=RUN_ID, rederive=True, requested="20261129T120500Z", interval=HOUR)
    assert named.snapshot_id == "20261129T120500Z"
    newest = choose_snapshot(lake, run_id=RUN_ID, rederive=True, requested=None, interval=HOUR)
    assert (newest.snapshot_id, newest.missing) == ("20261129T124400Z", None)
    empty = (NOON - timedelta(hours=1), NOON)
    none = choose_snapshot(lake, run_id=RUN_ID, rederive=True, requested=None, interval=empty)
    assert none.missing == "[2026-11-29 11:00:00, 2026-11-29 12:00:00) UTC"
    assert recorded_snapshot(lake, RUN_ID) is None  # a re-derive records nothing
    with pytest.raises(ConfigurationError, match="name the snapshot"):
        choose_snapshot(lake, run_id=RUN_ID, rederive=True, requested=None, interval=None)


def test_extracting_under_a_name_from_long_ago_is_refused():
    check_fresh("20261129T120000Z", now=NOON + timedelta(minutes=20))  # a task retry: fine
    with pytest.raises(StaleNameError, match="Clear the run from its 'plan' task") as refused:
        check_fresh("20261129T120000Z", now=NOON + timedelta(hours=5))
    assert isinstance(refused.value, PermanentError)
