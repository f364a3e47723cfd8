"""Raw → curated: turn one raw HaloITSM snapshot into the access model's tables (ARCHITECTURE §2).

`transform_snapshot(lake, snapshot_id)` reads the raw zone and writes `resource_types`, `resources`,
`entitlements`, `grants` and `rejected_rows` under `curated/`. It is deterministic (explicit sorts,
no wall-clock values), so re-running a snapshot rewrites byte-identical Parquet files, and it is
vectorised (pandas for the ~100k entity rows, pyarrow compute for the ~1M membership rows).

Decisions where Halo or the spec is silent:
- Halo's system "Unassigned" agent is recognised as agent id "1" whose trimmed name is "Unassigned"
  (case-insensitive). It and its memberships are excluded by design: not rejected, but counted in
  the returned stats under `excluded`.
- Raw ids are kept as given; a null or blank id is a missing id. Duplicate ids keep the first row
  in raw order; the others are counted as `duplicate_id`.
- Null booleans mean false (Halo omits false flags): a null `isdisabled`/`inactive` is ENABLED. A
  flag that is not a boolean at all ("yes", 1, "enabled"; extraction records it in `invalid_flags`)
  rejects its row as `invalid_flag`, never guessed ENABLED.
- `lastlogindate` is a naive ISO string in Halo's server time, read as UTC. Unparseable values and
  Halo's "no date" sentinel (anything before 1901, e.g. 1900-01-01) become null.
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
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from halo_c1 import model
from halo_c1.columns import true_mask
from halo_c1.errors import PermanentError
from halo_c1.freshness import raw_entity_file
from halo_c1.lake import Lake, read_json, write_parquet

log = logging.getLogger(__name__)

MAX_EXAMPLES: Final = 3
SYSTEM_AGENT_ID: Final = "1"
SYSTEM_AGENT_NAME: Final = "unassigned"
# Before this, a Halo date is its "no date" sentinel (1900-01-01), not a real login.
FIRST_REAL_LOGIN: Final = pd.Timestamp("1901-01-01", tz="UTC")

# Raw columns added after snapshots were first archived: absent means "none recorded".
OPTIONAL_RAW_COLUMNS: Final = frozenset({"invalid_flags"})


class RawSnapshotError(PermanentError, ValueError):
    """The raw snapshot is missing a required entity or column."""


# ---------------------------------------------------------------------------------------------
# Reading the raw zone
# ---------------------------------------------------------------------------------------------


def _read_raw(lake: Lake, entity: str, snapshot_id: str, *, required: bool = True) -> pd.DataFrame | None:
    """The raw entity's columns except `raw_json` (large, unused here); None if optional and absent.
    End users may come from an earlier extraction the snapshot reuses (`halo_c1.freshness`)."""
    path = raw_entity_file(lake, entity, snapshot_id)
    if not path.exists():
        if required:
            raise RawSnapshotError(f"raw snapshot {snapshot_id}: entity {entity!r} is missing ({path})")
        return None
    wanted = [name for name in model.RAW_ENTITIES[entity].names if name != "raw_json"]
    with path.open("rb") as handle:
        parquet = pq.ParquetFile(handle)
        present = set(parquet.schema_arrow.names)
        missing = sorted(set(wanted) - present - OPTIONAL_RAW_COLUMNS)
        if missing:
            raise RawSnapshotError(f"raw snapshot {snapshot_id}: entity {entity!r} lacks columns {missing}")
        table = parquet.read(columns=[name for name in wanted if name in present])
    frame = table.to_pandas()
    for name in OPTIONAL_RAW_COLUMNS & (set(wanted) - present):
        frame[name] = None  # a snapshot archived before the column existed
    return frame


def _read_memberships(lake: Lake, snapshot_id: str) -> pa.Table:
    path = raw_entity_file(lake, "agent_memberships", snapshot_id)
    if not path.exists():
        raise RawSnapshotError(f"raw snapshot {snapshot_id}: entity 'agent_memberships' is missing ({path})")
    wanted = ["agent_id", "kind", "target_id", "target_name", "via_role_id"]
    with path.open("rb") as handle:
        parquet = pq.ParquetFile(handle)
        missing = sorted(set(wanted) - set(parquet.schema_arrow.names))
        if missing:
            raise RawSnapshotError(
                f"raw snapshot {snapshot_id}: entity 'agent_memberships' lacks columns {missing}"
            )
        return parquet.read(columns=wanted)


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


def _parse_login(values: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    return parsed.where(parsed >= FIRST_REAL_LOGIN)


class _Rejects:
    """Rejected raw rows, counted per (entity, reason) with a few example ids."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, int, list[str]]] = []

    def add(
        self, entity: str, reason: str, examples: pd.Series | list[str], count: int | None = None
    ) -> None:
        examples = list(examples)
        count = len(examples) if count is None else count
        if count:
            self.rows.append((entity, reason, count, [str(e) for e in examples[:MAX_EXAMPLES]]))

    def table(self, snapshot_id: str) -> pa.Table:
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


def _accept_ids(frame: pd.DataFrame, id_column: str, entity: str, rejects: _Rejects) -> pd.DataFrame:
    """Rows with a usable, first-seen id; missing and duplicate ids are counted, not dropped silently."""
    ids = frame[id_column]
    missing = ids.isna() | (ids.astype("str").str.strip() == "")
    rejects.add(
        entity,
        "missing_id",
        [f"row:{i}" for i in np.flatnonzero(missing.to_numpy())[:MAX_EXAMPLES]],
        int(missing.sum()),
    )
    present = frame[~missing]
    duplicate = present[id_column].duplicated(keep="first")
    rejects.add(
        entity, "duplicate_id", present.loc[duplicate, id_column].drop_duplicates(), int(duplicate.sum())
    )
    accepted = present[~duplicate]
    if "invalid_flags" in accepted:
        invalid = np.array(
            [flags is not None and len(flags) > 0 for flags in accepted["invalid_flags"]], dtype=bool
        )
        bad = accepted[invalid]
        rejects.add(
            entity,
            "invalid_flag",
            [
                f"{row_id} ({', '.join(flags)})"
                for row_id, flags in zip(bad[id_column], bad["invalid_flags"], strict=True)
            ],
        )
        accepted = accepted[~invalid]
    return accepted.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Resources
# ---------------------------------------------------------------------------------------------

RESOURCE_COLUMNS: Final = [f.name for f in model.CURATED_RESOURCES if f.name != "snapshot_id"]


def _user_resources(
    frame: pd.DataFrame,
    *,
    resource_type: str,
    id_column: str,
    email_column: str,
    login_column: str,
    disabled_column: str,
    service_column: str,
) -> pd.DataFrame:
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
            "status": np.where(_flag(frame[disabled_column]), model.STATUS_DISABLED, model.STATUS_ENABLED),
            "email": email,
            "email_normalized": email.str.lower(),
            "login": _first_of(_clean(frame[login_column]), email),
            "account_type": np.where(
                _flag(frame[service_column]), model.ACCOUNT_SERVICE, model.ACCOUNT_HUMAN
            ),
            "given_name": given,
            "family_name": family,
            "last_login": _parse_login(frame["lastlogindate"]),
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
    arrays = [pa.array([snapshot_id] * len(frame), pa.string())]
    for field in schema:
        if field.name == "snapshot_id":
            continue
        column = frame[field.name] if field.name in frame else pd.Series([None] * len(frame), dtype=object)
        arrays.append(pa.Array.from_pandas(column, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


# ---------------------------------------------------------------------------------------------
# Grants
# ---------------------------------------------------------------------------------------------


def _blank(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), True)


def _membership_examples(table: pa.Table, mask: np.ndarray) -> list[str]:
    rows = table.take(pa.array(np.flatnonzero(mask)[:MAX_EXAMPLES]))
    return [
        f"{agent}->{kind}:{target}"
        for agent, kind, target in zip(
            rows["agent_id"].to_pylist(), rows["kind"].to_pylist(), rows["target_id"].to_pylist(), strict=True
        )
    ]


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
    rejects: _Rejects,
    excluded: dict[str, int],
) -> pa.Table:
    """One grant per distinct (entitlement, agent); rejects unmappable rows with their reason."""
    agent = memberships["agent_id"]
    kind = memberships["kind"]
    target = memberships["target_id"]
    no_agent = true_mask(_blank(agent))
    no_target = true_mask(_blank(target)) & ~no_agent
    bad_kind = (
        ~true_mask(pc.is_in(kind, pa.array(list(model.ENTITLEMENT_SLUG_BY_TYPE)))) & ~no_agent & ~no_target
    )
    usable = ~(no_agent | no_target | bad_kind)
    agent_known = true_mask(pc.is_in(agent, agent_ids))
    system = usable & true_mask(pc.equal(agent, SYSTEM_AGENT_ID)) & ~agent_known
    unknown_agent = usable & ~system & ~agent_known
    ok = usable & ~system & ~unknown_agent
    target_unknown = {
        resource_type: ok & true_mask(pc.equal(kind, resource_type)) & ~true_mask(pc.is_in(target, ids))
        for resource_type, ids in known.items()
    }
    for reason, mask in (
        ("missing_agent_id", no_agent),
        ("missing_target_id", no_target),
        ("unknown_kind", bad_kind),
        ("unknown_agent", unknown_agent),
        *((f"unknown_{resource_type}", mask) for resource_type, mask in target_unknown.items()),
    ):
        rejects.add("agent_memberships", reason, _membership_examples(memberships, mask), int(mask.sum()))
    excluded["system_agent_memberships"] = int(system.sum())
    for mask in target_unknown.values():
        ok &= ~mask

    rows = memberships if ok.all() else memberships.filter(pa.array(ok))
    is_role = pc.equal(rows["kind"], model.ROLE)
    via = rows["via_role_id"]
    inherited = ~true_mask(pc.or_(is_role, _blank(via)))
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
            pa.array([snapshot_id] * count, pa.string()),
            pc.binary_join_element_wise(entitlement, model.AGENT, agent, ":"),
            entitlement,
            kind,
            target,
            pa.array([model.AGENT] * count, pa.string()),
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
    rejects = _Rejects()
    excluded: dict[str, int] = {}

    agents = _accept_ids(_read_raw(lake, "agents", snapshot_id), "agent_id", "agents", rejects)
    is_system = (agents["agent_id"] == SYSTEM_AGENT_ID) & (
        agents["name"].astype("str").str.strip().str.lower() == SYSTEM_AGENT_NAME
    )
    excluded["system_agent"] = int(is_system.sum())
    agents = agents[~is_system.fillna(False)]
    if not lake.has_raw(snapshot_id):
        raise RawSnapshotError(f"raw snapshot {snapshot_id} is not complete: no manifest in {lake.base}")
    # Extraction with end users switched off records it in the manifest (and leaves an empty table).
    manifest = read_json(lake.raw_manifest(snapshot_id))
    users_extracted = manifest.get("include_end_users", True)
    # A manifest that names where its end users are (its own or a reused extraction) needs that file.
    users_recorded = isinstance(manifest.get("freshness"), dict) and "users" in manifest["freshness"]
    raw_users = _read_raw(lake, "users", snapshot_id, required=users_recorded) if users_extracted else None
    users = None if raw_users is None else _accept_ids(raw_users, "user_id", "users", rejects)
    teams = _accept_ids(_read_raw(lake, "teams", snapshot_id), "team_id", "teams", rejects)
    roles = _accept_ids(_read_raw(lake, "roles", snapshot_id), "role_id", "roles", rejects)
    teams["department_id"] = _department_id(teams["department_id"])
    memberships = _without_department_zero(_read_memberships(lake, snapshot_id))

    team_frame = _group_resources(model.TEAM, teams["team_id"], teams["name"], "Team")
    team_frame["status"] = np.where(_flag(teams["inactive"]), model.STATUS_DISABLED, model.STATUS_ENABLED)
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
    grants = _grants(snapshot_id, memberships, agent_ids, known, rejects, excluded)
    # Only memberships of known agents contribute departments.
    department_rows = memberships.filter(
        pc.and_(
            pc.fill_null(pc.equal(memberships["kind"], model.DEPARTMENT), False),
            pc.fill_null(pc.is_in(memberships["agent_id"], agent_ids), False),
        )
    )

    frames = [
        _user_resources(
            agents,
            resource_type=model.AGENT,
            id_column="agent_id",
            email_column="email",
            login_column="ad",
            disabled_column="isdisabled",
            service_column="isapiagent",
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
                id_column="user_id",
                email_column="emailaddress",
                login_column="login",
                disabled_column="inactive",
                service_column="isserviceaccount",
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
        "rejected_rows": rejects.table(snapshot_id),
    }
    paths = {name: lake.curated_file(name, snapshot_id) for name in tables}
    # Parquet encoding releases the GIL: writing the tables side by side hides the small ones
    # behind the grants file.
    with ThreadPoolExecutor(max_workers=len(tables)) as pool:
        list(pool.map(write_parquet, paths.values(), tables.values()))

    rejected = {f"{entity}/{reason}": count for entity, reason, count, _ in sorted(rejects.rows)}
    stats = {
        "snapshot_id": snapshot_id,
        "rows": {name: table.num_rows for name, table in tables.items()},
        "resources_by_type": {
            str(k): int(v) for k, v in resources["resource_type_id"].value_counts().sort_index().items()
        },
        "rejected": rejected,
        "excluded": excluded,
        "end_users_extracted": users is not None,
        "paths": {name: str(path) for name, path in paths.items()},
    }
    if rejected:
        log.warning("snapshot %s: rejected raw rows %s", snapshot_id, rejected)
    log.info("snapshot %s: curated %s", snapshot_id, stats["rows"])
    return stats
