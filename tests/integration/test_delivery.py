"""Atomic c1z delivery (bookkeeping + the object-storage target) to a local file and to s3:// on a
real S3-compatible server (moto)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import TYPE_CHECKING, Any

import fsspec
import pytest
from fsspec.implementations.local import LocalFileSystem
from upath import UPath

from halo_c1.c1z.writer import sync_id_for
from halo_c1.deliver import (
    DeliveryError,
    DeliveryRecordError,
    DeliveryRefused,
    ObjectStorageTarget,
    StaleSnapshotError,
    Target,
    deliver_snapshot,
    last_delivery,
    public_url,
)
from halo_c1.deliver.objectstore import CHUNK_SIZE
from halo_c1.deliver.writer import target_baseline
from halo_c1.errors import ConfigurationError
from halo_c1.guard import MassDeletionError, check_deletion_safety
from halo_c1.lake import Lake, as_path, read_json
from tests.curated_fixtures import write_curated

if TYPE_CHECKING:
    from tests.integration.s3_server import S3Server

pytest_plugins = ["tests.integration.s3_server"]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:UPath '.*' filesystem not explicitly implemented"),
]

FIRST = "20261126T050000Z"
SECOND = "20261127T050000Z"
COUNTS = {"agent": 4, "user": 6, "team": 2, "department": 1, "role": 2}
CHUNK = 256 * 1024


class FailingReadFileSystem(LocalFileSystem):
    """Local files whose c1z reads fail after `FAIL_AFTER` bytes: a source lost half-way through."""

    protocol = ("failread",)
    FAIL_AFTER = 3 * CHUNK

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(auto_mkdir=True, **kwargs)

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        handle = super()._open(path, mode, **kwargs)
        failing = "r" in mode and path.endswith(".c1z")
        return _FailingReader(handle, self.FAIL_AFTER) if failing else handle


class _FailingReader:
    def __init__(self, handle: Any, fail_after: int) -> None:
        self._handle, self._left = handle, fail_after

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise OSError("connection to the lake reset by peer")
        chunk = self._handle.read(min(size, self._left) if size >= 0 else self._left)
        self._left -= len(chunk)
        return chunk

    def __enter__(self) -> _FailingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


class CorruptingWriteFileSystem(LocalFileSystem):
    """Local files that silently store one flipped bit per write: storage that corrupts data."""

    protocol = ("corrupting",)

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        handle = super()._open(path, mode, **kwargs)
        return _CorruptingWriter(handle) if "w" in mode else handle


class _CorruptingWriter:
    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def write(self, data: bytes) -> int:
        return self._handle.write(bytes([data[0] ^ 1]) + data[1:] if data else data)

    def __enter__(self) -> _CorruptingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


fsspec.register_implementation("failread", FailingReadFileSystem, clobber=True)
fsspec.register_implementation("corrupting", CorruptingWriteFileSystem, clobber=True)


def _c1z_bytes(seed: str, size: int) -> bytes:
    """Deterministic stand-in c1z content; delivery treats the file as opaque bytes."""
    return (hashlib.sha256(seed.encode()).digest() * (size // 32 + 1))[:size]


def _packaged(lake: Lake, snapshot_id: str, content: bytes, per_type: dict[str, int] = COUNTS) -> bytes:
    """A snapshot as the package task leaves it: curated tables and its c1z in the lake."""
    write_curated(lake, snapshot_id, per_type, grants=9)
    c1z = lake.c1z_file(snapshot_id)
    if c1z.protocol in ("", "file", "local"):
        c1z.parent.mkdir(parents=True, exist_ok=True)
    c1z.write_bytes(content)
    return content


def deliver_c1z(
    lake: Lake,
    snapshot_id: str,
    target: UPath | str | Target,
    *,
    chunk_size: int = CHUNK_SIZE,
    takeover: bool = False,
) -> dict:
    """What the guard and deliver stages do for a snapshot: check the target and compare with what C1
    holds (deletions allowed: these tests are about delivery), then deliver through the target (a
    path: object storage)."""
    if isinstance(target, UPath | str):
        target = ObjectStorageTarget(as_path(target), chunk_size=chunk_size)
    previous = last_delivery(lake)
    check, held = target_baseline(target, lake, previous, snapshot_id, takeover=takeover)
    check_deletion_safety(
        lake, snapshot_id, previous, allow_mass_deletion=True, held=held, target=check.as_report()
    )
    return deliver_snapshot(lake, snapshot_id, target, takeover=takeover)


def _s3_lake(s3: S3Server) -> Lake:
    return Lake(f"s3://{s3.bucket}/lake", **s3.storage_options)


def _object(s3: S3Server, key: str) -> bytes:
    return s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read()


def test_deliver_to_a_local_file_writes_it_and_the_manifests(tmp_path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    content = _packaged(lake, FIRST, _c1z_bytes("first", 1_000_003))
    target = tmp_path / "outbox" / "sync.c1z"

    manifest = deliver_c1z(lake, FIRST, str(target), chunk_size=CHUNK)

    assert target.read_bytes() == content
    assert sorted(os.listdir(target.parent)) == ["sync.c1z", "sync.c1z.writer.json"]
    writer = json.loads((target.parent / "sync.c1z.writer.json").read_text())
    assert writer["lake"] == str(lake.base)
    assert writer["snapshot_id"] == FIRST
    assert writer["sha256"] == hashlib.sha256(content).hexdigest()
    assert writer["counts"] == {"resources": dict(sorted(COUNTS.items())), "grants": 9}
    assert manifest["sha256"] == hashlib.sha256(content).hexdigest()
    assert manifest["size_bytes"] == len(content)
    assert manifest["target"] == str(target)
    assert manifest["snapshot_id"] == FIRST
    assert manifest["counts"] == {"resources": dict(sorted(COUNTS.items())), "grants": 9}
    assert manifest["delivered_at"].endswith("+00:00")
    assert read_json(lake.delivery_manifest(FIRST)) == manifest
    assert read_json(lake.latest_delivery()) == manifest
    assert last_delivery(lake) == manifest


def test_deliver_to_a_file_url(tmp_path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    content = _packaged(lake, FIRST, b"c1z bytes")

    manifest = deliver_c1z(lake, FIRST, UPath(f"file://{tmp_path}/manual/sync.c1z"))

    assert (tmp_path / "manual" / "sync.c1z").read_bytes() == content
    assert manifest["target"] == f"file://{tmp_path}/manual/sync.c1z"


def test_deliver_to_s3_uploads_verified_bytes_and_records_the_manifest(s3_bucket: S3Server) -> None:
    lake = _s3_lake(s3_bucket)
    # Larger than s3fs's 5 MiB block, so the upload is multipart.
    content = _packaged(lake, FIRST, _c1z_bytes("first", 6 * 1024 * 1024 + 17))
    target = s3_bucket.path("halo/sync.c1z")

    manifest = deliver_c1z(lake, FIRST, target)

    stored = _object(s3_bucket, "halo/sync.c1z")
    assert stored == content
    assert hashlib.sha256(stored).hexdigest() == manifest["sha256"]
    assert manifest["target"] == f"s3://{s3_bucket.bucket}/halo/sync.c1z"
    assert manifest["c1z_sync_id"] == sync_id_for(FIRST)
    assert manifest["guard"] == {
        "previous_snapshot_id": None,
        "overridden": False,
        "drops": [],
        "target": {
            "target": f"s3://{s3_bucket.bucket}/halo/sync.c1z",
            "verdict": "empty",
            "sha256": None,
            "writer": None,
            "reason": "the target holds nothing yet",
        },
    }
    assert manifest["counts"] == {"resources": dict(sorted(COUNTS.items())), "grants": 9}
    assert [key for key in s3_bucket.object_keys() if not key.startswith("lake/")] == [
        "halo/sync.c1z",
        "halo/sync.c1z.writer.json",
    ]
    assert f"lake/deliveries/snapshot={FIRST}.json" in s3_bucket.object_keys()
    assert read_json(lake.latest_delivery()) == manifest
    latest_text = _object(s3_bucket, "lake/deliveries/latest.json").decode()
    assert s3_bucket.secret not in latest_text


def test_redelivery_to_s3_replaces_the_object_and_latest(s3_bucket: S3Server) -> None:
    lake = _s3_lake(s3_bucket)
    target = s3_bucket.path("halo/sync.c1z")
    _packaged(lake, FIRST, b"first c1z")
    deliver_c1z(lake, FIRST, target)
    second = _packaged(lake, SECOND, b"second c1z, a bit longer")

    manifest = deliver_c1z(lake, SECOND, target)

    assert _object(s3_bucket, "halo/sync.c1z") == second
    assert last_delivery(lake)["snapshot_id"] == SECOND
    assert manifest["sha256"] == hashlib.sha256(second).hexdigest()
    assert read_json(lake.delivery_manifest(FIRST))["snapshot_id"] == FIRST
    assert [key for key in s3_bucket.object_keys() if key.startswith("halo/")] == [
        "halo/sync.c1z",
        "halo/sync.c1z.writer.json",
    ]


def test_guard_compares_with_the_delivery_on_s3(s3_bucket: S3Server) -> None:
    lake = _s3_lake(s3_bucket)
    _packaged(lake, FIRST, b"first c1z")
    deliver_c1z(lake, FIRST, s3_bucket.path("halo/sync.c1z"))
    _packaged(lake, SECOND, b"second c1z", per_type={**COUNTS, "user": 3})

    with pytest.raises(MassDeletionError, match=r"resource type 'user': 6 → 3, 3 removed \(-50.0%\)"):
        check_deletion_safety(lake, SECOND, last_delivery(lake))


def test_interrupted_delivery_to_s3_keeps_the_previous_object(tmp_path, s3_bucket: S3Server) -> None:
    lake = Lake(f"failread://{tmp_path}/lake")
    target = s3_bucket.path("halo/sync.c1z")
    previous = b"the last good c1z"
    s3_bucket.client().put_object(Bucket=s3_bucket.bucket, Key="halo/sync.c1z", Body=previous)
    _packaged(lake, FIRST, b"delivered before")
    deliver_c1z(lake, FIRST, s3_bucket.path("elsewhere/sync.c1z"))
    latest_before = lake.latest_delivery().read_bytes()
    _packaged(lake, SECOND, _c1z_bytes("second", 10 * CHUNK))

    with pytest.raises(DeliveryError) as caught:  # the file there is no c1z: taken over on purpose
        deliver_c1z(lake, SECOND, target, chunk_size=CHUNK, takeover=True)

    message = str(caught.value)
    assert f"s3://{s3_bucket.bucket}/halo/sync.c1z" in message
    assert "connection to the lake reset by peer" in message
    assert s3_bucket.secret not in message
    assert _object(s3_bucket, "halo/sync.c1z") == previous
    assert [key for key in s3_bucket.object_keys() if key.startswith("halo/")] == ["halo/sync.c1z"]
    assert lake.latest_delivery().read_bytes() == latest_before
    assert not lake.delivery_manifest(SECOND).exists()


def test_delivery_that_fails_verification_keeps_the_previous_file(tmp_path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    _packaged(lake, FIRST, b"new c1z content")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "sync.c1z").write_bytes(b"the last good c1z")

    with pytest.raises(DeliveryError, match=r"stored SHA-256 \w+ differs"):
        deliver_c1z(lake, FIRST, UPath(f"corrupting://{outbox}/sync.c1z"), takeover=True)

    assert (outbox / "sync.c1z").read_bytes() == b"the last good c1z"
    assert os.listdir(outbox) == ["sync.c1z"]
    assert last_delivery(lake) is None


def test_delivery_to_a_missing_bucket_names_the_target_without_credentials(s3_bucket: S3Server) -> None:
    lake = _s3_lake(s3_bucket)
    _packaged(lake, FIRST, b"c1z")

    with pytest.raises(DeliveryError, match=re.escape("s3://no-such-bucket/halo/sync.c1z")) as caught:
        deliver_c1z(lake, FIRST, s3_bucket.path("halo/sync.c1z", bucket="no-such-bucket"))

    assert s3_bucket.secret not in str(caught.value)
    assert last_delivery(lake) is None


def test_delivery_refuses_a_target_that_is_not_a_c1z_file(tmp_path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    _packaged(lake, FIRST, b"c1z")

    with pytest.raises(ConfigurationError, match=re.escape("must name the .c1z file")):
        deliver_c1z(lake, FIRST, str(tmp_path / "outbox/"))


def test_delivery_without_a_packaged_c1z_says_so(tmp_path) -> None:
    lake = Lake(str(tmp_path / "lake"))

    with pytest.raises(DeliveryRefused, match=f"no c1z for snapshot {FIRST}"):
        deliver_snapshot(lake, FIRST, ObjectStorageTarget(str(tmp_path / "sync.c1z")))


def test_public_url_drops_credentials_and_query() -> None:
    assert public_url("s3://AKIA1:s3cr3t@bucket/halo/sync.c1z") == "s3://bucket/halo/sync.c1z"
    assert public_url("abfs://container/halo/sync.c1z?sv=2024&sig=s3cr3t") == "abfs://container/halo/sync.c1z"
    assert public_url("s3://aws_default@bucket/sync.c1z") == "s3://aws_default@bucket/sync.c1z"


def test_an_older_snapshot_never_replaces_a_newer_delivery(tmp_path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    target = tmp_path / "c1" / "sync.c1z"
    newer = _packaged(lake, SECOND, _c1z_bytes("newer", 5_000))
    _packaged(lake, FIRST, _c1z_bytes("older", 5_000))
    deliver_c1z(lake, SECOND, str(target))

    with pytest.raises(StaleSnapshotError, match=f"older than the delivered snapshot {SECOND}"):
        deliver_c1z(lake, FIRST, str(target))

    assert target.read_bytes() == newer
    assert last_delivery(lake)["snapshot_id"] == SECOND


def test_a_snapshot_dated_in_the_future_is_never_recorded(tmp_path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    future = "20991127T050000Z"
    target = tmp_path / "c1" / "sync.c1z"
    _packaged(lake, future, b"c1z from a run with a wrong logical date")

    with pytest.raises(DeliveryRefused, match=f"snapshot {future} is dated .* in the future"):
        deliver_c1z(lake, future, str(target))

    assert last_delivery(lake) is None
    assert not target.exists()


def test_a_missing_or_truncated_record_is_refused_until_a_first_delivery_is_confirmed(tmp_path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    target = tmp_path / "c1" / "sync.c1z"
    _packaged(lake, FIRST, b"first")
    deliver_c1z(lake, FIRST, str(target))
    _packaged(lake, SECOND, b"second")
    check_deletion_safety(lake, SECOND, last_delivery(lake))

    lake.latest_delivery().write_bytes(lake.latest_delivery().read_bytes()[:20])  # truncated
    with pytest.raises(DeliveryRecordError, match=r"not a readable delivery record.*confirm_first_delivery"):
        last_delivery(lake)
    lake.latest_delivery().unlink()  # deleted
    with pytest.raises(DeliveryRecordError, match="is missing but 1 earlier deliveries are recorded"):
        deliver_snapshot(lake, SECOND, ObjectStorageTarget(str(target)))
    assert target.read_bytes() == b"first"

    check_deletion_safety(lake, SECOND, None)  # what a confirmed run's guard compares with
    record = deliver_snapshot(lake, SECOND, ObjectStorageTarget(str(target)), first_delivery_confirmed=True)

    assert record["snapshot_id"] == SECOND
    assert last_delivery(lake)["snapshot_id"] == SECOND


def test_a_stuck_record_is_rewound_by_the_record_command(tmp_path, capsys) -> None:
    from halo_c1.deliver.record import main

    lake = Lake(str(tmp_path / "lake"))
    target = tmp_path / "c1" / "sync.c1z"
    _packaged(lake, FIRST, b"first")
    deliver_c1z(lake, FIRST, str(target))
    stuck = {**read_json(lake.latest_delivery()), "snapshot_id": "20991127T050000Z"}
    lake.latest_delivery().write_text(json.dumps(stuck))  # e.g. recorded by an old version
    _packaged(lake, SECOND, b"second")
    with pytest.raises(StaleSnapshotError):
        deliver_c1z(lake, SECOND, str(target))

    assert main(["--lake", str(lake.base), "rewind", "20991127T050000Z"]) == 1
    assert main(["--lake", str(lake.base), "rewind", FIRST]) == 0

    assert last_delivery(lake)["snapshot_id"] == FIRST
    kept = [p.name for p in lake.latest_delivery().parent.iterdir() if p.name.startswith("latest.replaced-")]
    assert len(kept) == 1
    deliver_c1z(lake, SECOND, str(target))
    assert target.read_bytes() == b"second"
    assert "latest delivery is now snapshot" in capsys.readouterr().out
