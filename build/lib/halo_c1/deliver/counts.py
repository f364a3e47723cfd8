"""How big a curated snapshot is: resources per type and grants, read as cheaply as storage allows.

These counts are what the deletion guard compares between deliveries and what each delivery
manifest records, so both sides use this one function.
"""

from __future__ import annotations

from typing import Any

import pyarrow.compute as pc
from upath import UPath

from halo_c1.lake import Lake, parquet_row_count, read_parquet


def _require(path: UPath, snapshot_id: str, table: str) -> None:
    if not path.exists():
        raise FileNotFoundError(
            f"curated table {table!r} of snapshot {snapshot_id} not found at {path}; run the transform first"
        )


def snapshot_counts(lake: Lake, snapshot_id: str) -> dict[str, Any]:
    """`{"resources": {<resource_type_id>: n, ...}, "grants": n}` for one curated snapshot.

    Only the `resource_type_id` column of resources is read; the grant count comes from the
    Parquet footer, so no grant row is read.
    """
    resources_path = lake.curated_file("resources", snapshot_id)
    grants_path = lake.curated_file("grants", snapshot_id)
    _require(resources_path, snapshot_id, "resources")
    _require(grants_path, snapshot_id, "grants")

    types = read_parquet(resources_path, columns=["resource_type_id"]).column("resource_type_id")
    per_type = {str(item["values"]): int(item["counts"]) for item in pc.value_counts(types).to_pylist()}
    return {"resources": dict(sorted(per_type.items())), "grants": parquet_row_count(grants_path)}
