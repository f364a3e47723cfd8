"""Deliver a snapshot's c1z to where C1 takes it from: an object-store key or a local file.

C1's external data source pulls one exact key (e.g. `s3://bucket/halo/sync.c1z`) every hour, and the
manual "Import app data → From file" path takes a local file. Either way the file must never be seen
half-written, and a failed run must never replace the last good one. So the c1z is streamed to a
temporary key beside the target (`sync.c1z.tmp-<uuid>`, a name C1 never pulls), read back to check
its size and SHA-256, and only then moved into place (S3: server-side copy, then delete). Any failure
removes the temporary key and raises `DeliveryError`; the object already at the target is untouched.

The delivery manifest is recorded in the lake only after the c1z is in place.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from upath import UPath

from halo_c1.deliver.counts import snapshot_counts
from halo_c1.deliver.errors import DeliveryError, StaleSnapshotError
from halo_c1.deliver.manifest import last_delivery, record_delivery
from halo_c1.lake import Lake, as_path, make_local_dirs, restrict_local

log = logging.getLogger(__name__)

CHUNK_SIZE = 8 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest multipart part
C1Z_SUFFIX = ".c1z"
_SECRET_OPTION = re.compile(r"secret|password|token|key|credential|sas|signature|session", re.IGNORECASE)


def public_url(path: UPath | str) -> str:
    """The URL without anything secret: no `user:password@`, no query string (SAS tokens), no fragment.

    A bare `conn_id@` (Airflow's `ObjectStoragePath("s3://aws_default@bucket/...")`) names a
    connection, not a credential, and is kept.
    """
    parts = urlsplit(str(path))
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _redact(text: str, path: UPath) -> str:
    """`text` with every secret-looking storage option value of `path` masked."""
    for name, value in path.storage_options.items():
        if isinstance(value, str) and len(value) >= 4 and _SECRET_OPTION.search(name):
            text = text.replace(value, "***")
    return text


def _open_streaming(path: UPath, mode: str, chunk_size: int) -> IO[bytes]:
    """Open with buffers of about `chunk_size`: object stores default to large read-ahead and upload
    blocks (s3fs: 50 MiB), which would otherwise dominate memory. Local files ignore the options."""
    options: dict[str, Any] = {"block_size": max(chunk_size, MIN_PART_SIZE)}
    if "r" in mode:
        options["cache_type"] = "none"
    return path.open(mode, **options)


def _copy_hashing(source: UPath, destination: UPath, chunk_size: int) -> tuple[str, int]:
    """Stream `source` into `destination` in chunks; the SHA-256 and size of what was read."""
    digest = hashlib.sha256()
    size = 0
    with (
        _open_streaming(source, "rb", chunk_size) as reader,
        _open_streaming(destination, "wb", chunk_size) as writer,
    ):
        while chunk := reader.read(chunk_size):
            digest.update(chunk)
            size += len(chunk)
            writer.write(chunk)
    return digest.hexdigest(), size


def _stored_size(path: UPath) -> int:
    path.fs.invalidate_cache(path.path)
    return int(path.fs.info(path.path)["size"])


def _verify(path: UPath, sha256: str, size: int, chunk_size: int) -> None:
    """Read the stored object back and compare size and SHA-256 with what was sent."""
    stored_size = _stored_size(path)
    if stored_size != size:
        raise DeliveryError(f"stored size {stored_size} bytes differs from the {size} bytes sent")
    digest = hashlib.sha256()
    with _open_streaming(path, "rb", chunk_size) as reader:
        while chunk := reader.read(chunk_size):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise DeliveryError(f"stored SHA-256 {digest.hexdigest()} differs from the {sha256} sent")


def _discard(temporary: UPath) -> None:
    """Remove a temporary key if it exists; a failure here is logged, never raised over the real one."""
    try:
        temporary.fs.invalidate_cache(temporary.path)
        if temporary.exists():
            temporary.fs.rm(temporary.path)
    except Exception as exc:
        log.warning(
            "Could not remove temporary delivery object %s (%s); remove it by hand",
            public_url(temporary),
            type(exc).__name__,
        )


def publish_atomically(source: UPath, target: UPath, *, chunk_size: int = CHUNK_SIZE) -> tuple[str, int]:
    """Put a copy of `source` at `target` all at once; return its SHA-256 and size in bytes.

    Memory stays bounded by `chunk_size` (plus the object store's upload buffer) whatever the size.
    """
    temporary = target.parent / f"{target.name}.tmp-{uuid.uuid4().hex}"
    try:
        make_local_dirs(target.parent)
        sha256, size = _copy_hashing(source, temporary, chunk_size)
        restrict_local(temporary)
        _verify(temporary, sha256, size, chunk_size)
        target.fs.mv(temporary.path, target.path)
        moved_size = _stored_size(target)
        if moved_size != size:
            raise DeliveryError(f"after the move the target holds {moved_size} bytes, expected {size}")
    except Exception as exc:
        _discard(temporary)
        cause = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
        cause = _redact(cause, target)
        raise DeliveryError(
            f"could not deliver {public_url(source)} to {public_url(target)}: {cause}"
        ) from exc
    return sha256, size


def _manifest_counts(lake: Lake, snapshot_id: str, counts: Mapping[str, Any] | None) -> dict[str, Any]:
    """The counts to record: the caller's (checked for shape), else read from the curated tables."""
    if counts is None:
        return snapshot_counts(lake, snapshot_id)
    resources = counts.get("resources")
    grants = counts.get("grants")
    if (
        not isinstance(resources, Mapping)
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in resources.values())
        or not isinstance(grants, int)
        or isinstance(grants, bool)
    ):
        raise ValueError(
            f"counts for snapshot {snapshot_id} must look like "
            f'{{"resources": {{"agent": 12, ...}}, "grants": 40}}, got {dict(counts)!r}'
        )
    return {"resources": {str(k): int(v) for k, v in sorted(resources.items())}, "grants": grants}


def deliver_c1z(
    lake: Lake,
    snapshot_id: str,
    target: UPath | str,
    *,
    counts: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> dict[str, Any]:
    """Deliver the snapshot's `sync.c1z` to `target` atomically and record the delivery manifest.

    `counts` is `{"resources": {<type>: n}, "grants": n}` (optionally with `"sync_id"`, the c1z's
    sync id); read from the curated tables when omitted. `extra` (e.g. the guard's report, the run id)
    is stored in the manifest as given, so it must hold nothing secret. Returns the manifest.
    """
    target = as_path(target)
    if not target.name.endswith(C1Z_SUFFIX):
        raise ValueError(
            f"delivery target {public_url(target)} must name the .c1z file, e.g. s3://bucket/halo/sync.c1z"
        )
    source = lake.c1z_file(snapshot_id)
    if not source.exists():
        raise DeliveryError(
            f"no c1z for snapshot {snapshot_id} at {public_url(source)}; run the package task first"
        )
    previous = last_delivery(lake)
    if previous and snapshot_id < previous["snapshot_id"]:
        raise StaleSnapshotError(
            f"snapshot {snapshot_id} is older than the delivered snapshot {previous['snapshot_id']}: "
            "not replacing newer access data in C1 with older data"
        )
    checked = _manifest_counts(lake, snapshot_id, counts)
    extra = dict(extra or {})
    sync_id = (counts or {}).get("sync_id") or extra.get("sync_id")

    sha256, size = publish_atomically(source, target, chunk_size=chunk_size)
    manifest = {
        "snapshot_id": snapshot_id,
        "target": public_url(target),
        "source": public_url(source),
        "sha256": sha256,
        "size_bytes": size,
        "counts": checked,
        "c1z_sync_id": sync_id,
        "delivered_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "extra": extra,
    }
    record_delivery(lake, manifest)
    log.info(
        "Delivered snapshot %s to %s (%d bytes, sha256 %s)", snapshot_id, manifest["target"], size, sha256
    )
    return manifest
