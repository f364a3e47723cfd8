"""
### HaloITSM → ConductorOne

Extracts HaloITSM agents, teams, departments, roles and end users; turns them into the Baton access
model as Parquet tables; gates them with Great Expectations; refuses a sudden mass deletion; packages a
`.c1z` and delivers it where ConductorOne imports it. One run is one snapshot of the tenant.

- **Scheduled** (hourly by default, `HALO_C1_SCHEDULE`): the full pipeline.
- **Manual** triggers take the params below (`dry_run`, `allow_mass_deletion`, ...).
- **Backfills** (`airflow backfill create`) re-derive curated tables, the quality report and the c1z from
  that date's archived raw snapshot: no HaloITSM request and no delivery; a date without raw data is skipped.

Configuration: connection `haloitsm_default`; variables `halo_c1_lake_url`, `halo_c1_delivery_url`
(+ `halo_c1_lake_conn_id`, `halo_c1_delivery_conn_id`, `halo_c1_max_drop_ratio`); pool `halo_api`.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import Asset, Param, dag, get_current_context, task

from halo_c1.summary import failure_line, run_summary

if TYPE_CHECKING:
    from halo_c1.runs import RunPlan

log = logging.getLogger("halo_c1.dag")

CURATED_ASSET = Asset("halo_c1/curated")
C1Z_ASSET = Asset("halo_c1/c1z")
SNAPSHOT_ID_PATTERN = r"^\d{8}T\d{6}Z$"


def _plan(plan: dict[str, Any]) -> RunPlan:
    from halo_c1.runs import RunPlan

    return RunPlan.from_dict(plan)


def _fail_fast(error: Exception) -> NoReturn:
    """Fail the task without retries: bad data or a safety gate does not improve by retrying."""
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException(str(error)) from error


def _annotate(asset: Asset, extra: dict[str, Any]) -> None:
    """Attach the run's facts (snapshot id, counts, checksum) to the asset event."""
    get_current_context()["outlet_events"][asset].extra.update(extra)


def _on_failure(context: dict[str, Any]) -> None:
    """One line naming the stage and the reason, for alerting on the task log."""
    plan = context["ti"].xcom_pull(task_ids="plan") or {}
    log.error(failure_line(context["ti"].task_id, plan.get("snapshot_id"), context.get("exception")))


@dag(
    dag_id=Path(__file__).stem,
    description=(__doc__ or "").strip().splitlines()[0].lstrip("# "),
    doc_md=__doc__,
    schedule=os.environ.get("HALO_C1_SCHEDULE", "@hourly"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    max_consecutive_failed_dag_runs=24,
    dagrun_timeout=timedelta(hours=2),
    tags=["halo-c1", "haloitsm", "conductorone", "identity"],
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": _on_failure,
    },
    params={
        "dry_run": Param(
            False, type="boolean", title="Dry run", description="Everything but delivery to C1."
        ),
        "allow_mass_deletion": Param(
            False,
            type="boolean",
            title="Allow mass deletion (once)",
            description="Deliver even if the deletion-safety guard sees a drop above the threshold.",
        ),
        # A drop-down, not a toggle: a boolean field cannot show "empty" and sends false once touched.
        "include_end_users": Param(
            None,
            type=["null", "string"],
            enum=[None, "include", "exclude"],
            values_display={
                "null": "The connection's setting",
                "include": "Include end users",
                "exclude": "Leave end users out",
            },
            title="End users",
            description="Extract HaloITSM end users? Empty = the connection's `include_end_users`.",
        ),
        "max_drop_ratio": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            exclusiveMaximum=1,
            title="Deletion guard threshold",
            description="Largest allowed drop per resource type and for grants; empty = 0.2 or the variable.",
        ),
        "rederive_only": Param(
            False,
            type="boolean",
            title="Re-derive only",
            description="Rebuild this run's snapshot from archived raw data: no API call, no delivery.",
        ),
        "snapshot_id": Param(
            None,
            type=["null", "string"],
            pattern=SNAPSHOT_ID_PATTERN,
            title="Snapshot id",
            description="Re-derive this archived snapshot (e.g. 20261127T050000Z) instead of the run's own.",
        ),
    },
)
def haloitsm_to_c1() -> None:
    @task(multiple_outputs=False)
    def plan() -> dict[str, Any]:
        """Fix the snapshot id and the run's mode once, so every task agrees on them."""
        from halo_c1.runs import plan_run

        ctx = get_current_context()
        run = ctx["dag_run"]
        try:
            decided = plan_run(
                logical_date=ctx.get("logical_date"),
                run_after=run.run_after,
                run_type=getattr(run.run_type, "value", str(run.run_type)),
                params=dict(ctx["params"]),
            )
        except ValueError as error:
            _fail_fast(error)
        log.info("snapshot %s, mode %s: %s", decided.snapshot_id, decided.mode, decided.reason)
        return decided.to_dict()

    @task(multiple_outputs=False, pool="halo_api")
    def extract(plan: dict[str, Any]) -> dict[str, Any]:
        """Land the tenant's identities in the raw zone (or reuse the archived raw snapshot)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from halo_c1 import hooks
        from halo_c1.halo.client import HaloClient
        from halo_c1.halo.errors import HaloAuthError, HaloConfigError, HaloResponseError
        from halo_c1.halo.extract import extract_snapshot
        from halo_c1.lake import read_json
        from halo_c1.runs import REDERIVE

        run, lake = _plan(plan), hooks.lake()
        if lake.has_raw(run.snapshot_id):
            log.info("raw snapshot %s is archived already: reusing it, no HaloITSM request", run.snapshot_id)
            return {**read_json(lake.raw_manifest(run.snapshot_id)), "reused": True, "requests": 0}
        if run.mode == REDERIVE:
            message = (
                f"no archived raw snapshot {run.snapshot_id} in {lake.base}: nothing to re-derive, skipping"
            )
            log.warning("%s", message)
            raise AirflowSkipException(message)
        try:
            settings = hooks.halo_settings()
            users = settings.include_end_users if run.include_end_users is None else run.include_end_users
            with HaloClient(settings) as client:
                return extract_snapshot(client, lake, run.snapshot_id, include_end_users=users)
        except (HaloConfigError, HaloAuthError, HaloResponseError) as error:
            _fail_fast(error)

    @task(multiple_outputs=False)
    def transform(plan: dict[str, Any], _extracted: dict[str, Any]) -> dict[str, Any]:
        """Map raw HaloITSM rows to the access model's curated tables."""
        from halo_c1 import hooks
        from halo_c1.transform import RawSnapshotError, transform_snapshot

        try:
            return transform_snapshot(hooks.lake(), _plan(plan).snapshot_id)
        except RawSnapshotError as error:
            _fail_fast(error)

    @task(multiple_outputs=False, outlets=[CURATED_ASSET])
    def validate(plan: dict[str, Any], transformed: dict[str, Any]) -> dict[str, Any]:
        """Gate the curated tables with Great Expectations; write Data Docs and dq_history."""
        from halo_c1 import hooks
        from halo_c1.deliver import last_delivery
        from halo_c1.quality.gate import QualityGateError, raise_for_errors, run_quality_gate

        lake, run = hooks.lake(), _plan(plan)
        previous = last_delivery(lake)
        result = run_quality_gate(lake, run.snapshot_id, previous["snapshot_id"] if previous else None)
        try:
            raise_for_errors(result)
        except QualityGateError as error:
            _fail_fast(error)
        _annotate(
            CURATED_ASSET, {"snapshot_id": run.snapshot_id, "mode": run.mode, **transformed.get("rows", {})}
        )
        return result

    @task(multiple_outputs=False)
    def guard(plan: dict[str, Any], _validated: dict[str, Any]) -> dict[str, Any]:
        """Refuse a sudden mass deletion versus the last delivered snapshot, unless allowed once."""
        from halo_c1 import hooks
        from halo_c1.deliver import MassDeletionError, check_deletion_safety
        from halo_c1.runs import REDERIVE

        run = _plan(plan)
        if run.mode == REDERIVE:
            return {"passed": True, "skipped": "re-derived snapshots are never delivered"}
        try:
            return check_deletion_safety(
                hooks.lake(),
                run.snapshot_id,
                max_drop_ratio=hooks.max_drop_ratio(run.max_drop_ratio),
                allow_mass_deletion=run.allow_mass_deletion,
            )
        except (MassDeletionError, hooks.ConfigurationError) as error:
            _fail_fast(error)

    @task(multiple_outputs=False)
    def package(plan: dict[str, Any], _guarded: dict[str, Any]) -> dict[str, Any]:
        """Write the snapshot as a Baton v1 .c1z in the lake."""
        from halo_c1 import hooks
        from halo_c1.c1z.errors import C1zError
        from halo_c1.c1z.writer import write_c1z

        try:
            return write_c1z(hooks.lake(), _plan(plan).snapshot_id)
        except C1zError as error:
            _fail_fast(error)

    @task(multiple_outputs=False, outlets=[C1Z_ASSET])
    def deliver(plan: dict[str, Any], guarded: dict[str, Any], packaged: dict[str, Any]) -> dict[str, Any]:
        """Put the c1z where C1 imports it, atomically, and record the delivery."""
        from airflow.sdk.exceptions import AirflowSkipException

        from halo_c1 import hooks
        from halo_c1.deliver import StaleSnapshotError, deliver_c1z

        run = _plan(plan)
        if not run.deliver:
            raise AirflowSkipException(f"not delivering snapshot {run.snapshot_id}: {run.reason}")
        try:
            result = deliver_c1z(
                hooks.lake(),
                run.snapshot_id,
                hooks.delivery_target(),
                counts={**guarded["counts"], "sync_id": packaged.get("sync_id")},
                extra={"guard_overridden": guarded["overridden"], "drops": guarded["drops"]},
            )
        except StaleSnapshotError as error:
            _fail_fast(error)
        _annotate(C1Z_ASSET, {"snapshot_id": run.snapshot_id, "sha256": result["sha256"]})
        return {**result, "delivered": True}

    @task(task_id="report", trigger_rule="none_failed", retries=0)
    def report(
        plan: dict[str, Any],
        extract: dict[str, Any] | None,
        transform: dict[str, Any] | None,
        quality: dict[str, Any] | None,
        guard: dict[str, Any] | None,
        package: dict[str, Any] | None,
        delivery: dict[str, Any] | None,
    ) -> str:
        """The run summary, plus that day's grants and revokes from the provisioning audit table."""
        from halo_c1 import hooks
        from halo_c1.lake import snapshot_time
        from halo_c1.provision import daily_actions, summary_lines

        day = snapshot_time(plan["snapshot_id"]).date()
        return run_summary(
            plan=plan,
            extract=extract,
            transform=transform,
            quality=quality,
            guard=guard,
            package=package,
            delivery=delivery,
            provisioning=summary_lines(daily_actions(hooks.lake(), day)),
        )

    planned = plan()
    extracted = extract(planned)
    transformed = transform(planned, extracted)
    validated = validate(planned, transformed)
    guarded = guard(planned, validated)
    packaged = package(planned, guarded)
    delivered = deliver(planned, guarded, packaged)
    report(
        plan=planned,
        extract=extracted,
        transform=transformed,
        quality=validated,
        guard=guarded,
        package=packaged,
        delivery=delivered,
    )


haloitsm_to_c1()
