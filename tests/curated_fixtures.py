"""Tiny curated snapshots with the model's schemas, for the guard and delivery tests.

Only the counts matter to those stages, so rows are minimal but schema-valid.
"""

from __future__ import annotations

import pyarrow as pa

from halo_c1 import model
from halo_c1.lake import Lake, write_parquet


def resources_table(snapshot_id: str, per_type: dict[str, int]) -> pa.Table:
    rows = [
        {
            "snapshot_id": snapshot_id,
            "resource_type_id": type_id,
            "resource_id": str(index),
            "display_name": f"{type_id} {index}",
            "status": model.STATUS_ENABLED,
        }
        for type_id, count in per_type.items()
        for index in range(count)
    ]
    return pa.Table.from_pylist(rows, schema=model.CURATED_RESOURCES)


def grants_table(snapshot_id: str, count: int) -> pa.Table:
    rows = []
    for index in range(count):
        entitlement = model.entitlement_id(model.TEAM, str(index % 7), model.MEMBER)
        rows.append(
            {
                "snapshot_id": snapshot_id,
                "grant_id": model.grant_id(entitlement, model.AGENT, str(index)),
                "entitlement_id": entitlement,
                "resource_type_id": model.TEAM,
                "resource_id": str(index % 7),
                "principal_resource_type_id": model.AGENT,
                "principal_resource_id": str(index),
                "is_direct": True,
                "source_role_ids": [],
            }
        )
    return pa.Table.from_pylist(rows, schema=model.CURATED_GRANTS)


def write_curated(lake: Lake, snapshot_id: str, per_type: dict[str, int], grants: int) -> None:
    """Write the curated `resources` and `grants` tables of one snapshot."""
    write_parquet(lake.curated_file("resources", snapshot_id), resources_table(snapshot_id, per_type))
    write_parquet(lake.curated_file("grants", snapshot_id), grants_table(snapshot_id, grants))
