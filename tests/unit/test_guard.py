"""The deletion-safety guard blocks large drops against the last delivery, unless overridden once."""

from __future__ import annotations

import logging

import pytest

from halo_c1.deliver import last_delivery, record_delivery
from halo_c1.guard import MassDeletionError, check_deletion_safety, snapshot_counts
from halo_c1.lake import Lake
from tests.curated_fixtures import write_curated

PREVIOUS = "20261126T050000Z"
CURRENT = "20261127T050000Z"
BASELINE = {"agent": 10, "user": 20, "team": 5, "department": 3, "role": 4}


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(str(tmp_path / "lake"))


def _delivered(lake: Lake, per_type: dict[str, int], grants: int) -> None:
    """The lake as it is after `PREVIOUS` was delivered with these counts."""
    write_curated(lake, PREVIOUS, per_type, grants)
    record_delivery(lake, {"snapshot_id": PREVIOUS, "counts": snapshot_counts(lake, PREVIOUS)})


def test_snapshot_counts_reads_resources_per_type_and_grants(lake: Lake) -> None:
    write_curated(lake, CURRENT, {"agent": 3, "role": 2}, grants=11)

    assert snapshot_counts(lake, CURRENT) == {"resources": {"agent": 3, "role": 2}, "grants": 11}


def test_guard_blocks_a_30_percent_drop_and_lists_it(lake: Lake) -> None:
    _delivered(lake, BASELINE, grants=100)
    write_curated(lake, CURRENT, {**BASELINE, "agent": 7}, grants=100)

    with pytest.raises(MassDeletionError) as caught:
        check_deletion_safety(lake, CURRENT, last_delivery(lake))

    message = str(caught.value)
    assert "resource type 'agent': 10 → 7, 3 removed (-30.0%), e.g. 7, 8, 9" in message
    assert PREVIOUS in message
    assert "allow_mass_deletion=true" in message
    assert "user" not in message
    assert caught.value.result["passed"] is False
    assert [drop["item"] for drop in caught.value.result["drops"]] == ["resource type 'agent'"]


def test_guard_passes_a_10_percent_drop(lake: Lake) -> None:
    _delivered(lake, BASELINE, grants=100)
    write_curated(lake, CURRENT, {**BASELINE, "agent": 9}, grants=90)

    result = check_deletion_safety(lake, CURRENT, last_delivery(lake))

    assert result["passed"] is True
    assert result["overridden"] is False
    assert result["drops"] == []
    assert result["previous_snapshot_id"] == PREVIOUS
    assert result["max_drop_ratio"] == pytest.approx(0.2)
    assert result["resources"]["agent"] == {
        "before": 10,
        "after": 9,
        "change": -1,
        "change_ratio": -0.1,
        "removed": 1,
        "added": 0,
    }
    assert result["grants"] == {
        "before": 100,
        "after": 90,
        "change": -10,
        "change_ratio": -0.1,
        "removed": 10,
        "added": 0,
    }
    assert result["compared_by"] == "ids"
    assert result["counts"] == {"resources": {**BASELINE, "agent": 9}, "grants": 90}


def test_guard_passes_a_deliberate_override_and_records_it(lake: Lake, caplog) -> None:
    _delivered(lake, BASELINE, grants=100)
    write_curated(lake, CURRENT, {**BASELINE, "team": 1}, grants=40)

    with caplog.at_level(logging.WARNING, logger="halo_c1.guard"):
        result = check_deletion_safety(lake, CURRENT, last_delivery(lake), allow_mass_deletion=True)

    assert result["passed"] is True
    assert result["overridden"] is True
    assert [
        (d["item"], d["before"], d["after"]) for d in result["drops"] if "entitlement" not in d["item"]
    ] == [
        ("resource type 'team'", 5, 1),
        ("grants", 100, 40),
    ]
    # 60 of 100 grants gone: each of the 7 team entitlements lost most of its holders, named too
    assert sum(d["item"].startswith("entitlement 'team:") for d in result["drops"]) == 7
    assert "overridden" in caplog.text
    assert "grants: 100 → 40, 60 removed (-60.0%)" in caplog.text


def test_guard_override_without_drops_is_not_recorded_as_used(lake: Lake) -> None:
    _delivered(lake, BASELINE, grants=100)
    write_curated(lake, CURRENT, BASELINE, grants=100)

    result = check_deletion_safety(lake, CURRENT, last_delivery(lake), allow_mass_deletion=True)

    assert result["passed"] is True
    assert result["overridden"] is False


def test_guard_passes_the_first_delivery(lake: Lake) -> None:
    write_curated(lake, CURRENT, {"agent": 1}, grants=0)

    result = check_deletion_safety(lake, CURRENT, last_delivery(lake))

    assert result["passed"] is True
    assert result["previous_snapshot_id"] is None
    assert result["resources"]["agent"] == {"before": None, "after": 1, "change": None, "change_ratio": None}
    assert result["grants"]["before"] is None


def test_guard_blocks_an_emptied_type_even_with_a_loose_threshold(lake: Lake) -> None:
    _delivered(lake, {"agent": 2, "role": 1}, grants=2)
    write_curated(lake, CURRENT, {"agent": 2}, grants=2)

    with pytest.raises(
        MassDeletionError, match=r"resource type 'role': 1 → 0, 1 removed \(-100.0%, now empty\)"
    ):
        check_deletion_safety(lake, CURRENT, last_delivery(lake), max_drop_ratio=0.99)


def test_guard_blocks_a_grants_drop(lake: Lake) -> None:
    _delivered(lake, BASELINE, grants=100)
    write_curated(lake, CURRENT, BASELINE, grants=75)

    with pytest.raises(
        MassDeletionError, match=r"grants: 100 → 75, 25 removed \(-25.0%\), e.g. team:5:member:agent:75"
    ):
        check_deletion_safety(lake, CURRENT, last_delivery(lake))


def test_guard_ignores_growth_and_new_types(lake: Lake) -> None:
    _delivered(lake, {"agent": 10}, grants=10)
    write_curated(lake, CURRENT, {"agent": 50, "role": 3}, grants=500)

    result = check_deletion_safety(lake, CURRENT, last_delivery(lake))

    assert result["drops"] == []
    assert result["resources"]["role"] == {
        "before": 0,
        "after": 3,
        "change": 3,
        "change_ratio": None,
        "removed": 0,
        "added": 3,
    }


@pytest.mark.parametrize("threshold", [0, 1, -0.1, 1.5, float("nan"), True, "0.2"])
def test_guard_rejects_an_invalid_threshold(lake: Lake, threshold: object) -> None:
    with pytest.raises(ValueError, match="max_drop_ratio must be a fraction strictly between 0 and 1"):
        check_deletion_safety(lake, CURRENT, last_delivery(lake), max_drop_ratio=threshold)  # type: ignore[arg-type]


def test_guard_names_a_missing_curated_table(lake: Lake) -> None:
    with pytest.raises(FileNotFoundError, match=f"curated table 'resources' of snapshot {CURRENT}"):
        check_deletion_safety(lake, CURRENT, last_delivery(lake))
