"""The deletion-safety guard: refuse to deliver a snapshot that loses too much at once.

C1 treats whatever a sync no longer contains as deleted (accounts, group memberships, role
assignments), and a broken extraction looks exactly like a mass deletion. Like C1's own connector
pause and the SailPoint/Okta equivalents, the guard compares the snapshot with the last *delivered*
one and blocks when more than a threshold (default 20 %) would go. It compares ids, not only counts,
because C1 keys everything on ids: every agent re-identified, or the tenant replaced by another of
the same size, deletes everything in C1 with unchanged counts. It blocks when

- the share of a resource type's ids that disappear crosses the threshold (or the type is emptied);
- the share of grants that disappear crosses it;
- the share of enabled accounts of a type that are disabled at once crosses it (or all are);
- an entitlement loses all its holders (when it had at least 2) or most of them (more than half, or
  the threshold if higher, when it had at least 5): a privileged role stripped from everyone.

Only resource types that both snapshots extracted are compared (switching end users off on purpose is
not a deletion of every end user); the report says which were left out and why. Without the previous
snapshot's curated tables (deleted by hand) the guard falls back to counts and says so. The message
names the drops with a few example ids. A deliberate clean-up is let through once with the run
parameter `allow_mass_deletion`.

What C1 holds is whatever the delivery target holds, and another lake folder may have put it there
(the HaloITSM URL or the lake URL changed). When `deliver.writer.check_target` finds that, the guard
compares with the target's own c1z instead (`C1zBaseline`: decoded into the same id columns), with the
same rules; the report names what it compared with (`compared_with`) and what the target held
(`target`), which delivery re-checks.

The guard runs before packaging and writes its report to `reports/snapshot=<id>/guard.json`, blocked
or not; delivery reads that report (the baseline it compared against, whether it was overridden) so
it never trusts a value handed over by the scheduler.
"""

from __future__ import annotations

import hashlib
import logging
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from upath import UPath

from halo_c1 import model
from halo_c1.errors import ConfigurationError, PermanentError
from halo_c1.lake import Lake, parquet_row_count, read_json, read_parquet, write_json

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


MAX_EXAMPLES = 3
MAX_LISTED = 8  # drops named in the message; the report keeps all
MOST_OF_HOLDERS = 0.5
MIN_HOLDERS_FOR_MOST = 5  # an entitlement this big losing most of its holders blocks
MIN_HOLDERS_FOR_ALL = 2  # an entitlement this big losing every holder blocks (one leaver is churn)
_RESOURCE_COLUMNS = ["resource_type_id", "resource_id", "status"]
_GRANT_COLUMNS = [
    "grant_id",
    "entitlement_id",
    "resource_type_id",
    "principal_resource_type_id",
    "principal_resource_id",
]


def extracted_types(lake: Lake, snapshot_id: str) -> set[str] | None:
    """The resource types the snapshot's extraction read (end users may be switched off); None when
    its raw manifest is gone."""
    if not lake.has_raw(snapshot_id):
        return None
    manifest = read_json(lake.raw_manifest(snapshot_id))
    types = {spec.id for spec in model.RESOURCE_TYPES}
    if manifest.get("include_end_users") is False:
        types.discard(model.USER)
    return types


def _curated(lake: Lake, snapshot_id: str) -> tuple[pa.Table, pa.Table] | None:
    """The id columns of the snapshot's resources and grants; None when they are gone."""
    resources, grants = lake.curated_file("resources", snapshot_id), lake.curated_file("grants", snapshot_id)
    if not (resources.exists() and grants.exists()):
        return None
    return read_parquet(resources, columns=_RESOURCE_COLUMNS), read_parquet(grants, columns=_GRANT_COLUMNS)


@dataclass(frozen=True)
class C1zBaseline:
    """A delivered c1z read back as the guard's baseline: its id columns, counts and SHA-256."""

    label: str  # what it is, for messages: "the c1z at <target> (…)"
    snapshot_id: str | None  # as its writer record says, when there is one
    sha256: str
    counts: dict[str, Any]
    tables: tuple[pa.Table, pa.Table]


_STATUS_NAMES = {1: model.STATUS_ENABLED, 2: model.STATUS_DISABLED}  # c1.connector.v2 Resource.Status


def read_c1z_baseline(source: UPath, *, label: str, snapshot_id: str | None) -> C1zBaseline:
    """Copy a c1z (hashing it) to a local temporary file and decode its last full sync into the guard's
    columns. Raises `C1zFormatError` (or an I/O error) when it cannot be read."""
    from halo_c1.c1z.reader import C1zReader

    with tempfile.TemporaryDirectory(prefix="halo-c1-c1z-read-") as tmp:
        local = Path(tmp) / "held.c1z"
        digest = hashlib.sha256()
        with source.open("rb") as reader, local.open("wb") as out:
            while chunk := reader.read(8 * 1024 * 1024):
                digest.update(chunk)
                out.write(chunk)
        with C1zReader.open(local) as c1z:
            columns: dict[str, list[str]] = {name: [] for name in _RESOURCE_COLUMNS}
            for row in c1z.rows("v1_resources"):
                message = row["message"]
                columns["resource_type_id"].append(message.id.resource_type)
                columns["resource_id"].append(message.id.resource)
                columns["status"].append(_STATUS_NAMES.get(message.status.status, "UNSPECIFIED"))
            sync_id = c1z.finished_full_sync()["sync_id"]
            grant_rows = c1z.connection.execute(
                "SELECT external_id, entitlement_id, resource_type_id, principal_resource_type_id,"
                " principal_resource_id FROM v1_grants WHERE sync_id = ? ORDER BY id",
                (sync_id,),
            ).fetchall()
    resources = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
    grants = pa.table(
        {name: pa.array([row[i] for row in grant_rows], pa.string()) for i, name in enumerate(_GRANT_COLUMNS)}
    )
    counts = {
        "resources": dict(sorted(_counts(resources["resource_type_id"]).items())),
        "grants": grants.num_rows,
    }
    return C1zBaseline(label, snapshot_id, digest.hexdigest(), counts, (resources, grants))


def _of_types(table: pa.Table, types: set[str]) -> pa.Table:
    return table.filter(pc.is_in(table["resource_type_id"], value_set=pa.array(sorted(types), pa.string())))


def _keys(resources: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(
        resources["resource_type_id"], resources["resource_id"], ":"
    ).combine_chunks()


def _counts(values: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    return {str(item["values"]): int(item["counts"]) for item in pc.value_counts(values).to_pylist()}


def _examples(table: pa.Table, column: str, types: pa.ChunkedArray | None, type_id: str | None) -> list[str]:
    rows = table if type_id is None else table.filter(pc.equal(types, type_id))
    return [str(v) for v in rows[column].slice(0, MAX_EXAMPLES).to_pylist()]


def _id_drop(
    item: str, before: int, after: int, removed: int, added: int, examples: list[str], ratio: float
) -> dict[str, Any] | None:
    """A drop when the share of `before` that disappeared crosses `ratio` (or nothing is left)."""
    if not before or not removed:
        return None
    share = removed / before
    if share <= ratio and after > 0:
        return None
    return {
        "item": item,
        "before": before,
        "after": after,
        "removed": removed,
        "added": added,
        "drop_ratio": share,
        "emptied": after == 0,
        "examples": examples,
    }


def _compare_ids(
    previous: tuple[pa.Table, pa.Table],
    current: tuple[pa.Table, pa.Table],
    types: set[str],
    ratio: float,
) -> tuple[dict[str, dict[str, int]], dict[str, int], list[dict[str, Any]]]:
    """Removed and added ids per resource type, grants removed per entitlement, enabled accounts
    disabled; returns (per type removed/added, grants removed/added, the drops over the limits)."""
    before, after = (_of_types(previous[0], types), _of_types(current[0], types))
    before_keys, after_keys = _keys(before), _keys(after)
    removed = before.filter(pc.invert(pc.is_in(before_keys, value_set=after_keys)))
    added = after.filter(pc.invert(pc.is_in(after_keys, value_set=before_keys)))
    removed_per_type, added_per_type = (
        _counts(removed["resource_type_id"]),
        _counts(added["resource_type_id"]),
    )
    before_per_type, after_per_type = _counts(before["resource_type_id"]), _counts(after["resource_type_id"])
    drops: list[dict[str, Any]] = []
    per_type: dict[str, dict[str, int]] = {}
    for type_id in sorted(set(before_per_type) | set(after_per_type)):
        per_type[type_id] = {
            "removed": removed_per_type.get(type_id, 0),
            "added": added_per_type.get(type_id, 0),
        }
        drops.append(
            _id_drop(
                f"resource type {type_id!r}",
                before_per_type.get(type_id, 0),
                after_per_type.get(type_id, 0),
                per_type[type_id]["removed"],
                per_type[type_id]["added"],
                _examples(removed, "resource_id", removed["resource_type_id"], type_id),
                ratio,
            )
        )

    # Accounts disabled at once look like deletions to access reviews: same limit as removals.
    enabled = before.filter(pc.equal(before["status"], model.STATUS_ENABLED))
    disabled_now = after.filter(pc.equal(after["status"], model.STATUS_DISABLED))
    newly = enabled.filter(pc.is_in(_keys(enabled), value_set=_keys(disabled_now)))
    enabled_per_type, newly_per_type = (
        _counts(enabled["resource_type_id"]),
        _counts(newly["resource_type_id"]),
    )
    for type_id, count in sorted(newly_per_type.items()):
        drop = _id_drop(
            f"enabled {type_id!r} accounts disabled",
            enabled_per_type[type_id],
            enabled_per_type[type_id] - count,
            count,
            0,
            _examples(newly, "resource_id", newly["resource_type_id"], type_id),
            ratio,
        )
        drops.append(drop)

    grants_before, grants_after = (_of_types(previous[1], types), _of_types(current[1], types))
    after_ids = grants_after["grant_id"].combine_chunks()
    lost = grants_before.filter(pc.invert(pc.is_in(grants_before["grant_id"], value_set=after_ids)))
    gained = grants_after.num_rows - (grants_before.num_rows - lost.num_rows)
    grants = {"removed": lost.num_rows, "added": gained}
    drops.append(
        _id_drop(
            "grants",
            grants_before.num_rows,
            grants_after.num_rows,
            lost.num_rows,
            gained,
            _examples(lost, "grant_id", None, None),
            ratio,
        )
    )
    holders = _counts(grants_before["entitlement_id"])
    for entitlement, count in sorted(_counts(lost["entitlement_id"]).items()):
        had = holders[entitlement]
        share = count / had
        if not (
            (count == had and had >= MIN_HOLDERS_FOR_ALL)
            or (share > max(MOST_OF_HOLDERS, ratio) and had >= MIN_HOLDERS_FOR_MOST)
        ):
            continue
        leavers = lost.filter(pc.equal(lost["entitlement_id"], entitlement))
        drops.append(
            {
                "item": f"entitlement {entitlement!r}",
                "before": had,
                "after": had - count,
                "removed": count,
                "added": 0,
                "drop_ratio": share,
                "emptied": count == had,
                "examples": [
                    f"{principal_type}:{principal}"
                    for principal_type, principal in zip(
                        leavers["principal_resource_type_id"].slice(0, MAX_EXAMPLES).to_pylist(),
                        leavers["principal_resource_id"].slice(0, MAX_EXAMPLES).to_pylist(),
                        strict=True,
                    )
                ],
            }
        )
    return per_type, grants, [drop for drop in drops if drop is not None]


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


def describe_drop(drop: dict[str, Any]) -> str:
    """One drop of the guard's report as a line: before → after, removed/added, share, examples."""
    emptied = ", now empty" if drop["emptied"] else ""
    line = f"{drop['item']}: {drop['before']} → {drop['after']}"
    if "removed" in drop:
        line += f", {drop['removed']} removed"
        if drop.get("added"):
            line += f" and {drop['added']} added"
    line += f" (-{drop['drop_ratio']:.1%}{emptied})"
    if drop.get("examples"):
        line += f", e.g. {', '.join(drop['examples'])}"
    return line


def _not_compared(
    lake: Lake, snapshot_id: str, previous_id: str | None, types: set[str]
) -> tuple[set[str], dict[str, str]]:
    """The resource types both snapshots extracted, and why each other type is left out (a baseline
    not in this lake, `previous_id` None, says nothing about what it extracted)."""
    now = extracted_types(lake, snapshot_id)
    before = extracted_types(lake, previous_id) if previous_id else None
    compared, reasons = set(types), {}
    for type_id in sorted(types):
        for snapshot, extracted in ((previous_id, before), (snapshot_id, now)):
            if extracted is not None and type_id not in extracted:
                compared.discard(type_id)
                what = "end users" if type_id == model.USER else f"{type_id!r} resources"
                reasons[type_id] = f"{what} were not extracted in snapshot {snapshot}"
                break
    return compared, reasons


def check_deletion_safety(
    lake: Lake,
    snapshot_id: str,
    previous: Mapping[str, Any] | None,
    *,
    max_drop_ratio: float = DEFAULT_MAX_DROP_RATIO,
    allow_mass_deletion: bool = False,
    held: C1zBaseline | None = None,
    target: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Compare the snapshot with `previous` (the last delivery record, None before the first
    delivery) by ids, or with `held` (the delivery target's own c1z, when another lake folder wrote
    it); write the report to the lake; raise `MassDeletionError` on a large drop.

    Returns the JSON-able report: `passed`, `overridden` (the override let real drops through),
    `previous_snapshot_id` (the lake's last delivery, which delivery re-checks), `compared_with`,
    per resource type and for grants `before`/`after`/`change`/`change_ratio` (plus `removed`/`added`
    ids when compared by id), the `drops` over the limits (each with a few example ids),
    `not_compared` (type → why it was left out), `compared_by` ("ids" or why only counts),
    `max_drop_ratio`, `counts` (the snapshot's own counts, in the form a delivery records) and
    `target` (what `check_target` found there, as given). The first delivery has nothing to compare
    with and passes.
    """
    max_drop_ratio = validate_max_drop_ratio(max_drop_ratio)
    current = snapshot_counts(lake, snapshot_id)
    baseline: Mapping[str, Any] | None = previous
    if held is not None:
        baseline = {"snapshot_id": held.snapshot_id, "counts": held.counts}
    previous_resources: dict[str, int] = baseline["counts"].get("resources", {}) if baseline else {}
    previous_grants: int | None = baseline["counts"].get("grants") if baseline else None

    resource_changes = {
        type_id: _change(
            previous_resources.get(type_id, 0) if baseline else None, current["resources"].get(type_id, 0)
        )
        for type_id in sorted(set(previous_resources) | set(current["resources"]))
    }
    grant_change = _change(previous_grants, current["grants"])
    not_compared: dict[str, str] = {}
    compared_by = "ids"
    drops: list[dict[str, Any]] = []
    if held is not None:
        compared_with = held.label
    elif previous:
        compared_with = f"the last delivered snapshot {previous['snapshot_id']}"
    else:
        compared_with = None
    if baseline:
        all_types = {spec.id for spec in model.RESOURCE_TYPES} | set(resource_changes)
        in_lake = None if held is not None else baseline["snapshot_id"]
        types, not_compared = _not_compared(lake, snapshot_id, in_lake, all_types)
        before_tables = held.tables if held is not None else _curated(lake, baseline["snapshot_id"])
        if before_tables is None:
            compared_by = f"counts only: the curated tables of snapshot {baseline['snapshot_id']} are gone from the lake"
            candidates = [
                _drop(f"resource type {type_id!r}", change, max_drop_ratio)
                for type_id, change in resource_changes.items()
                if type_id in types
            ]
            candidates.append(_drop("grants", grant_change, max_drop_ratio))
            drops = [drop for drop in candidates if drop is not None]
        else:
            current_tables = _curated(lake, snapshot_id)
            assert current_tables is not None  # snapshot_counts found them
            per_type, grant_ids, drops = _compare_ids(before_tables, current_tables, types, max_drop_ratio)
            for type_id, ids in per_type.items():
                resource_changes.setdefault(type_id, _change(0, 0)).update(ids)
            grant_change.update(grant_ids)
        for type_id, reason in not_compared.items():
            resource_changes.get(type_id, {})["not_compared"] = reason
            log.info("Deletion guard: resource type %r not compared: %s", type_id, reason)

    seen = dict(target) if target is not None else None
    if seen is not None and held is not None:
        seen["sha256"] = held.sha256  # what the guard read, which delivery requires to still be there
    result: dict[str, Any] = {
        "passed": not drops or allow_mass_deletion,
        "overridden": bool(drops) and allow_mass_deletion,
        "snapshot_id": snapshot_id,
        "previous_snapshot_id": previous["snapshot_id"] if previous else None,
        "previous_delivered_at": previous.get("delivered_at") if previous else None,
        "compared_with": compared_with,
        "max_drop_ratio": max_drop_ratio,
        "compared_by": compared_by,
        "not_compared": not_compared,
        "resources": resource_changes,
        "grants": grant_change,
        "drops": drops,
        "counts": current,
        "target": seen,
    }
    write_json(lake.guard_report(snapshot_id), result)
    if not drops:
        return result

    listing = "\n".join(f"  - {describe_drop(drop)}" for drop in drops[:MAX_LISTED])
    if len(drops) > MAX_LISTED:
        listing += f"\n  - and {len(drops) - MAX_LISTED} more (see {lake.guard_report(snapshot_id)})"
    skipped = "".join(f"\n  (not compared: {t}: {why})" for t, why in not_compared.items())
    comparison = (
        f"snapshot {snapshot_id} against {compared_with} "
        f"(by {compared_by}), more than {max_drop_ratio:.0%} would disappear from C1"
    )
    if allow_mass_deletion:
        log.warning("Deletion guard overridden (allow_mass_deletion) for %s:\n%s", comparison, listing)
        return result
    raise MassDeletionError(
        f"Deletion guard blocked delivery: comparing {comparison}:\n{listing}{skipped}\n"
        "If these deletions are intended, re-run this run once with the run parameter "
        "allow_mass_deletion=true.",
        result,
    )
