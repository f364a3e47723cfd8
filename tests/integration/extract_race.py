"""One extraction in its own process, for the concurrency test: `python -m tests.integration.extract_race
<json>` with base_url, lake and snapshot_id; prints what happened."""

from __future__ import annotations

import json
import sys
from typing import Any


def main(spec: dict[str, Any]) -> dict[str, Any]:
    from halo_c1.halo import HaloClient, HaloSettings
    from halo_c1.halo.errors import HaloSnapshotExistsError
    from halo_c1.halo.extract import extract_snapshot
    from halo_c1.lake import Lake
    from tests.integration.conftest import DEV_CLIENT_ID, DEV_CLIENT_SECRET, FAST_SETTINGS

    settings = HaloSettings(
        base_url=spec["base_url"], client_id=DEV_CLIENT_ID, client_secret=DEV_CLIENT_SECRET, **FAST_SETTINGS
    )
    try:
        with HaloClient(settings) as client:
            manifest = extract_snapshot(client, Lake(spec["lake"]), spec["snapshot_id"])
    except HaloSnapshotExistsError:
        return {"extracted": False}
    return {"extracted": True, "started_at": manifest["started_at"]}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
