"""What the quality gate checks: one pandas frame per curated table plus derived columns, and the
expectations on them as plain data (GX is imported only by `gate.py`, when the gate runs).

Referential integrity and cross-column rules are derived columns computed here with pyarrow
(`is_in` against the parent keys), then checked by GX as `ExpectColumnValuesToBeInSet([True])`:
a million-value `value_set` takes minutes in GX, `is_in` takes milliseconds. Access findings are
derived columns holding the offending resource id (null otherwise), checked with
`ExpectColumnValuesToBeNull`, so Data Docs list a few ids, never emails.

Severity policy for rows left out (`rejected_rows`): every (entity, reason) pair is a warning,
except an error when it is an agent without a usable id (an agent we cannot represent is access a
review would miss) or when the reason covers more than `REJECTED_ERROR_SHARE` of the entity's raw
rows (a share that large means the extraction or Halo's API changed, not a few odd rows).

Fields delivered as unknown (`data_issues`, docs/data-quality-rules.md) are always warnings, one
per raw entity, whose examples name the ids: the row is delivered with the field UNSPECIFIED or
empty, which is what HaloITSM says about it, so failing the run would only keep C1 on an older,
wrong view (and a whole-tenant change shows in the change log as resource_status_unknown).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from halo_c1 import model
from halo_c1.columns import full_match, join_ids, true_mask
from halo_c1.freshness import raw_entity_file
from halo_c1.lake import Lake, parquet_row_count, read_parquet

log = logging.getLogger(__name__)

ERROR: Final = "error"
WARNING: Final = "warning"
REJECTED_ERROR_SHARE: Final = 0.01
ALWAYS_ERROR_REJECTS: Final = frozenset({("agents", "missing_id"), ("agents", "invalid_id")})
EMAIL_REGEX: Final = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
USER_TRAIT_TYPES: Final = tuple(s.id for s in model.RESOURCE_TYPES if s.trait == model.TRAIT_USER)
CURATED_CHECKED: Final = ("resource_types", "resources", "entitlements", "grants")


@dataclass(frozen=True)
class Check:
    """One expectation: `expectation` is a GX expectation class name, `kwargs` its arguments."""

    table: str
    name: str
    expectation: str
    kwargs: dict[str, Any]
    severity: str
    description: str
    meta: dict[str, Any] = field(default_factory=dict)
    # Offending values are personal data (emails): Data Docs show a few, the returned result none,
    # because the result travels through XCom and logs.
    personal_values: bool = False
    # What the unexpected count is out of, e.g. ("agents", 60): GX counts every row of the frame
    # (all resources), which is the wrong base for a finding about agents. None: the table's rows.
    population: tuple[str, int] | None = None


class TableFrame:
    """A curated table and its derived check columns, turned into pandas one column set at a time.

    GX validates at most two columns at once (`gate._validate_by_columns`); holding every table's
    whole pandas frame for the gate's whole run, on top of the Arrow tables, made the gate's peak
    memory the sum of all of them (2.4 GiB on the largest tenant). Only the columns asked for are
    converted, when their expectations run.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.derived: dict[str, Any] = {}

    def __setitem__(self, name: str, values: Any) -> None:
        """A derived column: a numpy array, pandas Series, or Arrow array of the table's length."""
        self.derived[name] = values

    def __len__(self) -> int:
        return self.table.num_rows

    def columns(self, names: tuple[str, ...]) -> pd.DataFrame:
        """The named columns as pandas (no columns: the rows only). A name the table lacks is left
        out, so GX reports the missing column as it would on the whole frame."""
        stored = [name for name in names if name in self.table.column_names and name not in self.derived]
        frame = _frame(self.table.select(stored)) if stored else pd.DataFrame(index=pd.RangeIndex(len(self)))
        for name in names:
            if name in self.derived:
                values = self.derived[name]
                frame[name] = values.to_pandas() if isinstance(values, pa.ChunkedArray | pa.Array) else values
        return frame


@dataclass
class GateInput:
    """The tables GX validates (each with its derived columns) and the checks to run on them."""

    frames: dict[str, TableFrame]
    checks: list[Check]


def _not_null(table: str, schema: pa.Schema) -> list[Check]:
    return [
        Check(
            table,
            f"{f.name}_not_null",
            "ExpectColumnValuesToNotBeNull",
            {"column": f.name},
            ERROR,
            f"{table}.{f.name} is never null (required by the model schema)",
        )
        for f in schema
        if not f.nullable
    ]


def _in_set(table: str, column: str, values: list[str], severity: str, description: str) -> Check:
    return Check(
        table,
        f"{column}_in_set",
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": values},
        severity,
        description,
    )


def _all_true(table: str, column: str, severity: str, description: str) -> Check:
    return Check(
        table,
        column,
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": [True]},
        severity,
        description,
    )


def _finding(table: str, column: str, description: str, population: tuple[str, int]) -> Check:
    return Check(
        table,
        column,
        "ExpectColumnValuesToBeNull",
        {"column": column},
        WARNING,
        description,
        population=population,
    )


def _ids_where(ids: pa.ChunkedArray, mask: np.ndarray) -> pd.Series:
    return pd.Series(pc.if_else(pa.array(mask), ids, pa.scalar(None, pa.string())).to_pandas(), dtype="str")


def _frame(table: pa.Table) -> pd.DataFrame:
    """The table as pandas, list columns joined with "," (null stays null): pandas lists are slow and
    GX checks them as text."""
    columns = [
        pc.binary_join(column, ",") if pa.types.is_list(column.type) else column for column in table.columns
    ]
    return pa.table(columns, names=table.column_names).to_pandas()


def _previous_counts(lake: Lake, previous_snapshot_id: str) -> tuple[dict[str, int], list[str]]:
    """Row counts of the previous snapshot's curated tables (Parquet metadata) and its resource types."""
    counts: dict[str, int] = {}
    for table in CURATED_CHECKED:
        path = lake.curated_file(table, previous_snapshot_id)
        if path.exists():
            counts[table] = parquet_row_count(path)
    types: list[str] = []
    resources = lake.curated_file("resources", previous_snapshot_id)
    if resources.exists():
        types = sorted(
            set(read_parquet(resources, columns=["resource_type_id"])["resource_type_id"].to_pylist())
        )
    return counts, types


def _raw_row_count(lake: Lake, entity: str, snapshot_id: str) -> int | None:
    path = raw_entity_file(lake, entity, snapshot_id)
    return parquet_row_count(path) if path.exists() else None


@dataclass(frozen=True)
class _Curated:
    """The snapshot's curated tables, and the resource keys every reference check looks up."""

    tables: dict[str, pa.Table]
    resource_keys: pa.ChunkedArray

    def __getitem__(self, name: str) -> pa.Table:
        return self.tables[name]


def _duplicates(values: pa.ChunkedArray) -> pa.Array:
    """Each value that occurs more than once (null elsewhere)."""
    encoded = pc.dictionary_encode(values.combine_chunks())
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    counts = np.bincount(codes[codes >= 0], minlength=len(encoded.dictionary))
    repeated = (codes >= 0) & (counts[np.maximum(codes, 0)] > 1)
    return pc.if_else(pa.array(repeated), values.combine_chunks(), pa.scalar(None, values.type))


def _unique(frame: TableFrame, table: str, column: str, description: str) -> Check:
    """Uniqueness found in Arrow and checked as "no duplicate": GX's own uniqueness check turns the
    column into Python strings (about 1 GiB for the largest tenant's 3.4M grant ids)."""
    values = frame.derived[column] if column in frame.derived else frame.table[column]
    frame[f"{column}_duplicate"] = _duplicates(values)
    return Check(
        table,
        f"{column}_unique",
        "ExpectColumnValuesToBeNull",
        {"column": f"{column}_duplicate"},
        ERROR,
        description,
    )


def _matches(frame: TableFrame, table: str, column: str, regex: str, description: str) -> Check:
    """A format check run in Arrow, checked as "no malformed value": GX's regex check turns the
    column into Python strings (about 1 GiB for the largest tenant's 3.4M grant ids)."""
    values = frame.table[column]
    frame[f"{column}_malformed"] = pc.if_else(
        pa.array(full_match(values, regex)), pa.scalar(None, values.type), values
    )
    return Check(
        table,
        f"{column}_format",
        "ExpectColumnValuesToBeNull",
        {"column": f"{column}_malformed"},
        ERROR,
        description,
    )


def _resource_types(curated: _Curated) -> tuple[TableFrame, list[Check]]:
    table = "resource_types"
    frame = TableFrame(curated[table])
    return frame, [
        _unique(frame, table, "resource_type_id", "each resource type appears once"),
        Check(
            table,
            "resource_types_are_the_model",
            "ExpectColumnDistinctValuesToEqualSet",
            {"column": "resource_type_id", "value_set": list(model.RESOURCE_TYPE_BY_ID)},
            ERROR,
            "the resource types are exactly the model's (ARCHITECTURE §2)",
        ),
        _in_set(table, "trait", list(model.TRAITS), ERROR, "trait is user, group or role"),
        *_not_null(table, model.CURATED_RESOURCE_TYPES),
    ]


def _resources(curated: _Curated) -> tuple[TableFrame, list[Check]]:
    table, resources = "resources", curated["resources"]
    r_type = resources["resource_type_id"]
    parent_type, parent_id = resources["parent_resource_type_id"], resources["parent_resource_id"]
    has_parent = true_mask(pc.or_(pc.is_valid(parent_type), pc.is_valid(parent_id)))
    is_team = true_mask(pc.equal(r_type, model.TEAM))
    is_user_trait = true_mask(pc.is_in(r_type, pa.array(USER_TRAIT_TYPES)))
    frame = TableFrame(resources)
    frame["resource_key"] = curated.resource_keys
    frame["parent_exists"] = ~has_parent | true_mask(
        pc.is_in(join_ids(parent_type, parent_id), curated.resource_keys)
    )
    frame["team_parent_is_department"] = (
        ~is_team | ~has_parent | true_mask(pc.equal(parent_type, model.DEPARTMENT))
    )
    frame["account_type_matches_trait"] = is_user_trait == true_mask(pc.is_valid(resources["account_type"]))
    return frame, [
        _unique(frame, table, "resource_key", "each (resource_type_id, resource_id) pair appears once"),
        *_not_null(table, model.CURATED_RESOURCES),
        _in_set(
            table,
            "resource_type_id",
            list(model.RESOURCE_TYPE_BY_ID),
            ERROR,
            "resource_type_id is one of the model's resource types",
        ),
        _matches(
            frame,
            table,
            "resource_id",
            model.ID_REGEX,
            "resource_id has no whitespace or ':' (it is joined into entitlement and grant ids)",
        ),
        _in_set(
            table,
            "status",
            list(model.STATUSES),
            ERROR,
            "status is ENABLED, DISABLED or UNSPECIFIED (unreadable in HaloITSM, named in data_issues)",
        ),
        _in_set(
            table,
            "account_type",
            list(model.ACCOUNT_TYPES),
            ERROR,
            "account_type is HUMAN, SERVICE or UNSPECIFIED (unreadable in HaloITSM, named in data_issues)",
        ),
        _all_true(
            table,
            "account_type_matches_trait",
            ERROR,
            "agents and end users have an account type; groups and roles have none",
        ),
        _all_true(table, "parent_exists", ERROR, "every resource's parent exists in resources"),
        _all_true(table, "team_parent_is_department", ERROR, "a team's parent is a department"),
        Check(
            table,
            "email_syntax",
            "ExpectColumnValuesToMatchRegex",
            {"column": "email", "regex": EMAIL_REGEX},
            WARNING,
            "primary emails look like addresses",
            personal_values=True,
            population=("resources with an email", int(true_mask(pc.is_valid(resources["email"])).sum())),
        ),
        Check(
            table,
            "at_least_one_agent",
            "ExpectColumnDistinctValuesToContainSet",
            {"column": "resource_type_id", "value_set": [model.AGENT]},
            ERROR,
            "the snapshot has at least one agent",
        ),
    ]


def _access_findings(curated: _Curated) -> tuple[dict[str, pd.Series], list[Check]]:
    """Columns on the resources frame naming agents whose access deserves a look (warnings)."""
    resources, grants = curated["resources"], curated["grants"]
    r_type, r_id = resources["resource_type_id"], resources["resource_id"]
    g_type, g_principal = grants["resource_type_id"], grants["principal_resource_id"]
    with_role = true_mask(pc.is_in(r_id, pc.unique(g_principal.filter(pc.equal(g_type, model.ROLE)))))
    in_team = true_mask(pc.is_in(r_id, pc.unique(g_principal.filter(pc.equal(g_type, model.TEAM)))))
    is_agent = true_mask(pc.equal(r_type, model.AGENT))
    disabled = is_agent & true_mask(pc.equal(resources["status"], model.STATUS_DISABLED))
    api = is_agent & true_mask(pc.equal(resources["account_type"], model.ACCOUNT_SERVICE))
    no_email = is_agent & ~true_mask(pc.is_valid(resources["email"]))
    findings = (
        (
            "agent_without_email",
            no_email,
            "agents without an email (C1 cannot match them to people)",
            ("agents", is_agent),
        ),
        (
            "disabled_agent_holding_role",
            disabled & with_role,
            "disabled agents still holding roles",
            ("disabled agents", disabled),
        ),
        (
            "disabled_agent_in_team",
            disabled & in_team,
            "disabled agents still in teams",
            ("disabled agents", disabled),
        ),
        ("api_agent_holding_role", api & with_role, "API agents holding roles", ("API agents", api)),
    )
    columns = {name: _ids_where(r_id, mask) for name, mask, _, _ in findings}
    checks = [
        _finding("resources", name, description, (population, int(among.sum())))
        for name, _, description, (population, among) in findings
    ]
    return columns, checks


def _entitlements(curated: _Curated) -> tuple[TableFrame, list[Check]]:
    table, entitlements = "entitlements", curated["entitlements"]
    e_id, e_type, e_resource = (
        entitlements["entitlement_id"],
        entitlements["resource_type_id"],
        entitlements["resource_id"],
    )
    frame = TableFrame(entitlements)
    frame["id_matches_columns"] = true_mask(
        pc.equal(e_id, join_ids(e_type, e_resource, entitlements["slug"]))
    )
    frame["slug_matches_type"] = true_mask(pc.equal(entitlements["slug"], _slug_of(e_type)))
    frame["resource_exists"] = true_mask(pc.is_in(join_ids(e_type, e_resource), curated.resource_keys))
    return frame, [
        _unique(frame, table, "entitlement_id", "each entitlement id appears once"),
        *_not_null(table, model.CURATED_ENTITLEMENTS),
        _matches(
            frame,
            table,
            "entitlement_id",
            model.entitlement_id_regex(),
            "entitlement ids are team:<id>:member, department:<id>:member or role:<id>:assigned",
        ),
        _all_true(table, "id_matches_columns", ERROR, "entitlement_id = resource_type_id:resource_id:slug"),
        _all_true(table, "slug_matches_type", ERROR, "roles are 'assigned', teams and departments 'member'"),
        _in_set(table, "purpose", [model.PURPOSE_ASSIGNMENT], ERROR, "purpose is ASSIGNMENT"),
        _in_set(
            table,
            "grantable_to",
            [",".join(model.GRANTABLE_TO)],
            ERROR,
            "entitlements are grantable to agents only",
        ),
        _all_true(table, "resource_exists", ERROR, "every entitlement's resource exists in resources"),
    ]


def _grants(curated: _Curated) -> tuple[TableFrame, list[Check]]:
    table, grants, entitlements = "grants", curated["grants"], curated["entitlements"]
    resources = curated["resources"]
    g_type, g_entitlement = grants["resource_type_id"], grants["entitlement_id"]
    g_ptype, g_principal = grants["principal_resource_type_id"], grants["principal_resource_id"]
    e_id = entitlements["entitlement_id"]
    owners = e_id.combine_chunks().take(pc.list_parent_indices(entitlements["grantable_to"]))
    # "<entitlement_id>|<principal type>" for every type each entitlement is grantable to.
    grantable = pc.binary_join_element_wise(owners, pc.list_flatten(entitlements["grantable_to"]), "|")
    roles = resources["resource_id"].filter(pc.equal(resources["resource_type_id"], model.ROLE))
    sources = grants["source_role_ids"].combine_chunks()
    unknown_source = np.zeros(grants.num_rows, dtype=bool)
    bad_flat = ~true_mask(pc.is_in(pc.list_flatten(sources), roles))
    unknown_source[np.asarray(pc.list_parent_indices(sources))[bad_flat]] = True
    frame = TableFrame(grants)
    frame["id_matches_columns"] = true_mask(
        pc.and_(
            pc.equal(grants["grant_id"], join_ids(g_entitlement, g_ptype, g_principal)),
            pc.equal(g_entitlement, join_ids(g_type, grants["resource_id"], _slug_of(g_type))),
        )
    )
    frame["entitlement_exists"] = true_mask(pc.is_in(g_entitlement, e_id))
    frame["principal_exists"] = true_mask(pc.is_in(join_ids(g_ptype, g_principal), curated.resource_keys))
    frame["principal_type_grantable"] = true_mask(
        pc.is_in(pc.binary_join_element_wise(g_entitlement, g_ptype, "|"), grantable)
    )
    frame["has_origin"] = true_mask(pc.or_(grants["is_direct"], pc.greater(pc.list_value_length(sources), 0)))
    frame["source_roles_exist"] = ~unknown_source
    return frame, [
        _unique(frame, table, "grant_id", "one grant per (entitlement, principal)"),
        *_not_null(table, model.CURATED_GRANTS),
        _matches(
            frame,
            table,
            "grant_id",
            model.grant_id_regex(),
            "grant ids are <entitlement_id>:agent:<agent_id>",
        ),
        _all_true(
            table,
            "id_matches_columns",
            ERROR,
            "grant_id = entitlement_id:principal_type:principal_id and entitlement_id matches its columns",
        ),
        _all_true(table, "entitlement_exists", ERROR, "every grant's entitlement exists"),
        _all_true(table, "principal_exists", ERROR, "every grant's principal exists in resources"),
        _all_true(
            table,
            "principal_type_grantable",
            ERROR,
            "the principal's type is one the entitlement is grantable to",
        ),
        _all_true(table, "has_origin", ERROR, "a grant is direct or inherited from at least one role"),
        _all_true(
            table, "source_roles_exist", WARNING, "roles a grant was inherited from exist in resources"
        ),
    ]


def _volume(lake: Lake, previous_snapshot_id: str | None) -> list[Check]:
    """Warnings when a table emptied or a resource type vanished since the previous delivery."""
    if not previous_snapshot_id:
        return []
    counts, previous_types = _previous_counts(lake, previous_snapshot_id)
    if not counts:
        log.warning(
            "quality gate: previous snapshot %s has no curated tables; volume checks skipped",
            previous_snapshot_id,
        )
    checks = [
        Check(
            table,
            "not_emptied_since_previous",
            "ExpectTableRowCountToBeBetween",
            {"min_value": 1},
            WARNING,
            f"{table} had {count} rows in {previous_snapshot_id}; it is not empty now",
            {"previous_snapshot_id": previous_snapshot_id, "previous_rows": count},
        )
        for table, count in counts.items()
        if count
    ]
    if previous_types:
        checks.append(
            Check(
                "resources",
                "resource_types_kept_since_previous",
                "ExpectColumnDistinctValuesToContainSet",
                {"column": "resource_type_id", "value_set": previous_types},
                WARNING,
                f"every resource type present in {previous_snapshot_id} is still present",
                {"previous_snapshot_id": previous_snapshot_id},
            )
        )
    return checks


def _slug_of(resource_types: pa.ChunkedArray) -> pa.ChunkedArray:
    """The model's entitlement slug for each resource type id (null for types without entitlements)."""
    types = pa.array(list(model.ENTITLEMENT_SLUG_BY_TYPE))
    slugs = pa.array(list(model.ENTITLEMENT_SLUG_BY_TYPE.values()))
    return slugs.take(pc.index_in(resource_types, types))


def _read_curated(lake: Lake, snapshot_id: str) -> dict[str, pa.Table]:
    tables = {}
    for name in (*CURATED_CHECKED, "rejected_rows", "data_issues"):
        path = lake.curated_file(name, snapshot_id)
        if name == "data_issues" and not path.exists():  # curated before the table existed
            tables[name] = model.CURATED_DATA_ISSUES.empty_table()
            continue
        if not path.exists():
            raise FileNotFoundError(
                f"quality gate: curated table {name!r} of snapshot {snapshot_id} is missing ({path})"
            )
        tables[name] = read_parquet(path)
        missing = sorted(set(model.CURATED_TABLES[name].names) - set(tables[name].column_names))
        if missing:
            raise ValueError(
                f"quality gate: curated table {name!r} of snapshot {snapshot_id} lacks columns {missing}"
            )
    return tables


def build_gate_input(lake: Lake, snapshot_id: str, previous_snapshot_id: str | None = None) -> GateInput:
    """Read the snapshot's curated tables and build each table's frame (with derived columns) and checks.

    Adding an expectation means adding it to the builder of its table.
    """
    tables = _read_curated(lake, snapshot_id)
    resources = tables["resources"]
    curated = _Curated(tables, join_ids(resources["resource_type_id"], resources["resource_id"]))
    frames: dict[str, TableFrame] = {}
    checks: list[Check] = []
    for name, build in (
        ("resource_types", _resource_types),
        ("resources", _resources),
        ("entitlements", _entitlements),
        ("grants", _grants),
    ):
        frames[name], table_checks = build(curated)
        checks += table_checks
    findings, finding_checks = _access_findings(curated)
    for column, values in findings.items():
        frames["resources"][column] = values
    checks += finding_checks + _volume(lake, previous_snapshot_id)
    frames["rejected_rows"], reject_checks = _rejected(lake, snapshot_id, tables)
    checks += reject_checks
    frames["data_issues"], issue_checks = _unknown_fields(lake, snapshot_id, tables)
    checks += issue_checks
    return GateInput(frames=frames, checks=checks)


def _unknown_fields(
    lake: Lake, snapshot_id: str, tables: dict[str, pa.Table]
) -> tuple[TableFrame, list[Check]]:
    """One column per raw entity naming "<id> (<field>)" for each field delivered as unknown, and a
    warning per entity (a stable series in dq_history; examples are ids and field names only)."""
    issues = tables["data_issues"].filter(pc.equal(tables["data_issues"]["outcome"], model.ISSUE_UNKNOWN))
    labels = pc.binary_join_element_wise(issues["record"], " (", issues["field"], ")", "")
    frame = TableFrame(issues)
    checks = []
    for entity in model.ISSUE_ENTITIES:
        mine = true_mask(pc.equal(issues["entity"], entity))
        frame[entity] = _ids_where(labels, mine)
        raw_rows = _raw_row_count(lake, entity, snapshot_id) or 0
        checks.append(
            Check(
                "data_issues",
                f"{entity}.unknown_fields",
                "ExpectColumnValuesToBeNull",
                {"column": entity},
                WARNING,
                f"every field of the raw {entity} rows could be read (unreadable ones are delivered as unknown)",
                population=(f"raw {entity} rows", raw_rows),
            )
        )
    return frame, checks


def _rejected(lake: Lake, snapshot_id: str, tables: dict[str, pa.Table]) -> tuple[TableFrame, list[Check]]:
    """One row per rejected raw row (`entity/reason`), and one expectation per (entity, reason)."""
    rejected = tables["rejected_rows"].to_pandas()
    pairs = (rejected["entity"] + "/" + rejected["reason"]).astype("str")
    counts = rejected["row_count"].astype("int64").to_numpy()
    frame = TableFrame(
        pa.table({"entity_reason": pa.array(np.repeat(pairs.to_numpy(dtype=object), counts), pa.string())})
    )
    by_pair = dict(zip(pairs, counts.tolist(), strict=True))
    rejected_by_entity = rejected.groupby("entity")["row_count"].sum().to_dict()
    resources = tables["resources"]["resource_type_id"]
    accepted = {
        "agents": pc.sum(pc.equal(resources, model.AGENT)).as_py() or 0,
        "users": pc.sum(pc.equal(resources, model.USER)).as_py() or 0,
        "teams": pc.sum(pc.equal(resources, model.TEAM)).as_py() or 0,
        "roles": pc.sum(pc.equal(resources, model.ROLE)).as_py() or 0,
        "agent_memberships": tables["grants"].num_rows,
    }
    catalogue = {
        f"{entity}/{reason}" for entity, reasons in model.REJECT_REASONS.items() for reason in reasons
    }
    checks = []
    for pair in sorted(catalogue | set(by_pair)):
        entity, reason = pair.split("/", 1)
        count = int(by_pair.get(pair, 0))
        raw_rows = _raw_row_count(lake, entity, snapshot_id)
        if raw_rows is None:
            raw_rows = accepted.get(entity, 0) + int(rejected_by_entity.get(entity, 0))
        share = count / raw_rows if raw_rows else 0.0
        is_error = count > 0 and ((entity, reason) in ALWAYS_ERROR_REJECTS or share > REJECTED_ERROR_SHARE)
        checks.append(
            Check(
                "rejected_rows",
                f"{entity}.{reason}",
                "ExpectColumnValuesToNotBeInSet",
                {"column": "entity_reason", "value_set": [pair]},
                ERROR if is_error else WARNING,
                f"no raw {entity} rows rejected as {reason}",
                {"raw_rows": raw_rows, "share": round(share, 6), "error_share": REJECTED_ERROR_SHARE},
                population=(f"raw {entity} rows", raw_rows),
            )
        )
    return frame, checks
