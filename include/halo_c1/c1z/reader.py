"""Read a v1 c1z: check the magic, decompress into a temporary SQLite file, list rows with parsed messages.

For tests and operators:

    python -m halo_c1.c1z.reader path/to/sync.c1z     # the sync and counts per table / type

    with C1zReader.open(path) as c1z:
        for row in c1z.rows("v1_grants"):
            row["message"].principal.id.resource
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import zstandard
from google.protobuf.message import DecodeError, Message
from upath import UPath

from halo_c1.c1z import format as c1z_format
from halo_c1.c1z.errors import C1zFormatError
from halo_c1.c1z.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from halo_c1.lake import as_path

# Decoded-size cap of baton-sdk v0.7.27 readers (3 GiB); v0.25.0 allows 10 GiB.
MAX_DECODED_BYTES: Final = 3 * 1024**3

MESSAGES: Final[dict[str, type[Message]]] = {
    "v1_resource_types": resource_pb2.ResourceType,
    "v1_resources": resource_pb2.Resource,
    "v1_entitlements": entitlement_pb2.Entitlement,
    "v1_grants": grant_pb2.Grant,
}


def _decompress(source: Any, target: Path, max_decoded_bytes: int) -> None:
    magic = source.read(len(c1z_format.MAGIC))
    if magic == c1z_format.V3_MAGIC:
        raise C1zFormatError("this is a v3 (Pebble) c1z; only v1 (SQLite) files can be read")
    if magic != c1z_format.MAGIC:
        raise C1zFormatError(f"not a c1z file: magic {magic!r}, expected {c1z_format.MAGIC!r}")
    decompressor = zstandard.ZstdDecompressor(max_window_size=c1z_format.MAX_WINDOW_BYTES)
    written = 0
    try:
        with decompressor.stream_reader(source, read_across_frames=False) as stream, target.open("wb") as out:
            while chunk := stream.read(c1z_format.COPY_CHUNK):
                written += len(chunk)
                if written > max_decoded_bytes:
                    raise C1zFormatError(f"decoded database exceeds {max_decoded_bytes} bytes")
                out.write(chunk)
    except zstandard.ZstdError as exc:
        raise C1zFormatError(f"zstd body cannot be decoded: {exc}") from exc


class C1zReader:
    """An opened c1z: a decompressed temporary copy of its SQLite database, removed on close."""

    def __init__(self, connection: sqlite3.Connection, tmp: tempfile.TemporaryDirectory[str]) -> None:
        self.connection = connection
        self._tmp = tmp

    @classmethod
    def open(cls, path: str | UPath, *, max_decoded_bytes: int = MAX_DECODED_BYTES) -> C1zReader:
        tmp = tempfile.TemporaryDirectory(prefix="halo-c1-c1z-read-")
        db_path = Path(tmp.name) / "sync.db"
        try:
            with as_path(path).open("rb") as source:
                _decompress(source, db_path, max_decoded_bytes)
            connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
            connection.row_factory = sqlite3.Row
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            tmp.cleanup()
            raise C1zFormatError(f"decoded body is not a SQLite database: {exc}") from exc
        except BaseException:
            tmp.cleanup()
            raise
        return cls(connection, tmp)

    def close(self) -> None:
        self.connection.close()
        self._tmp.cleanup()

    def __enter__(self) -> C1zReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def schema(self) -> list[tuple[str, str, str]]:
        """(type, name, sql) of every table and index, in creation order."""
        rows = self.connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
        )
        return [(row["type"], row["name"], row["sql"]) for row in rows]

    def sync_runs(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.connection.execute("SELECT * FROM v1_sync_runs ORDER BY id")]

    def finished_full_sync(self) -> dict[str, Any]:
        """The latest finished full sync, as Baton readers choose it (ended_at desc, sync_id desc)."""
        row = self.connection.execute(
            "SELECT * FROM v1_sync_runs WHERE ended_at IS NOT NULL AND sync_type = 'full'"
            " ORDER BY ended_at DESC, sync_id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            raise C1zFormatError("no finished full sync in the c1z")
        return dict(row)

    def rows(self, table: str, sync_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Rows of a data table in id order, each with `message`: its parsed `data`."""
        message_type = MESSAGES[table]
        sync = sync_id or self.finished_full_sync()["sync_id"]
        for row in self.connection.execute(f"SELECT * FROM {table} WHERE sync_id = ? ORDER BY id", (sync,)):
            record = dict(row)
            message = message_type()
            try:
                message.ParseFromString(record["data"])
            except DecodeError as exc:
                raise C1zFormatError(
                    f"{table} row {record['external_id']!r}: data does not parse: {exc}"
                ) from exc
            record["message"] = message
            yield record

    def counts(self, sync_id: str | None = None) -> dict[str, Any]:
        """Rows per data table and resources/grants per resource type, for one sync."""
        sync = sync_id or self.finished_full_sync()["sync_id"]
        counts: dict[str, Any] = {
            table: self.connection.execute(
                f"SELECT count(*) FROM {table} WHERE sync_id = ?", (sync,)
            ).fetchone()[0]
            for table in c1z_format.DATA_TABLES
        }
        for table, key in (("v1_resources", "resources_by_type"), ("v1_grants", "grants_by_resource_type")):
            counts[key] = {
                row[0]: row[1]
                for row in self.connection.execute(
                    f"SELECT resource_type_id, count(*) FROM {table} WHERE sync_id = ?"
                    " GROUP BY resource_type_id ORDER BY resource_type_id",
                    (sync,),
                )
            }
        return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the sync and row counts of a v1 c1z file.")
    parser.add_argument("path", help="local path or URL of the .c1z")
    args = parser.parse_args(argv)
    try:
        with C1zReader.open(args.path) as c1z:
            report = {"sync": c1z.finished_full_sync(), "syncs": len(c1z.sync_runs()), **c1z.counts()}
    except (C1zFormatError, FileNotFoundError) as exc:
        print(f"{args.path}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
