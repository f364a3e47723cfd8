"""One delivery in its own process, for the concurrency tests: `python -m tests.integration.delivery_race
<json>` with lake_url, snapshot_id, target_url, storage_options and `commit_delay_s` (the move into
place waits that long, widening the window in which another process could deliver)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem
from s3fs import S3FileSystem


class _SlowMove:
    delay_s = 0.0

    def mv(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(self.delay_s)
        return super().mv(*args, **kwargs)  # type: ignore[misc]


class SlowLocal(_SlowMove, LocalFileSystem):
    protocol = ("slowfile",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(auto_mkdir=True, **kwargs)


class SlowS3(_SlowMove, S3FileSystem):
    protocol = ("slows3",)


def main(spec: dict[str, Any]) -> dict[str, Any]:
    from upath import UPath

    from halo_c1.deliver import ObjectStorageTarget, deliver_snapshot
    from halo_c1.lake import Lake

    fsspec.register_implementation("slowfile", SlowLocal, clobber=True)
    fsspec.register_implementation("slows3", SlowS3, clobber=True)
    SlowLocal.delay_s = SlowS3.delay_s = spec["commit_delay_s"]
    options = spec.get("storage_options") or {}
    lake = Lake(spec["lake_url"], **options)
    target = ObjectStorageTarget(UPath(spec["target_url"], **options))
    try:
        record = deliver_snapshot(lake, spec["snapshot_id"], target)
    except Exception as error:
        return {"delivered": False, "error": f"{type(error).__name__}: {error}"}
    return {"delivered": True, "snapshot_id": record["snapshot_id"]}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
