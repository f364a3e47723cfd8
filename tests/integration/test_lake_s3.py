"""The lake works unchanged on s3:// (a real S3-compatible server), not only on local disk."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

from halo_c1 import model
from halo_c1.lake import Lake, parquet_writer, read_json, read_parquet, write_json, write_parquet

if TYPE_CHECKING:
    from tests.integration.s3_server import S3Server

pytest_plugins = ["tests.integration.s3_server"]
pytestmark = pytest.mark.integration

SNAPSHOT = "20261127T050000Z"


def _lake(s3: S3Server) -> Lake:
    return Lake(f"s3://{s3.bucket}/halo", **s3.storage_options)


def _roles(*ids: str) -> pa.Table:
    return pa.table(
        {
            "role_id": list(ids),
            "name": [f"Role {i}" for i in ids],
            "invalid_fields": [None] * len(ids),
            "raw_json": ["{}"] * len(ids),
        },
        schema=model.RAW_ROLES,
    )


def test_lake_writes_and_reads_parquet_on_s3(s3_bucket: S3Server) -> None:
    lake = _lake(s3_bucket)
    table = _roles("1", "03cbebd0-3443")

    write_parquet(lake.raw_file("roles", SNAPSHOT), table)

    assert read_parquet(lake.raw_file("roles", SNAPSHOT)).equals(table)
    assert read_parquet(lake.raw_file("roles", SNAPSHOT), columns=["role_id"]).column(0).to_pylist() == [
        "1",
        "03cbebd0-3443",
    ]
    assert s3_bucket.object_keys() == [f"halo/raw/entity=roles/snapshot={SNAPSHOT}/part-0.parquet"]


def test_lake_json_and_has_raw_on_s3(s3_bucket: S3Server) -> None:
    lake = _lake(s3_bucket)
    assert not lake.has_raw(SNAPSHOT)

    write_json(lake.raw_manifest(SNAPSHOT), {"snapshot_id": SNAPSHOT, "entities": {"roles": 2}})

    assert lake.has_raw(SNAPSHOT)
    assert read_json(lake.raw_manifest(SNAPSHOT)) == {"snapshot_id": SNAPSHOT, "entities": {"roles": 2}}
    assert s3_bucket.object_keys() == [f"halo/raw/_manifests/snapshot={SNAPSHOT}.json"]


def test_lake_rewrite_on_s3_replaces_the_object(s3_bucket: S3Server) -> None:
    lake = _lake(s3_bucket)
    path = lake.curated_file("resources", SNAPSHOT)
    write_parquet(path, _roles("1"))
    write_parquet(path, _roles("2", "3"))

    assert read_parquet(path).column("role_id").to_pylist() == ["2", "3"]
    assert s3_bucket.object_keys() == [f"halo/curated/resources/snapshot={SNAPSHOT}/part-0.parquet"]


def test_failed_write_on_s3_keeps_previous_object_and_leaves_no_temporary(s3_bucket: S3Server) -> None:
    lake = _lake(s3_bucket)
    path = lake.raw_file("roles", SNAPSHOT)
    write_parquet(path, _roles("1", "2"))

    class Interrupted(Exception):
        pass

    with pytest.raises(Interrupted), parquet_writer(path, model.RAW_ROLES) as writer:
        writer.write_table(_roles("9"))
        raise Interrupted

    assert read_parquet(path).column("role_id").to_pylist() == ["1", "2"]
    assert s3_bucket.object_keys() == [f"halo/raw/entity=roles/snapshot={SNAPSHOT}/part-0.parquet"]
