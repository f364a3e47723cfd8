"""The lake: where each stage's output lives, snapshot ids, and atomic writes.

The lake is a `UPath` (Airflow's `ObjectStoragePath` is one), so the same code writes to
`file://`, `s3://` or `abfs://` (Azure Blob). Layout, Hive-style so DuckDB/Spark/Athena read it:

    raw/entity=<entity>/snapshot=<id>/part-0.parquet
    raw/_manifests/snapshot=<id>.json          written last: its presence means the raw snapshot is complete
    raw/_end_users/snapshot=<id>.json          an end-user refresh's manifest (users only; `freshness`)
    curated/<table>/snapshot=<id>/part-0.parquet
    reports/snapshot=<id>/...                   GX Data Docs, the gate's result, the guard's report
    reports/dq_history/snapshot=<id>/part-0.parquet
    c1z/snapshot=<id>/sync.c1z
    runs/<DAG run id>.json                     the snapshot id a DAG run took (a cleared run reuses it)
    deliveries/snapshot=<id>.json               one manifest per delivery
    deliveries/latest.json                      the last delivered snapshot (what the guard compares with)
    provisioning/audit/date=<YYYY-MM-DD>/<time>-<task>.parquet   one row per grant/revoke (append-only)
    provisioning/leases/agent=<id>.json         the per-agent writer lease while a grant/revoke runs

Every file is written under a hidden temporary name in its final folder and then moved into place,
so a reader never sees half a file and a failed run never replaces a good one.

Local files hold names and emails of every agent and end user, so they are written owner-only
(files 0600, folders 0700); `HALO_C1_GROUP_READABLE=true` in the environment makes them 0640/0750
for a host where a group (e.g. the analysts reading the lake) must read them. Object stores have
their own access control.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Generator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

SNAPSHOT_FORMAT = "%Y%m%dT%H%M%SZ"
PARQUET_FILE = "part-0.parquet"
END_USER_FILE = "part-end-users.parquet"


def snapshot_id_for(taken_at: datetime) -> str:
    """The snapshot id of data taken at `taken_at`: that moment in UTC, to the second.

    A snapshot is named after when its data was taken, never after a run's logical date
    (`halo_c1.snapshots` decides which moment that is for a run).
    """
    if taken_at.tzinfo is None:
        raise ValueError(f"time {taken_at!r} has no time zone; pass an aware datetime")
    return taken_at.astimezone(UTC).strftime(SNAPSHOT_FORMAT)


def snapshot_time(snapshot_id: str) -> datetime:
    """The moment a snapshot id stands for."""
    try:
        return datetime.strptime(snapshot_id, SNAPSHOT_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{snapshot_id!r} is not a snapshot id (expected e.g. 20261127T050000Z)") from None


def snapshot_ids(folder: UPath, suffix: str = "") -> list[str]:
    """Ids of the entries named `snapshot=<id><suffix>` in `folder`, oldest first: none when the folder
    is missing, and a name whose id is no time (a stray or temporary file) is passed over."""
    if not folder.exists():
        return []
    ids = []
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith("snapshot=") and name.endswith(suffix):
            candidate = name[len("snapshot=") : len(name) - len(suffix)]
            try:
                snapshot_time(candidate)
            except ValueError:
                continue
            ids.append(candidate)
    return sorted(ids)


def is_snapshot_id(value: Any) -> bool:
    """Whether `value` is a snapshot id exactly as `snapshot_id_for` writes it: a real moment, upper
    case, zero-padded (`strptime` alone also takes `20261127t050000z` or a 13th month's neighbours)."""
    if not isinstance(value, str):
        return False
    try:
        return snapshot_id_for(snapshot_time(value)) == value
    except ValueError:
        return False


def snapshot_is_older(snapshot_id: str, than: str) -> bool:
    """Whether `snapshot_id` was taken before `than`. The one ordering of snapshots (delivery's stale
    check, baselines): snapshot ids name when the data was taken and sort as text."""
    return snapshot_id < than


def as_path(url: str | UPath, **storage_options: Any) -> UPath:
    """A `UPath` for a URL or plain local path; object-store options pass through to fsspec."""
    if isinstance(url, UPath) and not storage_options:
        return url
    return UPath(str(url), **storage_options)


class Lake:
    """Paths of the lake's zones for one base URL. Pure naming: nothing here touches storage."""

    def __init__(self, base: str | UPath, **storage_options: Any) -> None:
        self.base = as_path(base, **storage_options)

    def __repr__(self) -> str:
        return f"Lake({str(self.base)!r})"

    def raw_file(self, entity: str, snapshot_id: str, name: str = PARQUET_FILE) -> UPath:
        """A raw entity's file; an end-user refresh names its files apart (`END_USER_FILE`), so a run
        named at the same second never writes over them."""
        return self.base / "raw" / f"entity={entity}" / f"snapshot={snapshot_id}" / name

    def raw_manifest(self, snapshot_id: str) -> UPath:
        return self.base / "raw" / "_manifests" / f"snapshot={snapshot_id}.json"

    def raw_claim(self, snapshot_id: str) -> UPath:
        """Held by the one run extracting the raw snapshot (`halo.extract.extract_snapshot`)."""
        return self.base / "raw" / "_claims" / f"snapshot={snapshot_id}.json"

    def end_user_manifest(self, snapshot_id: str) -> UPath:
        """An end-user refresh's manifest: its users file is complete, but it is no snapshot."""
        return self.base / "raw" / "_end_users" / f"snapshot={snapshot_id}.json"

    def end_user_claim(self) -> UPath:
        """Held by the one end-user refresh in flight (`halo.extract.extract_end_users`)."""
        return self.base / "raw" / "_claims" / "end_users.json"

    def has_raw(self, snapshot_id: str) -> bool:
        return self.raw_manifest(snapshot_id).exists()

    def curated_file(self, table: str, snapshot_id: str) -> UPath:
        return self.base / "curated" / table / f"snapshot={snapshot_id}" / PARQUET_FILE

    def report_dir(self, snapshot_id: str) -> UPath:
        return self.base / "reports" / f"snapshot={snapshot_id}"

    def guard_report(self, snapshot_id: str) -> UPath:
        return self.report_dir(snapshot_id) / "guard.json"

    def reports_index(self) -> UPath:
        return self.base / "reports" / "index.html"

    def dq_history_file(self, snapshot_id: str) -> UPath:
        return self.base / "reports" / "dq_history" / f"snapshot={snapshot_id}" / PARQUET_FILE

    def c1z_file(self, snapshot_id: str) -> UPath:
        return self.base / "c1z" / f"snapshot={snapshot_id}" / "sync.c1z"

    def delivery_manifest(self, snapshot_id: str) -> UPath:
        return self.base / "deliveries" / f"snapshot={snapshot_id}.json"

    def delivery_lease(self) -> UPath:
        """Held while a run delivers: one delivery at a time per lake, whatever runs it."""
        return self.base / "deliveries" / "_lease.json"

    def latest_delivery(self) -> UPath:
        return self.base / "deliveries" / "latest.json"

    def provisioning_audit_dir(self, day: str | None = None) -> UPath:
        """The audit table (Hive-partitioned by `date=YYYY-MM-DD`), or one day's folder of it."""
        folder = self.base / "provisioning" / "audit"
        return folder / f"date={day}" if day else folder

    def provisioning_lease(self, agent_id: str) -> UPath:
        return self.base / "provisioning" / "leases" / f"agent={agent_id}.json"


GROUP_READABLE_ENV = "HALO_C1_GROUP_READABLE"


def is_local(path: UPath) -> bool:
    return path.protocol in ("", "file", "local")


def local_modes() -> tuple[int, int]:
    """(file mode, folder mode) for local files: owner-only unless `HALO_C1_GROUP_READABLE` is true."""
    if os.environ.get(GROUP_READABLE_ENV, "").strip().lower() in ("1", "true"):
        return 0o640, 0o750
    return 0o600, 0o700


def make_local_dirs(folder: UPath) -> None:
    """Create a local folder and its missing parents with the folder mode (not the umask's)."""
    if not is_local(folder):
        return
    _, mode = local_modes()
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path.path, mode)
        except FileExistsError:
            continue  # another task made it meanwhile
        os.chmod(path.path, mode)


def restrict_local(path: UPath) -> None:
    """Give a local file the file mode before it is moved into place (a no-op on object stores)."""
    if is_local(path):
        os.chmod(path.path, local_modes()[0])


def _ensure_parent(path: UPath) -> None:
    make_local_dirs(path.parent)


@contextmanager
def open_atomic(path: UPath, mode: str = "wb") -> Generator[IO[Any], None, None]:
    """Open a hidden temporary file beside `path`; move it into place only if the block succeeds."""
    _ensure_parent(path)
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}-{path.name}"
    try:
        with tmp.open(mode) as handle:
            yield handle
        restrict_local(tmp)
        path.fs.mv(tmp.path, path.path)
    except BaseException:
        if tmp.exists():
            tmp.fs.rm(tmp.path)
        raise


@contextmanager
def parquet_writer(path: UPath, schema: pa.Schema) -> Generator[pq.ParquetWriter, None, None]:
    """A Parquet writer for streaming batches into one file, committed atomically on success."""
    with open_atomic(path) as handle, pq.ParquetWriter(handle, schema, compression="zstd") as writer:
        yield writer


def write_parquet(path: UPath, table: pa.Table) -> None:
    """Write one table to one Parquet file, atomically."""
    with parquet_writer(path, table.schema) as writer:
        writer.write_table(table)


def read_parquet(path: UPath, columns: list[str] | None = None) -> pa.Table:
    with path.open("rb") as handle:
        return pq.read_table(handle, columns=columns)


class HashingWriter:
    """Writes through to `handle` (if any), counting the bytes and hashing them: size and SHA-256 of
    what was written, in one pass (the c1z writer's output, a delivery's upload, a file measured)."""

    def __init__(self, handle: IO[bytes] | None = None) -> None:
        self.handle = handle
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        if self.handle is not None:
            self.handle.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        if self.handle is not None:
            self.handle.flush()


def copy_hashing(
    source: IO[bytes], destination: IO[bytes] | None = None, chunk_size: int = 2**20
) -> HashingWriter:
    """Stream `source` to its end into `destination` (None: only measure it) in `chunk_size` reads;
    the returned writer holds the size and SHA-256 of what was read."""
    sink = HashingWriter(destination)
    shutil.copyfileobj(source, sink, chunk_size)
    return sink


def parquet_row_count(path: UPath) -> int:
    """Rows in a Parquet file, from its footer: no row is read."""
    with path.open("rb") as handle:
        return pq.ParquetFile(handle).metadata.num_rows


def write_json(path: UPath, payload: Any) -> None:
    with open_atomic(path) as handle:
        handle.write(json.dumps(payload, indent=2, sort_keys=True, default=str).encode())


def read_json(path: UPath) -> Any:
    with path.open("rb") as handle:
        return json.loads(handle.read())
