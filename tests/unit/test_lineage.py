"""OpenLineage dataset names: OpenLineage's naming for each kind of lake or delivery URL, no secrets."""

from __future__ import annotations

import pytest
from upath import UPath

from halo_c1_airflow.lineage import location


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "file:///data/halo_c1/tenant=acme/curated/grants",
            ("file", "/data/halo_c1/tenant=acme/curated/grants"),
        ),
        ("/data/halo_c1/c1z", ("file", "/data/halo_c1/c1z")),
        ("s3://bucket/halo/tenant=acme/curated/grants", ("s3://bucket", "halo/tenant=acme/curated/grants")),
        ("s3://lake_s3@bucket/halo/c1z", ("s3://bucket", "halo/c1z")),  # an Airflow connection id is dropped
        ("s3://AKIA:secret@bucket/sync.c1z", ("s3://bucket", "sync.c1z")),
        ("abfs://lake/halo/curated/grants", ("abfss://lake", "halo/curated/grants")),
        ("c1-service-mode://acme.conductor.one", ("c1-service-mode://acme.conductor.one", "/")),
    ],
)
def test_names_follow_openlineage_naming_without_credentials(url: str, expected: tuple[str, str]) -> None:
    assert location(url) == expected


def test_an_azure_path_with_its_account_names_the_storage_account() -> None:
    path = UPath("abfs://lake/halo/c1z", account_name="acmestore", anon=False)
    assert location(path) == ("abfss://lake@acmestore.dfs.core.windows.net", "halo/c1z")


def test_a_local_path_object_is_its_absolute_path(tmp_path) -> None:
    assert location(UPath(str(tmp_path / "raw" / "entity=agents"))) == (
        "file",
        f"{tmp_path}/raw/entity=agents",
    )
