"""The lease on a local lake path: exclusive, bounded wait, takeover of a dead holder's lease without
trusting another host's clock, unreadable leases handled explicitly, renewal, fencing."""

from __future__ import annotations

import json
import os
import time

import pytest
from upath import UPath

from halo_c1.lease import MAX_CLOCK_SKEW_S, Lease, LeaseBusy, LeaseLost


@pytest.fixture
def path(tmp_path):
    return UPath(str(tmp_path / "leases" / "agent=12.json"))


def lease(path: UPath, **settings: float) -> Lease:
    return Lease(path, what="agent 12", **{"ttl_s": 30, "wait_s": 0.3, "poll_s": 0.05, **settings})


def leave(path: UPath, body: str, *, age_s: float = 0.0) -> None:
    """A lease file as a dead or foreign holder left it, last written `age_s` ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    if age_s:
        os.utime(path.path, (time.time() - age_s, time.time() - age_s))


def test_a_held_lease_makes_the_next_writer_wait_then_fail_naming_what_and_the_holder(path):
    with (
        lease(path),
        pytest.raises(LeaseBusy, match=r"^agent 12: agent=12\.json is held by .* pid \d+ since"),
    ):
        lease(path).acquire()
    assert not path.exists()
    with lease(path) as mine:  # free again once released
        mine.check()
        assert json.loads(path.read_text())["what"] == "agent 12"


def test_a_lease_long_past_its_expiry_is_taken_over_at_once(path):
    dead = time.time() - MAX_CLOCK_SKEW_S - 1
    leave(path, json.dumps({"token": "dead", "host": "gone", "pid": 1, "expires_at": dead}))
    with lease(path, wait_s=0) as mine:
        assert json.loads(path.read_text())["token"] == mine.token


def test_a_waiter_whose_clock_runs_90_s_ahead_does_not_take_a_live_lease(path):
    with lease(path, ttl_s=0.3) as held:
        ahead = lease(path, ttl_s=0.3, wait_s=1.0, poll_s=0.02, clock=lambda: time.time() + 90)
        with pytest.raises(LeaseBusy, match="is held by"):
            ahead.acquire()
        held.check()


def test_a_lease_just_past_its_expiry_is_taken_only_once_it_stayed_unchanged_for_its_ttl(path):
    """The writer's `expires_at` may come from a clock that runs behind: silence decides, not clocks."""
    leave(path, json.dumps({"token": "dead", "host": "gone", "pid": 1, "expires_at": time.time() - 1}))
    started = time.monotonic()
    with lease(path, ttl_s=0.5, wait_s=3) as mine:
        assert time.monotonic() - started >= 0.5
        assert json.loads(path.read_text())["token"] == mine.token


UNREADABLE = {
    "1e300": '{"token": "t", "expires_at": 1e300}',
    "NaN": '{"token": "t", "expires_at": NaN}',
    "Infinity": '{"token": "t", "expires_at": Infinity}',
    "soon": '{"token": "t", "expires_at": "soon"}',
    "null": '{"token": "t", "expires_at": null}',
    "no token": '{"expires_at": 1}',
    "not JSON": "{token",
}


@pytest.mark.parametrize("body", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_lease_is_named_as_such_while_it_is_fresh(path, body):
    leave(path, body)
    with pytest.raises(LeaseBusy, match=r"^agent 12: agent=12\.json is unreadable \(.+\); waited"):
        lease(path, ttl_s=30, wait_s=0.2).acquire()
    assert path.read_text() == body


@pytest.mark.parametrize("body", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_lease_is_taken_once_unchanged_for_its_ttl(path, body):
    leave(path, body)
    started = time.monotonic()
    with lease(path, ttl_s=0.3, wait_s=3) as mine:
        assert time.monotonic() - started >= 0.3
        mine.check()


@pytest.mark.parametrize("body", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_lease_the_store_dates_older_than_ttl_and_skew_is_taken_at_once(path, body):
    leave(path, body, age_s=30 + MAX_CLOCK_SKEW_S + 5)
    with lease(path, ttl_s=30, wait_s=0) as mine:
        mine.check()


def test_an_unreadable_lease_is_judged_by_the_stores_time_not_the_waiters_clock(path):
    leave(path, UNREADABLE["soon"])
    with pytest.raises(LeaseBusy, match="unreadable"):
        lease(path, wait_s=0.2, clock=lambda: time.time() + 90).acquire()


def test_a_lease_whose_file_was_replaced_is_lost_and_not_deleted_on_release(path):
    mine = lease(path, wait_s=0)
    mine.acquire()
    path.write_text(json.dumps({"token": "other", "expires_at": time.time() + 30}))
    with pytest.raises(LeaseLost, match=r"^agent 12: agent=12\.json is no longer held by this task"):
        mine.check()
    mine.release()
    assert json.loads(path.read_text())["token"] == "other"


def test_the_holder_renews_so_a_long_operation_keeps_its_lease(path):
    with lease(path, ttl_s=0.3, wait_s=0) as mine:
        first = json.loads(path.read_text())
        time.sleep(0.5)  # longer than the TTL: only renewal keeps it ours
        renewed = json.loads(path.read_text())
        assert renewed["expires_at"] > first["expires_at"] and renewed["renewals"] > first["renewals"]
        assert renewed["acquired_at"] == first["acquired_at"]
        with pytest.raises(LeaseBusy):
            lease(path, ttl_s=0.3, wait_s=0.05, poll_s=0.01).acquire()
        mine.check()


def test_renewal_changes_the_file_even_when_the_holders_clock_stands_still(path):
    """Silence is judged from the file's bytes: a renewal must change them whatever the clock says."""
    frozen = time.time()
    with lease(path, ttl_s=0.3, wait_s=0, clock=lambda: frozen) as mine:
        waiter = lease(path, ttl_s=0.3, wait_s=1, poll_s=0.02)
        with pytest.raises(LeaseBusy, match="is held by"):
            waiter.acquire()
        mine.check()


def test_bad_lease_settings_are_refused(path):
    with pytest.raises(ValueError, match="ttl_s must be > 0"):
        Lease(path, what="agent 12", ttl_s=0)
    with pytest.raises(ValueError, match="<= 3600"):
        Lease(path, what="agent 12", ttl_s=7200)


def test_the_holder_never_sees_its_own_local_lease_half_rewritten(path):
    """A renewal replaces the local file whole: `check()` during renewals never finds it empty."""
    with lease(path, ttl_s=0.03, wait_s=0) as mine:
        deadline = time.monotonic() + 1.0
        checks = 0
        while time.monotonic() < deadline:
            mine.check()
            checks += 1
        renewals = json.loads(path.read_text())["renewals"]
    assert renewals > 20 and checks > renewals
