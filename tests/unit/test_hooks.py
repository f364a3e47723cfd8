"""The Airflow glue's own rules (values that need no Airflow connection or variable)."""

import pytest

from halo_c1.hooks import ConfigurationError, max_drop_ratio


def test_the_runs_threshold_wins_and_is_validated():
    assert max_drop_ratio(0.35) == pytest.approx(0.35)
    with pytest.raises(ConfigurationError, match="strictly between 0 and 1"):
        max_drop_ratio(1.5)


def test_a_zero_length_interval_ends_at_the_next_scheduled_time():
    from datetime import UTC, datetime, timedelta

    from airflow.sdk import CronTriggerTimetable, DeltaTriggerTimetable

    from halo_c1.hooks import data_interval

    noon = datetime(2026, 11, 29, 12, tzinfo=UTC)

    class Dag:
        timetable = CronTriggerTimetable("@hourly", timezone="UTC")

    context = {"logical_date": noon, "data_interval_start": noon, "data_interval_end": noon, "dag": Dag}
    assert data_interval(context) == (noon, noon + timedelta(hours=1))

    Dag.timetable = CronTriggerTimetable("0 */6 * * *", timezone="Europe/Berlin")
    assert data_interval(context)[1] == datetime(2026, 11, 29, 17, tzinfo=UTC)  # 18:00 in Berlin

    Dag.timetable = DeltaTriggerTimetable(timedelta(minutes=30))
    assert data_interval(context)[1] == noon + timedelta(minutes=30)

    real = {**context, "data_interval_end": noon + timedelta(days=1)}
    assert data_interval(real) == (noon, noon + timedelta(days=1))
    assert data_interval({"logical_date": None, "dag": Dag}) is None
