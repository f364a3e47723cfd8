"""The object-storage/file delivery target: put a c1z at one key (or file) C1 takes it from.

C1's external data source pulls one exact key (e.g. `s3://bucket/halo/sync.c1z`) every hour, and the
manual "Import app data → From file" path takes a local file. Either way the file must never be seen
half-written, and a failed run must never replace the last good one. So the c1z is streamed to a
temporary key beside the target (`sync.c1z.tmp-<uuid>`, a name C1 never pulls), read back to check
its size and SHA-256, and only then moved into place (S3: server-side copy, then delete). Any failure
removes the temporary key and raises `DeliveryError`; the object already at the target is untouched.

Staging (copy + verify) and the move are separate steps (`deliver.target`), so the bookkeeping can
re-check the delivery record in between; the record is written by `deliver.bookkeeping`.

After the move, the writer record (`deliver.writer`) goes to `<target>.writer.json` beside it, the
same way (a temporary `<target>.tmp-<uuid>` moved into place). C1 pulls only the exact key, so the
record is never taken for data.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from upath import UPath

from halo_c1.deliver.errors import DeliveryError
from halo_c1.deliver.target import Held
from halo_c1.errors import ConfigurationError
from halo_c1.lake import as_path, copy_hashing, make_local_dirs, restrict_local
from halo_c1.redact import is_secret_key, scrub

log = logging.getLogger(__name__)

CHUNK_SIZE = 8 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest multipart part
C1Z_SUFFIX = ".c1z"
WRITER_SUFFIX = ".writer.json"


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
        if isinstance(value, str) and is_secret_key(name):
            text = scrub(text, [value])
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
    with (
        _open_streaming(source, "rb", chunk_size) as reader,
        _open_streaming(destination, "wb", chunk_size) as writer,
    ):
        sink = copy_hashing(reader, writer, chunk_size)
    return sink.digest.hexdigest(), sink.size


def _stored_size(path: UPath) -> int:
    path.fs.invalidate_cache(path.path)
    return int(path.fs.info(path.path)["size"])


def _sha256(path: UPath, chunk_size: int) -> str:
    with _open_streaming(path, "rb", chunk_size) as reader:
        return copy_hashing(reader, chunk_size=chunk_size).digest.hexdigest()


def _verify(path: UPath, sha256: str, size: int, chunk_size: int) -> None:
    """Read the stored object back and compare size and SHA-256 with what was sent."""
    stored_size = _stored_size(path)
    if stored_size != size:
        raise DeliveryError(f"stored size {stored_size} bytes differs from the {size} bytes sent")
    stored = _sha256(path, chunk_size)
    if stored != sha256:
        raise DeliveryError(f"stored SHA-256 {stored} differs from the {sha256} sent")


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


_LOCAL_SCHEMES = ("", "file", "local")
_BUCKET_SCHEMES = ("s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl")


def check_target_url(url: str) -> None:
    """Refuse a delivery URL that does not name one absolute, unambiguous .c1z file or key.

    Checked on the configured text, before any path object is built: `UPath` silently reads
    `relative/sync.c1z` and `file://otherhost/sync.c1z` as files under the working directory.
    """
    parts = urlsplit(url)
    shown = public_url(url)
    scheme = parts.scheme.lower()
    problem = None
    if scheme in _LOCAL_SCHEMES:
        if parts.netloc:
            problem = f"names the host {parts.netloc!r}; a file target must be local: file:///absolute/path/sync.c1z"
        elif not parts.path.startswith("/"):
            problem = "is a relative path; give an absolute one (file:///exports/sync.c1z)"
    elif scheme in _BUCKET_SCHEMES and not parts.netloc.rpartition("@")[2]:
        problem = f"names no bucket or container (e.g. {scheme}://bucket/halo/sync.c1z)"
    elif not parts.netloc and not parts.path.startswith("/"):
        problem = "is not an absolute location"
    if problem is None and (url.endswith("/") or not parts.path.endswith(C1Z_SUFFIX)):
        problem = "must name the .c1z file, e.g. s3://bucket/halo/sync.c1z"
    if problem:
        raise ConfigurationError(f"delivery target {shown} {problem}")


def _failed(exc: BaseException, source: UPath | None, target: UPath) -> DeliveryError:
    cause = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
    what = f"{public_url(source)} " if source is not None else ""
    return DeliveryError(f"could not deliver {what}to {public_url(target)}: {_redact(cause, target)}")


@dataclass
class _StagedObject:
    """A verified copy at a temporary key beside the target."""

    temporary: UPath
    target: UPath
    sha256: str
    size_bytes: int

    def commit(self) -> None:
        try:
            self.target.fs.mv(self.temporary.path, self.target.path)
            moved_size = _stored_size(self.target)
            if moved_size != self.size_bytes:
                raise DeliveryError(
                    f"after the move the target holds {moved_size} bytes, expected {self.size_bytes}"
                )
        except Exception as exc:
            raise _failed(exc, None, self.target) from exc

    def discard(self) -> None:
        _discard(self.temporary)


class ObjectStorageTarget:
    """A c1z at one object-store key or local file (`s3://bucket/halo/sync.c1z`, `file:///exports/sync.c1z`).

    target = ObjectStorageTarget(UPath("s3://bucket/halo/sync.c1z", **storage_options))
    staged = target.stage(lake.c1z_file(snapshot_id), snapshot_id)
    staged.commit()
    """

    def __init__(self, path: UPath | str, *, chunk_size: int = CHUNK_SIZE) -> None:
        if isinstance(path, str):
            check_target_url(path)
        self.path = as_path(path)
        self.chunk_size = chunk_size

    def __repr__(self) -> str:
        return f"ObjectStorageTarget({public_url(self.path)!r})"

    def describe(self) -> str:
        return public_url(self.path)

    def check(self) -> None:
        """The URL names a .c1z file (the configured text is checked by `check_target_url`), and
        nothing at the target is a folder (it would swallow the temporary file)."""
        if not self.path.name.endswith(C1Z_SUFFIX):
            raise ConfigurationError(
                f"delivery target {public_url(self.path)} must name the .c1z file, e.g. s3://bucket/halo/sync.c1z"
            )
        if self.path.is_dir():
            raise ConfigurationError(
                f"delivery target {public_url(self.path)} is a folder; name the .c1z file inside it"
            )

    def stage(self, c1z: UPath, snapshot_id: str) -> _StagedObject:
        """Stream `c1z` to a temporary key beside the target and verify it; memory stays bounded by
        `chunk_size` (plus the object store's upload buffer) whatever the size."""
        from halo_c1.leftovers import sweep_beside

        temporary = self.path.parent / f"{self.path.name}.tmp-{uuid.uuid4().hex}"
        try:
            sweep_beside(self.path)
            make_local_dirs(self.path.parent)
            sha256, size = _copy_hashing(c1z, temporary, self.chunk_size)
            restrict_local(temporary)
            _verify(temporary, sha256, size, self.chunk_size)
        except Exception as exc:
            _discard(temporary)
            raise _failed(exc, c1z, self.path) from exc
        log.info("staged snapshot %s at %s (%d bytes)", snapshot_id, public_url(temporary), size)
        return _StagedObject(temporary, self.path, sha256, size)

    @property
    def writer_path(self) -> UPath:
        return self.path.parent / f"{self.path.name}{WRITER_SUFFIX}"

    def held(self) -> Held:
        """The SHA-256 of the c1z at the target (read in full) and the writer record beside it."""
        try:
            self.path.fs.invalidate_cache(self.path.parent.path)
            if not self.path.exists():
                return Held(None)
            sha256 = _sha256(self.path, self.chunk_size)
            writer = None
            if self.writer_path.exists():
                try:
                    writer = json.loads(self.writer_path.read_bytes())
                except (json.JSONDecodeError, UnicodeDecodeError):
                    log.warning("The writer record %s is not JSON; ignored", public_url(self.writer_path))
        except Exception as exc:
            raise _failed(exc, None, self.path) from exc
        return Held(sha256, writer, self.path)

    def record_writer(self, record: dict[str, Any]) -> None:
        """Write the writer record beside the target: a temporary key moved into place."""
        temporary = self.path.parent / f"{self.path.name}.tmp-{uuid.uuid4().hex}"
        try:
            temporary.write_bytes(json.dumps(record, indent=2, sort_keys=True).encode())
            restrict_local(temporary)
            self.path.fs.mv(temporary.path, self.writer_path.path)
        except Exception as exc:
            _discard(temporary)
            raise _failed(exc, None, self.writer_path) from exc


def publish_atomically(source: UPath, target: UPath, *, chunk_size: int = CHUNK_SIZE) -> tuple[str, int]:
    """Put a copy of `source` at `target` all at once (stage, then commit); its SHA-256 and size.

    No bookkeeping: delivery of a snapshot goes through `deliver.bookkeeping.deliver_snapshot`.
    """
    staged = ObjectStorageTarget(target, chunk_size=chunk_size).stage(source, "-")
    try:
        staged.commit()
    except BaseException:
        staged.discard()
        raise
    return staged.sha256, staged.size_bytes
