"""Raw → curated: turn one raw HaloITSM snapshot into the access model's tables (ARCHITECTURE §2).

`transform_snapshot(lake, snapshot_id)` reads the raw zone and writes `resource_types`, `resources`,
`entitlements`, `grants`, `rejected_rows` and `data_issues` under `curated/`. It is deterministic (explicit sorts,
no wall-clock values), so re-running a snapshot rewrites byte-identical Parquet files, and it is
vectorised (pandas for the ~100k entity rows, pyarrow compute for the ~1M membership rows).

Decisions where Halo or the spec is silent:
- Halo's system "Unassigned" agent is recognised as agent id "1" whose trimmed name is "Unassigned"
  (case-insensitive). It and its memberships are excluded by design: not rejected, but counted in
  the returned stats under `excluded`.
- A row with a usable id (`model.usable_id`) is always delivered, with its grants. Each field that
  cannot be read (extraction names it in `invalid_fields`; an unparseable date here) is delivered as
  unknown: an UNSPECIFIED status or account type, an empty text, no parent, a direct grant for an
  unreadable `role_id`; and it is named in `data_issues` (outcome "unknown"). Only rows without a
  usable id (`missing_id`, `invalid_id`), later duplicates of a delivered id, and memberships naming
  nothing delivered are left out; they are counted in `rejected_rows` and named in `data_issues`
  (outcome "left_out"), by id or by their position in the raw file ("row 7").
- Raw ids are kept as given. Duplicate ids keep the first row in raw order.
- Null booleans mean false (Halo omits false flags): a null `isdisabled`/`inactive` is ENABLED. A
  flag that is not a boolean at all ("yes", 1, "enabled") is UNSPECIFIED, never guessed ENABLED.
- `lastlogindate` is a naive ISO string in Halo's server time, read as UTC. Halo's "no date"
  sentinel (anything before 1901, e.g. 1900-01-01) becomes null; an unparseable value too, named.
- display_name falls back name → "firstname surname" → email → id for users and agents, and
  name → "<Type> <id>" for teams, departments and roles.
- A department's name is the first non-blank name seen: teams in raw order first, then department
  membership rows in raw order.
- Role memberships (kind=role) are always direct; a `via_role_id` on them is ignored. A blank
  `via_role_id` on a team/department row means direct.
- Entitlement display names: "<name> Team Member", "<name> Department Member", "<name> Role".
- Row order: resources by (resource_type_id, resource_id), entitlements by entitlement_id, grants by
  (resource_type_id, resource_id, principal_resource_id), rejected rows by (entity, reason); all
  text order.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from halo_c1 import model
from halo_c1.columns import blank, full_match, true_mask
from halo_c1.errors import PermanentError
from halo_c1.freshness import raw_entity_file
from halo_c1.lake import Lake, read_json, write_parquet

if TYPE_CHECKING:
    from upath import UPath

log = logging.getLogger(__name__)

MAX_EXAMPLES: Final = 3
SYSTEM_AGENT_ID: Final = "1"
SYSTEM_AGENT_NAME: Final = "unassigned"
# Before this, a Halo date is its "no date" sentinel (1900-01-01), not a real login.
FIRST_REAL_LOGIN: Final = pd.Timestamp("1901-01-01", tz="UTC")

# Raw columns added after snapshots were first archived: absent means "none recorded".
OPTIONAL_RAW_COLUMNS: Final = frozenset({"invalid_fields"})
# What snapshots archived before `invalid_fields` called it (flags only, same "name=value" entries).
LEGACY_INVALID: Final = "invalid_flags"
# Named data issues shown in the task log and carried to the run summary; all are in `data_issues`.
NAMED_IN_LOG: Final = 20


class RawSnapshotError(PermanentError, ValueError):
    """The raw snapshot is missing a required entity or column."""


# ---------------------------------------------------------------------------------------------
# Reading the raw zone
# ---------------------------------------------------------------------------------------------


def _read_columns(path: UPath, wanted: list[str], snapshot_id: str, entity: str) -> pa.Table:
    """`wanted` columns of a raw file; optional ones absent in old snapshots become null (or legacy)."""
    with path.open("rb") as handle:
        parquet = pq.ParquetFile(handle)
        present = set(parquet.schema_arrow.names)
        missing = sorted(set(wanted) - present - OPTIONAL_RAW_COLUMNS)
        if missing:
            raise RawSnapshotError(f"raw snapshot {snapshot_id}: entity {entity!r} lacks columns {missing}")
        legacy = "invalid_fields" in wanted and "invalid_fields" not in present and LEGACY_INVALID in present
        names = [name for name in wanted if name in present] + ([LEGACY_INVALID] if legacy else [])
        table = parquet.read(columns=names)
    if legacy:
        table = table.rename_columns(
            [n if n != LEGACY_INVALID else "invalid_fields" for n in table.column_names]
        )
    for name in sorted(OPTIONAL_RAW_COLUMNS & set(wanted) - set(table.column_names)):
        table = table.append_column(
            name, pa.nulls(table.num_rows, model.RAW_ENTITIES[entity].field(name).type)
        )
    return table


def _read_raw(lake: Lake, entity: str, snapshot_id: str, *, required: bool = True) -> pd.DataFrame | None:
    """The raw entity's columns except `raw_json` (large, unused here); None if optional and absent.
    End users may come from an earlier extraction the snapshot reuses (`halo_c1.freshness`)."""
    path = raw_entity_file(lake, entity, snapshot_id)
    if not path.exists():
        if required:
            raise RawSnapshotError(f"raw snapshot {snapshot_id}: entity {entity!r} is missing ({path})")
        return None
    wanted = [name for name in model.RAW_ENTITIES[entity].names if name != "raw_json"]
    return _read_columns(path, wanted, snapshot_id, entity).to_pandas()


def _read_memberships(lake: Lake, snapshot_id: str) -> pa.Table:
    path = raw_entity_file(lake, "agent_memberships", snapshot_id)
    if not path.exists():
        raise RawSnapshotError(f"raw snapshot {snapshot_id}: entity 'agent_memberships' is missing ({path})")
    wanted = ["agent_id", "kind", "target_id", "target_name", "via_role_id", "invalid_fields"]
    return _read_columns(path, wanted, snapshot_id, "agent_memberships")


# ---------------------------------------------------------------------------------------------
# Small vectorised helpers
# ---------------------------------------------------------------------------------------------


def _clean(values: pd.Series) -> pd.Series:
    """Trimmed text with blank → null."""
    trimmed = values.astype("str").str.strip()
    return trimmed.where(trimmed.notna() & (trimmed != ""), None)


def _department_id(values: pd.Series) -> pd.Series:
    """A department reference: Halo writes 0 (or blank) where something belongs to no department."""
    cleaned = _clean(values)
    return cleaned.where(cleaned != model.NO_DEPARTMENT, None)


def _without_department_zero(memberships: pa.Table) -> pa.Table:
    """Department memberships naming department 0 name no department: their target becomes null."""
    column = memberships.column("target_id")
    zero = pc.fill_null(
        pc.and_(
            pc.equal(memberships.column("kind"), model.DEPARTMENT),
            pc.equal(pc.utf8_trim_whitespace(column), model.NO_DEPARTMENT),
        ),
        False,
    )
    index = memberships.schema.get_field_index("target_id")
    return memberships.set_column(index, "target_id", pc.if_else(zero, pa.scalar(None, pa.string()), column))


def _flag(values: pd.Series) -> pd.Series:
    """A raw boolean with null read as false."""
    return values.fillna(False).astype(bool)


def _first_of(*candidates: pd.Series) -> pd.Series:
    result = candidates[0]
    for candidate in candidates[1:]:
        result = result.fillna(candidate)
    return result


def _parse_login(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Login times (null for none and for Halo's "no date"), and which non-blank values did not parse."""
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    unreadable = (parsed.isna() & _clean(values).notna()).to_numpy(dtype=bool)
    return parsed.where(parsed >= FIRST_REAL_LOGIN), unreadable


def _tri_state(
    flag: pd.Series, unreadable: np.ndarray, when_true: str, when_false: str, unknown: str
) -> np.ndarray:
    """`when_true`/`when_false` from a flag (null = false), `unknown` where the value was unreadable."""
    values = np.where(_flag(flag), when_true, when_false).astype(object)
    values[unreadable] = unknown
    return values


def _split(entry: str) -> tuple[str, str | None]:
    """An `invalid_fields` entry "isdisabled='yes'" as ("isdisabled", "'yes'")."""
    field, _, value = entry.partition("=")
    return field, value or None


class _Findings:
    """Rows left out (counted per entity and reason, with a few examples, for `rejected_rows`) and
    every data issue named one by one (for `data_issues`)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, int, list[str]]] = []
        self.issues: list[tuple[str, str, str, str | None, str, str]] = []

    def left_out(
        self, entity: str, reason: str, records: list[str], field: str, values: list[str | None] | None = None
    ) -> None:
        """Rows of `entity` left out for `reason`, named by `records` (ids, or "row <n>")."""
        if not records:
            return
        self.rows.append((entity, reason, len(records), records[:MAX_EXAMPLES]))
        values = values if values is not None else [None] * len(records)
        self.issues.extend(
            (entity, record, field, value, model.ISSUE_LEFT_OUT, reason)
            for record, value in zip(records, values, strict=True)
        )

    def unknown(self, entity: str, records: list[str], entries: list[list[str]]) -> None:
        """Fields of delivered rows that could not be read: `entries[i]` are record i's "field=value"."""
        for record, fields in zip(records, entries, strict=True):
            for entry in fields:
                field, value = _split(entry)
                self.issues.append((entity, record, field, value, model.ISSUE_UNKNOWN, "unreadable_value"))

    def rejected_table(self, snapshot_id: str) -> pa.Table:
        rows = sorted(self.rows)
        return pa.Table.from_arrays(
            [
                pa.array([snapshot_id] * len(rows), pa.string()),
                pa.array([r[0] for r in rows], pa.string()),
                pa.array([r[1] for r in rows], pa.string()),
                pa.array([r[2] for r in rows], pa.int64()),
                pa.array([r[3] for r in rows], pa.list_(pa.string())),
            ],
            schema=model.CURATED_REJECTED_ROWS,
        )

    def sorted_issues(self) -> list[tuple[str, str, str, str | None, str, str]]:
        return sorted(self.issues, key=lambda i: (i[0], i[4], i[5], i[1], i[2], i[3] or ""))

    def issues_table(self, snapshot_id: str) -> pa.Table:
        rows = self.sorted_issues()
        columns = list(zip(*rows, strict=True)) if rows else [()] * 6
        return pa.Table.from_arrays(
            [pa.array([snapshot_id] * len(rows), pa.string())]
            + [pa.array(list(column), pa.string()) for column in columns],
            schema=model.CURATED_DATA_ISSUES,
        )

    def named(self, limit: int = NAMED_IN_LOG) -> list[str]:
        """The first `limit` issues as one line each, e.g. "agents 12: isdisabled='yes' delivered as unknown"."""
        return [
            f"{entity} {record}: {field}{'=' + value if value else ''} "
            + ("delivered as unknown" if outcome == model.ISSUE_UNKNOWN else f"left out ({reason})")
            for entity, record, field, value, outcome, reason in self.sorted_issues()[:limit]
        ]

    def counts(self, outcome: str) -> dict[str, int]:
        """Issues of `outcome` per "entity.field"."""
        found: dict[str, int] = {}
        for entity, _, field, _, kind, _ in self.issues:
            if kind == outcome:
                found[f"{entity}.{field}"] = found.get(f"{entity}.{field}", 0) + 1
        return dict(sorted(found.items()))


def _entries(values: Any) -> list[str]:
    return [] if values is None else [str(v) for v in values]


def _raw_id(entries: list[str]) -> str | None:
    """What an `invalid_fields` list says HaloITSM sent as the row's id, if anything."""
    return next((value for field, value in map(_split, entries) if field == "id"), None)


def _accept_ids(frame: pd.DataFrame, id_column: str, entity: str, findings: _Findings) -> pd.DataFrame:
    """Rows with a usable, first-seen id; the others are left out and named (position and raw value)."""
    ids = frame[id_column]
    values = pa.array(ids, pa.large_string()) if len(ids) else pa.array([], pa.large_string())
    usable = _usable(values)
    empty = blank(values)  # null reads as NaN
    invalid_fields = frame["invalid_fields"] if "invalid_fields" in frame else pd.Series([None] * len(frame))
    missing = np.flatnonzero(empty)
    findings.left_out(
        entity,
        "missing_id",
        [f"row {i}" for i in missing],
        "id",
        [_raw_id(_entries(invalid_fields.iloc[i])) for i in missing],
    )
    malformed = np.flatnonzero(~usable & ~empty)
    findings.left_out(
        entity,
        "invalid_id",
        [f"row {i}" for i in malformed],
        "id",
        [truncate_value(ids.iloc[i]) for i in malformed],
    )
    present = frame[usable]
    duplicate = present[id_column].duplicated(keep="first")
    findings.left_out(entity, "duplicate_id", [str(v) for v in present.loc[duplicate, id_column]], "id")
    return present[~duplicate].reset_index(drop=True)


def _with_invalid_fields(frame: pd.DataFrame) -> np.ndarray:
    """Positions of the rows that name invalid fields (few: extraction sets the list only then)."""
    return np.flatnonzero(frame["invalid_fields"].notna().to_numpy())


def truncate_value(value: Any, limit: int = 40) -> str:
    """A short repr of a raw value for `data_issues` (ids and flags only: never personal text)."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _has_invalid(frame: pd.DataFrame, field: str) -> np.ndarray:
    """Rows whose `invalid_fields` name `field`."""
    prefix = f"{field}="
    found = np.zeros(len(frame), dtype=bool)
    for i in _with_invalid_fields(frame):
        found[i] = any(str(e).startswith(prefix) for e in _entries(frame["invalid_fields"].iloc[i]))
    return found


def _name_unknown_fields(frame: pd.DataFrame, id_column: str, entity: str, findings: _Findings) -> None:
    """Name every field of these delivered rows that extraction could not read."""
    rows = [(i, _entries(frame["invalid_fields"].iloc[i])) for i in _with_invalid_fields(frame)]
    named = [(i, entries) for i, entries in rows if entries]
    findings.unknown(entity, [str(frame[id_column].iloc[i]) for i, _ in named], [e for _, e in named])


# ---------------------------------------------------------------------------------------------
# Resources
# ---------------------------------------------------------------------------------------------

RESOURCE_COLUMNS: Final = [f.name for f in model.CURATED_RESOURCES if f.name != "snapshot_id"]


def _user_resources(
    frame: pd.DataFrame,
    *,
    resource_type: str,
    entity: str,
    id_column: str,
    email_column: str,
    login_column: str,
    disabled_column: str,
    service_column: str,
    findings: _Findings,
) -> pd.DataFrame:
    """Agents or end users as resources; unreadable flags become UNSPECIFIED, unreadable dates null."""
    last_login, bad_login = _parse_login(frame["lastlogindate"])
    findings.unknown(
        entity,
        [str(i) for i in frame.loc[bad_login, id_column]],
        [[f"lastlogindate={truncate_value(v)}"] for v in frame.loc[bad_login, "lastlogindate"]],
    )
    email = _clean(frame[email_column])
    given = _clean(frame["firstname"])
    family = _clean(frame["surname"])
    full_name = _clean(given.fillna("") + " " + family.fillna(""))
    ids = frame[id_column].astype("str")
    return pd.DataFrame(
        {
            "resource_type_id": resource_type,
            "resource_id": ids,
            "display_name": _first_of(_clean(frame["name"]), full_name, email, ids),
            "description": None,
            "parent_resource_type_id": None,
            "parent_resource_id": None,
            "status": _tri_state(
                frame[disabled_column],
                _has_invalid(frame, disabled_column),
                model.STATUS_DISABLED,
                model.STATUS_ENABLED,
                model.STATUS_UNSPECIFIED,
            ),
            "email": email,
            "email_normalized": email.str.lower(),
            "login": _first_of(_clean(frame[login_column]), email),
            "account_type": _tri_state(
                frame[service_column],
                _has_invalid(frame, service_column),
                model.ACCOUNT_SERVICE,
                model.ACCOUNT_HUMAN,
                model.ACCOUNT_UNSPECIFIED,
            ),
            "given_name": given,
            "family_name": family,
            "last_login": last_login,
        }
    )


def _group_resources(resource_type: str, ids: pd.Series, names: pd.Series, label: str) -> pd.DataFrame:
    ids = ids.astype("str")
    return pd.DataFrame(
        {
            "resource_type_id": resource_type,
            "resource_id": ids,
            "display_name": _clean(names).fillna(f"{label} " + ids),
            "description": None,
            "parent_resource_type_id": None,
            "parent_resource_id": None,
            "status": model.STATUS_ENABLED,
        }
    )


def _departments(teams: pd.DataFrame, memberships: pa.Table) -> pd.DataFrame:
    """Departments referenced by teams and by `memberships` (department rows; Halo has no department list)."""
    from_teams = pd.DataFrame({"id": teams["department_id"], "name": teams["department_name"]})
    from_members = pd.DataFrame(
        {"id": memberships["target_id"].to_pandas(), "name": memberships["target_name"].to_pandas()},
        dtype="str",
    )
    seen = pd.concat([from_teams, from_members], ignore_index=True)
    seen["id"] = _clean(seen["id"])
    seen = seen[seen["id"].notna()]
    seen["name"] = _clean(seen["name"])
    named = seen[seen["name"].notna()].drop_duplicates("id", keep="first").set_index("id")["name"]
    ids = pd.Series(seen["id"].drop_duplicates().to_numpy(), dtype="str")
    return _group_resources(model.DEPARTMENT, ids, ids.map(named), "Department")


def _sorted(table: pa.Table, keys: list[str]) -> pa.Table:
    """Rows in ascending text order of `keys` (UTF-8 byte order = code point order, as Python sorts).

    Arrow's stable sort on 1M resources takes a fraction of pandas' object-string sort_values.
    """
    return table.take(pc.sort_indices(table, sort_keys=[(key, "ascending") for key in keys]))


def _to_table(frame: pd.DataFrame, schema: pa.Schema, snapshot_id: str) -> pa.Table:
    if frame.empty:  # a tenant without teams, roles or departments: no column to infer types from
        return schema.empty_table()
    arrays = [_repeated(snapshot_id, len(frame))]
    for field in schema:
        if field.name == "snapshot_id":
            continue
        column = frame[field.name] if field.name in frame else pd.Series([None] * len(frame), dtype=object)
        arrays.append(pa.Array.from_pandas(column, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


# ---------------------------------------------------------------------------------------------
# Grants
# ---------------------------------------------------------------------------------------------


def _repeated(value: str, count: int) -> pa.Array:
    """A string column of one value (a Python list of 3.4M references took 0.7 s to convert)."""
    return pa.repeat(pa.scalar(value, pa.string()), count)


def _usable(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """`model.usable_id`, vectorised (Python's whitespace, as the model's regex means it)."""
    return true_mask(pc.is_valid(values)) & full_match(values, model.ID_REGEX)


def _membership_records(table: pa.Table, mask: np.ndarray) -> tuple[list[str], list[list[str]]]:
    """Each masked membership as "agent->kind:target" ("?" for a missing id), with its invalid fields."""
    rows = table.filter(pa.array(mask))
    records = pc.binary_join_element_wise(
        pc.fill_null(rows["agent_id"], "?"),
        pc.binary_join_element_wise(rows["kind"], pc.fill_null(rows["target_id"], "?"), ":"),
        "->",
    ).to_pylist()
    return records, [_entries(v) for v in rows["invalid_fields"].to_pylist()]


def _ranks(values: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The sorted distinct values and each row's index among them, so integer order is text order."""
    distinct = pc.unique(values)
    distinct = distinct.take(pc.sort_indices(distinct))
    return distinct, np.asarray(
        pc.index_in(values, value_set=distinct).to_numpy(zero_copy_only=False), np.int64
    )


def _grants(
    snapshot_id: str,
    memberships: pa.Table,
    agent_ids: pa.Array,
    known: dict[str, pa.Array],
    findings: _Findings,
    excluded: dict[str, int],
) -> pa.Table:
    """One grant per distinct (entitlement, agent); leaves out (and names) unmappable rows with their reason.

    A delivered membership whose `role_id` could not be read counts as direct, and is named.
    """
    agent = memberships["agent_id"]
    kind = memberships["kind"]
    target = memberships["target_id"]
    no_agent = blank(agent)
    no_target = blank(target) & ~no_agent
    bad_target = ~_usable(target) & ~no_agent & ~no_target
    bad_kind = (
        ~true_mask(pc.is_in(kind, pa.array(list(model.ENTITLEMENT_SLUG_BY_TYPE))))
        & ~no_agent
        & ~no_target
        & ~bad_target
    )
    usable = ~(no_agent | no_target | bad_target | bad_kind)
    agent_known = true_mask(pc.is_in(agent, agent_ids))
    system = usable & true_mask(pc.equal(agent, SYSTEM_AGENT_ID)) & ~agent_known
    unknown_agent = usable & ~system & ~agent_known
    ok = usable & ~system & ~unknown_agent
    target_unknown = {
        resource_type: ok & true_mask(pc.equal(kind, resource_type)) & ~true_mask(pc.is_in(target, ids))
        for resource_type, ids in known.items()
    }
    for reason, field, mask in (
        ("missing_agent_id", "agent_id", no_agent),
        ("missing_target_id", "target_id", no_target),
        ("invalid_target_id", "target_id", bad_target),
        ("unknown_kind", "kind", bad_kind),
        ("unknown_agent", "agent_id", unknown_agent),
        *((f"unknown_{resource_type}", "target_id", mask) for resource_type, mask in target_unknown.items()),
    ):
        if mask.any():
            records, entries = _membership_records(memberships, mask)
            findings.left_out(
                "agent_memberships", reason, records, field, [", ".join(e) or None for e in entries]
            )
    excluded["system_agent_memberships"] = int(system.sum())
    for mask in target_unknown.values():
        ok &= ~mask
    flagged = ok & true_mask(pc.is_valid(memberships["invalid_fields"]))
    if flagged.any():
        findings.unknown("agent_memberships", *_membership_records(memberships, flagged))

    rows = memberships if ok.all() else memberships.filter(pa.array(ok))
    is_role = pc.equal(rows["kind"], model.ROLE)
    via = rows["via_role_id"]
    inherited = ~(true_mask(is_role) | blank(via))
    # Dedupe on integer codes (ranks of kind, target, agent) instead of hashing and sorting text:
    # np.unique sorts the keys, so grants come out ordered by (kind, target id, agent id).
    kinds, kind_code = _ranks(rows["kind"])
    targets, target_code = _ranks(rows["target_id"])
    agents, agent_code = _ranks(rows["agent_id"])
    n_targets, n_agents = len(targets), len(agents)
    keys, group = np.unique(
        (kind_code * n_targets + target_code) * n_agents + agent_code, return_inverse=True
    )
    direct = np.bincount(group, weights=~inherited, minlength=len(keys)) > 0
    # Distinct source roles per grant, sorted: unique (group, role rank) pairs are sorted by both.
    roles, role_code = _ranks(via.filter(pa.array(inherited)))
    pairs = np.unique(group[inherited] * max(len(roles), 1) + role_code)
    pair_group, pair_role = np.divmod(pairs, max(len(roles), 1))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(pair_group, minlength=len(keys)))]).astype(np.int32)
    source_roles = pa.ListArray.from_arrays(pa.array(offsets), roles.take(pa.array(pair_role)))

    kind_target, agent_index = np.divmod(keys, n_agents)
    kind_index, target_index = np.divmod(kind_target, n_targets)
    kind = kinds.take(pa.array(kind_index))
    target = targets.take(pa.array(target_index))
    agent = agents.take(pa.array(agent_index))
    slug = pc.if_else(pc.equal(kind, model.ROLE), model.ASSIGNED, model.MEMBER)
    entitlement = pc.binary_join_element_wise(kind, target, slug, ":")
    count = len(keys)
    return pa.Table.from_arrays(
        [
            _repeated(snapshot_id, count),
            pc.binary_join_element_wise(entitlement, model.AGENT, agent, ":"),
            entitlement,
            kind,
            target,
            _repeated(model.AGENT, count),
            agent,
            pa.array(direct),
            source_roles,
        ],
        schema=model.CURATED_GRANTS,
    )


# ---------------------------------------------------------------------------------------------
# Entitlements and resource types
# ---------------------------------------------------------------------------------------------


def _entitlements(resources: pd.DataFrame) -> pd.DataFrame:
    frames = []
    for resource_type, slug in model.ENTITLEMENT_SLUG_BY_TYPE.items():
        rows = resources[resources["resource_type_id"] == resource_type]
        label, description = model.RESOURCE_TYPE_BY_ID[resource_type].entitlement_labels
        frames.append(
            pd.DataFrame(
                {
                    "entitlement_id": resource_type + ":" + rows["resource_id"] + f":{slug}",
                    "resource_type_id": resource_type,
                    "resource_id": rows["resource_id"],
                    "slug": slug,
                    "display_name": rows["display_name"].map(label.format),
                    "description": rows["display_name"].map(description.format),
                    "purpose": model.PURPOSE_ASSIGNMENT,
                    "grantable_to": [list(model.GRANTABLE_TO)] * len(rows),
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values("entitlement_id", kind="stable", ignore_index=True)


def _resource_types(snapshot_id: str) -> pa.Table:
    specs = model.RESOURCE_TYPES
    return pa.Table.from_arrays(
        [
            pa.array([snapshot_id] * len(specs), pa.string()),
            pa.array([s.id for s in specs], pa.string()),
            pa.array([s.display_name for s in specs], pa.string()),
            pa.array([s.trait for s in specs], pa.string()),
            pa.array([s.description for s in specs], pa.string()),
            pa.array([list(s.child_resource_type_ids) for s in specs], pa.list_(pa.string())),
        ],
        schema=model.CURATED_RESOURCE_TYPES,
    )


# ---------------------------------------------------------------------------------------------
# The stage
# ---------------------------------------------------------------------------------------------


def transform_snapshot(lake: Lake, snapshot_id: str) -> dict[str, Any]:
    """Write the curated tables of `snapshot_id` from its raw zone; return counts for XCom and logs.

    Raises `RawSnapshotError` naming the entity when a required raw entity or column is missing.
    The `users` entity is optional (end users switched off): then there are no user resources.
    """
    findings = _Findings()
    excluded: dict[str, int] = {}

    agents = _accept_ids(_read_raw(lake, "agents", snapshot_id), "agent_id", "agents", findings)
    is_system = (agents["agent_id"] == SYSTEM_AGENT_ID) & (
        agents["name"].astype("str").str.strip().str.lower() == SYSTEM_AGENT_NAME
    )
    excluded["system_agent"] = int(is_system.sum())
    agents = agents[~is_system.fillna(False)].reset_index(drop=True)
    if not lake.has_raw(snapshot_id):
        raise RawSnapshotError(f"raw snapshot {snapshot_id} is not complete: no manifest in {lake.base}")
    # Extraction with end users switched off records it in the manifest (and leaves an empty table).
    manifest = read_json(lake.raw_manifest(snapshot_id))
    users_extracted = manifest.get("include_end_users", True)
    # A manifest that names where its end users are (its own or a reused extraction) needs that file.
    users_recorded = isinstance(manifest.get("freshness"), dict) and "users" in manifest["freshness"]
    raw_users = _read_raw(lake, "users", snapshot_id, required=users_recorded) if users_extracted else None
    users = None if raw_users is None else _accept_ids(raw_users, "user_id", "users", findings)
    teams = _accept_ids(_read_raw(lake, "teams", snapshot_id), "team_id", "teams", findings)
    roles = _accept_ids(_read_raw(lake, "roles", snapshot_id), "role_id", "roles", findings)
    for entity, frame, id_column in (
        ("agents", agents, "agent_id"),
        ("users", users, "user_id"),
        ("teams", teams, "team_id"),
        ("roles", roles, "role_id"),
    ):
        if frame is not None:
            _name_unknown_fields(frame, id_column, entity, findings)
    teams["department_id"] = _department_id(teams["department_id"])
    bad_department = np.array(
        [isinstance(v, str) and not model.usable_id(v) for v in teams["department_id"]], dtype=bool
    )
    findings.unknown(
        "teams",
        [str(i) for i in teams.loc[bad_department, "team_id"]],
        [[f"department_id={truncate_value(v)}"] for v in teams.loc[bad_department, "department_id"]],
    )
    teams.loc[bad_department, "department_id"] = None
    memberships = _without_department_zero(_read_memberships(lake, snapshot_id))

    team_frame = _group_resources(model.TEAM, teams["team_id"], teams["name"], "Team")
    team_frame["status"] = _tri_state(
        teams["inactive"],
        _has_invalid(teams, "inactive"),
        model.STATUS_DISABLED,
        model.STATUS_ENABLED,
        model.STATUS_UNSPECIFIED,
    )
    department_of_team = teams["department_id"]
    team_frame["parent_resource_type_id"] = department_of_team.where(
        department_of_team.isna(), model.DEPARTMENT
    )
    team_frame["parent_resource_id"] = department_of_team

    agent_ids = pa.array(agents["agent_id"].to_numpy(dtype=object), pa.string())
    known = {
        model.TEAM: pa.array(teams["team_id"].to_numpy(dtype=object), pa.string()),
        model.ROLE: pa.array(roles["role_id"].to_numpy(dtype=object), pa.string()),
    }
    grants = _grants(snapshot_id, memberships, agent_ids, known, findings, excluded)
    # Only memberships of known agents naming a usable department id contribute departments.
    department_rows = memberships.filter(
        pc.and_(
            pc.and_(
                pc.fill_null(pc.equal(memberships["kind"], model.DEPARTMENT), False),
                pc.fill_null(pc.is_in(memberships["agent_id"], agent_ids), False),
            ),
            pa.array(_usable(memberships["target_id"])),
        )
    )

    frames = [
        _user_resources(
            agents,
            resource_type=model.AGENT,
            entity="agents",
            id_column="agent_id",
            email_column="email",
            login_column="ad",
            disabled_column="isdisabled",
            service_column="isapiagent",
            findings=findings,
        ),
        team_frame,
        _departments(teams, department_rows),
        _group_resources(model.ROLE, roles["role_id"], roles["name"], "Role"),
    ]
    if users is not None:
        frames.append(
            _user_resources(
                users,
                resource_type=model.USER,
                entity="users",
                id_column="user_id",
                email_column="emailaddress",
                login_column="login",
                disabled_column="inactive",
                service_column="isserviceaccount",
                findings=findings,
            )
        )
    non_empty = [f for f in frames if len(f)]
    # An empty tenant yields empty tables; the gate's "at least one agent" expectation then fails it.
    resources = (
        pd.concat(non_empty, ignore_index=True) if non_empty else pd.DataFrame(columns=RESOURCE_COLUMNS)
    )
    entitlements = _entitlements(resources)

    tables = {
        "resource_types": _resource_types(snapshot_id),
        "resources": _sorted(
            _to_table(resources, model.CURATED_RESOURCES, snapshot_id), ["resource_type_id", "resource_id"]
        ),
        "entitlements": _to_table(entitlements, model.CURATED_ENTITLEMENTS, snapshot_id),
        "grants": grants,
        "rejected_rows": findings.rejected_table(snapshot_id),
        "data_issues": findings.issues_table(snapshot_id),
    }
    paths = {name: lake.curated_file(name, snapshot_id) for name in tables}
    # Parquet encoding releases the GIL: writing the tables side by side hides the small ones
    # behind the grants file.
    with ThreadPoolExecutor(max_workers=len(tables)) as pool:
        list(pool.map(write_parquet, paths.values(), tables.values()))

    rejected = {f"{entity}/{reason}": count for entity, reason, count, _ in sorted(findings.rows)}
    unknown = findings.counts(model.ISSUE_UNKNOWN)
    named = findings.named()
    stats = {
        "snapshot_id": snapshot_id,
        "rows": {name: table.num_rows for name, table in tables.items()},
        "resources_by_type": {
            str(k): int(v) for k, v in resources["resource_type_id"].value_counts().sort_index().items()
        },
        "rejected": rejected,
        "unknown_fields": unknown,
        "issues_named": named,
        "excluded": excluded,
        "end_users_extracted": users is not None,
        "paths": {name: str(path) for name, path in paths.items()},
    }
    if unknown:
        log.warning(
            "snapshot %s: delivered with fields unknown (unreadable in HaloITSM) %s", snapshot_id, unknown
        )
    if rejected:
        log.warning("snapshot %s: raw rows left out %s", snapshot_id, rejected)
    if named:
        issues = len(findings.issues)
        more = f"; {issues - len(named)} more" if issues > len(named) else ""
        log.warning(
            "snapshot %s: data issues, by id:\n  %s\n(all %d in %s%s)",
            snapshot_id,
            "\n  ".join(named),
            issues,
            paths["data_issues"],
            more,
        )
    log.info("snapshot %s: curated %s", snapshot_id, stats["rows"])
    return stats
