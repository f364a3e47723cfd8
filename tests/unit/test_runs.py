"""A run's plan: which mode, whether it delivers, and the params it checks (the snapshot is chosen by
`halo_c1.snapshots`, tested in test_snapshots.py)."""

import pytest

from halo_c1.runs import LIVE, REDERIVE, plan_run, rederives, requested_snapshot

SNAPSHOT = "20261127T050730Z"


def test_scheduled_run_extracts_and_delivers():
    plan = plan_run(snapshot_id=SNAPSHOT, run_type="scheduled", params={}, source="data taken now")
    assert (plan.snapshot_id, plan.mode, plan.deliver) == (SNAPSHOT, LIVE, True)
    assert plan.reason == "scheduled run; data taken now"


def test_dry_run_never_delivers():
    plan = plan_run(snapshot_id=SNAPSHOT, run_type="manual", params={"dry_run": True})
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
    assert rederives(run_type, params)
    plan = plan_run(snapshot_id=SNAPSHOT, run_type=run_type, params=params)
    assert (plan.mode, plan.deliver) == (REDERIVE, False)


def test_a_named_snapshot_is_validated():
    assert requested_snapshot({"snapshot_id": "20261120T000000Z"}) == "20261120T000000Z"
    assert requested_snapshot({"snapshot_id": None}) is None
    with pytest.raises(ValueError, match="not a snapshot id"):
        requested_snapshot({"snapshot_id": "yesterday"})


def test_plan_round_trips_through_xcom_dict():
    plan = plan_run(
        snapshot_id=SNAPSHOT, run_type="backfill", params={"max_drop_ratio": 0.3}, missing="[a, b) UTC"
    )
    assert type(plan).from_xcom(plan.to_xcom()) == plan
    assert plan.max_drop_ratio == pytest.approx(0.3)
    assert plan.missing == "[a, b) UTC"


@pytest.mark.parametrize(("choice", "expected"), [(None, None), ("include", True), ("exclude", False)])
def test_end_users_param_maps_empty_to_the_connections_setting(choice, expected):
    plan = plan_run(snapshot_id=SNAPSHOT, run_type="manual", params={"include_end_users": choice})
    assert plan.include_end_users is expected


def test_an_unknown_end_users_choice_is_refused():
    with pytest.raises(ValueError, match="include_end_users must be empty, 'include' or 'exclude'"):
        plan_run(snapshot_id=SNAPSHOT, run_type="manual", params={"include_end_users": "yes"})
