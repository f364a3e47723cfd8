"""The ETL DAG's time settings: its schedule period, its run timeout, and each run's data interval."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from halo_c1.errors import ConfigurationError
from halo_c1_airflow.settings import positive_number

ETL_SCHEDULE_ENV = "HALO_C1_SCHEDULE"
DEFAULT_ETL_SCHEDULE = "@hourly"
DAGRUN_TIMEOUT_ENV = "HALO_C1_DAGRUN_TIMEOUT_HOURS"
DEFAULT_DAGRUN_TIMEOUT_HOURS = 2


def dagrun_timeout() -> timedelta:
    """The ETL run's timeout, from `HALO_C1_DAGRUN_TIMEOUT_HOURS` at parse time (default 2 h).

    A tenant's first full extraction can take hours within HaloITSM's rate budget (1M end users at 50
    rows a page: ~5.7 h); a run stopped by the timeout starts over, so size it above that.
    """
    value = os.environ.get(DAGRUN_TIMEOUT_ENV)
    if value is None or not value.strip():
        return timedelta(hours=DEFAULT_DAGRUN_TIMEOUT_HOURS)
    hours = positive_number(value, DAGRUN_TIMEOUT_ENV, "hours (e.g. 8 for a 1M-user first extraction)")
    return timedelta(hours=hours)


def etl_schedule_interval() -> timedelta:
    """The ETL DAG's schedule period (`HALO_C1_SCHEDULE`, default hourly), from two consecutive fire times."""
    from croniter import croniter

    schedule = os.environ.get(ETL_SCHEDULE_ENV, DEFAULT_ETL_SCHEDULE)
    presets = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}
    expression = presets.get(schedule, schedule)
    if not croniter.is_valid(expression):
        raise ConfigurationError(f"{ETL_SCHEDULE_ENV}={schedule!r} is not a cron expression or preset")
    fires = croniter(expression, datetime(2026, 1, 5, tzinfo=UTC))
    first = fires.get_next(datetime)
    return fires.get_next(datetime) - first


def data_interval(context: Any) -> tuple[datetime, datetime] | None:
    """The run's data interval, never empty: a cron trigger timetable (Airflow 3's default for cron
    schedules) gives a zero-length interval at the logical date, so it ends at the next scheduled time."""
    start = context.get("data_interval_start") or context.get("logical_date")
    if start is None:
        return None
    end = context.get("data_interval_end")
    if end is None or end <= start:
        end = next_scheduled_after(context["dag"].timetable, start)
    return start, end


def next_scheduled_after(timetable: Any, moment: datetime) -> datetime:
    """The schedule's next time after `moment` (cron or fixed-delta timetables; else a day later)."""
    from zoneinfo import ZoneInfo

    from croniter import croniter

    expression = getattr(timetable, "expression", None)
    if expression:
        zone = timetable.timezone
        zone = ZoneInfo(zone) if isinstance(zone, str) else zone
        return croniter(expression, moment.astimezone(zone)).get_next(datetime)
    delta = getattr(timetable, "delta", None)
    return moment + (delta if isinstance(delta, timedelta) else timedelta(days=1))
