"""Look at, and safely repair, a lake's delivery record (`deliveries/latest.json`) without editing JSON.

    python -m halo_c1.deliver.record --lake file:///data/halo_c1/tenant=acme show
    python -m halo_c1.deliver.record --lake s3://bucket/halo_c1/tenant=acme rewind 20261127T050000Z

`rewind` makes an earlier delivery the latest again, from its own manifest
(`deliveries/snapshot=<id>.json`, written when it was delivered): the way out when the record names a
snapshot that must not be the baseline (one dated in the future, or one C1 no longer holds). The
replaced record is kept beside it as `latest.replaced-<UTC time>.json`. It takes the delivery lease,
so it never races a running delivery. Only deliveries the lake recorded can be chosen.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from halo_c1.deliver.errors import DeliveryRecordError
from halo_c1.lake import Lake, read_json, write_json


def recorded_snapshots(lake: Lake) -> list[str]:
    folder = lake.latest_delivery().parent
    names = [p.name for p in folder.iterdir()] if folder.exists() else []
    return sorted(
        n[len("snapshot=") : -len(".json")]
        for n in names
        if n.startswith("snapshot=") and n.endswith(".json")
    )


def rewind(lake: Lake, snapshot_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Make the recorded delivery of `snapshot_id` the latest; return it. Keeps the replaced record."""
    from halo_c1.deliver.bookkeeping import DELIVERY_LEASE
    from halo_c1.lease import Lease

    manifest_path = lake.delivery_manifest(snapshot_id)
    if not manifest_path.exists():
        raise DeliveryRecordError(
            f"no recorded delivery of snapshot {snapshot_id} in {lake.base}; recorded: {recorded_snapshots(lake)}"
        )
    manifest = read_json(manifest_path)
    if (
        not isinstance(manifest, dict)
        or manifest.get("snapshot_id") != snapshot_id
        or "counts" not in manifest
    ):
        raise DeliveryRecordError(f"{manifest_path} is not the delivery record of {snapshot_id}")
    latest = lake.latest_delivery()
    with Lease(lake.delivery_lease(), what=DELIVERY_LEASE, ttl_s=60, wait_s=60):
        if latest.exists():
            stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
            kept = latest.parent / f"latest.replaced-{stamp}.json"
            kept.write_bytes(latest.read_bytes())
        write_json(latest, manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--lake", required=True, help="the tenant's lake URL (its folder, tenant=...)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("show", help="print the latest record and the recorded deliveries")
    back = commands.add_parser("rewind", help="make an earlier recorded delivery the latest again")
    back.add_argument("snapshot_id")
    args = parser.parse_args(argv)
    lake = Lake(args.lake)
    try:
        if args.command == "rewind":
            record = rewind(lake, args.snapshot_id)
            print(f"latest delivery is now snapshot {record['snapshot_id']} (the replaced record is kept)")
            return 0
        latest = lake.latest_delivery()
        print(latest.read_text() if latest.exists() else f"{latest}: no record")
        print(json.dumps({"recorded deliveries": recorded_snapshots(lake)}))
    except DeliveryRecordError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
