"""The access change log: who gained or lost which access since the snapshot C1 last received.

A snapshot is compared with the snapshot *delivered* before it (by snapshot time, from the
delivery manifests), never with whatever ran last: that is what C1 saw, so the log says what C1 will
see change. A re-derived or backfilled snapshot is compared with the snapshot delivered before it too,
and its summary says so. The log is written as a curated table,
`curated/access_changes/snapshot=<id>/part-0.parquet` (one row per change, sorted, exact ids, schema
`model.ACCESS_CHANGES`), plus `reports/snapshot=<id>/access_changes.json` with the counts per kind of
change and the highlights an identity admin asks about first: new holders of each role, disabled
agents still holding access, API agents gaining roles, resource types that appeared or vanished.

Kinds of change (`change` column): grant_added, grant_removed, grant_origin_changed (direct or
inherited, or via which roles), resource_added, resource_removed, resource_disabled,
resource_enabled, resource_status_unknown (HaloITSM sent a status that cannot be read; see
docs/data-quality-rules.md), resource_type_added, resource_type_removed, entitlement_added,
entitlement_removed.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from halo_c1 import model
from halo_c1.lake import Lake, read_json, read_parquet, snapshot_time, write_json, write_parquet

log = logging.getLogger(__name__)

TABLE: Final = "access_changes"
SUMMARY_FILE: Final = "access_changes.json"
CHANGES: Final = (
    "grant_added",
    "grant_removed",
    "grant_origin_changed",
    "resource_added",
    "resource_removed",
    "resource_disabled",
    "resource_enabled",
    "resource_status_unknown",
    "resource_type_added",
    "resource_type_removed",
    "entitlement_added",
    "entitlement_removed",
)
_RESOURCE_COLUMNS: Final = ["resource_type_id", "resource_id", "display_name", "status", "account_type"]


def delivered_snapshots(lake: Lake) -> list[str]:
    """Ids of every snapshot with a delivery manifest, oldest first."""
    folder = lake.base / "deliveries"
    if not folder.exists():
        return []
    ids = []
    for path in folder.iterdir():
        name = path.name
        if name.startswith("snapshot=") and name.endswith(".json"):
            ids.append(name.removeprefix("snapshot=").removesuffix(".json"))
    return sorted(ids, key=snapshot_time)


def previous_delivered(lake: Lake, snapshot_id: str) -> str | None:
    """The last snapshot delivered to C1 that was taken before `snapshot_id`, or None."""
    moment = snapshot_time(snapshot_id)
    earlier = [s for s in delivered_snapshots(lake) if snapshot_time(s) < moment]
    return earlier[-1] if earlier else None


def _read(lake: Lake, table: str, snapshot_id: str, columns: list[str] | None = None) -> pa.Table:
    path = lake.curated_file(table, snapshot_id)
    if not path.exists():
        raise FileNotFoundError(
            f"change log: curated table {table!r} of snapshot {snapshot_id} not found at {path}"
        )
    return read_parquet(path, columns=columns)


def _key(table: pa.Table, *columns: str) -> pa.ChunkedArray:
    return pc.binary_join_element_wise(*(table[c] for c in columns), ":")


def _only_in(left: pa.Table, left_key: pa.ChunkedArray, right_key: pa.ChunkedArray) -> pa.Table:
    return left.filter(pc.invert(pc.is_in(left_key, value_set=right_key.combine_chunks())))


def _roles_text(table: pa.Table, column: str) -> pa.ChunkedArray:
    return pc.binary_join(table[column], ",")


class _Snapshot:
    """The columns of one curated snapshot the change log compares, with lookup keys."""

    def __init__(self, lake: Lake, snapshot_id: str) -> None:
        self.id = snapshot_id
        self.resources = _read(lake, "resources", snapshot_id, _RESOURCE_COLUMNS)
        self.resource_keys = _key(self.resources, "resource_type_id", "resource_id")
        self.entitlements = _read(
            lake, "entitlements", snapshot_id, ["entitlement_id", "resource_type_id", "resource_id"]
        )
        self.grants = _read(
            lake,
            "grants",
            snapshot_id,
            [
                "grant_id",
                "entitlement_id",
                "resource_type_id",
                "resource_id",
                "principal_resource_type_id",
                "principal_resource_id",
                "is_direct",
                "source_role_ids",
            ],
        )
        self._names = {
            (t, i): n
            for t, i, n in zip(
                self.resources["resource_type_id"].to_pylist(),
                self.resources["resource_id"].to_pylist(),
                self.resources["display_name"].to_pylist(),
                strict=True,
            )
        }

    def name(self, resource_type: str | None, resource_id: str | None) -> str | None:
        return self._names.get((resource_type, resource_id))

    def types(self) -> set[str]:
        return set(self.resources["resource_type_id"].unique().to_pylist())


def _grant_rows(change: str, grants: pa.Table, named_by: _Snapshot) -> list[dict[str, Any]]:
    return [
        {
            "change": change,
            **row,
            "display_name": named_by.name(row["resource_type_id"], row["resource_id"]),
            "principal_display_name": named_by.name(
                row["principal_resource_type_id"], row["principal_resource_id"]
            ),
        }
        for row in grants.to_pylist()
    ]


def _resource_rows(change: str, resources: pa.Table) -> list[dict[str, Any]]:
    return [
        {
            "change": change,
            "resource_type_id": row["resource_type_id"],
            "resource_id": row["resource_id"],
            "display_name": row["display_name"],
        }
        for row in resources.to_pylist()
    ]


def _entitlement_rows(change: str, entitlements: pa.Table, named_by: _Snapshot) -> list[dict[str, Any]]:
    return [
        {"change": change, **row, "display_name": named_by.name(row["resource_type_id"], row["resource_id"])}
        for row in entitlements.to_pylist()
    ]


def _status_changes(current: _Snapshot, previous: _Snapshot) -> list[dict[str, Any]]:
    """Resources present in both snapshots whose status flipped."""
    both = current.resources.join(
        previous.resources.select(["resource_type_id", "resource_id", "status"]).rename_columns(
            ["resource_type_id", "resource_id", "previous_status"]
        ),
        keys=["resource_type_id", "resource_id"],
        join_type="inner",
    )
    rows = []
    for row in both.filter(pc.not_equal(both["status"], both["previous_status"])).to_pylist():
        change = {
            model.STATUS_DISABLED: "resource_disabled",
            model.STATUS_UNSPECIFIED: "resource_status_unknown",
        }.get(row["status"], "resource_enabled")
        rows.append(
            {
                "change": change,
                "resource_type_id": row["resource_type_id"],
                "resource_id": row["resource_id"],
                "display_name": row["display_name"],
            }
        )
    return rows


def _origin_changes(current: _Snapshot, previous: _Snapshot) -> list[dict[str, Any]]:
    """Grants held in both snapshots whose origin (direct, or the roles it came from) changed."""
    now = pa.table(
        {
            "grant_id": current.grants["grant_id"],
            "is_direct": current.grants["is_direct"],
            "roles": _roles_text(current.grants, "source_role_ids"),
            "row": pa.array(range(current.grants.num_rows), pa.int64()),
        }
    )
    before = pa.table(
        {
            "grant_id": previous.grants["grant_id"],
            "previous_is_direct": previous.grants["is_direct"],
            "previous_roles": _roles_text(previous.grants, "source_role_ids"),
            "previous_row": pa.array(range(previous.grants.num_rows), pa.int64()),
        }
    )
    both = now.join(before, keys="grant_id", join_type="inner")
    changed = both.filter(
        pc.or_(
            pc.not_equal(both["is_direct"], both["previous_is_direct"]),
            pc.not_equal(both["roles"], both["previous_roles"]),
        )
    ).sort_by("grant_id")
    grants = current.grants.take(changed["row"])
    grants = grants.append_column("previous_is_direct", changed["previous_is_direct"])
    grants = grants.append_column(
        "previous_source_role_ids", previous.grants["source_role_ids"].take(changed["previous_row"])
    )
    return _grant_rows("grant_origin_changed", grants, current)


def _sort_key(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        row.get(c) or ""
        for c in ("change", "resource_type_id", "resource_id", "entitlement_id", "principal_resource_id")
    )


def compare(current: _Snapshot, previous: _Snapshot) -> pa.Table:
    """Every change from `previous` to `current`, one row each, in a deterministic order."""
    rows: list[dict[str, Any]] = []
    rows += _grant_rows(
        "grant_added",
        _only_in(current.grants, current.grants["grant_id"], previous.grants["grant_id"]),
        current,
    )
    rows += _grant_rows(
        "grant_removed",
        _only_in(previous.grants, previous.grants["grant_id"], current.grants["grant_id"]),
        previous,
    )
    rows += _origin_changes(current, previous)
    rows += _resource_rows(
        "resource_added", _only_in(current.resources, current.resource_keys, previous.resource_keys)
    )
    rows += _resource_rows(
        "resource_removed", _only_in(previous.resources, previous.resource_keys, current.resource_keys)
    )
    rows += _status_changes(current, previous)
    rows += [
        {"change": "resource_type_added", "resource_type_id": t} for t in current.types() - previous.types()
    ]
    rows += [
        {"change": "resource_type_removed", "resource_type_id": t} for t in previous.types() - current.types()
    ]
    rows += _entitlement_rows(
        "entitlement_added",
        _only_in(
            current.entitlements,
            current.entitlements["entitlement_id"],
            previous.entitlements["entitlement_id"],
        ),
        current,
    )
    rows += _entitlement_rows(
        "entitlement_removed",
        _only_in(
            previous.entitlements,
            previous.entitlements["entitlement_id"],
            current.entitlements["entitlement_id"],
        ),
        previous,
    )
    rows.sort(key=_sort_key)
    for row in rows:
        row["snapshot_id"], row["previous_snapshot_id"] = current.id, previous.id
    return pa.Table.from_pylist(rows, schema=model.ACCESS_CHANGES)


def _agent(snapshot: _Snapshot) -> dict[str, dict[str, Any]]:
    agents = snapshot.resources.filter(pc.equal(snapshot.resources["resource_type_id"], model.AGENT))
    return {row["resource_id"]: row for row in agents.to_pylist()}


def highlights(changes: pa.Table, current: _Snapshot) -> dict[str, Any]:
    """What an identity admin asks first, from the changes and the current snapshot."""
    rows = changes.to_pylist()
    agents = _agent(current)
    new_role_holders: dict[str, dict[str, Any]] = {}
    api_gaining: list[dict[str, Any]] = []
    for row in rows:
        if row["change"] != "grant_added" or row["resource_type_id"] != model.ROLE:
            continue
        holder = {
            "agent_id": row["principal_resource_id"],
            "agent": row["principal_display_name"],
            "is_direct": row["is_direct"],
            "via_roles": row["source_role_ids"] or [],
        }
        role = new_role_holders.setdefault(
            row["resource_id"], {"role_id": row["resource_id"], "role": row["display_name"], "agents": []}
        )
        role["agents"].append(holder)
        agent = agents.get(row["principal_resource_id"], {})
        if agent.get("account_type") == model.ACCOUNT_SERVICE:
            api_gaining.append({**holder, "role_id": row["resource_id"], "role": row["display_name"]})
    newly_disabled = {
        r["resource_id"]
        for r in rows
        if r["change"] == "resource_disabled" and r["resource_type_id"] == model.AGENT
    }
    holders = current.grants["principal_resource_id"].value_counts().to_pylist()
    grants_per_agent = {item["values"]: item["counts"] for item in holders}
    disabled_with_access = [
        {
            "agent_id": agent_id,
            "agent": agent["display_name"],
            "grants": grants_per_agent[agent_id],
            "newly_disabled": agent_id in newly_disabled,
        }
        for agent_id, agent in sorted(agents.items())
        if agent["status"] == model.STATUS_DISABLED and grants_per_agent.get(agent_id)
    ]
    return {
        "new_role_holders": [new_role_holders[k] for k in sorted(new_role_holders)],
        "disabled_agents_with_access": disabled_with_access,
        "api_agents_gaining_roles": api_gaining,
        "resource_types_added": sorted(
            r["resource_type_id"] for r in rows if r["change"] == "resource_type_added"
        ),
        "resource_types_removed": sorted(
            r["resource_type_id"] for r in rows if r["change"] == "resource_type_removed"
        ),
    }


def counts(changes: pa.Table) -> dict[str, int]:
    """Rows per kind of change, every kind listed (zero included)."""
    found = {i["values"]: i["counts"] for i in changes["change"].value_counts().to_pylist()}
    return {kind: int(found.get(kind, 0)) for kind in CHANGES}


def _basis(snapshot_id: str, previous_id: str | None, mode: str | None) -> str:
    if previous_id is None:
        return f"no snapshot was delivered to C1 before {snapshot_id}: nothing to compare with"
    basis = f"compared with {previous_id}, the last snapshot delivered to C1 before {snapshot_id}"
    if mode == "rederive":
        basis += " (re-derived snapshot: compared with the delivery before it, not with the latest one)"
    return basis


def summary_path(lake: Lake, snapshot_id: str) -> Any:
    return lake.report_dir(snapshot_id) / SUMMARY_FILE


def build_change_log(lake: Lake, snapshot_id: str, *, mode: str | None = None) -> dict[str, Any]:
    """Write the snapshot's change log (table + summary JSON) and return the summary.

    `mode` is the run's mode (`live` or `rederive`); it only changes what the summary says.
    The first snapshot has no delivered snapshot before it: its table is empty and says so.
    """
    previous_id = previous_delivered(lake, snapshot_id)
    current = _Snapshot(lake, snapshot_id)
    missing = previous_id is not None and not all(
        lake.curated_file(t, previous_id).exists() for t in ("resources", "entitlements", "grants")
    )
    if missing:
        log.warning(
            "change log of %s: the delivered snapshot %s is gone from the lake", snapshot_id, previous_id
        )
    if previous_id is None or missing:
        changes = model.ACCESS_CHANGES.empty_table()
        found: dict[str, Any] = highlights(changes, current)
    else:
        changes = compare(current, _Snapshot(lake, previous_id))
        found = highlights(changes, current)
    table_path = lake.curated_file(TABLE, snapshot_id)
    write_parquet(table_path, changes)
    basis = _basis(snapshot_id, previous_id, mode)
    if missing:
        basis = (
            f"the snapshot delivered to C1 before {snapshot_id}, {previous_id}, is no longer in the lake "
            "(retention): nothing to compare with"
        )
        previous_id = None
    summary = {
        "snapshot_id": snapshot_id,
        "previous_snapshot_id": previous_id,
        "mode": mode,
        "basis": basis,
        "counts": counts(changes),
        "highlights": found,
        "table": str(table_path),
    }
    write_json(summary_path(lake, snapshot_id), summary)
    log.info(
        "access changes of %s (%s): %s",
        snapshot_id,
        summary["basis"],
        ", ".join(f"{k} {v}" for k, v in summary["counts"].items() if v) or "none",
    )
    return summary


def read_change_log(lake: Lake, snapshot_id: str) -> tuple[dict[str, Any], pa.Table] | None:
    """The snapshot's change-log summary and table, or None when it has none."""
    path = summary_path(lake, snapshot_id)
    table_path = lake.curated_file(TABLE, snapshot_id)
    if not path.exists() or not table_path.exists():
        return None
    return read_json(path), read_parquet(table_path)
