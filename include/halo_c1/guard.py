"""The deletion-safety guard: refuse to deliver a snapshot that loses too much at once.

C1 treats whatever a sync no longer contains as deleted (accounts, group memberships, role
assignments), and a broken extraction looks exactly like a mass deletion. Like C1's own connector
pause and the SailPoint/Okta equivalents, the guard compares the snapshot with the last *delivered*
one, per resource type and for grants, and blocks when any count drops by more than a threshold.
A deliberate clean-up is let through once with the run parameter `allow_mass_deletion`.

The guard runs before packaging and writes its report to `reports/snapshot=<id>/guard.json`, blocked
or not; delivery reads that report (the baseline it compared against, whether it was overridden) so
it never trusts a value handed over by the scheduler.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import pyarrow.compute as pc
from upath import UPath

from halo_c1.errors import ConfigurationError, PermanentError
from halo_c1.lake import Lake, parquet_row_count, read_parquet, write_json

log = logging.getLogger(__name__)

DEFAULT_MAX_DROP_RATIO = 0.2


class MassDeletionError(PermanentError):
    """Too many resources or grants would disappear in C1; `result` is the guard's full report."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


def _require(path: UPath, snapshot_id: str, table: str) -> None:
    if not path.exists():
        raise FileNotFoundError(
            f"curated table {table!r} of snapshot {snapshot_id} not found at {path}; run the transform first"
        )


def snapshot_counts(lake: Lake, snapshot_id: str) -> dict[str, Any]:
    """`{"resources": {<resource_type_id>: n, ...}, "grants": n}` for one curated snapshot.

    What the guard compares and what each delivery record keeps, so both use this one function.
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


def validate_max_drop_ratio(max_drop_ratio: float) -> float:
    """The threshold as a float in (0, 1), or a `ConfigurationError` saying what is expected."""
    if (
        isinstance(max_drop_ratio, bool)
        or not isinstance(max_drop_ratio, int | float)
        or not math.isfinite(max_drop_ratio)
        or not 0 < max_drop_ratio < 1
    ):
        raise ConfigurationError(
            "max_drop_ratio must be a fraction strictly between 0 and 1 (e.g. 0.2 blocks drops of more "
            f"than 20%), got {max_drop_ratio!r}"
        )
    return float(max_drop_ratio)


def _change(before: int | None, after: int) -> dict[str, Any]:
    if before is None:
        return {"before": None, "after": after, "change": None, "change_ratio": None}
    ratio = (after - before) / before if before else None
    return {"before": before, "after": after, "change": after - before, "change_ratio": ratio}


def _drop(item: str, change: dict[str, Any], max_drop_ratio: float) -> dict[str, Any] | None:
    before, after = change["before"], change["after"]
    if not before or after >= before:
        return None
    drop_ratio = (before - after) / before
    if after > 0 and drop_ratio <= max_drop_ratio:
        return None
    return {"item": item, "before": before, "after": after, "drop_ratio": drop_ratio, "emptied": after == 0}


def _describe(drop: dict[str, Any]) -> str:
    emptied = ", now empty" if drop["emptied"] else ""
    return f"{drop['item']}: {drop['before']} → {drop['after']} (-{drop['drop_ratio']:.1%}{emptied})"


def check_deletion_safety(
    lake: Lake,
    snapshot_id: str,
    previous: Mapping[str, Any] | None,
    *,
    max_drop_ratio: float = DEFAULT_MAX_DROP_RATIO,
    allow_mass_deletion: bool = False,
) -> dict[str, Any]:
    """Compare the snapshot's counts with `previous` (the last delivery record, None before the first
    delivery); write the report to the lake; raise `MassDeletionError` on a large drop.

    Returns the JSON-able report: `passed`, `overridden` (the override let real drops through),
    `previous_snapshot_id`, per resource type and for grants `before`/`after`/`change`/`change_ratio`,
    the `drops` over the threshold, `max_drop_ratio`, and `counts` (the snapshot's own counts, in the
    form a delivery records). The first delivery has nothing to compare with and passes.
    """
    max_drop_ratio = validate_max_drop_ratio(max_drop_ratio)
    current = snapshot_counts(lake, snapshot_id)
    previous_resources: dict[str, int] = previous["counts"].get("resources", {}) if previous else {}
    previous_grants: int | None = previous["counts"].get("grants") if previous else None

    resource_changes = {
        type_id: _change(
            previous_resources.get(type_id, 0) if previous else None, current["resources"].get(type_id, 0)
        )
        for type_id in sorted(set(previous_resources) | set(current["resources"]))
    }
    grant_change = _change(previous_grants, current["grants"])
    candidates = [
        _drop(f"resource type {type_id!r}", change, max_drop_ratio)
        for type_id, change in resource_changes.items()
    ]
    candidates.append(_drop("grants", grant_change, max_drop_ratio))
    drops = [drop for drop in candidates if drop is not None]

    result: dict[str, Any] = {
        "passed": not drops or allow_mass_deletion,
        "overridden": bool(drops) and allow_mass_deletion,
        "snapshot_id": snapshot_id,
        "previous_snapshot_id": previous["snapshot_id"] if previous else None,
        "previous_delivered_at": previous.get("delivered_at") if previous else None,
        "max_drop_ratio": max_drop_ratio,
        "resources": resource_changes,
        "grants": grant_change,
        "drops": drops,
        "counts": current,
    }
    write_json(lake.guard_report(snapshot_id), result)
    if not drops:
        return result

    listing = "\n".join(f"  - {_describe(drop)}" for drop in drops)
    comparison = (
        f"snapshot {snapshot_id} against the last delivered snapshot {result['previous_snapshot_id']}, "
        f"more than {max_drop_ratio:.0%} would disappear from C1"
    )
    if allow_mass_deletion:
        log.warning("Deletion guard overridden (allow_mass_deletion) for %s:\n%s", comparison, listing)
        return result
    raise MassDeletionError(
        f"Deletion guard blocked delivery: comparing {comparison}:\n{listing}\n"
        "If these deletions are intended, re-run this run once with the run parameter "
        "allow_mass_deletion=true.",
        result,
    )
