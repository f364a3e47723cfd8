"""What the quality gate checks: one pandas frame per curated table plus derived columns, and the
expectations on them as plain data (GX is imported only by `gate.py`, when the gate runs).

Referential integrity and cross-column rules are derived columns computed here with pyarrow
(`is_in` against the parent keys), then checked by GX as `ExpectColumnValuesToBeInSet([True])`:
a million-value `value_set` takes minutes in GX, `is_in` takes milliseconds. Access findings are
derived columns holding the offending resource id (null otherwise), checked with
`ExpectColumnValuesToBeNull`, so Data Docs list a few ids, never emails.

Severity policy for rejected raw rows (`rejected_rows`): every (entity, reason) pair is a warning,
except an error when it is an agent without an id (an agent we cannot represent is access a review
would miss) or when the reason covers more than `REJECTED_ERROR_SHARE` of the entity's raw rows
(a share that large means the extraction or Halo's API changed, not a few odd rows).
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
from halo_c1.lake import Lake, parquet_row_count, read_parquet
from halo_c1.transform import REJECT_REASONS

log = logging.getLogger(__name__)

ERROR: Final = "error"
WARNING: Final = "warning"
REJECTED_ERROR_SHARE: Final = 0.01
ALWAYS_ERROR_REJECTS: Final = frozenset({("agents", "missing_id")})
EMAIL_REGEX: Final = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
RESOURCE_ID_REGEX: Final = r"^[^\s:]+$"
_ID: Final = r"[^\s:]+"
ENTITLEMENT_ID_REGEX: Final = rf"^(?:(?:team|department):{_ID}:member|role:{_ID}:assigned)$"
GRANT_ID_REGEX: Final = rf"^(?:(?:team|department):{_ID}:member|role:{_ID}:assigned):agent:{_ID}$"
USER_TRAIT_TYPES: Final = tuple(s.id for s in model.RESOURCE_TYPES if s.trait == model.TRAIT_USER)
SLUG_BY_TYPE: Final = {s.id: s.entitlement_slug for s in model.RESOURCE_TYPES if s.entitlement_slug}
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


@dataclass
class GateInput:
    """The frames GX validates (one per table) and the checks to run on them."""

    frames: dict[str, pd.DataFrame]
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


def _mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _join(*parts: Any) -> pa.ChunkedArray:
    return pc.binary_join_element_wise(*parts, ":")


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
    path = lake.raw_file(entity, snapshot_id)
    return parquet_row_count(path) if path.exists() else None


def build_gate_input(lake: Lake, snapshot_id: str, previous_snapshot_id: str | None = None) -> GateInput:
    """Read the snapshot's curated tables and derive every column the checks need."""
    tables = {}
    for name in (*CURATED_CHECKED, "rejected_rows"):
        path = lake.curated_file(name, snapshot_id)
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
    resource_types, resources, entitlements, grants = (tables[n] for n in CURATED_CHECKED)
    checks: list[Check] = []
    frames: dict[str, pd.DataFrame] = {}

    # resource_types
    frames["resource_types"] = _frame(resource_types)
    checks += [
        Check(
            "resource_types",
            "resource_type_id_unique",
            "ExpectColumnValuesToBeUnique",
            {"column": "resource_type_id"},
            ERROR,
            "each resource type appears once",
        ),
        Check(
            "resource_types",
            "resource_types_are_the_model",
            "ExpectColumnDistinctValuesToEqualSet",
            {"column": "resource_type_id", "value_set": [s.id for s in model.RESOURCE_TYPES]},
            ERROR,
            "the resource types are exactly the model's (ARCHITECTURE §2)",
        ),
        _in_set(
            "resource_types",
            "trait",
            [model.TRAIT_USER, model.TRAIT_GROUP, model.TRAIT_ROLE],
            ERROR,
            "trait is user, group or role",
        ),
        *_not_null("resource_types", model.CURATED_RESOURCE_TYPES),
    ]

    # resources
    r_type, r_id = resources["resource_type_id"], resources["resource_id"]
    resource_keys = _join(r_type, r_id)
    parent_type, parent_id = resources["parent_resource_type_id"], resources["parent_resource_id"]
    has_parent = _mask(pc.or_(pc.is_valid(parent_type), pc.is_valid(parent_id)))
    parent_ok = ~has_parent | _mask(pc.is_in(_join(parent_type, parent_id), resource_keys))
    is_team = _mask(pc.equal(r_type, model.TEAM))
    team_parent_ok = ~is_team | ~has_parent | _mask(pc.equal(parent_type, model.DEPARTMENT))
    is_user_trait = _mask(pc.is_in(r_type, pa.array(USER_TRAIT_TYPES)))
    has_account_type = _mask(pc.is_valid(resources["account_type"]))
    is_agent = _mask(pc.equal(r_type, model.AGENT))
    g_type, g_principal = grants["resource_type_id"], grants["principal_resource_id"]
    agents_with_role = pc.unique(g_principal.filter(pc.equal(g_type, model.ROLE)))
    agents_with_team = pc.unique(g_principal.filter(pc.equal(g_type, model.TEAM)))
    disabled_agent = is_agent & _mask(pc.equal(resources["status"], model.STATUS_DISABLED))
    api_agent = is_agent & _mask(pc.equal(resources["account_type"], model.ACCOUNT_SERVICE))
    agents = int(is_agent.sum())
    frame = _frame(resources)
    frame["resource_key"] = resource_keys.to_pandas()
    frame["parent_exists"] = parent_ok
    frame["team_parent_is_department"] = team_parent_ok
    frame["account_type_matches_trait"] = is_user_trait == has_account_type
    frame["agent_without_email"] = _ids_where(r_id, is_agent & ~_mask(pc.is_valid(resources["email"])))
    frame["disabled_agent_holding_role"] = _ids_where(
        r_id, disabled_agent & _mask(pc.is_in(r_id, agents_with_role))
    )
    frame["disabled_agent_in_team"] = _ids_where(
        r_id, disabled_agent & _mask(pc.is_in(r_id, agents_with_team))
    )
    frame["api_agent_holding_role"] = _ids_where(r_id, api_agent & _mask(pc.is_in(r_id, agents_with_role)))
    frames["resources"] = frame
    checks += [
        Check(
            "resources",
            "resource_key_unique",
            "ExpectColumnValuesToBeUnique",
            {"column": "resource_key"},
            ERROR,
            "each (resource_type_id, resource_id) pair appears once",
        ),
        *_not_null("resources", model.CURATED_RESOURCES),
        _in_set(
            "resources",
            "resource_type_id",
            [s.id for s in model.RESOURCE_TYPES],
            ERROR,
            "resource_type_id is one of the model's resource types",
        ),
        Check(
            "resources",
            "resource_id_format",
            "ExpectColumnValuesToMatchRegex",
            {"column": "resource_id", "regex": RESOURCE_ID_REGEX},
            ERROR,
            "resource_id has no whitespace or ':' (it is joined into entitlement and grant ids)",
        ),
        _in_set("resources", "status", list(model.STATUSES), ERROR, "status is ENABLED or DISABLED"),
        _in_set(
            "resources", "account_type", list(model.ACCOUNT_TYPES), ERROR, "account_type is HUMAN or SERVICE"
        ),
        _all_true(
            "resources",
            "account_type_matches_trait",
            ERROR,
            "agents and end users have an account type; groups and roles have none",
        ),
        _all_true("resources", "parent_exists", ERROR, "every resource's parent exists in resources"),
        _all_true("resources", "team_parent_is_department", ERROR, "a team's parent is a department"),
        Check(
            "resources",
            "email_syntax",
            "ExpectColumnValuesToMatchRegex",
            {"column": "email", "regex": EMAIL_REGEX},
            WARNING,
            "primary emails look like addresses",
            personal_values=True,
            population=("resources with an email", int(_mask(pc.is_valid(resources["email"])).sum())),
        ),
        Check(
            "resources",
            "at_least_one_agent",
            "ExpectColumnDistinctValuesToContainSet",
            {"column": "resource_type_id", "value_set": [model.AGENT]},
            ERROR,
            "the snapshot has at least one agent",
        ),
        _finding(
            "resources",
            "agent_without_email",
            "agents without an email (C1 cannot match them to people)",
            ("agents", agents),
        ),
        _finding(
            "resources",
            "disabled_agent_holding_role",
            "disabled agents still holding roles",
            ("disabled agents", int(disabled_agent.sum())),
        ),
        _finding(
            "resources",
            "disabled_agent_in_team",
            "disabled agents still in teams",
            ("disabled agents", int(disabled_agent.sum())),
        ),
        _finding(
            "resources",
            "api_agent_holding_role",
            "API agents holding roles",
            ("API agents", int(api_agent.sum())),
        ),
    ]

    # entitlements
    e_id, e_type = entitlements["entitlement_id"], entitlements["resource_type_id"]
    expected_slug = pc.if_else(pc.equal(e_type, model.ROLE), model.ASSIGNED, model.MEMBER)
    flat_grantable = pc.list_flatten(entitlements["grantable_to"])
    owners = e_id.combine_chunks().take(pc.list_parent_indices(entitlements["grantable_to"]))
    # "<entitlement_id>|<principal type>" for every type each entitlement is grantable to.
    grantable = pc.binary_join_element_wise(owners, flat_grantable, "|")
    frame = _frame(entitlements)
    frame["id_matches_columns"] = _mask(
        pc.equal(e_id, _join(e_type, entitlements["resource_id"], entitlements["slug"]))
    )
    frame["slug_matches_type"] = _mask(pc.equal(entitlements["slug"], expected_slug))
    frame["resource_exists"] = _mask(pc.is_in(_join(e_type, entitlements["resource_id"]), resource_keys))
    frames["entitlements"] = frame
    checks += [
        Check(
            "entitlements",
            "entitlement_id_unique",
            "ExpectColumnValuesToBeUnique",
            {"column": "entitlement_id"},
            ERROR,
            "each entitlement id appears once",
        ),
        *_not_null("entitlements", model.CURATED_ENTITLEMENTS),
        Check(
            "entitlements",
            "entitlement_id_format",
            "ExpectColumnValuesToMatchRegex",
            {"column": "entitlement_id", "regex": ENTITLEMENT_ID_REGEX},
            ERROR,
            "entitlement ids are team:<id>:member, department:<id>:member or role:<id>:assigned",
        ),
        _all_true(
            "entitlements", "id_matches_columns", ERROR, "entitlement_id = resource_type_id:resource_id:slug"
        ),
        _all_true(
            "entitlements", "slug_matches_type", ERROR, "roles are 'assigned', teams and departments 'member'"
        ),
        _in_set("entitlements", "purpose", [model.PURPOSE_ASSIGNMENT], ERROR, "purpose is ASSIGNMENT"),
        _in_set(
            "entitlements",
            "grantable_to",
            [",".join(model.GRANTABLE_TO)],
            ERROR,
            "entitlements are grantable to agents only",
        ),
        _all_true(
            "entitlements", "resource_exists", ERROR, "every entitlement's resource exists in resources"
        ),
    ]

    # grants
    gr_ent, gr_ptype = grants["entitlement_id"], grants["principal_resource_type_id"]
    grant_slug = pc.if_else(pc.equal(g_type, model.ROLE), model.ASSIGNED, model.MEMBER)
    roles = r_id.filter(pc.equal(r_type, model.ROLE))
    sources = grants["source_role_ids"].combine_chunks()
    unknown_source = np.zeros(grants.num_rows, dtype=bool)
    bad_flat = ~_mask(pc.is_in(pc.list_flatten(sources), roles))
    unknown_source[np.asarray(pc.list_parent_indices(sources))[bad_flat]] = True
    frame = _frame(grants)
    frame["id_matches_columns"] = _mask(
        pc.and_(
            pc.equal(grants["grant_id"], _join(gr_ent, gr_ptype, g_principal)),
            pc.equal(gr_ent, _join(g_type, grants["resource_id"], grant_slug)),
        )
    )
    frame["entitlement_exists"] = _mask(pc.is_in(gr_ent, e_id))
    frame["principal_exists"] = _mask(pc.is_in(_join(gr_ptype, g_principal), resource_keys))
    frame["principal_type_grantable"] = _mask(
        pc.is_in(pc.binary_join_element_wise(gr_ent, gr_ptype, "|"), grantable)
    )
    frame["has_origin"] = _mask(pc.or_(grants["is_direct"], pc.greater(pc.list_value_length(sources), 0)))
    frame["source_roles_exist"] = ~unknown_source
    frames["grants"] = frame
    checks += [
        Check(
            "grants",
            "grant_id_unique",
            "ExpectColumnValuesToBeUnique",
            {"column": "grant_id"},
            ERROR,
            "one grant per (entitlement, principal)",
        ),
        *_not_null("grants", model.CURATED_GRANTS),
        Check(
            "grants",
            "grant_id_format",
            "ExpectColumnValuesToMatchRegex",
            {"column": "grant_id", "regex": GRANT_ID_REGEX},
            ERROR,
            "grant ids are <entitlement_id>:agent:<agent_id>",
        ),
        _all_true(
            "grants",
            "id_matches_columns",
            ERROR,
            "grant_id = entitlement_id:principal_type:principal_id and entitlement_id matches its columns",
        ),
        _all_true("grants", "entitlement_exists", ERROR, "every grant's entitlement exists"),
        _all_true("grants", "principal_exists", ERROR, "every grant's principal exists in resources"),
        _all_true(
            "grants",
            "principal_type_grantable",
            ERROR,
            "the principal's type is one the entitlement is grantable to",
        ),
        _all_true("grants", "has_origin", ERROR, "a grant is direct or inherited from at least one role"),
        _all_true(
            "grants", "source_roles_exist", WARNING, "roles a grant was inherited from exist in resources"
        ),
    ]

    # volume versus the previous snapshot
    if previous_snapshot_id:
        counts, previous_types = _previous_counts(lake, previous_snapshot_id)
        if not counts:
            log.warning(
                "quality gate: previous snapshot %s has no curated tables; volume checks skipped",
                previous_snapshot_id,
            )
        for table, count in counts.items():
            if count:
                checks.append(
                    Check(
                        table,
                        "not_emptied_since_previous",
                        "ExpectTableRowCountToBeBetween",
                        {"min_value": 1},
                        WARNING,
                        f"{table} had {count} rows in {previous_snapshot_id}; it is not empty now",
                        {"previous_snapshot_id": previous_snapshot_id, "previous_rows": count},
                    )
                )
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

    frames["rejected_rows"], reject_checks = _rejected(lake, snapshot_id, tables)
    checks += reject_checks
    return GateInput(frames=frames, checks=checks)


def _rejected(lake: Lake, snapshot_id: str, tables: dict[str, pa.Table]) -> tuple[pd.DataFrame, list[Check]]:
    """One row per rejected raw row (`entity/reason`), and one expectation per (entity, reason)."""
    rejected = tables["rejected_rows"].to_pandas()
    pairs = (rejected["entity"] + "/" + rejected["reason"]).astype("str")
    counts = rejected["row_count"].astype("int64").to_numpy()
    frame = pd.DataFrame(
        {"entity_reason": pd.Series(np.repeat(pairs.to_numpy(dtype=object), counts), dtype="str")}
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
    catalogue = {f"{entity}/{reason}" for entity, reasons in REJECT_REASONS.items() for reason in reasons}
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
