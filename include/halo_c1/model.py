"""The access model: resource types, id builders and the Arrow schema of every table.

This module is the contract with ConductorOne (ARCHITECTURE.md §2). The id formats are the Baton
SDK's; C1 keys configuration on them, so they must stay byte-identical between runs and versions.
Every table the pipeline writes has its schema defined here, once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import pyarrow as pa

# Resource type ids.
AGENT: Final = "agent"
USER: Final = "user"
TEAM: Final = "team"
DEPARTMENT: Final = "department"
ROLE: Final = "role"

# Entitlement slugs.
MEMBER: Final = "member"
ASSIGNED: Final = "assigned"

# Resource traits, as the c1z ResourceType.traits enum names them without the TRAIT_ prefix.
TRAIT_USER: Final = "user"
TRAIT_GROUP: Final = "group"
TRAIT_ROLE: Final = "role"
TRAITS: Final = (TRAIT_USER, TRAIT_GROUP, TRAIT_ROLE)

STATUS_ENABLED: Final = "ENABLED"
STATUS_DISABLED: Final = "DISABLED"
# A status HaloITSM sent but that cannot be read (e.g. isdisabled "yes"): delivered as unknown, never
# guessed (docs/data-quality-rules.md). Baton's STATUS_UNSPECIFIED.
STATUS_UNSPECIFIED: Final = "UNSPECIFIED"
STATUSES: Final = (STATUS_ENABLED, STATUS_DISABLED, STATUS_UNSPECIFIED)

ACCOUNT_HUMAN: Final = "HUMAN"
ACCOUNT_SERVICE: Final = "SERVICE"
ACCOUNT_UNSPECIFIED: Final = "UNSPECIFIED"  # an unreadable isapiagent / isserviceaccount
ACCOUNT_TYPES: Final = (ACCOUNT_HUMAN, ACCOUNT_SERVICE, ACCOUNT_UNSPECIFIED)

PURPOSE_ASSIGNMENT: Final = "ASSIGNMENT"


# Halo's department id on a team or membership row that belongs to no department.
NO_DEPARTMENT: Final = "0"


@dataclass(frozen=True)
class ResourceTypeSpec:
    """One resource type of the model: what C1 shows and what it may be granted.

    A type with an `entitlement_slug` has one entitlement per resource, named and described by
    `entitlement_labels` (format strings taking the resource's display name).
    """

    id: str
    display_name: str
    trait: str
    description: str
    entitlement_slug: str | None = None
    child_resource_type_ids: tuple[str, ...] = ()
    entitlement_labels: tuple[str, str] = ("", "")


RESOURCE_TYPES: Final[tuple[ResourceTypeSpec, ...]] = (
    ResourceTypeSpec(AGENT, "Agent", TRAIT_USER, "HaloITSM agent (IT staff) account"),
    ResourceTypeSpec(USER, "End User", TRAIT_USER, "HaloITSM end user account"),
    ResourceTypeSpec(
        TEAM,
        "Team",
        TRAIT_GROUP,
        "HaloITSM team",
        entitlement_slug=MEMBER,
        entitlement_labels=("{} Team Member", "Member of the HaloITSM team {}"),
    ),
    ResourceTypeSpec(
        DEPARTMENT,
        "Department",
        TRAIT_GROUP,
        "HaloITSM department",
        entitlement_slug=MEMBER,
        child_resource_type_ids=(TEAM,),
        entitlement_labels=("{} Department Member", "Member of the HaloITSM department {}"),
    ),
    ResourceTypeSpec(
        ROLE,
        "Agent Role",
        TRAIT_ROLE,
        "HaloITSM agent role",
        entitlement_slug=ASSIGNED,
        entitlement_labels=("{} Role", "Holds the HaloITSM agent role {}"),
    ),
)
RESOURCE_TYPE_BY_ID: Final = {spec.id: spec for spec in RESOURCE_TYPES}
# Types with entitlements → their slug; also Halo's membership kinds (the kind is the type id).
ENTITLEMENT_SLUG_BY_TYPE: Final = {s.id: s.entitlement_slug for s in RESOURCE_TYPES if s.entitlement_slug}

# Entitlements are grantable to agents only (end users hold no Halo teams, departments or roles).
GRANTABLE_TO: Final[tuple[str, ...]] = (AGENT,)


def entitlement_id(resource_type: str, resource_id: str, slug: str) -> str:
    """`<resource_type>:<resource_id>:<slug>`, the Baton SDK's entitlement id. Never change the join."""
    return f"{resource_type}:{resource_id}:{slug}"


def grant_id(entitlement: str, principal_type: str, principal_id: str) -> str:
    """`<entitlement_id>:<principal_type>:<principal_id>`, the Baton SDK's grant id."""
    return f"{entitlement}:{principal_type}:{principal_id}"


def resource_key(resource_type: str, resource_id: str) -> str:
    """`<resource_type>:<resource_id>`, the key of a resource row in a c1z file."""
    return f"{resource_type}:{resource_id}"


# An id never holds whitespace or ':' (ids are joined with ':').
ID_REGEX: Final = r"[^\s:]+"
_ID: Final = re.compile(ID_REGEX)


def usable_id(value: str | None) -> bool:
    """True when `value` can be a resource id: not blank, no whitespace, no ':' (see ID_REGEX).

    A raw row whose id is not usable is the only row the transform may leave out (it is named).
    """
    return value is not None and _ID.fullmatch(value) is not None


def entitlement_id_regex() -> str:
    """A regex matching exactly the model's entitlement ids, built with `entitlement_id`."""
    ids = (entitlement_id(re.escape(t), ID_REGEX, re.escape(s)) for t, s in ENTITLEMENT_SLUG_BY_TYPE.items())
    return f"(?:{'|'.join(ids)})"


def grant_id_regex() -> str:
    """A regex matching exactly the model's grant ids, built with `grant_id`."""
    principals = "|".join(re.escape(t) for t in GRANTABLE_TO)
    return grant_id(entitlement_id_regex(), f"(?:{principals})", ID_REGEX)


# Every reason the transform can leave a raw row out for, per raw entity: only rows without a usable
# id (or a duplicate of a delivered id, or a membership naming nothing in the catalog). A row with a
# usable id is always delivered; its unreadable fields are `DATA_ISSUES` rows instead. The gate keeps
# one expectation per pair so dq_history shows a stable series even when a count is zero.
REJECT_REASONS: Final[dict[str, tuple[str, ...]]] = {
    "agents": ("missing_id", "invalid_id", "duplicate_id"),
    "users": ("missing_id", "invalid_id", "duplicate_id"),
    "teams": ("missing_id", "invalid_id", "duplicate_id"),
    "roles": ("missing_id", "invalid_id", "duplicate_id"),
    "agent_memberships": (
        "missing_agent_id",
        "missing_target_id",
        "invalid_target_id",
        "unknown_kind",
        "unknown_agent",
        "unknown_team",
        "unknown_role",
    ),
}


# ---------------------------------------------------------------------------------------------
# Raw zone: what extraction writes, one table per Halo entity, as returned.
#
# Id columns are text: integers (and integral floats such as 12.0) become their integer text
# ("12"), strings are kept as given; any other JSON value (null, bool, object, 12.5) becomes null
# while the row itself is kept with its `raw_json`, so the transform can count it as unmappable.
# `raw_json` is the row exactly as Halo returned it, minus secret-looking keys. `invalid_fields`
# names each field HaloITSM sent but that cannot be read, with a short view of the value: a flag
# that is not a boolean ("isdisabled='yes'"), an id that is not a scalar ("id=True"), a text that is
# an object or a list ("email=<object>": the type only, text may be personal data). The column is
# then null and the transform delivers the row with that field unknown (snapshots archived before
# this column have `invalid_flags`, read the same way).
# ---------------------------------------------------------------------------------------------

RAW_AGENTS: Final = pa.schema(
    [
        pa.field("agent_id", pa.string()),
        pa.field("name", pa.string()),
        pa.field("firstname", pa.string()),
        pa.field("surname", pa.string()),
        pa.field("email", pa.string()),
        pa.field("ad", pa.string()),
        pa.field("isdisabled", pa.bool_()),
        pa.field("isapiagent", pa.bool_()),
        pa.field("lastlogindate", pa.string()),
        pa.field("invalid_fields", pa.list_(pa.string())),
        pa.field("raw_json", pa.string(), nullable=False),
    ]
)

# One row per membership Halo reports: agent→team (UnameSection), agent→department
# (UnameDepartment), agent→role. `via_role_id` is the row's `role_id`: set when Halo says the
# membership was inherited from that role. `source` says which request reported it.
RAW_AGENT_MEMBERSHIPS: Final = pa.schema(
    [
        pa.field("agent_id", pa.string()),
        pa.field("kind", pa.string(), nullable=False),  # team | department | role
        pa.field("target_id", pa.string()),
        pa.field("target_name", pa.string()),
        pa.field("via_role_id", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("invalid_fields", pa.list_(pa.string())),
        pa.field("raw_json", pa.string(), nullable=False),
    ]
)

RAW_TEAMS: Final = pa.schema(
    [
        pa.field("team_id", pa.string()),
        pa.field("name", pa.string()),
        pa.field("department_id", pa.string()),
        pa.field("department_name", pa.string()),
        pa.field("inactive", pa.bool_()),
        pa.field("invalid_fields", pa.list_(pa.string())),
        pa.field("raw_json", pa.string(), nullable=False),
    ]
)

RAW_ROLES: Final = pa.schema(
    [
        pa.field("role_id", pa.string()),
        pa.field("name", pa.string()),
        pa.field("invalid_fields", pa.list_(pa.string())),
        pa.field("raw_json", pa.string(), nullable=False),
    ]
)

RAW_USERS: Final = pa.schema(
    [
        pa.field("user_id", pa.string()),
        pa.field("name", pa.string()),
        pa.field("firstname", pa.string()),
        pa.field("surname", pa.string()),
        pa.field("emailaddress", pa.string()),
        pa.field("login", pa.string()),
        pa.field("inactive", pa.bool_()),
        pa.field("isserviceaccount", pa.bool_()),
        pa.field("lastlogindate", pa.string()),
        pa.field("invalid_fields", pa.list_(pa.string())),
        pa.field("raw_json", pa.string(), nullable=False),
    ]
)

# One row per HTTP attempt the client made. Never holds a secret: params are sanitised.
RAW_REQUEST_LOG: Final = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("method", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("params", pa.string()),
        pa.field("status", pa.int32()),
        pa.field("elapsed_ms", pa.float64()),
        pa.field("attempt", pa.int32(), nullable=False),
        pa.field("throttle_wait_s", pa.float64()),
        pa.field("error", pa.string()),
    ]
)

RAW_ENTITIES: Final[dict[str, pa.Schema]] = {
    "agents": RAW_AGENTS,
    "agent_memberships": RAW_AGENT_MEMBERSHIPS,
    "teams": RAW_TEAMS,
    "roles": RAW_ROLES,
    "users": RAW_USERS,
    "request_log": RAW_REQUEST_LOG,
}

# ---------------------------------------------------------------------------------------------
# Curated zone: the access model as tables. Every table carries its snapshot id.
# ---------------------------------------------------------------------------------------------

CURATED_RESOURCE_TYPES: Final = pa.schema(
    [
        pa.field("snapshot_id", pa.string(), nullable=False),
        pa.field("resource_type_id", pa.string(), nullable=False),
        pa.field("display_name", pa.string(), nullable=False),
        pa.field("trait", pa.string(), nullable=False),  # user | group | role
        pa.field("description", pa.string()),
        pa.field("child_resource_type_ids", pa.list_(pa.string()), nullable=False),
    ]
)

# All resources in one table; user-trait columns are null for groups and roles.
CURATED_RESOURCES: Final = pa.schema(
    [
        pa.field("snapshot_id", pa.string(), nullable=False),
        pa.field("resource_type_id", pa.string(), nullable=False),
        pa.field("resource_id", pa.string(), nullable=False),
        pa.field("display_name", pa.string(), nullable=False),
        pa.field("description", pa.string()),
        pa.field("parent_resource_type_id", pa.string()),
        pa.field("parent_resource_id", pa.string()),
        pa.field("status", pa.string(), nullable=False),  # ENABLED | DISABLED | UNSPECIFIED
        pa.field("email", pa.string()),  # primary email as Halo has it (trimmed)
        pa.field("email_normalized", pa.string()),  # trimmed + lower-cased, for comparisons
        pa.field("login", pa.string()),
        pa.field("account_type", pa.string()),  # HUMAN | SERVICE | UNSPECIFIED, users and agents only
        pa.field("given_name", pa.string()),
        pa.field("family_name", pa.string()),
        pa.field("last_login", pa.timestamp("us", tz="UTC")),
    ]
)

CURATED_ENTITLEMENTS: Final = pa.schema(
    [
        pa.field("snapshot_id", pa.string(), nullable=False),
        pa.field("entitlement_id", pa.string(), nullable=False),
        pa.field("resource_type_id", pa.string(), nullable=False),
        pa.field("resource_id", pa.string(), nullable=False),
        pa.field("slug", pa.string(), nullable=False),
        pa.field("display_name", pa.string(), nullable=False),
        pa.field("description", pa.string()),
        pa.field("purpose", pa.string(), nullable=False),  # ASSIGNMENT
        pa.field("grantable_to", pa.list_(pa.string()), nullable=False),
    ]
)

# One grant per distinct (entitlement, principal). `is_direct` is true when Halo reported a row
# without a role_id; `source_role_ids` lists (sorted) the roles it was also inherited from.
CURATED_GRANTS: Final = pa.schema(
    [
        pa.field("snapshot_id", pa.string(), nullable=False),
        pa.field("grant_id", pa.string(), nullable=False),
        pa.field("entitlement_id", pa.string(), nullable=False),
        pa.field("resource_type_id", pa.string(), nullable=False),
        pa.field("resource_id", pa.string(), nullable=False),
        pa.field("principal_resource_type_id", pa.string(), nullable=False),
        pa.field("principal_resource_id", pa.string(), nullable=False),
        pa.field("is_direct", pa.bool_(), nullable=False),
        pa.field("source_role_ids", pa.list_(pa.string()), nullable=False),
    ]
)

# Raw rows the transform could not map, counted per entity and reason, shown to the quality gate.
CURATED_REJECTED_ROWS: Final = pa.schema(
    [
        pa.field("snapshot_id", pa.string(), nullable=False),
        pa.field("entity", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("row_count", pa.int64(), nullable=False),
        pa.field("examples", pa.list_(pa.string()), nullable=False),  # at most a few raw ids
    ]
)

# Every raw value the transform could not use, named: one row per field delivered as unknown
# (`outcome` "unknown": the row is delivered, this field empty/UNSPECIFIED) and per row left out
# (`outcome` "left_out": no usable id, a duplicate, or a membership naming nothing delivered).
# `record` is the id ("12"; "12->team:3" for a membership), or "row <n>" (0-based position in the raw
# file, i.e. page order) when there is no usable id. `value` is a short view of what HaloITSM sent;
# for text fields only its JSON type, since text may be personal data.
CURATED_DATA_ISSUES: Final = pa.schema(
    [
        pa.field("snapshot_id", pa.string(), nullable=False),
        pa.field(
            "entity", pa.string(), nullable=False
        ),  # raw entity: agents, users, teams, roles, agent_memberships
        pa.field("record", pa.string(), nullable=False),
        pa.field("field", pa.string(), nullable=False),
        pa.field("value", pa.string()),
        pa.field("outcome", pa.string(), nullable=False),  # unknown | left_out
        pa.field("reason", pa.string(), nullable=False),  # unreadable_value, or a REJECT_REASONS reason
    ]
)
ISSUE_UNKNOWN: Final = "unknown"
ISSUE_LEFT_OUT: Final = "left_out"
# Raw entities whose fields can be delivered as unknown, one gate expectation each.
ISSUE_ENTITIES: Final = ("agents", "users", "teams", "roles", "agent_memberships")

CURATED_TABLES: Final[dict[str, pa.Schema]] = {
    "resource_types": CURATED_RESOURCE_TYPES,
    "resources": CURATED_RESOURCES,
    "entitlements": CURATED_ENTITLEMENTS,
    "grants": CURATED_GRANTS,
    "rejected_rows": CURATED_REJECTED_ROWS,
    "data_issues": CURATED_DATA_ISSUES,
}

# The access change log: one row per change between a snapshot and the snapshot delivered to C1
# before it (`halo_c1.changelog`). Which columns are set depends on `change`: grant rows carry the
# grant, its entitlement and its principal; resource rows the resource; entitlement rows the
# entitlement; `previous_*` hold a changed grant's origin before the change.
ACCESS_CHANGES: Final = pa.schema(
    [
        pa.field("snapshot_id", pa.string(), nullable=False),
        pa.field("previous_snapshot_id", pa.string(), nullable=False),
        pa.field("change", pa.string(), nullable=False),
        pa.field("resource_type_id", pa.string(), nullable=False),
        pa.field("resource_id", pa.string()),
        pa.field("display_name", pa.string()),
        pa.field("entitlement_id", pa.string()),
        pa.field("grant_id", pa.string()),
        pa.field("principal_resource_type_id", pa.string()),
        pa.field("principal_resource_id", pa.string()),
        pa.field("principal_display_name", pa.string()),
        pa.field("is_direct", pa.bool_()),
        pa.field("source_role_ids", pa.list_(pa.string())),
        pa.field("previous_is_direct", pa.bool_()),
        pa.field("previous_source_role_ids", pa.list_(pa.string())),
    ]
)

# One row per expectation per snapshot, for data-quality trends.
DQ_HISTORY: Final = pa.schema(
    [
        pa.field("snapshot_id", pa.string(), nullable=False),
        pa.field("validated_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("table", pa.string(), nullable=False),
        pa.field("expectation", pa.string(), nullable=False),
        pa.field("description", pa.string()),
        pa.field("severity", pa.string(), nullable=False),  # error | warning
        pa.field("success", pa.bool_(), nullable=False),
        pa.field("unexpected_count", pa.int64()),
    ]
)
