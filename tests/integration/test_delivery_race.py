"""Two deliveries in two real processes against the same lake (file, and the moto S3 server), and
two extractions of one raw snapshot.

The older snapshot's process is slowed down between its last record check and the move into place;
the newer one's starts meanwhile. Whatever interleaving happens, a process that reports success must
find its snapshot recorded and its bytes at the target at the end, and C1 must never end up older
than a snapshot a run reported delivered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

from halo_c1.deliver import last_delivery
from halo_c1.guard import check_deletion_safety
from halo_c1.lake import Lake
from tests.conftest import PROJECT
from tests.integration.test_delivery import COUNTS, FIRST, SECOND, _c1z_bytes, _packaged

if TYPE_CHECKING:
    from tests.integration.s3_server import S3Server

pytest_plugins = ["tests.integration.s3_server"]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:UPath '.*' filesystem not explicitly implemented"),
]

SLOW_COMMIT_S = 4.0


def _start(spec: dict[str, Any]) -> subprocess.Popen[str]:
    return _run_module("tests.integration.delivery_race", spec)


def _run_module(module: str, spec: dict[str, Any]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{PROJECT}{os.pathsep}{PROJECT / 'include'}"}
    return subprocess.Popen(
        [sys.executable, "-m", module, json.dumps(spec)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _outcome(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def _race(lake: Lake, lake_url: str, target: str, slow_target: str, options: dict[str, Any]) -> dict:
    """Both snapshots packaged and guarded against no delivery; the older one starts first, slowly."""
    older = _packaged(lake, FIRST, _c1z_bytes("older", 300_000))
    newer = _packaged(lake, SECOND, _c1z_bytes("newer", 300_000), per_type=COUNTS)
    for snapshot in (FIRST, SECOND):
        check_deletion_safety(lake, snapshot, None)
    base = {"lake_url": lake_url, "storage_options": options}
    slow = _start({**base, "snapshot_id": FIRST, "target_url": slow_target, "commit_delay_s": SLOW_COMMIT_S})
    time.sleep(SLOW_COMMIT_S / 2)  # the older run has staged its bytes and is about to move them
    fast = _start({**base, "snapshot_id": SECOND, "target_url": target, "commit_delay_s": 0})
    return {FIRST: (_outcome(slow), older), SECOND: (_outcome(fast), newer)}


def _assert_consistent(outcomes: dict, lake: Lake, delivered: bytes) -> None:
    record = last_delivery(lake)
    reported = {snapshot: outcome for snapshot, (outcome, _) in outcomes.items()}
    succeeded = [snapshot for snapshot, outcome in reported.items() if outcome["delivered"]]
    assert succeeded, reported
    assert len(succeeded) == 1, f"both runs reported success: {reported}"
    winner = succeeded[0]
    assert record["snapshot_id"] == winner
    assert delivered == outcomes[winner][1], "the target does not hold what the record says"
    loser = next(s for s in outcomes if s != winner)
    assert (
        "DeliveryConflictError" in outcomes[loser][0]["error"]
        or "StaleSnapshotError" in outcomes[loser][0]["error"]
    )


def test_two_processes_delivering_to_one_file_lake_never_leave_c1_older_than_reported(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    target = tmp_path / "c1" / "sync.c1z"

    outcomes = _race(lake, str(tmp_path / "lake"), f"file://{target}", f"slowfile://{target}", {})

    _assert_consistent(outcomes, lake, target.read_bytes())


def test_two_processes_delivering_through_the_s3_server_never_leave_c1_older_than_reported(
    s3_bucket: S3Server,
) -> None:
    options = s3_bucket.storage_options
    lake_url = f"s3://{s3_bucket.bucket}/lake"
    lake = Lake(lake_url, **options)
    target = f"s3://{s3_bucket.bucket}/halo/sync.c1z"

    outcomes = _race(lake, lake_url, target, f"slows3://{s3_bucket.bucket}/halo/sync.c1z", options)

    stored = s3_bucket.client().get_object(Bucket=s3_bucket.bucket, Key="halo/sync.c1z")["Body"].read()
    _assert_consistent(outcomes, lake, stored)


def test_two_processes_extracting_one_snapshot_never_mix_their_raw_files(start_simulator, tmp_path):
    """Both runs target one snapshot; the claim lets one write it and the other find it archived,
    so the manifest and every raw file come from one extraction."""
    from dev.halo_simulator import TenantSpec
    from dev.halo_simulator.faults import Faults, SlowResponse

    sim = start_simulator(
        tenant=TenantSpec(seed=3, agents=20, users=10, teams=3, roles=2, departments=2),
        faults=Faults(slow_response=SlowResponse(delay_s=0.3, times=None)),
    )
    spec = {"base_url": sim.base_url, "lake": str(tmp_path / "lake"), "snapshot_id": FIRST}
    first = _run_module("tests.integration.extract_race", spec)
    time.sleep(1.0)  # the first one is half-way through its requests
    second = _run_module("tests.integration.extract_race", spec)

    outcomes = [_outcome(first), _outcome(second)]

    assert sorted(o["extracted"] for o in outcomes) == [False, True], outcomes
    lake = Lake(str(tmp_path / "lake"))
    manifest = json.loads(lake.raw_manifest(FIRST).read_text())
    assert manifest["started_at"] == next(o["started_at"] for o in outcomes if o["extracted"])
    assert not lake.raw_claim(FIRST).exists()
