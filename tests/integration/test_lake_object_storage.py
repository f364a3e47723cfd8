"""The lake works unchanged on object storage, not only on local disk: the same tests on s3:// (a real
S3-compatible server, moto) and on abfs:// (a real Azure Blob server, Azurite)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pytest

from halo_c1 import model
from halo_c1.lake import Lake, parquet_writer, read_json, read_parquet, write_json, write_parquet

pytest_plugins = ["tests.integration.s3_server", "tests.integration.azurite_server"]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:UPath '.*' filesystem not explicitly implemented"),
]

SNAPSHOT = "20261127T050000Z"


@dataclass(frozen=True)
class Store:
    """A lake on a fresh bucket or container, and every key in it as the store's own client lists it."""

    lake: Lake
    keys: Callable[[], list[str]]


@pytest.fixture(params=["s3", "azure"])
def store(request: pytest.FixtureRequest) -> Store:
    if request.param == "s3":
        s3 = request.getfixturevalue("s3_bucket")
        return Store(Lake(f"s3://{s3.bucket}/halo", **s3.storage_options), s3.object_keys)
    azure = request.getfixturevalue("azure_container")
    return Store(Lake(f"abfs://{azure.container}/halo", **azure.storage_options), azure.blob_names)


def _roles(*ids: str) -> pa.Table:
    return pa.table(
        {
            "role_id": list(ids),
            "name": [f"Role {i}" for i in ids],
            "raw_json": ["{}"] * len(ids),
            "invalid_fields": [None] * len(ids),
        },
        schema=model.RAW_ROLES,
    )


def test_lake_writes_and_reads_parquet(store: Store) -> None:
    table = _roles("1", "03cbebd0-3443")

    write_parquet(store.lake.raw_file("roles", SNAPSHOT), table)

    assert read_parquet(store.lake.raw_file("roles", SNAPSHOT)).equals(table)
    assert read_parquet(store.lake.raw_file("roles", SNAPSHOT), columns=["role_id"]).column(
        0
    ).to_pylist() == ["1", "03cbebd0-3443"]
    assert store.keys() == [f"halo/raw/entity=roles/snapshot={SNAPSHOT}/part-0.parquet"]


def test_lake_json_and_has_raw(store: Store) -> None:
    assert not store.lake.has_raw(SNAPSHOT)

    write_json(store.lake.raw_manifest(SNAPSHOT), {"snapshot_id": SNAPSHOT, "entities": {"roles": 2}})

    assert store.lake.has_raw(SNAPSHOT)
    assert read_json(store.lake.raw_manifest(SNAPSHOT)) == {"snapshot_id": SNAPSHOT, "entities": {"roles": 2}}
    assert store.keys() == [f"halo/raw/_manifests/snapshot={SNAPSHOT}.json"]


def test_lake_rewrite_replaces_the_object(store: Store) -> None:
    path = store.lake.curated_file("resources", SNAPSHOT)
    write_parquet(path, _roles("1"))
    write_parquet(path, _roles("2", "3"))

    assert read_parquet(path).column("role_id").to_pylist() == ["2", "3"]
    assert store.keys() == [f"halo/curated/resources/snapshot={SNAPSHOT}/part-0.parquet"]


def test_failed_write_keeps_previous_object_and_leaves_no_temporary(store: Store) -> None:
    path = store.lake.raw_file("roles", SNAPSHOT)
    write_parquet(path, _roles("1", "2"))

    class Interrupted(Exception):
        pass

    with pytest.raises(Interrupted), parquet_writer(path, model.RAW_ROLES) as writer:
        writer.write_table(_roles("9"))
        raise Interrupted

    assert read_parquet(path).column("role_id").to_pylist() == ["1", "2"]
    assert store.keys() == [f"halo/raw/entity=roles/snapshot={SNAPSHOT}/part-0.parquet"]
