"""The gate's outputs in the lake: Data Docs copied in and dq_history rows (the index across snapshots is
`halo_c1.report.index`).

GX's Data Docs store writes only to a local directory, so the gate builds them in a temporary
directory and `copy_tree` puts them under the lake's report folder (local, `s3://`, …).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
from upath import UPath

from halo_c1 import model
from halo_c1.lake import open_atomic, write_parquet

GATE_RESULT_FILE: Final = "gate_result.json"
DOCS_FOLDER: Final = "data_docs"


def copy_tree(source: Path, target: UPath) -> None:
    """Replace `target` with the files under `source` (so a re-run leaves no stale pages)."""
    if target.exists():
        target.fs.rm(target.path, recursive=True)
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        with open_atomic(target / file.relative_to(source).as_posix()) as handle:
            handle.write(file.read_bytes())


def write_dq_history(
    path: UPath, snapshot_id: str, validated_at: datetime, rows: list[dict[str, Any]]
) -> None:
    """One row per expectation of this snapshot's gate run, for data-quality trends."""
    table = pa.Table.from_arrays(
        [
            pa.array([snapshot_id] * len(rows), pa.string()),
            pa.array([validated_at] * len(rows), pa.timestamp("us", tz="UTC")),
            pa.array([r["table"] for r in rows], pa.string()),
            pa.array([r["name"] for r in rows], pa.string()),
            pa.array([r["description"] for r in rows], pa.string()),
            pa.array([r["severity"] for r in rows], pa.string()),
            pa.array([r["success"] for r in rows], pa.bool_()),
            pa.array([r["unexpected_count"] for r in rows], pa.int64()),
        ],
        schema=model.DQ_HISTORY,
    )
    write_parquet(path, table)
