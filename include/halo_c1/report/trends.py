"""Trends over the last snapshots: resources per type, grants and failed checks, as inline SVG lines.

Counts come from the curated tables (one column, or the Parquet footer) and failed checks from
`dq_history`, so a trend needs nothing the pipeline does not already keep. The SVG geometry is
computed here and the template only places it: no script, no request, works in any browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow.compute as pc

from halo_c1.lake import Lake, is_snapshot_id, parquet_row_count, read_parquet, snapshot_time

DEFAULT_SNAPSHOTS: Final = 20
WIDTH: Final = 560
HEIGHT: Final = 150
PAD: Final = 28
COLORS: Final = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#57606a", "#bf3989")


@dataclass
class Series:
    name: str
    values: list[int | None]
    color: str
    points: str = ""


@dataclass
class Chart:
    """One chart: a title, its series, the snapshot ids on the x axis and the y axis maximum."""

    title: str
    snapshots: list[str]
    series: list[Series] = field(default_factory=list)
    y_max: int = 0
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD


def snapshots_with_reports(lake: Lake) -> list[str]:
    """Snapshot ids that have a report folder with a gate result, oldest first."""
    reports = lake.base / "reports"
    if not reports.exists():
        return []
    ids = [
        folder.name.removeprefix("snapshot=")
        for folder in reports.iterdir()
        if folder.name.startswith("snapshot=")
        and is_snapshot_id(folder.name.removeprefix("snapshot="))
        and (folder / "gate_result.json").exists()
    ]
    return sorted(ids, key=snapshot_time)


def _counts(lake: Lake, snapshot_id: str) -> dict[str, int] | None:
    resources = lake.curated_file("resources", snapshot_id)
    grants = lake.curated_file("grants", snapshot_id)
    if not resources.exists() or not grants.exists():
        return None
    types = read_parquet(resources, columns=["resource_type_id"])["resource_type_id"]
    found = {str(i["values"]): int(i["counts"]) for i in pc.value_counts(types).to_pylist()}
    return {**found, "grants": parquet_row_count(grants)}


def _failed(lake: Lake, snapshot_id: str) -> dict[str, int] | None:
    path = lake.dq_history_file(snapshot_id)
    if not path.exists():
        return None
    history = read_parquet(path, columns=["severity", "success"]).to_pylist()
    failed = [r["severity"] for r in history if not r["success"]]
    return {"errors": failed.count("error"), "warnings": failed.count("warning")}


def _place(chart: Chart) -> Chart:
    """Fill each series' polyline points; a missing value breaks nothing, it is skipped."""
    values = [v for s in chart.series for v in s.values if v is not None]
    chart.y_max = max(values, default=0)
    steps = max(len(chart.snapshots) - 1, 1)
    inner_w, inner_h = chart.width - 2 * chart.pad, chart.height - 2 * chart.pad
    for series in chart.series:
        points = []
        for i, value in enumerate(series.values):
            if value is None:
                continue
            x = chart.pad + inner_w * (i / steps if len(chart.snapshots) > 1 else 0.5)
            y = chart.pad + inner_h * (1 - (value / chart.y_max if chart.y_max else 0))
            points.append(f"{x:.1f},{y:.1f}")
        series.points = " ".join(points)
    return chart


def trend_charts(lake: Lake, up_to: str, last: int = DEFAULT_SNAPSHOTS) -> list[Chart]:
    """Charts over the last `last` reported snapshots up to and including `up_to`."""
    moment = snapshot_time(up_to)
    ids = [s for s in snapshots_with_reports(lake) if snapshot_time(s) <= moment][-last:]
    counts: list[dict[str, Any]] = [_counts(lake, s) or {} for s in ids]
    failed: list[dict[str, Any]] = [_failed(lake, s) or {} for s in ids]
    types = sorted({t for c in counts for t in c if t != "grants"})
    palette = iter(COLORS * 4)
    resources = Chart(
        "resources per type",
        ids,
        [Series(t, [c.get(t) if c else None for c in counts], next(palette)) for t in types],
    )
    grants = Chart("grants", ids, [Series("grants", [c.get("grants") for c in counts], COLORS[0])])
    checks = Chart(
        "failed checks",
        ids,
        [
            Series("warnings", [f.get("warnings") for f in failed], COLORS[3]),
            Series("errors", [f.get("errors") for f in failed], COLORS[1]),
        ],
    )
    return [_place(resources), _place(grants), _place(checks)]
