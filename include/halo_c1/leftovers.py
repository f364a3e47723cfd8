"""Removing what a killed run left behind, safely: only our own temporary names, only when older
than any run can last (`STALE_AFTER`, far above the DAG's 2 h run timeout), so a running task's
files are never touched.

- `.tmp-*` files in the lake (`lake.open_atomic` writes under that name, then moves into place);
- `<target>.tmp-*` beside an object-storage/file delivery target (`deliver.objectstore`);
- the c1z writer's SQLite build folders and the gate's Data Docs folders in the system temp folder.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from upath import UPath

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(hours=6)
LOCAL_TEMP_PREFIXES = ("halo-c1-c1z-", "halo_c1_docs_", "halo-c1-sync-")


def _modified(info: dict[str, Any]) -> float | None:
    """An fsspec listing entry's modification time as a POSIX timestamp (local, S3 and Azure)."""
    for key in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(key)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, datetime):
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return None


def _remove_stale(fs: Any, infos: list[dict[str, Any]], cutoff: float) -> list[str]:
    removed = []
    for info in infos:
        modified = _modified(info)
        if info.get("type") == "file" and modified is not None and modified < cutoff:
            with contextlib.suppress(FileNotFoundError):
                fs.rm(info["name"])
                removed.append(info["name"])
    return removed


def sweep_lake(base: UPath, *, older_than: timedelta = STALE_AFTER, now: float | None = None) -> list[str]:
    """Remove stale `.tmp-*` files anywhere under the lake; the paths removed."""
    cutoff = (now or time.time()) - older_than.total_seconds()
    base.fs.invalidate_cache(base.path)  # object-store listings are cached per process
    found = base.fs.find(base.path, detail=True) if base.exists() else {}
    leftovers = [info for name, info in found.items() if name.rsplit("/", 1)[-1].startswith(".tmp-")]
    removed = _remove_stale(base.fs, leftovers, cutoff)
    if removed:
        log.info("removed %d stale temporary file(s) from the lake, e.g. %s", len(removed), removed[0])
    return removed


def sweep_beside(
    target: UPath, *, older_than: timedelta = STALE_AFTER, now: float | None = None
) -> list[str]:
    """Remove stale `<target name>.tmp-*` uploads beside a delivery target; the paths removed."""
    cutoff = (now or time.time()) - older_than.total_seconds()
    folder = target.parent
    folder.fs.invalidate_cache(folder.path)  # object-store listings are cached per process
    if not folder.exists():
        return []
    prefix = f"{target.name}.tmp-"
    listing = folder.fs.ls(folder.path, detail=True)
    leftovers = [info for info in listing if info["name"].rsplit("/", 1)[-1].startswith(prefix)]
    removed = _remove_stale(folder.fs, leftovers, cutoff)
    if removed:
        log.info("removed %d stale temporary upload(s) beside %s", len(removed), target.name)
    return removed


def sweep_local_temp(
    folder: Path | None = None, *, older_than: timedelta = STALE_AFTER, now: float | None = None
) -> list[str]:
    """Remove our stale build folders from the system temp folder; the folders removed."""
    cutoff = (now or time.time()) - older_than.total_seconds()
    removed = []
    for entry in Path(folder or tempfile.gettempdir()).iterdir():
        if entry.name.startswith(LOCAL_TEMP_PREFIXES) and entry.is_dir() and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(str(entry))
    if removed:
        log.info("removed %d stale build folder(s) from %s", len(removed), folder or tempfile.gettempdir())
    return removed
