"""The end-user refresh's due rule and the age lines the summary and report show."""

from datetime import UTC, datetime, timedelta

import pytest

from halo_c1.freshness import EndUserExtraction, age_lines, hours, refresh_decision

TAKEN = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def extraction(duration: timedelta) -> EndUserExtraction:
    return EndUserExtraction("20261201T000000Z", TAKEN, TAKEN + duration, 1_000_000, 20_001)


@pytest.mark.parametrize(
    ("age_hours", "due"),
    [(0, False), (12.9, False), (13.0, True), (30, True)],  # 24 - 1 h interval - 1.5 x 6.67 h = 13 h
)
def test_a_refresh_is_due_when_waiting_one_more_interval_could_pass_the_cadence(age_hours, due):
    newest = extraction(timedelta(hours=20 / 3))  # a 1M-user read sharing the budget
    decision = refresh_decision(newest, 24, HOUR, now=TAKEN + timedelta(hours=age_hours))
    assert decision.due is due
    assert newest.snapshot_id in decision.reason


def test_without_any_end_user_read_a_refresh_is_due():
    decision = refresh_decision(None, 24, HOUR, now=TAKEN)
    assert decision.due and decision.reason == "no complete end-user extraction yet"


def test_age_lines_name_the_source_and_warn_past_the_cadence():
    records = {
        "agents": {"snapshot_id": "S", "taken_at": "2026-12-01T10:00:03+00:00", "age_s": 42.0},
        "users": {
            "snapshot_id": "E",
            "taken_at": "2026-11-30T08:00:00+00:00",
            "age_s": 26 * 3600.0,
            "reused": True,
        },
    }
    agents, users = age_lines(records, 24.0)
    assert (
        agents == "  agents             taken 2026-12-01 10:00:03 UTC, 42 s old at extraction end (read in S)"
    )
    assert "26 h 00 min old at extraction end (reused from E); OLDER than end_user_refresh_hours=24" in users
    assert "OLDER" not in age_lines(records, None)[1]
    assert hours(timedelta(minutes=61, seconds=5)) == "1 h 01 min"
