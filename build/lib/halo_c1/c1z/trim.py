"""A copy of a c1z without some tables' rows: what C1 asked for with `skip_grants` and friends.

The copy keeps everything else byte-for-byte in meaning (same sync run, same rows), so a reader sees
the same sync with fewer tables filled. Used by service mode; the lake's c1z is never changed.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path

from upath import UPath

from halo_c1.c1z import format as c1z_format
from halo_c1.c1z.reader import MAX_DECODED_BYTES, _decompress
from halo_c1.c1z.writer import _compress
from halo_c1.lake import as_path


def without_rows(source: str | UPath, destination: str | UPath, tables: Iterable[str]) -> tuple[int, str]:
    """Write `source` to `destination` with every row of `tables` removed; (size, sha256) of the copy."""
    emptied = sorted(set(tables))
    unknown = [table for table in emptied if table not in c1z_format.DATA_TABLES]
    if unknown:
        raise ValueError(f"not c1z data tables: {unknown}")
    with tempfile.TemporaryDirectory(prefix="halo-c1-c1z-trim-") as tmp:
        db_path = Path(tmp) / "sync.db"
        with as_path(source).open("rb") as handle:
            _decompress(handle, db_path, MAX_DECODED_BYTES)
        connection = sqlite3.connect(db_path, isolation_level=None)
        try:
            for table in emptied:
                connection.execute(f"DELETE FROM {table}")
            connection.execute("VACUUM")
        finally:
            connection.close()
        return _compress(db_path, as_path(destination))
