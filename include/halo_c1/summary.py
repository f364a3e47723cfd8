"""The human-readable end of a run: one summary block, and one line when a stage fails."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from halo_c1.results import (
    DeliveryResult,
    ExtractResult,
    GuardResult,
    PackageResult,
    QualityResult,
    StageResult,
    TransformResult,
)
from halo_c1.runs import RunPlan

log = logging.getLogger("halo_c1.summary")

_Result = TypeVar("_Result", bound=StageResult)


def failure_line(stage: str, snapshot_id: str | None, error: BaseException | None) -> str:
    """One line naming the stage and the reason, for the failure callback and alerting.

    The domain's error is named, not Airflow's wrapper around it (`AirflowFailException`), and a
    first line that ends in ":" (the guard's "… would disappear from C1:") takes its first item along.
    """
    if error is not None and type(error).__name__ == "AirflowFailException" and error.__cause__ is not None:
        error = error.__cause__
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()] if error else []
    reason = lines[0] if lines else (type(error).__name__ if error else "unknown")
    if reason.endswith(":") and len(lines) > 1:
        reason += f" {lines[1].lstrip('- ')}" + (" …" if len(lines) > 2 else "")
    kind = type(error).__name__ if error else "failure"
    return f"halo-c1 stage {stage!r} failed for snapshot {snapshot_id or '?'}: {kind}: {reason}"


def _logged(lines: list[str]) -> str:
    text = "\n".join(lines)
    log.info("%s", text)
    return text


def _changes(guard: GuardResult | None) -> list[str]:
    """Before → after per resource type and for grants, from the deletion guard's report."""
    if guard and guard.skipped:
        return [f"  (not compared: {guard.skipped})"]
    if not guard or not (guard.previous_snapshot_id or guard.compared_with):
        return ["  (no delivered snapshot to compare with)"]
    changes = {**guard.resources, "grants": guard.grants}
    lines = [f"  (vs {guard.compared_with or f'snapshot {guard.previous_snapshot_id}'})"]
    for name, change in changes.items():
        before, after, delta = change.get("before"), change.get("after"), change.get("change")
        line = f"  {name:<12} {before} -> {after}" + (f" ({delta:+d})" if delta is not None else "")
        if change.get("removed") or change.get("added"):
            line += f", {change.get('removed', 0)} removed, {change.get('added', 0)} added"
        lines.append(line)
    for type_id, reason in guard.not_compared.items():
        lines.append(f"  {type_id:<12} not compared: {reason}")
    if guard.compared_by and guard.compared_by != "ids":
        lines.append(f"  compared by {guard.compared_by}")
    if guard.overridden:
        lines.append("  mass-deletion guard overridden for this run (allow_mass_deletion)")
    return lines


def _typed(kind: type[_Result], data: dict[str, Any] | None) -> _Result | None:
    return kind.from_xcom(data) if data is not None else None


def _access_changes(quality: QualityResult) -> list[str]:
    """The change log's counts and highlights, and where the report is (a path or URL, and the UI)."""
    from halo_c1.report.publish import UI_HINT, location

    lines = []
    if quality.changes_basis:
        changed = [f"{kind.replace('_', ' ')} {n}" for kind, n in quality.changes.items() if n]
        lines.append(f"access changes ({quality.changes_basis}): {', '.join(changed) or 'none'}")
        highlights = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in quality.change_highlights.items())
        if highlights:
            lines.append(f"  highlights: {highlights}")
    if quality.report:
        lines.append(f"report: {quality.report} ({UI_HINT})")
    if quality.docs_index:
        lines.append(f"Data Docs: {location(quality.docs_index)}")
    return lines


def run_summary(
    *,
    plan: dict[str, Any],
    extract: dict[str, Any] | None,
    transform: dict[str, Any] | None,
    quality: dict[str, Any] | None,
    guard: dict[str, Any] | None,
    package: dict[str, Any] | None,
    delivery: dict[str, Any] | None,
    provisioning: list[str] | None = None,
) -> str:
    """Log and return the run's summary: counts per type, grants, changes, quality, delivery.

    `provisioning`: the day's provisioning lines (`halo_c1.provision.summary_lines`), shown last.
    The parameters are the stages' XCom results; a skipped stage's is None.
    """
    return summarize(
        RunPlan.from_xcom(plan),
        _typed(ExtractResult, extract),
        _typed(TransformResult, transform),
        _typed(QualityResult, quality),
        _typed(GuardResult, guard),
        _typed(PackageResult, package),
        _typed(DeliveryResult, delivery),
        provisioning or [],
    )


def summarize(
    plan: RunPlan,
    extract: ExtractResult | None,
    transform: TransformResult | None,
    quality: QualityResult | None,
    guard: GuardResult | None,
    package: PackageResult | None,
    delivery: DeliveryResult | None,
    provisioning: Sequence[str] = (),
) -> str:
    """`run_summary` on typed results."""
    lines = [f"halo-c1 run summary: snapshot {plan.snapshot_id} ({plan.reason})"]
    if extract is None:
        lines.append("extract: skipped (see the extract task log)")
        return _logged([*lines, *provisioning])
    source = "archived raw snapshot" if extract.reused else "HaloITSM API"
    lines.append(f"extract: from {source}; requests {extract.requests}")
    if extract.freshness:
        from halo_c1.freshness import age_lines

        lines.append("data age (per entity):")
        lines.extend(age_lines(extract.freshness, extract.end_user_refresh_hours))
    if transform:
        lines.append("resources per type:")
        for rtype, count in sorted(transform.resources_by_type.items()):
            lines.append(f"  {rtype:<12} {count}")
        lines.append(
            f"entitlements: {transform.rows.get('entitlements')}  grants: {transform.rows.get('grants')}"
        )
        if transform.unknown_fields:
            lines.append(
                f"delivered with fields unknown (unreadable in HaloITSM): {transform.unknown_fields}"
            )
        if transform.rejected:
            lines.append(f"raw rows left out: {transform.rejected}")
        if transform.issues_named:
            where = transform.paths.get("data_issues", "curated/data_issues")
            lines.append(f"data issues by id (all in {where}):")
            lines.extend(f"  {issue}" for issue in transform.issues_named)
    lines.append("changes since the last delivered snapshot:")
    lines.extend(_changes(guard))
    if quality:
        verdict = "passed" if quality.passed else "FAILED"
        lines.append(
            f"quality: {verdict}; {quality.failed_errors} error(s), {quality.failed_warnings} warning(s)"
        )
        lines.extend(_access_changes(quality))
    if package:
        from halo_c1.report.publish import location

        lines.append(f"c1z: {location(package.path)} ({package.size_bytes} bytes, sha256 {package.sha256})")
        for field_name, cut in package.truncated.items():
            lines.append(
                f"  warning: {cut['count']} {field_name} value(s) cut to C1's {cut['max_bytes']} bytes in the c1z "
                f"(whole in the curated tables), e.g. {', '.join(cut['examples'])}"
            )
    if delivery:
        lines.append(f"delivered: {delivery.target} (sha256 {delivery.sha256})")
    else:
        lines.append(f"delivered: nothing ({plan.reason})")
    lines.extend(provisioning)
    return _logged(lines)
