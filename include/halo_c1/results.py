"""The typed result of each stage: what a task hands to the next one and to the run summary.

Each result is a frozen dataclass of JSON values (str, int, float, bool, None, lists and dicts of
them), so it travels through XCom as plain JSON. `from_xcom` requires every field, so a renamed or
missing key fails in a test, not in a production run. Results carry paths, counts and ids only; the
data stays in the lake.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Self


@dataclass(frozen=True)
class StageResult:
    """Base of every stage result: conversion to and from XCom's JSON."""

    snapshot_id: str

    def to_xcom(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> Self:
        """The result from its XCom dict (or a stage's own dict, which may hold more keys)."""
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [name for name in required if name not in data]
        if missing:
            raise KeyError(f"{cls.__name__} needs {missing}; got keys {sorted(data)}")
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def asset_extra(self) -> dict[str, Any]:
        """The facts attached to the stage's asset event (when the stage produces an asset)."""
        return {"snapshot_id": self.snapshot_id}


@dataclass(frozen=True)
class ExtractResult(StageResult):
    """The raw snapshot: extracted now, or an archived one reused (then no HaloITSM request)."""

    reused: bool
    requests: int
    include_end_users: bool
    counts: dict[str, int]
    manifest: str
    # Per raw entity: the snapshot whose file holds it, when it was taken, its age (halo_c1.freshness).
    freshness: dict[str, dict[str, Any]] = field(default_factory=dict)
    end_user_refresh_hours: float | None = None


@dataclass(frozen=True)
class EndUserRefreshResult(StageResult):
    """An end-user refresh: read now (`refreshed`), or not needed yet / in flight elsewhere (`reason`)."""

    refreshed: bool
    reason: str
    requests: int = 0
    rows: int | None = None
    manifest: str | None = None


@dataclass(frozen=True)
class TransformResult(StageResult):
    """The curated tables written, with row counts per table and resources per type."""

    rows: dict[str, int]
    resources_by_type: dict[str, int]
    rejected: dict[str, int]
    excluded: dict[str, int]
    end_users_extracted: bool
    paths: dict[str, str]
    # Fields delivered as unknown per "entity.field", and the first data issues named by id
    # (all of them are in the curated `data_issues` table).
    unknown_fields: dict[str, int] = field(default_factory=dict)
    issues_named: list[str] = field(default_factory=list)

    def asset_extra(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id, **self.rows}


@dataclass(frozen=True)
class QualityResult(StageResult):
    """The quality gate's verdict (it passed, or the stage failed) and where its reports are."""

    previous_snapshot_id: str | None
    passed: bool
    evaluated: int
    failed_errors: int
    failed_warnings: int
    docs_index: str | None
    gate_result: str
    report_index: str
    # The access change log versus the snapshot delivered before this one (halo_c1.changelog).
    changes: dict[str, int] = field(default_factory=dict)
    changes_basis: str | None = None
    change_highlights: dict[str, int] = field(default_factory=dict)
    report: str | None = None

    def asset_extra(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "quality_passed": self.passed,
            "access_changes": {k: v for k, v in self.changes.items() if v},
            **self.change_highlights,
        }


@dataclass(frozen=True)
class GuardResult(StageResult):
    """The deletion guard's comparison with the last delivery; `skipped` says why none was made."""

    passed: bool
    overridden: bool
    previous_snapshot_id: str | None
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    grants: dict[str, Any] = field(default_factory=dict)
    drops: list[dict[str, Any]] = field(default_factory=list)
    skipped: str | None = None
    compared_by: str | None = None  # "ids", or why only counts were compared
    not_compared: dict[str, str] = field(default_factory=dict)  # resource type -> why it was left out
    compared_with: str | None = None  # the baseline: the last delivery, or the target's own c1z
    target: dict[str, Any] | None = None  # what the delivery target held (deliver.writer.TargetCheck)


@dataclass(frozen=True)
class PackageResult(StageResult):
    """The c1z written to the lake."""

    path: str
    sync_id: str
    size_bytes: int
    sha256: str
    counts: dict[str, int]
    truncated: dict[str, dict[str, Any]] = field(default_factory=dict)  # field -> count, max_bytes, examples


@dataclass(frozen=True)
class DeliveryResult(StageResult):
    """What was delivered where: the delivery record as written to the lake."""

    target: str
    sha256: str
    size_bytes: int
    delivered_at: str

    def asset_extra(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id, "sha256": self.sha256, "target": self.target}
