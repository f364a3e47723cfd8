"""A run's plan: which snapshot, which mode, whether it delivers."""

from datetime import UTC, datetime

import pytest

from halo_c1.runs import LIVE, REDERIVE, plan_run

HOUR = datetime(2026, 11, 27, 5, tzinfo=UTC)
LATER = datetime(2026, 11, 27, 5, 7, 30, tzinfo=UTC)


def test_scheduled_run_extracts_and_delivers_the_logical_dates_snapshot():
    plan = plan_run(logical_date=HOUR, run_after=LATER, run_type="scheduled", params={})
    assert (plan.snapshot_id, plan.mode, plan.deliver) == ("20261127T050000Z", LIVE, True)


def test_manual_run_without_logical_date_uses_run_after():
    plan = plan_run(logical_date=None, run_after=LATER, run_type="manual", params={})
    assert plan.snapshot_id == "20261127T050730Z"


def test_dry_run_never_delivers():
    plan = plan_run(logical_date=HOUR, run_after=LATER, run_type="manual", params={"dry_run": True})
    assert (plan.mode, plan.deliver) == (LIVE, False)


@pytest.mark.parametrize(
    ("run_type", "params"),
    [
        ("backfill", {}),
        ("manual", {"rederive_only": True}),
        ("manual", {"snapshot_id": "20261120T000000Z"}),
    ],
)
def test_backfills_and_rederive_requests_never_call_halo_nor_deliver(run_type, params):
    plan = plan_run(logical_date=HOUR, run_after=LATER, run_type=run_type, params=params)
    assert (plan.mode, plan.deliver) == (REDERIVE, False)


def test_named_snapshot_overrides_the_runs_own_and_is_validated():
    plan = plan_run(
        logical_date=HOUR, run_after=LATER, run_type="manual", params={"snapshot_id": "20261120T000000Z"}
    )
    assert plan.snapshot_id == "20261120T000000Z"
    with pytest.raises(ValueError, match="not a snapshot id"):
        plan_run(logical_date=HOUR, run_after=LATER, run_type="manual", params={"snapshot_id": "yesterday"})


def test_plan_round_trips_through_xcom_dict():
    plan = plan_run(logical_date=HOUR, run_after=LATER, run_type="manual", params={"max_drop_ratio": 0.3})
    assert type(plan).from_xcom(plan.to_xcom()) == plan
    assert plan.max_drop_ratio == pytest.approx(0.3)


@pytest.mark.parametrize(("choice", "expected"), [(None, None), ("include", True), ("exclude", False)])
def test_end_users_param_maps_empty_to_the_connections_setting(choice, expected):
    params = {"include_end_users": choice}
    plan = plan_run(logical_date=HOUR, run_after=LATER, run_type="manual", params=params)
    assert plan.include_end_users is expected


def test_an_unknown_end_users_choice_is_refused():
    with pytest.raises(ValueError, match="include_end_users must be empty, 'include' or 'exclude'"):
        plan_run(logical_date=HOUR, run_after=LATER, run_type="manual", params={"include_end_users": "yes"})
