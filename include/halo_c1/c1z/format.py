"""The c1z v1 container: magic, SQLite DDL, time layout and sync ids (shared/spec/c1z-and-c1.md §A1-A5).

Everything here is a fact a Baton reader depends on; the writer and the reader both import it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Final

MAGIC: Final = b"C1ZF\x00"
V3_MAGIC: Final = b"C1Z3\x00"

# Readers cap the zstd window at 128 MiB (SDK decoder.go defaultDecoderMaxMemory).
MAX_WINDOW_BYTES: Final = 128 * 1024 * 1024

SYNC_TYPE_FULL: Final = "full"

# Buffer of the streaming (de)compression of a c1z's database.
COPY_CHUNK: Final = 4 * 1024 * 1024

# Every CREATE statement, in the SDK's creation order (resourceTypes, resources, entitlements, syncRuns,
# grants, assets, sessionStore), with the text of §A2 (what sqlite_master of an SDK file holds, up to
# whitespace). The index names of v1_resources are swapped versus their columns on purpose: that is
# the SDK's real on-disk state, and readers look indexes up by name.
DDL: Final[tuple[str, ...]] = (
    "CREATE TABLE v1_resource_types (id integer primary key, external_id text not null, data blob not null, "
    "sync_id text not null, discovered_at datetime not null)",
    "CREATE UNIQUE INDEX idx_resource_types_external_sync_v1 on v1_resource_types (external_id, sync_id)",
    "CREATE TABLE v1_resources (id integer primary key, resource_type_id text not null, "
    "external_id text not null, parent_resource_type_id text, parent_resource_id text, data blob not null, "
    "sync_id text not null, discovered_at datetime not null)",
    "CREATE INDEX idx_resources_resource_type_id_v1 on v1_resources (resource_type_id)",
    "CREATE INDEX idx_resources_external_sync_v1 on v1_resources (parent_resource_type_id, parent_resource_id)",
    "CREATE UNIQUE INDEX idx_resources_parent_resource_id_v1 on v1_resources (external_id, sync_id)",
    "CREATE TABLE v1_entitlements (id integer primary key, resource_type_id text not null, "
    "resource_id text not null, external_id text not null, data blob not null, sync_id text not null, "
    "discovered_at datetime not null)",
    "CREATE INDEX idx_entitlements_resource_id_v1 on v1_entitlements (resource_type_id, resource_id)",
    "CREATE UNIQUE INDEX idx_entitlements_external_sync_v1 on v1_entitlements (external_id, sync_id)",
    "CREATE TABLE v1_sync_runs (id integer primary key, sync_id text not null, started_at datetime not null, "
    "ended_at datetime, sync_token text not null, sync_type text not null default 'full', "
    "parent_sync_id text not null default '', linked_sync_id text not null default '', "
    "supports_diff integer not null default 0, grants_backfilled integer not null default 0, stats text, "
    "ingest_invariant_generation text not null default '', ingest_invariant_coverage text not null default '', "
    "ingest_invariant_mode text not null default '')",
    "CREATE UNIQUE INDEX idx_sync_runs_sync_id_v1 on v1_sync_runs (sync_id)",
    "CREATE TABLE v1_grants (id integer primary key, resource_type_id text not null, resource_id text not null,\n"
    "  entitlement_id text not null, principal_resource_type_id text not null, "
    "principal_resource_id text not null,\n"
    "  external_id text not null,\n"
    "  expansion blob,                             -- Serialized GrantExpandable proto; "
    "NULL if grant is not expandable.\n"
    "  needs_expansion integer not null default 0, -- 1 if grant should be processed during expansion.\n"
    "  data blob not null, sync_id text not null, discovered_at datetime not null)",
    "CREATE INDEX idx_grants_resource_type_id_resource_id_v1 on v1_grants (resource_type_id, resource_id)",
    "CREATE INDEX idx_grants_principal_id_v1 on v1_grants (principal_resource_type_id, principal_resource_id)",
    "CREATE INDEX idx_grants_entitlement_id_principal_id_v1 "
    "on v1_grants (entitlement_id, principal_resource_type_id, principal_resource_id)",
    "CREATE UNIQUE INDEX idx_grants_external_sync_v1 on v1_grants (external_id, sync_id)",
    "CREATE INDEX idx_grants_entitlement_sync_grant_v1 on v1_grants (entitlement_id, sync_id, id)",
    "CREATE INDEX idx_grants_sync_expansion_v1 on v1_grants (sync_id) where expansion is not null",
    "CREATE INDEX idx_grants_sync_needs_expansion_v1 on v1_grants (sync_id) where needs_expansion = 1",
    "CREATE TABLE v1_assets (id integer primary key, external_id text not null, content_type text not null, "
    "data blob not null, sync_id text not null, discovered_at datetime not null)",
    "CREATE UNIQUE INDEX idx_assets_external_sync_v1 on v1_assets (external_id, sync_id)",
    "CREATE TABLE v1_connector_sessions (id integer primary key, sync_id text NOT NULL, key TEXT NOT NULL, "
    "value BLOB NOT NULL)",
    "CREATE UNIQUE INDEX idx_session_store_sync_key_v1 on v1_connector_sessions (sync_id, key)",
)

# Statements before this index create everything up to the v1_grants table; the rest (the grants'
# indexes, v1_assets, v1_connector_sessions) run after the grants are bulk-loaded.
GRANTS_LOAD_POINT: Final = (
    next(i for i, sql in enumerate(DDL) if sql.startswith("CREATE TABLE v1_grants ")) + 1
)

DATA_TABLES: Final = ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants")

_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_KSUID_EPOCH: Final = 1_400_000_000
_KSUID_LENGTH: Final = 27


def go_time(moment: datetime) -> str:
    """`moment` in Go's layout "2006-01-02 15:04:05.999999999": no zone, trailing fraction zeros trimmed.

    Readers compare these columns as text, so the layout must be exact (never ISO `T`/`Z`).
    """
    text = moment.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0")
    return text.rstrip(".")


def ksuid(moment: datetime, payload_seed: bytes) -> str:
    """A KSUID (27 base62 chars): 4-byte seconds since the KSUID epoch + 16 payload bytes.

    The SDK uses a random payload; here the payload is SHA-256 of `payload_seed`, so the same seed and
    moment always give the same id.
    """
    seconds = int(moment.timestamp()) - _KSUID_EPOCH
    if not 0 <= seconds < 2**32:
        raise ValueError(f"{moment.isoformat()} is outside the KSUID time range")
    raw = seconds.to_bytes(4, "big") + hashlib.sha256(payload_seed).digest()[:16]
    number = int.from_bytes(raw, "big")
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(_KSUID_LENGTH, "0")
