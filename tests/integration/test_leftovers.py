"""What a killed run left behind is removed by a later run, and only when it is stale (issue 9.13)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import pytest

from halo_c1.lake import Lake, write_json
from halo_c1.leftovers import STALE_AFTER, sweep_beside, sweep_lake, sweep_local_temp

if TYPE_CHECKING:
    from tests.integration.s3_server import S3Server

pytest_plugins = ["tests.integration.s3_server"]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:UPath '.*' filesystem not explicitly implemented"),
]


def later() -> float:
    """ "Now", as a run much later sees it (read at call time: a long test session must not age it)."""
    return time.time() + STALE_AFTER.total_seconds() + 60


def _aged(path, seconds: float) -> None:
    os.utime(path, (time.time() - seconds, time.time() - seconds))


def test_stale_temporary_files_in_a_file_lake_are_removed_and_fresh_ones_kept(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    write_json(lake.raw_manifest("20261127T050000Z"), {"ok": True})
    folder = tmp_path / "lake" / "curated" / "grants" / "snapshot=20261127T050000Z"
    folder.mkdir(parents=True)
    killed = folder / ".tmp-0123abcd-part-0.parquet"
    killed.write_bytes(b"half a file")
    keep = folder / "part-0.parquet"
    keep.write_bytes(b"a real file")

    fresh = sweep_lake(lake.base)  # may belong to a running task
    assert fresh == []
    removed = sweep_lake(lake.base, now=time.time() + STALE_AFTER.total_seconds() + 60)

    assert [name.rsplit("/", 1)[-1] for name in removed] == [killed.name], removed
    assert not killed.exists()
    assert keep.exists()
    assert lake.raw_manifest("20261127T050000Z").exists()


def test_stale_uploads_beside_an_s3_target_are_removed(s3_bucket: S3Server) -> None:
    client = s3_bucket.client()
    for key in ("halo/sync.c1z", "halo/sync.c1z.tmp-dead", "halo/other.c1z.tmp-x"):
        client.put_object(Bucket=s3_bucket.bucket, Key=key, Body=b"x")
    target = s3_bucket.path("halo/sync.c1z")

    assert sweep_beside(target) == []
    removed = sweep_beside(target, now=later())

    assert [name.rsplit("/", 1)[-1] for name in removed] == ["sync.c1z.tmp-dead"]
    assert sorted(s3_bucket.object_keys()) == ["halo/other.c1z.tmp-x", "halo/sync.c1z"]


def test_stale_build_folders_in_the_temp_folder_are_removed(tmp_path):
    stale = tmp_path / "halo-c1-c1z-abc"
    stale.mkdir()
    (stale / "sync.db").write_bytes(b"x" * 10)
    docs = tmp_path / "halo_c1_docs_xyz"
    docs.mkdir()
    fresh = tmp_path / "halo-c1-c1z-running"
    fresh.mkdir()
    foreign = tmp_path / "someone-elses"
    foreign.mkdir()
    for path in (stale, docs, foreign):
        _aged(path, STALE_AFTER.total_seconds() + 60)

    removed = sweep_local_temp(tmp_path)

    assert sorted(removed) == sorted([str(stale), str(docs)])
    assert fresh.exists() and foreign.exists()
