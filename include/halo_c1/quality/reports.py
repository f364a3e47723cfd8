"""The gate's outputs in the lake: Data Docs copied in, dq_history rows, and the index across snapshots.

GX's Data Docs store writes only to a local directory, so the gate builds them in a temporary
directory and `copy_tree` puts them under the lake's report folder (local, `s3://`, …).
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
from upath import UPath

from halo_c1 import model
from halo_c1.lake import Lake, open_atomic, read_json, write_parquet

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


def write_reports_index(lake: Lake) -> UPath:
    """Regenerate `reports/index.html` from every snapshot's gate result: one line per snapshot."""
    reports = lake.base / "reports"
    results = []
    if reports.exists():
        for folder in reports.iterdir():
            result_file = folder / GATE_RESULT_FILE
            if folder.name.startswith("snapshot=") and result_file.exists():
                results.append(read_json(result_file))
    lines = []
    for result in sorted(results, key=lambda r: r["snapshot_id"], reverse=True):
        sid = html.escape(result["snapshot_id"])
        verdict = "passed" if result["passed"] else "FAILED"
        docs = (
            f'<a href="snapshot={sid}/{DOCS_FOLDER}/index.html">Data Docs</a> · '
            if result["docs_index"]
            else ""
        )
        lines.append(
            f'<tr class="{verdict.lower()}"><td>{sid}</td><td>{verdict}</td>'
            f"<td>{result['failed_errors']}</td><td>{result['failed_warnings']}</td>"
            f"<td>{result['evaluated']}</td><td>{html.escape(result['validated_at'])}</td>"
            f'<td>{docs}<a href="snapshot={sid}/{GATE_RESULT_FILE}">result JSON</a></td></tr>'
        )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>halo-c1 data quality</title>
<style>body{{font-family:sans-serif}}
td,th{{padding:2px 10px;text-align:left}}
tr.failed td:nth-child(2){{color:#b00;font-weight:bold}}
tr.passed td:nth-child(2){{color:#070}}</style></head>
<body><h1>halo-c1 data quality by snapshot</h1>
<p>A snapshot fails when an error-severity expectation fails;
warnings are reported and let the run continue.</p>
<table><tr><th>snapshot</th><th>gate</th><th>failed errors</th><th>failed warnings</th><th>evaluated</th>
<th>validated at</th><th>reports</th></tr>
{chr(10).join(lines)}
</table></body></html>
"""
    index = lake.reports_index()
    with open_atomic(index) as handle:
        handle.write(page.encode())
    return index
