"""The id formats are the contract with C1; the lake's writes are atomic."""

from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from halo_c1 import model
from halo_c1.lake import Lake, read_parquet, snapshot_id_for, snapshot_time, write_parquet


def test_entitlement_and_grant_ids_are_the_baton_sdk_formats():
    ent = model.entitlement_id(model.TEAM, "3", model.MEMBER)
    assert ent == "team:3:member"
    assert model.grant_id(ent, model.AGENT, "12") == "team:3:member:agent:12"
    assert model.entitlement_id(model.ROLE, "03cbebd0-3443", model.ASSIGNED) == "role:03cbebd0-3443:assigned"


def test_snapshot_id_is_utc_and_round_trips():
    moment = datetime(2026, 11, 27, 6, 30, tzinfo=timezone(timedelta(hours=1)))
    sid = snapshot_id_for(moment)
    assert sid == "20261127T053000Z"
    assert snapshot_time(sid) == moment


def test_snapshot_id_rejects_naive_datetimes_and_bad_ids():
    with pytest.raises(ValueError, match="no time zone"):
        snapshot_id_for(datetime(2026, 11, 27))
    with pytest.raises(ValueError, match="not a snapshot id"):
        snapshot_time("2026-11-27")


def test_failed_write_leaves_previous_file_and_no_temporary(tmp_path):
    lake = Lake(str(tmp_path))
    path = lake.curated_file("grants", "20261127T050000Z")
    good = pa.table({"x": [1, 2]})
    write_parquet(path, good)

    class Boom(Exception):
        pass

    def bad_batches():
        yield pa.record_batch({"x": [3]})
        raise Boom

    from halo_c1.lake import parquet_writer

    with pytest.raises(Boom), parquet_writer(path, good.schema) as writer:
        for batch in bad_batches():
            writer.write_batch(batch)
    assert read_parquet(path).column("x").to_pylist() == [1, 2]
    assert [p.name for p in path.parent.iterdir()] == ["part-0.parquet"]
    assert snapshot_time("20261127T050000Z").tzinfo is UTC
