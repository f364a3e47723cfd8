"""One extraction in its own process, for the shared-budget tests: `python -m
tests.integration.budget_worker <json>` with base_url, lake, snapshot_id, requests, period_s and an
optional rate_limit_store; prints the manifest's request facts as JSON."""

from __future__ import annotations

import json
import sys
from typing import Any


def main(spec: dict[str, Any]) -> dict[str, Any]:
    from halo_c1.halo import HaloClient, HaloSettings
    from halo_c1.halo.extract import extract_snapshot
    from halo_c1.lake import Lake
    from tests.integration.conftest import DEV_CLIENT_ID, DEV_CLIENT_SECRET, FAST_SETTINGS

    settings = HaloSettings(
        base_url=spec["base_url"],
        client_id=DEV_CLIENT_ID,
        client_secret=DEV_CLIENT_SECRET,
        page_size=spec.get("page_size", 100),
        **{
            **FAST_SETTINGS,
            "rate_limit_requests": spec["requests"],
            "rate_limit_period_s": spec["period_s"],
            "rate_limit_store": spec.get("rate_limit_store"),
        },
    )
    with HaloClient(settings) as client:
        manifest = extract_snapshot(client, Lake(spec["lake"]), spec["snapshot_id"])
    keys = ("started_at", "finished_at", "requests", "responses_429", "seconds_waited", "counts")
    return {key: manifest[key] for key in keys}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
