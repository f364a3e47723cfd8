"""Trends over the last snapshots: one small chart per resource type, grants and failed checks, as
inline SVG lines with a marker per snapshot.

Each chart has its own scale (60 → 62 agents is a visible step, not a flat line under 500 end users),
every snapshot's date is written under its marker, and a single snapshot is drawn as one labelled
marker. Counts come from the curated tables (one column, or the Parquet footer) and failed checks from
`dq_history`, so a trend needs nothing the pipeline does not already keep. The SVG geometry is
computed here and the template only places it: no script, no request, works in any browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow.compute as pc

from halo_c1.lake import Lake, is_snapshot_id, parquet_row_count, read_parquet, snapshot_time

DEFAULT_SNAPSHOTS: Final = 20
WIDTH: Final = 330
HEIGHT: Final = 190
PAD_LEFT: Final = 46  # room for the scale's numbers
PAD_RIGHT: Final = 14
PAD_TOP: Final = 26  # the title
PAD_BOTTOM: Final = 62  # the dates, written at an angle
COLORS: Final = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#57606a", "#bf3989")


@dataclass
class Marker:
    """One value of a series at one snapshot: where it is drawn and what its tooltip says."""

    x: float
    y: float
    value: int
    tip: str


@dataclass
class Series:
    name: str
    values: list[int | None]
    color: str
    points: str = ""
    markers: list[Marker] = field(default_factory=list)


@dataclass
class Chart:
    """One chart: a title, its series, the snapshot ids on the x axis and its own y scale."""

    title: str
    snapshots: list[str]
    series: list[Series] = field(default_factory=list)
    y_min: int = 0
    y_max: int = 0
    width: int = WIDTH
    height: int = HEIGHT
    left: int = PAD_LEFT
    top: int = PAD_TOP
    bottom: int = HEIGHT - PAD_BOTTOM  # the x axis' y
    right: int = WIDTH - PAD_RIGHT
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, int]] = field(default_factory=list)


def _date(snapshot_id: str) -> str:
    return snapshot_time(snapshot_id).strftime("%m-%d %H:%M")


def _scale(values: list[int]) -> tuple[int, int]:
    """The y range of one chart: its own lowest and highest value, widened so a change shows and a
    flat line sits in the middle; from 0 when 0 is near anyway (counts of failed checks)."""
    low, high = min(values, default=0), max(values, default=0)
    if low == high:
        return max(low - 1, 0), high + 1
    margin = max((high - low) // 5, 1)
    low = 0 if low - margin <= (high - low) else low - margin
    return low, high + margin


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
    """Fill each series' polyline and markers on the chart's own scale; a missing value is skipped."""
    chart.y_min, chart.y_max = _scale([v for s in chart.series for v in s.values if v is not None])
    count = len(chart.snapshots)
    inner_w, inner_h = chart.right - chart.left, chart.bottom - chart.top

    def x_of(i: int) -> float:
        return chart.left + (inner_w * i / (count - 1) if count > 1 else inner_w / 2)

    def y_of(value: float) -> float:
        return chart.bottom - inner_h * (value - chart.y_min) / (chart.y_max - chart.y_min)

    chart.x_labels = [(x_of(i), _date(s)) for i, s in enumerate(chart.snapshots)]
    middle = (chart.y_min + chart.y_max) // 2
    chart.y_ticks = [(y_of(v), v) for v in sorted({chart.y_min, middle, chart.y_max})]
    for series in chart.series:
        series.markers = [
            Marker(x_of(i), y_of(v), v, f"{series.name} {_date(chart.snapshots[i])}: {v}")
            for i, v in enumerate(series.values)
            if v is not None
        ]
        series.points = " ".join(f"{m.x:.1f},{m.y:.1f}" for m in series.markers)
    return chart


def trend_charts(lake: Lake, up_to: str, last: int = DEFAULT_SNAPSHOTS) -> list[Chart]:
    """Charts over the last `last` reported snapshots up to and including `up_to`: one per resource
    type, then grants, then failed checks (warnings and errors on one scale)."""
    moment = snapshot_time(up_to)
    ids = [s for s in snapshots_with_reports(lake) if snapshot_time(s) <= moment][-last:]
    counts: list[dict[str, Any]] = [_counts(lake, s) or {} for s in ids]
    failed: list[dict[str, Any]] = [_failed(lake, s) or {} for s in ids]
    types = sorted({t for c in counts for t in c if t != "grants"})
    palette = iter(COLORS * 4)
    resources = [
        Chart(f"{t} resources", ids, [Series(t, [c.get(t) if c else None for c in counts], next(palette))])
        for t in types
    ]
    grants = Chart("grants", ids, [Series("grants", [c.get("grants") for c in counts], COLORS[0])])
    checks = Chart(
        "failed checks",
        ids,
        [
            Series("warnings", [f.get("warnings") for f in failed], COLORS[3]),
            Series("errors", [f.get("errors") for f in failed], COLORS[1]),
        ],
    )
    return [_place(chart) for chart in (*resources, grants, checks)]
