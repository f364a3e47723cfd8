"""The per-agent lease on a local lake path: exclusive, bounded wait, expiry takeover, renewal, fencing."""

from __future__ import annotations

import json
import time

import pytest
from upath import UPath

from halo_c1.provision import AgentLease, LeaseBusy, LeaseLost


@pytest.fixture
def path(tmp_path):
    return UPath(str(tmp_path / "leases" / "agent=12.json"))


def test_a_held_lease_makes_the_next_writer_wait_then_fail_naming_the_holder(path):
    with (
        AgentLease(path, ttl_s=30, wait_s=0.3, poll_s=0.05),
        pytest.raises(LeaseBusy, match=r"agent=12\.json is held by .* pid \d+ since"),
    ):
        AgentLease(path, ttl_s=30, wait_s=0.3, poll_s=0.05).acquire()
    assert not path.exists()
    with AgentLease(path, ttl_s=30, wait_s=0.3) as lease:  # free again once released
        lease.check()


def test_an_expired_lease_of_a_dead_holder_is_taken_over(path):
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"token": "dead", "host": "gone", "pid": 1, "expires_at": time.time() - 1}))
    with AgentLease(path, ttl_s=30, wait_s=0.5, poll_s=0.05) as lease:
        assert json.loads(path.read_text())["token"] == lease.token


def test_a_lease_whose_file_was_replaced_is_lost_and_not_deleted_on_release(path):
    lease = AgentLease(path, ttl_s=30, wait_s=0)
    lease.acquire()
    path.write_text(json.dumps({"token": "other", "expires_at": time.time() + 30}))
    with pytest.raises(LeaseLost, match="no longer held by this task"):
        lease.check()
    lease.release()
    assert json.loads(path.read_text())["token"] == "other"


def test_the_holder_renews_so_a_long_operation_keeps_its_lease(path):
    with AgentLease(path, ttl_s=0.3, wait_s=0) as lease:
        first = json.loads(path.read_text())["expires_at"]
        time.sleep(0.5)  # longer than the TTL: only renewal keeps it ours
        assert json.loads(path.read_text())["expires_at"] > first
        with pytest.raises(LeaseBusy):
            AgentLease(path, ttl_s=0.3, wait_s=0.05, poll_s=0.01).acquire()
        lease.check()


def test_bad_lease_settings_are_refused(path):
    with pytest.raises(ValueError, match="ttl_s and poll_s must be > 0"):
        AgentLease(path, ttl_s=0)
