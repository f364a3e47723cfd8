"""What one DAG run does: which snapshot, whether it may call HaloITSM, whether it delivers.

Kept free of Airflow so the rules are unit-tested directly; the DAG passes in plain values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from halo_c1.errors import ConfigurationError

LIVE = "live"
REDERIVE = "rederive"


@dataclass(frozen=True)
class Baseline:
    """The delivery the run compares with (read once, when the run is planned)."""

    snapshot_id: str
    delivered_at: str | None
    counts: dict[str, Any]

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> Baseline | None:
        if record is None:
            return None
        return cls(record["snapshot_id"], record.get("delivered_at"), record["counts"])

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunPlan:
    """The decisions a run makes once, up front, and every task reads."""

    snapshot_id: str
    mode: str  # live: extract from HaloITSM; rederive: rebuild from the archived raw snapshot
    deliver: bool
    dry_run: bool
    allow_mass_deletion: bool
    include_end_users: bool | None
    max_drop_ratio: float | None
    reason: str
    baseline: Baseline | None = None
    missing: str | None = None  # a re-derive's interval without an archived snapshot: the run skips
    # The operator confirmed that a missing or unreadable delivery record means "never delivered".
    confirm_first_delivery: bool = False
    # The operator confirmed that the delivery target may be replaced whoever wrote it (deliver.writer).
    takeover_delivery_target: bool = False

    def to_xcom(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> RunPlan:
        baseline = data.get("baseline")
        return cls(**{**data, "baseline": Baseline(**baseline) if baseline else None})

    def with_baseline(self, baseline: Baseline | None, max_drop_ratio: float) -> RunPlan:
        return replace(self, baseline=baseline, max_drop_ratio=max_drop_ratio)


END_USER_CHOICES: dict[str | None, bool | None] = {None: None, "include": True, "exclude": False}


def end_users_choice(value: str | None) -> bool | None:
    """The `include_end_users` param as the extraction takes it: None = the connection's setting."""
    if value not in END_USER_CHOICES:
        raise ConfigurationError(
            f"param include_end_users must be empty, 'include' or 'exclude', got {value!r}"
        )
    return END_USER_CHOICES[value]


def requested_snapshot(params: dict[str, Any]) -> str | None:
    """The archived snapshot a manual re-derive names (param `snapshot_id`), checked; or None."""
    from halo_c1.lake import snapshot_time  # pyarrow: not at DAG parse time (summary)

    requested = params.get("snapshot_id")
    if not requested:
        return None
    try:
        snapshot_time(requested)
    except ValueError as error:
        raise ConfigurationError(f"param snapshot_id: {error}") from None
    return requested


def rederives(run_type: str, params: dict[str, Any]) -> bool:
    """A backfill, a `rederive_only` run or one naming a `snapshot_id` rebuilds from archived raw data."""
    return run_type == "backfill" or bool(params.get("rederive_only")) or bool(params.get("snapshot_id"))


def plan_run(
    *,
    snapshot_id: str,
    run_type: str,
    params: dict[str, Any],
    source: str = "",
    missing: str | None = None,
) -> RunPlan:
    """Decide the mode and the flags of a run whose snapshot is already chosen (`halo_c1.snapshots`).

    A backfill run (or a run asked to `rederive_only`, or one naming a `snapshot_id`) cannot ask
    HaloITSM about the past: it rebuilds from archived raw data and never delivers to C1. `source`
    says where the snapshot id came from; `missing` describes the interval a re-derive found no
    archived snapshot in (the run then skips).
    """
    dry_run = bool(params.get("dry_run"))
    if run_type == "backfill":
        mode, reason = REDERIVE, "backfill run: re-derived from archived raw data, never delivered"
    elif rederives(run_type, params):
        mode, reason = REDERIVE, "re-derive requested: archived raw data only, never delivered"
    elif dry_run:
        mode, reason = LIVE, "dry run: everything but delivery"
    else:
        mode, reason = LIVE, f"{run_type} run"
    ratio = params.get("max_drop_ratio")
    return RunPlan(
        snapshot_id=snapshot_id,
        mode=mode,
        deliver=mode == LIVE and not dry_run,
        dry_run=dry_run,
        allow_mass_deletion=bool(params.get("allow_mass_deletion")),
        include_end_users=end_users_choice(params.get("include_end_users")),
        max_drop_ratio=float(ratio) if ratio is not None else None,
        reason=f"{reason}; {source}" if source else reason,
        missing=missing,
        confirm_first_delivery=params.get("confirm_first_delivery") is True,
        takeover_delivery_target=params.get("takeover_delivery_target") is True,
    )
