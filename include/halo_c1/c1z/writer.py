"""Package a curated snapshot as a Baton v1 c1z (shared/spec/c1z-and-c1.md §A).

The curated tables are read in batches and written into a local temporary SQLite database with the
SDK's exact DDL, one finished full sync and one row per curated row; then the database is
stream-compressed (`C1ZF\\0` + one zstd frame) into the lake, atomically. Memory is bounded by a batch
plus a lookup of serialised resources and entitlements (grants embed them); grants are never all in
memory.

Determinism: the same curated snapshot always gives a byte-identical file. The sync id is a KSUID
whose time is the snapshot time and whose payload is SHA-256 of `halo-c1:<snapshot_id>`;
`discovered_at`, `started_at` and `ended_at` are all the snapshot time (UTC wall clock, Go layout).

    summary = write_c1z(Lake("file:///data/lake"), "20261127T050000Z")
    summary["path"], summary["sha256"], summary["counts"]["v1_grants"]
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from itertools import repeat
from pathlib import Path
from typing import Any, Final, NamedTuple, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import zstandard
from upath import UPath

from halo_c1 import model
from halo_c1.c1z import format as c1z_format
from halo_c1.c1z import messages
from halo_c1.c1z.errors import C1zError, C1zTooLargeError, C1zValidationError
from halo_c1.c1z.reader import MAX_DECODED_BYTES
from halo_c1.lake import HashingWriter, Lake, as_path, open_atomic, snapshot_time

log = logging.getLogger(__name__)

_Prepared = TypeVar("_Prepared")
_Row = TypeVar("_Row", bound=tuple)

MAX_ID_BYTES: Final = 1024
MAX_DISPLAY_NAME_BYTES: Final = 1024
MAX_RESOURCE_TYPE_DESCRIPTION_BYTES: Final = 4096
MAX_DESCRIPTION_BYTES: Final = 2048  # resources and entitlements
ZSTD_LEVEL: Final = 3
SQLITE_CACHE_KIB: Final = 256 * 1024
# Grants are ~1 KiB rows (they embed their entitlement and principal): 64 KiB pages hold ~60 of them
# instead of 3, so the bulk load, the index builds' table scans and zstd all do less work (c1z CPU
# -25 % and the decoded file -7 % at a fifth of the largest tenant). SQLite readers take any page size.
SQLITE_PAGE_SIZE: Final = 65536

_TAIL_CACHE_LIMIT: Final = 100_000
# The order grants are loaded in: the transform's (entitlement resource, then principal).
GRANT_LOAD_ORDER: Final = (
    "resource_type_id",
    "resource_id",
    "principal_resource_type_id",
    "principal_resource_id",
)
# The grant columns inserted as they are, in _INSERT_GRANT's order (then data, sync_id, discovered_at).
_GRANT_KEY_COLUMNS: Final = (
    "resource_type_id",
    "resource_id",
    "entitlement_id",
    "principal_resource_type_id",
    "principal_resource_id",
    "grant_id",
)
_TRAIT_BUILDERS: Final = {model.TRAIT_GROUP: messages.group_trait, model.TRAIT_ROLE: messages.role_trait}

_INSERT_RESOURCE_TYPE: Final = (
    "INSERT INTO v1_resource_types (external_id, data, sync_id, discovered_at) VALUES (?, ?, ?, ?)"
)
_INSERT_RESOURCE: Final = (
    "INSERT INTO v1_resources (resource_type_id, external_id, parent_resource_type_id, parent_resource_id,"
    " data, sync_id, discovered_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_ENTITLEMENT: Final = (
    "INSERT INTO v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_GRANT: Final = (
    "INSERT INTO v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id,"
    " principal_resource_id, external_id, data, sync_id, discovered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SYNC_RUN: Final = (
    "INSERT INTO v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id,"
    " linked_sync_id, supports_diff, grants_backfilled, stats, ingest_invariant_generation,"
    " ingest_invariant_coverage, ingest_invariant_mode) VALUES (?, ?, ?, '', ?, '', '', 0, 1, NULL, '', '', '')"
)


def sync_id_for(snapshot_id: str, moment: datetime | None = None) -> str:
    """The c1z sync id of a snapshot: the same snapshot always gets the same KSUID. `moment` is
    the snapshot's time when the caller has parsed it already."""
    moment = snapshot_time(snapshot_id) if moment is None else moment
    return c1z_format.ksuid(moment, f"halo-c1:{snapshot_id}".encode())


class _ResourceRow(NamedTuple):
    """The curated resource columns the c1z needs, by name (the order is irrelevant)."""

    resource_type_id: str
    resource_id: str
    display_name: str | None
    description: str | None
    parent_resource_type_id: str | None
    parent_resource_id: str | None
    status: str
    email: str | None
    login: str | None
    account_type: str | None
    given_name: str | None
    family_name: str | None
    last_login: int | None


class _GrantRow(NamedTuple):
    """The curated grant columns the c1z needs, by name."""

    grant_id: str
    entitlement_id: str
    resource_type_id: str
    resource_id: str
    principal_resource_type_id: str
    principal_resource_id: str
    is_direct: bool
    source_role_ids: list[str]


def _rows(columns: dict[str, list[Any]], row: type[_Row]) -> Iterator[_Row]:
    """The batch's rows as named tuples of the columns `row` names."""
    return map(row._make, zip(*(columns[name] for name in row._fields), strict=True))


def write_c1z(
    lake: Lake,
    snapshot_id: str,
    out: str | os.PathLike[str] | UPath | None = None,
    *,
    batch_rows: int = 50_000,
    max_decoded_bytes: int = MAX_DECODED_BYTES,
) -> dict:
    """Write the snapshot's curated tables as a v1 c1z at `out` (default `lake.c1z_file(snapshot_id)`).

    Returns a JSON-able summary: path, size, sha256, decoded SQLite size, sync id and row counts.
    Raises C1zValidationError (and writes nothing at `out`) when a row breaks a limit or a reference,
    and C1zTooLargeError (nothing written either) as soon as the database passes `max_decoded_bytes`,
    the decoded-size cap of the oldest Baton reader the file is for (3 GiB: baton-sdk before v0.25).
    """
    destination = as_path(out) if out is not None else lake.c1z_file(snapshot_id)
    moment = snapshot_time(snapshot_id)
    sync_id = sync_id_for(snapshot_id, moment)
    with tempfile.TemporaryDirectory(prefix="halo-c1-c1z-") as tmp:
        db_path = Path(tmp) / "sync.db"
        builder = _SyncBuilder(db_path, sync_id, c1z_format.go_time(moment))
        try:
            builder.add_sync_run()
            for table, add in (
                ("resource_types", builder.add_resource_types),
                ("resources", builder.add_resources),
                ("entitlements", builder.add_entitlements),
            ):
                loaded = 0
                for batch in _curated_batches(lake, table, snapshot_id, batch_rows):
                    add(batch)
                    loaded += batch.num_rows
                log.info("c1z %s: %s rows loaded", table, f"{loaded:,}")
                if table == "resource_types":
                    builder.check_child_types()
                elif table == "resources":
                    builder.check_parents()
            grants = _grant_batches(lake, snapshot_id, batch_rows)
            loaded = 0
            for batch, rows in _prepared_ahead(grants, builder.grant_rows):
                builder.add_grants(batch, rows)
                loaded += batch.num_rows
                log.info("c1z grants: %s rows loaded", f"{loaded:,}")
                _check_decoded_size(snapshot_id, builder.size_bytes(), max_decoded_bytes, loaded)
            log.info("c1z: building the grant indexes and finishing the sync")
            builder.finish()
            counts = builder.counts()
        finally:
            builder.close()
        _assert_no_journal(db_path)
        sqlite_bytes = db_path.stat().st_size
        _check_decoded_size(snapshot_id, sqlite_bytes, max_decoded_bytes, None)
        size, sha256 = _compress(db_path, destination)
    summary = {
        "path": str(destination),
        "snapshot_id": snapshot_id,
        "sync_id": sync_id,
        "size_bytes": size,
        "sqlite_bytes": sqlite_bytes,
        "sha256": sha256,
        "counts": counts,
        "resources_by_type": dict(sorted(builder.resources_by_type.items())),
        "grants_by_resource_type": dict(sorted(builder.grants_by_type.items())),
        "truncated": builder.truncations.report(),
    }
    for field, found in summary["truncated"].items():
        log.warning(
            "c1z: %d %s value(s) longer than C1's %d bytes were cut at a UTF-8 boundary (the curated "
            "tables keep them whole), e.g. %s",
            found["count"],
            field,
            found["max_bytes"],
            ", ".join(found["examples"]),
        )
    log.info("wrote c1z %s (%d bytes, sync %s, counts %s)", destination, size, sync_id, counts)
    return summary


def _check_decoded_size(snapshot_id: str, size: int, cap: int, grants_loaded: int | None) -> None:
    """Stop before anything is written when the database is past the readers' decoded-size cap."""
    if size <= cap:
        return
    when = f"after {grants_loaded:,} grants" if grants_loaded is not None else "with its indexes"
    raise C1zTooLargeError(
        f"snapshot {snapshot_id}: the c1z's SQLite database is {size / 2**30:.2f} GiB {when}, more than "
        f"the {cap / 2**30:.2f} GiB decoded-size cap of the Baton readers it is written for (baton-sdk "
        "before v0.25 refuses more than 3 GiB; v0.25+ allows 10 GiB, BATON_DECODER_MAX_DECODED_SIZE_MB). "
        "No c1z was written. To fix: leave HaloITSM end users out (connection extra "
        "include_end_users=false) or sync a smaller part of the tenant; or, if every reader of the file "
        "runs baton-sdk v0.25 or later, raise the Airflow variable halo_c1_c1z_max_decoded_gib (default 3; "
        "at most 10 for those readers' default cap)."
    )


@contextmanager
def _curated_parquet(
    lake: Lake, table: str, snapshot_id: str
) -> Generator[tuple[pq.ParquetFile, UPath], None, None]:
    """The curated table's Parquet file, open, after checking its columns against the model's schema."""
    schema = model.CURATED_TABLES[table]
    path = lake.curated_file(table, snapshot_id)
    if not path.exists():
        raise C1zError(f"curated table {table!r} of snapshot {snapshot_id} not found at {path}")
    with path.open("rb") as handle:
        parquet = pq.ParquetFile(handle)
        actual = parquet.schema_arrow
        for field in schema:
            if field.name not in actual.names or not actual.field(field.name).type.equals(field.type):
                found = actual.field(field.name).type if field.name in actual.names else "missing"
                raise C1zValidationError(
                    table, "(schema)", f"column {field.name!r} must be {field.type}, found {found} in {path}"
                )
        yield parquet, path


def _curated_batches(lake: Lake, table: str, snapshot_id: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The curated table in batches, checked against the model's schema and the snapshot id."""
    with _curated_parquet(lake, table, snapshot_id) as (parquet, path):
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=model.CURATED_TABLES[table].names):
            snapshots = batch.column("snapshot_id")
            if snapshots.null_count or not pc.all(pc.equal(snapshots, snapshot_id)).as_py():
                raise C1zValidationError(table, "(snapshot_id)", f"rows of another snapshot in {path}")
            yield batch


def _grant_batches(lake: Lake, snapshot_id: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The curated grants in batches, in load order whatever the file's order.

    SQLite builds the grant indexes and zstd compresses far faster when rows sharing a resource sit
    together (a shuffled file cost 1.8x the CPU of the transform's order), so a file that is not in
    `GRANT_LOAD_ORDER` is sorted in memory first; the transform's files already are and stream as
    they are. Either way the same grants give the same c1z, byte for byte.
    """
    with _curated_parquet(lake, "grants", snapshot_id) as (parquet, _):
        order = _load_order(parquet.read(columns=list(GRANT_LOAD_ORDER)))
    if order is None:
        yield from _curated_batches(lake, "grants", snapshot_id, batch_rows)
        return
    log.info(
        "c1z grants: the curated file is not in load order; sorting %s grants in memory", f"{len(order):,}"
    )
    grants = pa.Table.from_batches(list(_curated_batches(lake, "grants", snapshot_id, batch_rows)))
    for start in range(0, len(order), batch_rows):
        yield from grants.take(order[start : start + batch_rows]).combine_chunks().to_batches()


def _load_order(keys: pa.Table) -> np.ndarray | None:
    """The stable row order that sorts `keys` by GRANT_LOAD_ORDER; None when they already are.

    Each column is ranked through its dictionary (few distinct values: resource types, a tenant's
    groups and agents) and the ranks combined into one integer, which sorts ten times faster than
    the text columns themselves.
    """
    ranks = [_dense_ranks(keys[name]) for name in GRANT_LOAD_ORDER]
    if math.prod(distinct for _, distinct in ranks) < 2**62:
        combined = np.zeros(keys.num_rows, np.int64)
        for rank, distinct in ranks:
            combined = combined * distinct + rank
        if np.all(combined[1:] >= combined[:-1]):
            return None
        return np.argsort(combined, kind="stable")
    order = np.lexsort([rank for rank, _ in reversed(ranks)])
    return None if np.array_equal(order, np.arange(len(order))) else order


def _dense_ranks(values: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """Each value's rank among the distinct values in text order (nulls last), and how many ranks."""
    encoded = pc.dictionary_encode(values.combine_chunks())
    by_text = pc.sort_indices(encoded.dictionary).to_numpy()
    rank_of = np.empty(len(by_text) + 1, np.int64)
    rank_of[by_text] = np.arange(len(by_text))
    rank_of[-1] = len(by_text)
    return rank_of[encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)], len(by_text) + 1


def _pylists(batch: pa.RecordBatch) -> dict[str, list[Any]]:
    """A batch column-wise as Python lists; timestamps come as int microseconds."""
    return {
        name: (column.cast(pa.int64()) if pa.types.is_timestamp(column.type) else column).to_pylist()
        for name, column in zip(batch.schema.names, batch.columns, strict=True)
    }


def _prepared_ahead(
    batches: Iterator[pa.RecordBatch], prepare: Callable[[pa.RecordBatch], _Prepared]
) -> Iterator[tuple[pa.RecordBatch, _Prepared]]:
    """Yield each batch with `prepare(batch)`, reading and preparing the next one in a thread meanwhile.

    SQLite and Arrow release the GIL while they work, so the next batch's reading and encoding
    overlap the current batch's inserts on a second core. At most two batches are in memory.
    """

    def step() -> tuple[pa.RecordBatch, _Prepared] | None:
        batch = next(batches, None)
        return None if batch is None else (batch, prepare(batch))

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(step)
        while (item := pending.result()) is not None:
            pending = pool.submit(step)
            yield item


def _all(mask: pa.Array) -> bool:
    """True when every value of a boolean array is true (and none is null); true when empty."""
    return pc.all(mask, skip_nulls=False, min_count=0).as_py() is True


def _check_bytes(table: str, row_id: str, column: str, value: str | None, low: int, high: int) -> bytes:
    encoded = (value or "").encode()
    if not low <= len(encoded) <= high:
        raise C1zValidationError(table, row_id, f"{column} must be {low}..{high} bytes, got {len(encoded)}")
    return encoded


def _check_id(table: str, row_id: str, column: str, value: str | None) -> bytes:
    return _check_bytes(table, row_id, column, value, 1, MAX_ID_BYTES)


ELLIPSIS: Final = "…"


def fit_utf8(value: str, max_bytes: int) -> str:
    """`value` cut to at most `max_bytes` of UTF-8 at a character boundary, ending in "…" when cut.

    >>> fit_utf8("ab€cd", 6)
    'ab…'
    """
    encoded = value.encode()
    if len(encoded) <= max_bytes:
        return value
    room = max_bytes - len(ELLIPSIS.encode())
    return encoded[:room].decode("utf-8", errors="ignore") + ELLIPSIS


class Truncations:
    """Text fields cut to a C1 limit: counted per table.column, with a few row ids, for a warning.

    Names and descriptions come from HaloITSM as typed; one over C1's limit must not block every
    delivery, so the c1z carries it cut (the curated tables keep it whole). Ids are never cut.
    """

    MAX_EXAMPLES: Final = 3

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.limits: dict[str, int] = {}
        self.examples: dict[str, list[str]] = {}

    def fit(self, table: str, row_id: str, column: str, value: str | None, max_bytes: int) -> str | None:
        if value is None or len(value) * 4 <= max_bytes:  # no character is longer than 4 bytes
            return value
        fitted = fit_utf8(value, max_bytes)
        if fitted is not value:
            key = f"{table}.{column}"
            self.counts[key] += 1
            self.limits[key] = max_bytes
            examples = self.examples.setdefault(key, [])
            if len(examples) < self.MAX_EXAMPLES:
                examples.append(row_id)
        return fitted

    def report(self) -> dict[str, dict[str, Any]]:
        return {
            key: {"count": count, "max_bytes": self.limits[key], "examples": self.examples[key]}
            for key, count in sorted(self.counts.items())
        }


class _SyncBuilder:
    """Fills one SQLite c1z database with one sync, validating references as rows arrive."""

    def __init__(self, db_path: Path, sync_id: str, discovered_at: str) -> None:
        self.sync_id = sync_id
        self.discovered_at = discovered_at
        self.connection = sqlite3.connect(db_path, isolation_level=None)
        for pragma in (
            f"page_size={SQLITE_PAGE_SIZE}",
            "journal_mode=OFF",
            "synchronous=OFF",
            "locking_mode=EXCLUSIVE",
            f"cache_size=-{SQLITE_CACHE_KIB}",
        ):
            self.connection.execute(f"PRAGMA {pragma}")
        self.connection.execute("BEGIN")
        for statement in c1z_format.DDL[: c1z_format.GRANTS_LOAD_POINT]:
            self.connection.execute(statement)
        self.resource_types: dict[str, messages.ResourceType] = {}
        self.traits: dict[str, str] = {}
        self.children: list[tuple[str, str]] = []
        self.resources: dict[str, dict[str, bytes]] = {}
        self.parents: list[tuple[str, str, str]] = []
        self.entitlements: dict[str, tuple[bytes, str, str]] = {}
        self.resources_by_type: Counter[str] = Counter()
        self.grants_by_type: Counter[str] = Counter()
        self.truncations = Truncations()
        self._tails: dict[tuple[str, bool, tuple[str, ...]], bytes] = {}
        self._entitlement_columns: tuple[pa.Array, pa.Array, pa.Array, pa.Array] | None = None
        self._principals: dict[str, tuple[pa.Array, pa.Array]] = {}

    def close(self) -> None:
        if self.connection.in_transaction:
            self.connection.execute("COMMIT")
        self.connection.execute("PRAGMA journal_mode=DELETE")
        self.connection.close()

    def add_sync_run(self) -> None:
        self.connection.execute(
            _INSERT_SYNC_RUN,
            (self.sync_id, self.discovered_at, self.discovered_at, c1z_format.SYNC_TYPE_FULL),
        )

    def size_bytes(self) -> int:
        """The database's size so far (pages allocated), without the indexes built at the end."""
        pages = self.connection.execute("PRAGMA page_count").fetchone()[0]
        return pages * self.connection.execute("PRAGMA page_size").fetchone()[0]

    def counts(self) -> dict[str, int]:
        return {
            table: self.connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (*c1z_format.DATA_TABLES, "v1_sync_runs")
        }

    def _insert(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.connection.executemany(statement, rows)

    def finish(self) -> None:
        """Build the grants' indexes after their bulk load, then the remaining (empty) tables.

        Creating them after the load is ~3x faster than maintaining them row by row, and keeps the
        SDK's creation order since grants are loaded last. A UNIQUE violation names the duplicate.
        """
        for statement in c1z_format.DDL[c1z_format.GRANTS_LOAD_POINT :]:
            try:
                self.connection.execute(statement)
            except sqlite3.IntegrityError:
                duplicate = self.connection.execute(
                    "SELECT external_id FROM v1_grants GROUP BY external_id, sync_id HAVING count(*) > 1"
                    " ORDER BY min(id) LIMIT 1"
                ).fetchone()
                raise C1zValidationError("grants", duplicate[0], "duplicate grant id") from None

    def add_resource_types(self, batch: pa.RecordBatch) -> None:
        columns = _pylists(batch)
        rows = []
        for type_id, display_name, trait, description, children in zip(
            columns["resource_type_id"],
            columns["display_name"],
            columns["trait"],
            columns["description"],
            columns["child_resource_type_ids"],
            strict=True,
        ):
            table = "resource_types"
            _check_id(table, type_id, "resource_type_id", type_id)
            display_name = self.truncations.fit(
                table, type_id, "display_name", display_name, MAX_DISPLAY_NAME_BYTES
            )
            description = self.truncations.fit(
                table, type_id, "description", description, MAX_RESOURCE_TYPE_DESCRIPTION_BYTES
            )
            if trait not in messages.TRAITS:
                raise C1zValidationError(table, type_id, f"trait must be one of {sorted(messages.TRAITS)}")
            if type_id in self.resource_types:
                raise C1zValidationError(table, type_id, "duplicate resource type id")
            message = messages.resource_type(type_id, display_name, trait, description, children)
            self.resource_types[type_id] = message
            self.traits[type_id] = trait
            self.children.extend((type_id, child) for child in children)
            rows.append((type_id, messages.serialize(message), self.sync_id, self.discovered_at))
        self._insert(_INSERT_RESOURCE_TYPE, rows)

    def check_child_types(self) -> None:
        for type_id, child in self.children:
            if child not in self.resource_types:
                raise C1zValidationError(
                    "resource_types", type_id, f"child resource type {child!r} is not a resource type"
                )

    def add_resources(self, batch: pa.RecordBatch) -> None:
        """Insert a batch of resources in order: runs of user-trait rows encoded in Arrow, the rest
        (and any run that breaks a check, so that the exact error is raised) row by row."""
        is_user = np.array(
            [
                self.traits.get(type_id) == model.TRAIT_USER
                for type_id in batch.column("resource_type_id").to_pylist()
            ],
            dtype=bool,
        )
        starts = np.flatnonzero(np.diff(is_user.astype(np.int8), prepend=-1))
        for start, end in zip(starts, [*starts[1:], batch.num_rows], strict=True):
            run = batch.slice(start, end - start)
            if not (is_user[start] and self._add_user_resources(run)):
                self._add_resources_by_row(_pylists(run))

    def _add_user_resources(self, batch: pa.RecordBatch) -> bool:
        """Check and insert user-trait resources encoded in Arrow; False (nothing done) when a row
        breaks a check or needs a cut, which the row path reports exactly."""
        if any(batch.column(name).null_count for name in ("resource_type_id", "resource_id", "status")):
            return False
        type_ids, resource_ids = batch.column("resource_type_id"), batch.column("resource_id")
        id_bytes = pc.binary_length(resource_ids)
        if not _all(pc.and_(pc.greater_equal(id_bytes, 1), pc.less_equal(id_bytes, MAX_ID_BYTES))):
            return False
        for name, limit in (("display_name", MAX_DISPLAY_NAME_BYTES), ("description", MAX_DESCRIPTION_BYTES)):
            if not _all(pc.less_equal(pc.binary_length(batch.column(name)).fill_null(0), limit)):
                return False
        parent_types, parent_ids = batch.column("parent_resource_type_id"), batch.column("parent_resource_id")
        if not _all(pc.equal(pc.is_valid(parent_types), pc.is_valid(parent_ids))):
            return False
        columns = {name: batch.column(name) for name in batch.schema.names}
        columns["last_login"] = columns["last_login"].cast(pa.int64())
        data = messages.user_resource_bytes_array(columns)
        if data is None:
            return False
        type_list, id_list = type_ids.to_pylist(), resource_ids.to_pylist()
        pairs = list(zip(type_list, id_list, strict=True))
        if len(set(pairs)) != len(pairs) or any(
            resource_id in self.resources.get(type_id, ()) for type_id, resource_id in pairs
        ):
            return False
        data_list = data.to_pylist()
        for type_id, resource_id, encoded in zip(type_list, id_list, data_list, strict=True):
            self.resources.setdefault(type_id, {})[resource_id] = encoded
        keys = pc.binary_join_element_wise(type_ids, resource_ids, ":").to_pylist()
        parent_type_list, parent_id_list = parent_types.to_pylist(), parent_ids.to_pylist()
        self.parents.extend(
            (keys[i], parent_type_list[i], parent_id_list[i])
            for i in np.flatnonzero(pc.is_valid(parent_ids).to_numpy(zero_copy_only=False))
        )
        self.resources_by_type.update(type_list)
        self._insert(
            _INSERT_RESOURCE,
            list(
                zip(
                    type_list,
                    keys,
                    parent_type_list,
                    parent_id_list,
                    data_list,
                    repeat(self.sync_id),
                    repeat(self.discovered_at),
                    strict=False,
                )
            ),
        )
        return True

    def _add_resources_by_row(self, columns: dict[str, list[Any]]) -> None:
        table = "resources"
        rows = []
        for row in _rows(columns, _ResourceRow):
            type_id, resource_id, status = row.resource_type_id, row.resource_id, row.status
            parent_type, parent_id, account_type = (
                row.parent_resource_type_id,
                row.parent_resource_id,
                row.account_type,
            )
            key = model.resource_key(type_id, resource_id)
            trait = self.traits.get(type_id)
            if trait is None:
                raise C1zValidationError(table, key, f"resource type {type_id!r} is not a resource type")
            _check_id(table, key, "resource_id", resource_id)
            display_name = self.truncations.fit(
                table, key, "display_name", row.display_name, MAX_DISPLAY_NAME_BYTES
            )
            description = self.truncations.fit(
                table, key, "description", row.description, MAX_DESCRIPTION_BYTES
            )
            if status not in messages.RESOURCE_STATUSES:
                raise C1zValidationError(
                    table, key, f"status must be one of {model.STATUSES}, got {status!r}"
                )
            if (parent_type is None) != (parent_id is None):
                raise C1zValidationError(
                    table, key, "parent_resource_type_id and parent_resource_id must be set together"
                )
            by_id = self.resources.setdefault(type_id, {})
            if resource_id in by_id:
                raise C1zValidationError(table, key, "duplicate resource id")
            if trait == model.TRAIT_USER:
                if account_type not in messages.ACCOUNT_TYPES:
                    raise C1zValidationError(
                        table, key, f"account_type must be one of {model.ACCOUNT_TYPES}, got {account_type!r}"
                    )
                trait_message = messages.user_trait(
                    status=status,
                    account_type=account_type,
                    email=row.email,
                    login=row.login,
                    given_name=row.given_name,
                    family_name=row.family_name,
                    last_login_us=row.last_login,
                )
            else:
                trait_message = _TRAIT_BUILDERS[trait]()
            parent = (parent_type, parent_id) if parent_type is not None else None
            data = messages.serialize(
                messages.resource(
                    type_id=type_id,
                    resource_id=resource_id,
                    display_name=display_name,
                    description=description,
                    parent=parent,
                    status=status,
                    trait=trait_message,
                )
            )
            by_id[resource_id] = data
            if parent is not None:
                self.parents.append((key, parent_type, parent_id))
            self.resources_by_type[type_id] += 1
            rows.append((type_id, key, parent_type, parent_id, data, self.sync_id, self.discovered_at))
        self._insert(_INSERT_RESOURCE, rows)

    def check_parents(self) -> None:
        for key, parent_type, parent_id in self.parents:
            if parent_id not in self.resources.get(parent_type, {}):
                raise C1zValidationError(
                    "resources",
                    key,
                    f"parent {model.resource_key(parent_type, parent_id)!r} is not a resource",
                )
        self.parents.clear()

    def add_entitlements(self, batch: pa.RecordBatch) -> None:
        columns = _pylists(batch)
        table = "entitlements"
        rows = []
        for (
            entitlement_id,
            type_id,
            resource_id,
            slug,
            display_name,
            description,
            purpose,
            grantable_to,
        ) in zip(
            columns["entitlement_id"],
            columns["resource_type_id"],
            columns["resource_id"],
            columns["slug"],
            columns["display_name"],
            columns["description"],
            columns["purpose"],
            columns["grantable_to"],
            strict=True,
        ):
            _check_id(table, entitlement_id, "entitlement_id", entitlement_id)
            display_name = self.truncations.fit(
                table, entitlement_id, "display_name", display_name, MAX_DISPLAY_NAME_BYTES
            )
            description = self.truncations.fit(
                table, entitlement_id, "description", description, MAX_DESCRIPTION_BYTES
            )
            if entitlement_id in self.entitlements:
                raise C1zValidationError(table, entitlement_id, "duplicate entitlement id")
            resource_bytes = self.resources.get(type_id, {}).get(resource_id)
            if resource_bytes is None:
                raise C1zValidationError(
                    table,
                    entitlement_id,
                    f"resource {model.resource_key(type_id, resource_id)!r} is not a resource",
                )
            if purpose not in messages.PURPOSES:
                raise C1zValidationError(
                    table,
                    entitlement_id,
                    f"purpose must be one of {sorted(messages.PURPOSES)}, got {purpose!r}",
                )
            missing = [type_ for type_ in grantable_to if type_ not in self.resource_types]
            if missing:
                raise C1zValidationError(
                    table, entitlement_id, f"grantable_to type(s) {missing} are not resource types"
                )
            data = messages.serialize(
                messages.entitlement(
                    entitlement_id=entitlement_id,
                    resource_bytes=resource_bytes,
                    slug=slug,
                    display_name=display_name,
                    description=description,
                    purpose=purpose,
                    grantable_to=[self.resource_types[type_] for type_ in grantable_to],
                )
            )
            self.entitlements[entitlement_id] = (
                messages.length_delimited(messages.GRANT_ENTITLEMENT_FIELD, data),
                type_id,
                resource_id,
            )
            rows.append((type_id, resource_id, entitlement_id, data, self.sync_id, self.discovered_at))
        self._insert(_INSERT_ENTITLEMENT, rows)

    def _grant_tail(
        self, grant_id: str, entitlement_id: str, is_direct: bool, source_role_ids: list[str]
    ) -> bytes:
        cache_key = (entitlement_id, is_direct, tuple(source_role_ids))
        tail = self._tails.get(cache_key)
        if tail is not None:
            return tail
        sources = [model.entitlement_id(model.ROLE, role_id, model.ASSIGNED) for role_id in source_role_ids]
        for source in sources:
            if source not in self.entitlements:
                raise C1zValidationError(
                    "grants", grant_id, f"source role entitlement {source!r} is not an entitlement"
                )
        if not is_direct and not sources:
            raise C1zValidationError(
                "grants", grant_id, "neither direct nor inherited from a role (no source)"
            )
        tail = messages.grant_tail(entitlement_id, is_direct, sources)
        if len(self._tails) >= _TAIL_CACHE_LIMIT:
            self._tails.clear()
        self._tails[cache_key] = tail
        return tail

    def grant_rows(self, batch: pa.RecordBatch) -> list[list[Any]] | None:
        """The batch's v1_grants columns up to `data`, encoded in Arrow; None when a row breaks a check.

        The vectorised checks cover everything the row path checks but cannot say which row failed
        first; `add_grants` then redoes the batch row by row, which raises the exact error.
        """
        data = self._grant_data(batch)
        if data is None:
            return None
        return [*(batch.column(name).to_pylist() for name in _GRANT_KEY_COLUMNS), data.to_pylist()]

    def add_grants(self, batch: pa.RecordBatch, rows: list[list[Any]] | None) -> None:
        """Insert a batch of grants prepared by `grant_rows` (row by row when it returned None)."""
        if rows is None:
            self._add_grants_by_row(_pylists(batch))
            return
        counts = pc.value_counts(batch.column("resource_type_id"))
        self.grants_by_type.update(
            dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True))
        )
        self.connection.executemany(
            _INSERT_GRANT, zip(*rows, repeat(self.sync_id), repeat(self.discovered_at))
        )

    def _grant_data(self, batch: pa.RecordBatch) -> pa.Array | None:
        """The batch's grant `data` column, or None when any row breaks a check."""
        if any(column.null_count for column in batch.columns):
            return None
        grant_ids = batch.column("grant_id")
        lengths = pc.binary_length(grant_ids)
        if not _all(pc.and_(pc.greater_equal(lengths, 1), pc.less_equal(lengths, MAX_ID_BYTES))):
            return None
        ids, fields, types, resources = self._entitlement_arrays()
        entitlement = pc.index_in(batch.column("entitlement_id"), value_set=ids)
        if entitlement.null_count:
            return None
        if not _all(pc.equal(types.take(entitlement), batch.column("resource_type_id"))) or not _all(
            pc.equal(resources.take(entitlement), batch.column("resource_id"))
        ):
            return None
        principals = self._principal_fields(
            batch.column("principal_resource_type_id"), batch.column("principal_resource_id")
        )
        if principals is None:
            return None
        tails = self._grant_tails(batch, entitlement)
        if tails is None:
            return None
        return messages.grant_bytes_array(fields.take(entitlement), principals, grant_ids, tails)

    def _entitlement_arrays(self) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
        """Entitlement ids, Grant field 1 bytes, resource types and resource ids (grants come last)."""
        if self._entitlement_columns is None:
            values = self.entitlements.values()
            self._entitlement_columns = (
                pa.array(list(self.entitlements), pa.string()),
                pa.array([field for field, _, _ in values], pa.binary()),
                pa.array([type_id for _, type_id, _ in values], pa.string()),
                pa.array([resource_id for _, _, resource_id in values], pa.string()),
            )
        return self._entitlement_columns

    def _principal_fields(self, types: pa.Array, ids: pa.Array) -> pa.Array | None:
        """Grant field 2 (the principal's serialised Resource) per row, or None if one is unknown."""
        fields = None
        for type_id in pc.unique(types).to_pylist():
            if type_id not in self.resources:
                return None
            if type_id not in self._principals:
                by_id = self.resources[type_id]
                self._principals[type_id] = (
                    pa.array(list(by_id), pa.string()),
                    pa.array(
                        [
                            messages.length_delimited(messages.GRANT_PRINCIPAL_FIELD, d)
                            for d in by_id.values()
                        ],
                        pa.binary(),
                    ),
                )
            known_ids, known_fields = self._principals[type_id]
            chosen = known_fields.take(pc.index_in(ids, value_set=known_ids))
            fields = chosen if fields is None else pc.if_else(pc.equal(types, type_id), chosen, fields)
        return fields if fields is not None and not fields.null_count else None

    def _grant_tails(self, batch: pa.RecordBatch, entitlement: pa.Array) -> pa.Array | None:
        """Grant fields 4-5 per row, computed once per distinct (entitlement, is_direct, sources)."""
        roles = batch.column("source_role_ids")
        role_ids = pc.list_flatten(roles)
        if role_ids.null_count or pc.any(pc.match_substring(role_ids, "\x00")).as_py():
            return None  # the key below separates with NUL
        keys = pc.binary_join_element_wise(
            entitlement.cast(pa.string()),
            pc.if_else(batch.column("is_direct"), "1", "0"),
            pc.list_value_length(roles).cast(pa.string()),
            pc.binary_join(roles, "\x00"),
            "\x00",
        )
        encoded = pc.dictionary_encode(keys)
        _, first_rows = np.unique(encoded.indices.to_numpy(), return_index=True)
        columns = _pylists(
            batch.select(["grant_id", "entitlement_id", "is_direct", "source_role_ids"]).take(first_rows)
        )
        try:
            tails = [
                self._grant_tail(grant_id, entitlement_id, is_direct, source_role_ids)
                for grant_id, entitlement_id, is_direct, source_role_ids in zip(
                    columns["grant_id"],
                    columns["entitlement_id"],
                    columns["is_direct"],
                    columns["source_role_ids"],
                    strict=True,
                )
            ]
        except C1zValidationError:
            return None
        return pa.array(tails, pa.binary()).take(encoded.indices)

    def _add_grants_by_row(self, columns: dict[str, list[Any]]) -> None:
        """Check, encode and insert grants one by one, raising for the first row that breaks a check."""
        table = "grants"
        rows = []
        resources = self.resources
        entitlements = self.entitlements
        sync_id = self.sync_id
        discovered_at = self.discovered_at
        principal_field = messages.GRANT_PRINCIPAL_FIELD
        for row in _rows(columns, _GrantRow):
            grant_id, entitlement_id = row.grant_id, row.entitlement_id
            type_id, resource_id = row.resource_type_id, row.resource_id
            principal_type, principal_id = row.principal_resource_type_id, row.principal_resource_id
            encoded_id = _check_id(table, grant_id, "grant_id", grant_id)
            entitlement = entitlements.get(entitlement_id)
            if entitlement is None:
                raise C1zValidationError(
                    table, grant_id, f"entitlement {entitlement_id!r} is not an entitlement"
                )
            entitlement_field, entitlement_type, entitlement_resource = entitlement
            if type_id != entitlement_type or resource_id != entitlement_resource:
                raise C1zValidationError(
                    table,
                    grant_id,
                    f"resource {model.resource_key(type_id, resource_id)!r} is not the resource of entitlement "
                    f"{entitlement_id!r}",
                )
            principal = resources.get(principal_type, {}).get(principal_id)
            if principal is None:
                raise C1zValidationError(
                    table,
                    grant_id,
                    f"principal {model.resource_key(principal_type, principal_id)!r} is not a resource",
                )
            data = messages.grant_bytes(
                entitlement_field,
                messages.length_delimited(principal_field, principal),
                encoded_id,
                self._grant_tail(grant_id, entitlement_id, row.is_direct, row.source_role_ids),
            )
            rows.append(
                (
                    type_id,
                    resource_id,
                    entitlement_id,
                    principal_type,
                    principal_id,
                    grant_id,
                    data,
                    sync_id,
                    discovered_at,
                )
            )
            self.grants_by_type[type_id] += 1
        self._insert(_INSERT_GRANT, rows)


def _assert_no_journal(db_path: Path) -> None:
    """The file readers get must be a plain rollback-journal database with nothing left beside it."""
    leftovers = [p.name for p in db_path.parent.iterdir() if p.name.startswith(f"{db_path.name}-")]
    if leftovers:
        raise C1zError(f"SQLite left {leftovers} beside the database; refusing to package an unfinished file")
    with db_path.open("rb") as handle:
        header = handle.read(20)
    if header[18:20] != b"\x01\x01":
        raise C1zError("SQLite database is not in rollback-journal (delete) mode")


def _compress(db_path: Path, destination: UPath) -> tuple[int, str]:
    """`C1ZF\\0` + one zstd frame (checksum and content size set) of the database, written atomically."""
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True, write_content_size=True)
    with open_atomic(destination) as handle, db_path.open("rb") as source:
        sink = HashingWriter(handle)
        sink.write(c1z_format.MAGIC)
        with compressor.stream_writer(sink, size=db_path.stat().st_size, closefd=False) as stream:
            shutil.copyfileobj(source, stream, c1z_format.COPY_CHUNK)
    return sink.size, sink.digest.hexdigest()
