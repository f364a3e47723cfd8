"""The pipeline's stages: one function per DAG task, taking the run's plan, returning a typed result.

Run policy lives here, not in the DAG: reusing an archived raw snapshot (and skipping when a re-derive
has none), the end-user choice, the gate's and the guard's baseline (the delivery read once, when the
run is planned), re-derived runs skipping the guard and delivery. Each function reaches the world
only through `Environment` (built from Airflow configuration by `halo_c1_airflow.stage.environment()`,
by hand in tests), raises `PermanentError` for what a retry cannot fix and `StageSkipped` when there is nothing
to do. Heavy modules are imported inside the functions: the DAG file imports this module's names
only when a task runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from halo_c1.errors import StageSkipped
from halo_c1.results import (
    DeliveryResult,
    EndUserRefreshResult,
    ExtractResult,
    GuardResult,
    PackageResult,
    QualityResult,
    TransformResult,
)
from halo_c1.runs import REDERIVE, Baseline, RunPlan, plan_run, rederives, requested_snapshot

if TYPE_CHECKING:
    from halo_c1.deliver.target import Target
    from halo_c1.freshness import EndUserExtraction
    from halo_c1.halo.settings import HaloSettings
    from halo_c1.lake import Lake

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Environment:
    """What the stages reach beyond the plan. Settings and target are built only by the stages that
    need them, so a re-derive runs without a HaloITSM connection."""

    lake: Lake
    halo_settings: Callable[[], HaloSettings]
    delivery_target: Callable[[], Target]
    max_drop_ratio: Callable[[float | None], float]  # the run's param (or None) -> the threshold to use
    c1z_max_decoded_bytes: Callable[[], int] | None = None  # the c1z's decoded-size cap; None = 3 GiB


def plan(
    env: Environment,
    *,
    run_id: str,
    run_type: str,
    params: dict[str, Any],
    interval: tuple[datetime, datetime] | None,
    now: datetime | None = None,
) -> RunPlan:
    """Decide the run once: snapshot, mode, the guard's threshold, and the baseline delivery.

    The snapshot is chosen by `snapshots.choose_snapshot`: named after the time the data is taken and
    recorded per DAG run (so a cleared run reuses it), or for a re-derive the archived one named or
    taken in the run's data interval. A run that will deliver checks its target first, so a bad
    delivery setting fails before any work.
    """
    from halo_c1.deliver.manifest import last_delivery
    from halo_c1.leftovers import sweep_local_temp
    from halo_c1.snapshots import choose_snapshot

    sweep_local_temp()  # what a killed run on this worker left (never a running one's: see leftovers)
    choice = choose_snapshot(
        env.lake,
        run_id=run_id,
        rederive=rederives(run_type, params),
        requested=requested_snapshot(params),
        interval=interval,
        now=now,
        run_type=run_type,
        interval_start=interval[0].isoformat() if interval else None,
    )
    decided = plan_run(
        snapshot_id=choice.snapshot_id,
        run_type=run_type,
        params=params,
        source=choice.source,
        missing=choice.missing,
    )
    if decided.deliver:
        env.delivery_target().check()
    record = last_delivery(env.lake, first_delivery_confirmed=decided.confirm_first_delivery)
    baseline = Baseline.from_record(record)
    decided = decided.with_baseline(baseline, env.max_drop_ratio(decided.max_drop_ratio))
    log.info(
        "snapshot %s, mode %s: %s; baseline delivery %s",
        decided.snapshot_id,
        decided.mode,
        decided.reason,
        baseline.snapshot_id if baseline else "(none)",
    )
    return decided


def extract(run: RunPlan, env: Environment) -> ExtractResult:
    """Land the tenant in the raw zone, or reuse the archived raw snapshot (no HaloITSM request).

    A re-derive without an archived raw snapshot has nothing to work on: `StageSkipped`.
    """

    lake = env.lake
    if lake.has_raw(run.snapshot_id):
        return _reused(lake, run.snapshot_id)
    if run.mode == REDERIVE:
        what = f"taken in {run.missing}" if run.missing else run.snapshot_id
        message = f"no archived raw snapshot {what} in {lake.base}: nothing to re-derive, skipping"
        log.warning("%s", message)
        raise StageSkipped(message)
    from halo_c1.snapshots import check_fresh

    check_fresh(run.snapshot_id)

    from halo_c1.halo.client import HaloClient
    from halo_c1.halo.errors import HaloSnapshotExistsError
    from halo_c1.halo.extract import extract_snapshot

    settings = env.halo_settings()
    users = settings.include_end_users if run.include_end_users is None else run.include_end_users
    reuse = _end_users_to_reuse(lake, settings.end_user_refresh_hours) if users else None
    try:
        with HaloClient(settings) as client:
            manifest = extract_snapshot(
                client, lake, run.snapshot_id, include_end_users=users, reuse_end_users=reuse
            )
    except HaloSnapshotExistsError:  # another run extracted it while this one waited for its claim
        return _reused(lake, run.snapshot_id)
    return ExtractResult.from_xcom({**manifest, "reused": False})


def _end_users_to_reuse(lake: Lake, cadence_hours: float) -> EndUserExtraction | None:
    """With `end_user_refresh_hours` set, the newest complete end-user extraction (None: read them
    in this run, cadence 0). Without any, the run has nothing complete to deliver: `StageSkipped`."""
    from halo_c1.freshness import hours, newest_end_users

    if not cadence_hours:
        return None
    newest = newest_end_users(lake)
    if newest is None:
        message = (
            f"no complete end-user extraction in {lake.base} yet: with end_user_refresh_hours="
            f"{cadence_hours:g} the haloitsm_end_users DAG reads them; this run delivers nothing until "
            "then, so C1 never receives a c1z without end users"
        )
        log.warning("%s", message)
        raise StageSkipped(message)
    age = newest.age(datetime.now(UTC))
    if age.total_seconds() > cadence_hours * 3600:
        log.warning(
            "end users from %s are %s old, older than end_user_refresh_hours=%g: reusing them (C1 keeps "
            "every end user); check the haloitsm_end_users DAG",
            newest.snapshot_id,
            hours(age),
            cadence_hours,
        )
    return newest


def refresh_end_users(
    env: Environment, *, interval: timedelta, now: datetime | None = None
) -> EndUserRefreshResult:
    """The end-user refresh (its own DAG): read every end user into a new end-user extraction when
    the newest one would pass `end_user_refresh_hours` before the next scheduled run could land one
    (`freshness.refresh_decision`); skip otherwise, when the setting is 0 (every ETL run reads end
    users) or end users are off, or while another refresh is in flight."""
    from halo_c1.freshness import newest_end_users, refresh_decision

    settings = env.halo_settings()
    if not settings.include_end_users:
        raise StageSkipped("include_end_users is off: no end users to refresh")
    if not settings.end_user_refresh_hours:
        raise StageSkipped("end_user_refresh_hours is 0: every ETL run reads end users itself")
    decision = refresh_decision(newest_end_users(env.lake), settings.end_user_refresh_hours, interval, now)
    log.info("end-user refresh %s: %s", "due" if decision.due else "not due", decision.reason)
    if not decision.due:
        raise StageSkipped(decision.reason)

    from halo_c1.halo.client import HaloClient
    from halo_c1.halo.extract import EndUserRefreshBusy, extract_end_users
    from halo_c1.snapshots import taken_now

    snapshot_id = taken_now(now)
    try:
        with HaloClient(settings) as client:
            manifest = extract_end_users(client, env.lake, snapshot_id)
    except EndUserRefreshBusy as busy:
        log.info("%s", busy)
        raise StageSkipped(str(busy)) from None
    return EndUserRefreshResult(
        snapshot_id=snapshot_id,
        refreshed=True,
        reason=decision.reason,
        requests=manifest["requests"],
        rows=manifest["counts"]["users"],
        manifest=manifest["manifest"],
    )


def _reused(lake: Lake, snapshot_id: str) -> ExtractResult:
    from halo_c1.lake import read_json

    log.info("raw snapshot %s is archived already: reusing it, no HaloITSM request", snapshot_id)
    manifest = read_json(lake.raw_manifest(snapshot_id))
    return ExtractResult(
        snapshot_id=snapshot_id,
        reused=True,
        requests=0,
        include_end_users=manifest.get("include_end_users", True),
        counts=manifest["counts"],
        manifest=str(lake.raw_manifest(snapshot_id)),
        freshness=manifest.get("freshness", {}),
        end_user_refresh_hours=manifest.get("end_user_refresh_hours"),
    )


def transform(run: RunPlan, env: Environment) -> TransformResult:
    """Map the raw snapshot to the access model's curated tables."""
    from halo_c1.transform import transform_snapshot

    return TransformResult.from_xcom(transform_snapshot(env.lake, run.snapshot_id))


def validate(run: RunPlan, env: Environment) -> QualityResult:
    """Gate the curated tables (volume checks against the baseline delivery); the reports are written
    whether or not the gate passes, then a failed gate raises `QualityGateError`."""
    from halo_c1.quality.gate import raise_for_errors, run_quality_gate
    from halo_c1.report.publish import publish_reports

    previous = run.baseline.snapshot_id if run.baseline else None
    result = run_quality_gate(env.lake, run.snapshot_id, previous)
    published = publish_reports(env.lake, run.snapshot_id, mode=run.mode)
    raise_for_errors(result)
    return QualityResult.from_xcom({**result, **published})


def guard(run: RunPlan, env: Environment) -> GuardResult:
    """Refuse a mass deletion versus what C1 holds, unless allowed once; re-derived snapshots are
    never delivered, so they are not compared.

    What C1 holds is the delivery target's content: the lake's last delivery when this folder wrote
    it (or the target is empty), else the target's own c1z (`deliver.writer.check_target`); a target
    another tenant wrote, or one that cannot be read, is refused unless the run takes it over."""
    from halo_c1.guard import DEFAULT_MAX_DROP_RATIO, MassDeletionError, check_deletion_safety

    if run.mode == REDERIVE:
        return GuardResult(
            snapshot_id=run.snapshot_id,
            passed=True,
            overridden=False,
            previous_snapshot_id=None,
            skipped="re-derived snapshots are never delivered",
        )
    from halo_c1.deliver.writer import target_baseline

    previous = run.baseline.as_record() if run.baseline else None
    check, held = None, None
    if run.deliver:
        check, held = target_baseline(
            env.delivery_target(), env.lake, previous, run.snapshot_id, takeover=run.takeover_delivery_target
        )
    try:
        report = check_deletion_safety(
            env.lake,
            run.snapshot_id,
            previous,
            max_drop_ratio=run.max_drop_ratio or DEFAULT_MAX_DROP_RATIO,
            allow_mass_deletion=run.allow_mass_deletion,
            held=held,
            target=check.as_report() if check else None,
        )
    except MassDeletionError:
        _show_block(env.lake, run.snapshot_id)
        raise
    return GuardResult.from_xcom(report)


def _show_block(lake: Lake, snapshot_id: str) -> None:
    """Re-render the report and the index so they show the block (the report task will not run)."""
    from halo_c1.report.publish import refresh_report

    try:
        refresh_report(lake, snapshot_id)
    except Exception:  # the guard's verdict is what the run must fail with, not a report error
        log.exception("the report of snapshot %s could not show the guard's block", snapshot_id)


def package(run: RunPlan, env: Environment) -> PackageResult:
    """Write the snapshot as a Baton v1 c1z in the lake."""
    from halo_c1.c1z.writer import write_c1z

    cap = {"max_decoded_bytes": env.c1z_max_decoded_bytes()} if env.c1z_max_decoded_bytes else {}
    return PackageResult.from_xcom(write_c1z(env.lake, run.snapshot_id, **cap))


def deliver(run: RunPlan, env: Environment) -> DeliveryResult:
    """Deliver the packaged snapshot through the configured target and record it (live runs only)."""
    from halo_c1.deliver.bookkeeping import deliver_snapshot

    if not run.deliver:
        raise StageSkipped(f"not delivering snapshot {run.snapshot_id}: {run.reason}")
    record = deliver_snapshot(
        env.lake,
        run.snapshot_id,
        env.delivery_target(),
        first_delivery_confirmed=run.confirm_first_delivery,
        takeover=run.takeover_delivery_target,
    )
    return DeliveryResult.from_xcom(record)


def report(run: RunPlan, env: Environment, results: dict[str, dict[str, Any] | None]) -> str:
    """The run's summary from the stages' XCom results (`extract`, `transform`, `quality`, `guard`,
    `package`, `delivery`; None when skipped), with that day's provisioning actions."""
    from halo_c1.lake import snapshot_time
    from halo_c1.provision import daily_actions, summary_lines
    from halo_c1.report.publish import refresh_report
    from halo_c1.summary import run_summary

    refresh_report(env.lake, run.snapshot_id)  # now it can say whether the snapshot was delivered
    day = snapshot_time(run.snapshot_id).date()
    provisioning = summary_lines(daily_actions(env.lake, day))
    return run_summary(plan=run.to_xcom(), **results, provisioning=provisioning)
