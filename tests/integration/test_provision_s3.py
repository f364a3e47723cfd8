"""The per-agent lease and the audit table on object storage (moto's S3 server on 127.0.0.1).

Create-if-absent on S3 is a conditional PUT (`If-None-Match: *`, s3fs's "xb" mode): this is what
makes the lease exclusive across machines that share only the bucket.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import pytest

from halo_c1.lake import Lake
from halo_c1.lease import MAX_CLOCK_SKEW_S, Lease, LeaseBusy
from halo_c1.provision import daily_actions, provision
from tests.integration.conftest import halo_settings
from tests.integration.provision_helpers import TENANT, deliver_catalog, plain_agent, request

if TYPE_CHECKING:
    from tests.integration.s3_server import S3Server

pytest_plugins = ["tests.integration.s3_server"]
pytestmark = pytest.mark.integration


def test_lease_on_s3_is_exclusive_released_and_taken_over_when_expired(s3_bucket: S3Server):
    path = s3_bucket.path("halo_c1/provisioning/leases/agent=12.json")
    with Lease(path, what="agent 12", ttl_s=30, wait_s=0.3, poll_s=0.05) as held:
        other = s3_bucket.path("halo_c1/provisioning/leases/agent=12.json")
        with pytest.raises(LeaseBusy, match="is held by"):
            Lease(other, what="agent 12", ttl_s=30, wait_s=0.3, poll_s=0.05).acquire()
        # The object's time is the store's, not the writer's (a waiter's clock far off changes nothing).
        far_off = Lease(other, what="agent 12", clock=lambda: time.time() + 10_000)
        assert abs(far_off._modified_at() - time.time()) < 60
        held.check()
    assert s3_bucket.object_keys() == []

    s3_bucket.client().put_object(
        Bucket=s3_bucket.bucket,
        Key="halo_c1/provisioning/leases/agent=12.json",
        Body=json.dumps({"token": "dead", "expires_at": time.time() - MAX_CLOCK_SKEW_S - 1}).encode(),
    )
    with Lease(path, what="agent 12", ttl_s=30, wait_s=1, poll_s=0.05) as lease:
        body = s3_bucket.client().get_object(
            Bucket=s3_bucket.bucket, Key="halo_c1/provisioning/leases/agent=12.json"
        )
        assert json.loads(body["Body"].read())["token"] == lease.token


def test_provisioning_with_an_s3_lake_audits_to_the_bucket(start_simulator, s3_bucket: S3Server):
    sim = start_simulator(tenant=TENANT)
    agent = plain_agent(sim)
    lake = Lake(s3_bucket.path("halo_c1"))
    deliver_catalog(sim, lake)
    before = set(s3_bucket.object_keys())
    outcome = provision(
        request("grant", "team", 4, agent["id"], "s3task"), halo=halo_settings(sim), lake=lake
    )
    assert outcome.code == "OK"
    keys = sorted(set(s3_bucket.object_keys()) - before)
    assert len(keys) == 1 and keys[0].startswith("halo_c1/provisioning/audit/date=")
    day = keys[0].split("date=")[1].split("/")[0]
    assert [r["task_id"] for r in daily_actions(lake, day)] == ["s3task"]
