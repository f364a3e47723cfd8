"""The provisioning audit table: one Parquet row per grant or revoke, append-only, in the lake.

Layout: `provisioning/audit/date=<YYYY-MM-DD>/<HHMMSSffffff>-<task id>-<random>.parquet`, one file
per action (so concurrent workers never rewrite a shared file). Read it as one table:

    duckdb -c "SELECT at, action, entitlement_id, principal_id, code, annotation, changes
               FROM read_parquet('<lake>/provisioning/audit/*/*.parquet', hive_partitioning=1)
               ORDER BY at"

or `daily_actions(lake, day)` / `summary_lines(...)` here. Columns (`AUDIT_SCHEMA`):

- `at` (UTC), `task_id` (C1's), `action`, `entitlement_id`, `resource_type`, `resource_id`,
  `principal_type`, `principal_id`, `host` (the worker);
- `code` (the gRPC status sent to C1), `message`, `annotation` (`GrantAlreadyExists` /
  `GrantAlreadyRevoked` / null), `grant_id`, `finish_task` (`success`, or `error non_retryable`);
- `before`, `after`: the agent's `teams`/`roles`/`departments` lists as HaloITSM returned them
  (JSON text; `after` is the verify read, null when nothing was written);
- `changes`: the membership facts the write changed (`+team:4`, `-role:…`; see `access.py`);
  `inherited_changes`: the inherited team/department rows a role grant or revoke brought or took;
  `unexpected_changes`: what changed beyond the target when verification failed;
- `halo_calls`: every HTTP call to HaloITSM with its status (null for a transport error) and
  attempt number; `halo_writes`: how many POSTs HaloITSM accepted; `duration_ms`.

Never a secret: paths and sanitized query parameters only, and HaloITSM's messages are scrubbed by
the client before they get here.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from halo_c1.lake import Lake, read_parquet, write_parquet

HALO_CALL = pa.struct(
    [
        pa.field("method", pa.string()),
        pa.field("path", pa.string()),
        pa.field("status", pa.int32()),
        pa.field("attempt", pa.int32()),
        pa.field("error", pa.string()),
    ]
)

AUDIT_SCHEMA = pa.schema(
    [
        pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("task_id", pa.string(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("entitlement_id", pa.string(), nullable=False),
        pa.field("resource_type", pa.string(), nullable=False),
        pa.field("resource_id", pa.string(), nullable=False),
        pa.field("principal_type", pa.string(), nullable=False),
        pa.field("principal_id", pa.string(), nullable=False),
        pa.field("host", pa.string()),
        pa.field("code", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
        pa.field("annotation", pa.string()),
        pa.field("grant_id", pa.string()),
        pa.field("finish_task", pa.string(), nullable=False),
        pa.field("before", pa.string()),
        pa.field("after", pa.string()),
        pa.field("changes", pa.list_(pa.string()), nullable=False),
        pa.field("inherited_changes", pa.list_(pa.string()), nullable=False),
        pa.field("unexpected_changes", pa.list_(pa.string()), nullable=False),
        pa.field("halo_calls", pa.list_(HALO_CALL), nullable=False),
        pa.field("halo_writes", pa.int32(), nullable=False),
        pa.field("duration_ms", pa.float64(), nullable=False),
    ]
)


def lists_json(lists: dict[str, Any] | None) -> str | None:
    return None if lists is None else json.dumps(lists, sort_keys=True, default=str, ensure_ascii=False)


def signed(changes: dict[str, list[str]] | None) -> list[str]:
    """`{"added": [...], "removed": [...]}` as `["+fact", "-fact"]`."""
    changes = changes or {}
    return [f"+{f}" for f in changes.get("added", [])] + [f"-{f}" for f in changes.get("removed", [])]


def calls_from_request_log(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "method": row.get("method"),
            "path": row.get("path"),
            "status": row.get("status"),
            "attempt": row.get("attempt"),
            "error": row.get("error"),
        }
        for row in rows
    ]


def write_audit_row(lake: Lake, row: dict[str, Any]) -> str:
    """Append one action; returns the file's path. `row` has the AUDIT_SCHEMA columns."""
    at: datetime = row["at"]
    day = at.astimezone(UTC).date().isoformat()
    safe_task = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in row["task_id"])[:64] or "task"
    name = f"{at.astimezone(UTC):%H%M%S%f}-{safe_task}-{uuid.uuid4().hex[:8]}.parquet"
    path = lake.provisioning_audit_dir(day) / name
    write_parquet(path, pa.Table.from_pylist([row], schema=AUDIT_SCHEMA))
    return str(path)


def daily_actions(lake: Lake, day: date | str) -> list[dict[str, Any]]:
    """Every audited grant/revoke of one UTC day, oldest first (an empty list when there were none)."""
    folder = lake.provisioning_audit_dir(day if isinstance(day, str) else day.isoformat())
    if not folder.exists():
        return []
    files = sorted(p for p in folder.iterdir() if p.name.endswith(".parquet") and not p.name.startswith("."))
    rows = [row for path in files for row in read_parquet(path).to_pylist()]
    return sorted(rows, key=lambda r: r["at"])


def summary_lines(actions: list[dict[str, Any]]) -> list[str]:
    """Human lines for the run summary and the report: counts by outcome, then one line per action."""
    if not actions:
        return ["provisioning: no grant or revoke today"]
    codes: dict[str, int] = {}
    for action in actions:
        codes[action["code"]] = codes.get(action["code"], 0) + 1
    counts = ", ".join(f"{code} {n}" for code, n in sorted(codes.items()))
    lines = [f"provisioning today: {len(actions)} action(s) ({counts})"]
    for a in actions:
        what = a["annotation"] or (", ".join(a["changes"]) if a["changes"] else "no change")
        lines.append(
            f"  {a['at']:%H:%M:%S} {a['action']:<6} {a['entitlement_id']} -> agent {a['principal_id']}: "
            f"{a['code']} ({what}) task {a['task_id']}"
        )
    return lines
