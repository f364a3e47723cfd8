"""The Airflow glue's own rules: thresholds, target selection, and the one failure wrapper."""

from __future__ import annotations

import re

import pytest

from halo_c1.c1z.errors import C1zValidationError
from halo_c1.deliver import DeliveryConflictError, DeliveryError, DeliveryRecordError, StaleSnapshotError
from halo_c1.errors import ConfigurationError, PermanentError, StageSkipped
from halo_c1.guard import MassDeletionError
from halo_c1.halo.errors import HaloAuthError, HaloConfigError, HaloResponseError, HaloRetriesExhausted
from halo_c1.quality.gate import QualityGateError
from halo_c1.results import StageResult
from halo_c1.runs import RunPlan
from halo_c1.transform import RawSnapshotError
from halo_c1_airflow import settings
from halo_c1_airflow.stage import run_stage
from halo_c1_airflow.targets import delivery_target

PLAN = RunPlan("20261127T050000Z", "live", True, False, False, None, 0.2, "manual run").to_xcom()


def test_the_runs_threshold_wins_and_is_validated():
    assert settings.max_drop_ratio(0.35) == pytest.approx(0.35)
    with pytest.raises(ConfigurationError, match="strictly between 0 and 1"):
        settings.max_drop_ratio(1.5)


@pytest.mark.parametrize(
    "kind",
    [
        RawSnapshotError,
        QualityGateError,
        MassDeletionError,
        C1zValidationError,
        StaleSnapshotError,
        DeliveryConflictError,
        DeliveryRecordError,
        ConfigurationError,
        HaloConfigError,
        HaloAuthError,
        HaloResponseError,
    ],
)
def test_every_deterministic_failure_is_a_permanent_error(kind):
    assert issubclass(kind, PermanentError)


@pytest.mark.parametrize("kind", [DeliveryError, HaloRetriesExhausted, OSError])
def test_io_and_outage_failures_stay_retryable(kind):
    assert not issubclass(kind, PermanentError)


HALO_CONNECTION = '{"conn_type": "http", "host": "https://acme.example.com", "login": "id", "password": "pw"}'


@pytest.fixture
def lake_variable(monkeypatch, tmp_path):
    """The lake variable and the HaloITSM connection (the lake folder is per tenant)."""
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"file://{tmp_path}/lake")
    monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", HALO_CONNECTION)


def _raising(error: Exception):
    def stage(plan: RunPlan, env: object) -> StageResult:
        raise error

    return stage


def test_run_stage_fails_a_permanent_error_without_retry(lake_variable):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="guard blocked") as caught:
        run_stage(_raising(MassDeletionError("guard blocked", {})), PLAN)
    assert isinstance(caught.value.__cause__, MassDeletionError)


def test_run_stage_skips_when_the_stage_has_nothing_to_do(lake_variable):
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="dry run"):
        run_stage(_raising(StageSkipped("dry run")), PLAN)


def test_run_stage_lets_transient_failures_through_for_retry(lake_variable):
    with pytest.raises(OSError, match="reset"):
        run_stage(_raising(OSError("connection reset")), PLAN)


def test_run_stage_hands_the_stage_a_typed_plan_and_returns_xcom_json(lake_variable):
    seen = []

    def stage(plan: RunPlan, env: object) -> StageResult:
        seen.append(plan)
        return StageResult(plan.snapshot_id)

    assert run_stage(stage, PLAN) == {"snapshot_id": "20261127T050000Z"}
    assert seen == [RunPlan.from_xcom(PLAN)]


def test_a_missing_lake_variable_is_a_permanent_failure(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.delenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", raising=False)
    with pytest.raises(AirflowFailException, match="halo_c1_lake_url"):
        run_stage(_raising(AssertionError("not reached")), PLAN)


def test_an_unknown_delivery_target_names_the_known_ones(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_TARGET", "carrier_pigeon")
    with pytest.raises(
        ConfigurationError, match=r"'carrier_pigeon'; expected one of \['c1_service', 'object_storage'\]"
    ):
        delivery_target()


def test_the_object_storage_target_comes_from_the_delivery_url(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", f"file://{tmp_path}/c1/sync.c1z")
    assert delivery_target().describe() == f"file://{tmp_path}/c1/sync.c1z"


def test_a_zero_length_interval_ends_at_the_next_scheduled_time():
    from datetime import UTC, datetime, timedelta

    from airflow.sdk import CronTriggerTimetable, DeltaTriggerTimetable

    from halo_c1_airflow.schedule import data_interval

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


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("relative/sync.c1z", "is a relative path"),
        ("file://otherhost/exports/sync.c1z", "names the host 'otherhost'"),
        ("file://localhost/exports/sync.c1z", "names the host 'localhost'"),
        ("s3:///halo/sync.c1z", "names no bucket"),
        ("s3://bucket/halo/", "must name the .c1z file"),
        ("file:///exports/outbox", "must name the .c1z file"),
    ],
)
def test_an_ambiguous_delivery_url_is_refused_before_any_work(monkeypatch, url, problem):
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", url)
    with pytest.raises(ConfigurationError, match=re.escape(problem)):
        delivery_target()


def test_a_delivery_target_that_is_a_folder_is_refused(monkeypatch, tmp_path):
    (tmp_path / "sync.c1z").mkdir()
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", f"file://{tmp_path}/sync.c1z")
    with pytest.raises(ConfigurationError, match="is a folder"):
        delivery_target()


@pytest.mark.parametrize(
    "url", ["file:///exports/sync.c1z", "/exports/sync.c1z", "s3://aws_default@bucket/h/sync.c1z"]
)
def test_absolute_delivery_urls_pass(url):
    from halo_c1.deliver.objectstore import check_target_url

    check_target_url(url)


def test_the_c1z_cap_defaults_to_the_older_readers_3_gib_and_is_validated(monkeypatch):
    monkeypatch.delenv("AIRFLOW_VAR_HALO_C1_C1Z_MAX_DECODED_GIB", raising=False)
    assert settings.c1z_max_decoded_bytes() == 3 * 2**30
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_C1Z_MAX_DECODED_GIB", "10")
    assert settings.c1z_max_decoded_bytes() == 10 * 2**30
    for bad in ("0", "-1", "ten", "nan"):
        monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_C1Z_MAX_DECODED_GIB", bad)
        with pytest.raises(ConfigurationError, match="halo_c1_c1z_max_decoded_gib must be a positive"):
            settings.c1z_max_decoded_bytes()
