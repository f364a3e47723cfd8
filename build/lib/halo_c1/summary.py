"""The human-readable end of a run: one summary block, and one line when a stage fails."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("halo_c1.summary")


def failure_line(stage: str, snapshot_id: str | None, error: BaseException | None) -> str:
    """One line naming the stage and the reason, for the failure callback and alerting."""
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0] if error else "unknown"
    kind = type(error).__name__ if error else "failure"
    return f"halo-c1 stage {stage!r} failed for snapshot {snapshot_id or '?'}: {kind}: {reason}"


def _logged(lines: list[str]) -> str:
    text = "\n".join(lines)
    log.info("%s", text)
    return text


def _changes(guard: dict[str, Any] | None) -> list[str]:
    """Before → after per resource type and for grants, from the deletion guard's report."""
    if guard and guard.get("skipped"):
        return [f"  (not compared: {guard['skipped']})"]
    if not guard or not guard.get("previous_snapshot_id"):
        return ["  (no delivered snapshot to compare with)"]
    changes = {**guard.get("resources", {}), "grants": guard.get("grants", {})}
    lines = [f"  (vs snapshot {guard['previous_snapshot_id']})"]
    for name, change in changes.items():
        before, after, delta = change.get("before"), change.get("after"), change.get("change")
        lines.append(f"  {name:<12} {before} -> {after}" + (f" ({delta:+d})" if delta is not None else ""))
    if guard.get("overridden"):
        lines.append("  mass-deletion guard overridden for this run (allow_mass_deletion)")
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

    The DAG's last task is this function itself (its parameters are the stages' XCom results).
    """
    lines = [f"halo-c1 run summary: snapshot {plan['snapshot_id']} ({plan['reason']})"]
    if extract is None:
        lines.append("extract: skipped (see the extract task log)")
        return _logged([*lines, *(provisioning or [])])
    source = "archived raw snapshot" if extract.get("reused") else "HaloITSM API"
    lines.append(f"extract: from {source}; requests {extract.get('requests', 0)}")
    if transform:
        lines.append("resources per type:")
        for rtype, count in sorted(transform.get("resources_by_type", {}).items()):
            lines.append(f"  {rtype:<12} {count}")
        rows = transform.get("rows", {})
        lines.append(f"entitlements: {rows.get('entitlements')}  grants: {rows.get('grants')}")
        rejected = transform.get("rejected") or {}
        if rejected:
            lines.append(f"rejected raw rows: {rejected}")
    lines.append("changes since the last delivered snapshot:")
    lines.extend(_changes(guard))
    if quality:
        verdict = "passed" if quality.get("passed") else "FAILED"
        lines.append(
            f"quality: {verdict}; {quality.get('failed_errors', 0)} error(s), "
            f"{quality.get('failed_warnings', 0)} warning(s); report {quality.get('docs_index')}"
        )
    if package:
        lines.append(
            f"c1z: {package.get('path')} ({package.get('size_bytes')} bytes, sha256 {package.get('sha256')})"
        )
        for field, cut in (package.get("truncated") or {}).items():
            lines.append(
                f"  warning: {cut['count']} {field} value(s) cut to C1's {cut['max_bytes']} bytes in the c1z "
                f"(whole in the curated tables), e.g. {', '.join(cut['examples'])}"
            )
    if delivery and delivery.get("delivered"):
        lines.append(f"delivered: {delivery.get('target')} (sha256 {delivery.get('sha256')})")
    else:
        lines.append(f"delivered: nothing ({plan['reason']})")
    lines.extend(provisioning or [])
    return _logged(lines)
