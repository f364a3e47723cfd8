"""Access history from the lake alone: who held what at a time, what changed, and evidence packs.

Every question is answered from one tenant folder of the lake (local, `s3://`, `abfs://`) with DuckDB
over the curated Parquet tables (`curated/<table>/snapshot=<id>/part-0.parquet`), never by asking
HaloITSM or C1. DuckDB reads object stores through the lake's own fsspec filesystem, so the
credentials are the ones the lake already uses (for S3 the standard `AWS_*` environment, for Azure
`AZURE_STORAGE_*`), and it needs no extension download.

Which snapshots count: those whose curated tables are complete and whose quality gate passed
(`reports/snapshot=<id>/gate_result.json`). A snapshot the gate stopped may hold broken rows, so it
never answers an auditor's question; a snapshot that passed but was not delivered (a dry run, or one
the deletion guard held back) still describes HaloITSM at that time and counts. `which="delivered"`
narrows this to what C1 received; `which="curated"` takes every complete curated snapshot (a lake
without quality reports, e.g. the benchmark's).

The snapshot in effect at a time is the newest counting one taken at or before it (snapshot ids are
the UTC second the data was taken). Every answer names it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Final

from upath import UPath

from halo_c1 import model
from halo_c1.errors import PermanentError
from halo_c1.lake import Lake, as_path, is_local, local_modes, read_json, snapshot_ids, snapshot_time
from halo_c1.quality.reports import GATE_RESULT_FILE
from halo_c1.tenancy import TENANT_RECORD

PASSED: Final = "passed"
DELIVERED: Final = "delivered"
CURATED: Final = "curated"
WHICH: Final = (PASSED, DELIVERED, CURATED)
TABLES: Final = ("resources", "entitlements", "grants")
ACCOUNT_TYPES: Final = tuple(spec.id for spec in model.RESOURCE_TYPES if spec.trait == model.TRAIT_USER)
MANIFEST: Final = "manifest.json"
CHECKSUMS: Final = "SHA256SUMS"
EVIDENCE_FILES: Final = ("grants.csv", "entitlements.csv", "accounts.csv")


class HistoryError(PermanentError):
    """A history question cannot be answered as asked (no snapshot then, unknown id, ambiguous lake)."""


def parse_time(text: str | None, *, now: datetime | None = None) -> datetime:
    """A moment from the command line: `now` (default), a snapshot id, an ISO date or date-time.

    A date-time without a zone is UTC. A bare date means the end of that day in UTC, so "on 1 March"
    is answered by the last snapshot taken that day.
    """
    if text is None or text.strip().lower() == "now":
        return now or datetime.now(UTC)
    value = text.strip()
    try:
        return snapshot_time(value)
    except ValueError:
        pass
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(23, 59, 59), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise HistoryError(
            f"{text!r} is not a time: give an ISO date (2026-03-01, the end of that day in UTC), "
            "a date-time (2026-03-01T09:00:00Z; no zone means UTC), a snapshot id or 'now'"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Tenant:
    """The tenant folder questions are asked of, and who it belongs to (its `_tenant.json`)."""

    lake: Lake
    folder: str
    host: str | None = None
    tenant: str | None = None

    def describe(self) -> str:
        who = self.host + (f" (tenant {self.tenant!r})" if self.tenant else "") if self.host else "unrecorded"
        return f"{self.folder} [{who}]"

    def as_record(self) -> dict[str, Any]:
        return {"folder": self.folder, "host": self.host, "tenant": self.tenant}


def _tenant_at(folder: UPath) -> Tenant:
    record_path = folder / TENANT_RECORD
    record = read_json(record_path) if record_path.exists() else {}
    record = record if isinstance(record, dict) else {}
    return Tenant(Lake(folder), folder.name, record.get("host"), record.get("tenant"))


def open_tenant(url: str | UPath, tenant: str | None = None, **storage_options: Any) -> Tenant:
    """The tenant folder at `url`: the folder itself (it has `_tenant.json` or `curated/`), the one
    tenant folder under a lake base, or the one `tenant` names (`acme`, `tenant=acme`, or a
    `lake_prefix` like `halo/acme`). A base holding several tenants needs `tenant`."""
    base = as_path(url, **storage_options)
    if tenant:
        for name in (tenant.strip("/"), f"tenant={tenant.strip('/')}"):
            folder = base / name
            if (folder / TENANT_RECORD).exists() or (folder / "curated").exists():
                return _tenant_at(folder)
        raise HistoryError(f"no tenant folder {tenant!r} (or 'tenant={tenant}') under {base}")
    if (base / TENANT_RECORD).exists() or (base / "curated").exists():
        return _tenant_at(base)
    if not base.exists():
        raise HistoryError(f"the lake {base} does not exist (or cannot be listed with these credentials)")
    found = sorted(
        (child for child in base.iterdir() if child.is_dir() and (child / TENANT_RECORD).exists()),
        key=lambda child: child.name,
    )
    if len(found) == 1:
        return _tenant_at(found[0])
    if not found:
        raise HistoryError(
            f"{base} holds no tenant folder (a folder with {TENANT_RECORD}) and no curated/ zone: point "
            "--lake at the lake base URL or at the tenant's folder"
        )
    raise HistoryError(
        f"{base} holds {len(found)} tenants: choose one with --tenant ({', '.join(c.name for c in found)})"
    )


@dataclass(frozen=True)
class SnapshotRef:
    """A snapshot that counts, with what the lake says about it."""

    id: str
    gate_passed: bool | None
    delivered: bool

    @property
    def taken_at(self) -> datetime:
        return snapshot_time(self.id)

    def describe(self) -> str:
        gate = {True: "quality gate passed", False: "quality gate FAILED", None: "no quality gate result"}
        delivered = "delivered to C1" if self.delivered else "not delivered to C1"
        return f"snapshot {self.id} (taken {_utc(self.taken_at)}; {gate[self.gate_passed]}; {delivered})"

    def as_record(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.id,
            "taken_at": _utc(self.taken_at),
            "quality_gate_passed": self.gate_passed,
            "delivered": self.delivered,
        }


@dataclass
class Answer:
    """One answered question: the snapshot(s) it was answered from, its subject (names beside ids)
    and its rows."""

    question: str
    snapshots: dict[str, SnapshotRef]
    columns: list[str]
    rows: list[tuple[Any, ...]]
    subject: dict[str, Any] = field(default_factory=dict)
    requested: dict[str, str] = field(default_factory=dict)

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def header_lines(self) -> list[str]:
        lines = [self.question]
        for role, ref in self.snapshots.items():
            asked = f" for {self.requested[role]}" if role in self.requested else ""
            lines.append(f"{role}: {ref.describe()}{asked}")
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "requested": self.requested,
            "snapshots": {role: ref.as_record() for role, ref in self.snapshots.items()},
            "subject": self.subject,
            "count": len(self.rows),
            "rows": self.records(),
        }


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class History:
    """Point-in-time questions over one tenant's lake folder (DuckDB, `threads` cores; None = all)."""

    def __init__(self, tenant: Tenant, *, which: str = PASSED, threads: int | None = None) -> None:
        import duckdb

        if which not in WHICH:
            raise HistoryError(f"which snapshots count must be one of {WHICH}, not {which!r}")
        self.tenant = tenant
        self.lake = tenant.lake
        self.which = which
        # No extension is ever downloaded: object stores are read through the lake's fsspec filesystem.
        self.db = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        if threads:
            self.db.execute(f"SET threads = {int(threads)}")
        if not is_local(self.lake.base):
            self.db.register_filesystem(self.lake.base.fs)
        self._views: set[str] = set()

    def close(self) -> None:
        self.db.close()

    # -- which snapshot ---------------------------------------------------------------------------

    def candidates(self) -> list[str]:
        """Ids with a curated grants table, oldest first (whether they count is checked lazily)."""
        return snapshot_ids(self.lake.base / "curated" / "grants")

    def _ref(self, snapshot_id: str) -> SnapshotRef | None:
        """The snapshot if it counts, else None."""
        if not all(self.lake.curated_file(table, snapshot_id).exists() for table in TABLES):
            return None  # still being written, or pruned by retention
        gate_path = self.lake.report_dir(snapshot_id) / GATE_RESULT_FILE
        gate = read_json(gate_path) if gate_path.exists() else None
        passed = bool(gate.get("passed")) if isinstance(gate, dict) else None
        delivered = self.lake.delivery_manifest(snapshot_id).exists()
        counts = {PASSED: passed is True, DELIVERED: delivered, CURATED: True}[self.which]
        return SnapshotRef(snapshot_id, passed, delivered) if counts else None

    def snapshots(self) -> list[SnapshotRef]:
        """Every snapshot that counts, oldest first."""
        return [ref for ref in map(self._ref, self.candidates()) if ref is not None]

    def in_effect(self, at: datetime) -> SnapshotRef:
        """The newest counting snapshot taken at or before `at`."""
        candidates = self.candidates()
        for snapshot_id in reversed(candidates):
            if snapshot_time(snapshot_id) <= at:
                ref = self._ref(snapshot_id)
                if ref is not None:
                    return ref
        counting = {PASSED: "that passed the quality gate", DELIVERED: "delivered to C1", CURATED: ""}
        earliest = next((ref for ref in map(self._ref, candidates) if ref is not None), None)
        after = f"; the earliest is {earliest.id} (taken {_utc(earliest.taken_at)})" if earliest else ""
        raise HistoryError(
            f"no snapshot {counting[self.which]} was taken at or before {_utc(at)} in "
            f"{self.tenant.describe()}{after}"
        )

    # -- tables -----------------------------------------------------------------------------------

    def _location(self, path: UPath) -> str:
        return path.path if is_local(path) else str(path)

    def _view(self, table: str, snapshot_id: str) -> str:
        """A view of one curated table of one snapshot (its Hive partition), created once."""
        name = f"{table}_{snapshot_id}"
        if name not in self._views:
            location = self._location(self.lake.curated_file(table, snapshot_id))
            self.db.execute(f'CREATE TEMP VIEW "{name}" AS SELECT * FROM read_parquet({_sql_text(location)})')
            self._views.add(name)
        return f'"{name}"'

    def _rows(self, sql: str, parameters: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        cursor = self.db.execute(sql, list(parameters))
        return [d[0] for d in cursor.description], cursor.fetchall()

    def _named(self, snapshot_id: str) -> dict[str, str]:
        """SQL pieces shared by the questions: the snapshot's views and a role-name lookup."""
        resources = self._view("resources", snapshot_id)
        return {
            "grants": self._view("grants", snapshot_id),
            "entitlements": self._view("entitlements", snapshot_id),
            "resources": resources,
            "roles": f"(SELECT map(list(resource_id), list(display_name)) AS m FROM {resources} "
            f"WHERE resource_type_id = '{model.ROLE}')",
        }

    def _resource(self, snapshot_id: str, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        resources = self._view("resources", snapshot_id)
        columns, rows = self._rows(
            f"SELECT resource_type_id, resource_id, display_name, email, status, account_type FROM {resources} "
            "WHERE resource_type_id = ? AND resource_id = ?",
            (resource_type, resource_id),
        )
        return dict(zip(columns, rows[0], strict=True)) if rows else None

    # -- the questions ----------------------------------------------------------------------------

    def holders(self, entitlement_id: str, at: datetime) -> Answer:
        """Who held `entitlement_id` in the snapshot in effect at `at`, and how (direct, via roles)."""
        ref = self.in_effect(at)
        sql = self._named(ref.id)
        columns, rows = self._rows(
            f"SELECT entitlement_id, display_name, resource_type_id, resource_id FROM {sql['entitlements']} "
            "WHERE entitlement_id = ?",
            (entitlement_id,),
        )
        if not rows:
            raise HistoryError(
                f"entitlement {entitlement_id!r} does not exist in {ref.describe()} "
                "(ids look like role:<id>:assigned, team:<id>:member, department:<id>:member)"
            )
        entitlement = dict(zip(columns, rows[0], strict=True))
        columns, rows = self._rows(
            f"""
            SELECT g.principal_resource_type_id || ':' || g.principal_resource_id AS account,
                   a.display_name AS account_name, a.email, a.status, g.is_direct AS direct,
                   g.source_role_ids AS via_role_ids,
                   list_transform(g.source_role_ids, lambda r: coalesce(roles.m[r], r)) AS via_role_names
            FROM {sql["grants"]} g
            CROSS JOIN {sql["roles"]} roles
            LEFT JOIN {sql["resources"]} a
              ON a.resource_type_id = g.principal_resource_type_id AND a.resource_id = g.principal_resource_id
            WHERE g.entitlement_id = ?
            ORDER BY g.principal_resource_type_id, g.principal_resource_id
            """,
            (entitlement_id,),
        )
        return Answer(
            question=f"holders of {entitlement_id} ({entitlement['display_name']})",
            snapshots={"in effect": ref},
            columns=columns,
            rows=rows,
            subject={"entitlement_id": entitlement_id, "entitlement_name": entitlement["display_name"]},
            requested={"in effect": _utc(at)},
        )

    def access(self, account: str, at: datetime) -> Answer:
        """Everything `account` (`agent:12`) held in the snapshot in effect at `at`, direct and inherited."""
        resource_type, _, resource_id = account.partition(":")
        if not resource_id or resource_type not in ACCOUNT_TYPES:
            raise HistoryError(
                f"{account!r} is not an account: give <type>:<id> with type one of {', '.join(ACCOUNT_TYPES)} "
                "(e.g. agent:12)"
            )
        ref = self.in_effect(at)
        holder = self._resource(ref.id, resource_type, resource_id)
        if holder is None:
            raise HistoryError(f"account {account!r} does not exist in {ref.describe()}")
        sql = self._named(ref.id)
        columns, rows = self._rows(
            f"""
            SELECT g.entitlement_id, e.display_name AS entitlement_name,
                   g.resource_type_id || ':' || g.resource_id AS resource, r.display_name AS resource_name,
                   g.is_direct AS direct, g.source_role_ids AS via_role_ids,
                   list_transform(g.source_role_ids, lambda x: coalesce(roles.m[x], x)) AS via_role_names
            FROM {sql["grants"]} g
            CROSS JOIN {sql["roles"]} roles
            LEFT JOIN {sql["entitlements"]} e ON e.entitlement_id = g.entitlement_id
            LEFT JOIN {sql["resources"]} r
              ON r.resource_type_id = g.resource_type_id AND r.resource_id = g.resource_id
            WHERE g.principal_resource_type_id = ? AND g.principal_resource_id = ?
            ORDER BY g.entitlement_id
            """,
            (resource_type, resource_id),
        )
        return Answer(
            question=f"access of {account} ({holder['display_name']}, {holder['status']})",
            snapshots={"in effect": ref},
            columns=columns,
            rows=rows,
            subject={
                "account": account,
                "account_name": holder["display_name"],
                "email": holder["email"],
                "status": holder["status"],
            },
            requested={"in effect": _utc(at)},
        )

    def changes(self, start: datetime, end: datetime) -> Answer:
        """What changed between the snapshots in effect at `start` and at `end`: grants added, removed
        or changed origin (direct/inherited, via which roles); accounts added, removed, disabled,
        enabled."""
        if end < start:
            raise HistoryError(f"--to {_utc(end)} is before --from {_utc(start)}")
        before, after = self.in_effect(start), self.in_effect(end)
        a, b = self._named(before.id), self._named(after.id)
        accounts = ", ".join(_sql_text(t) for t in ACCOUNT_TYPES)
        grant_columns = "g.grant_id, g.entitlement_id, g.principal_resource_type_id AS ptype, g.principal_resource_id AS pid, g.is_direct, g.source_role_ids"
        columns, rows = self._rows(
            f"""
            WITH ga AS (SELECT {grant_columns} FROM {a["grants"]} g),
                 gb AS (SELECT {grant_columns} FROM {b["grants"]} g),
                 grant_changes AS (
                   SELECT 'grant_added' AS change, gb.ptype, gb.pid, gb.entitlement_id,
                          NULL::BOOLEAN AS direct_before, NULL::VARCHAR[] AS roles_before,
                          gb.is_direct AS direct_after, gb.source_role_ids AS roles_after, 'b' AS side
                   FROM gb ANTI JOIN ga USING (grant_id)
                   UNION ALL
                   SELECT 'grant_removed', ga.ptype, ga.pid, ga.entitlement_id, ga.is_direct, ga.source_role_ids,
                          NULL, NULL, 'a'
                   FROM ga ANTI JOIN gb USING (grant_id)
                   UNION ALL
                   SELECT 'grant_origin_changed', gb.ptype, gb.pid, gb.entitlement_id, ga.is_direct,
                          ga.source_role_ids, gb.is_direct, gb.source_role_ids, 'b'
                   FROM ga JOIN gb USING (grant_id)
                   WHERE ga.is_direct <> gb.is_direct OR list_sort(ga.source_role_ids) <> list_sort(gb.source_role_ids)
                 ),
                 ra AS (SELECT * FROM {a["resources"]} WHERE resource_type_id IN ({accounts})),
                 rb AS (SELECT * FROM {b["resources"]} WHERE resource_type_id IN ({accounts})),
                 account_changes AS (
                   SELECT 'account_added' AS change, rb.resource_type_id AS ptype, rb.resource_id AS pid,
                          rb.display_name AS name, NULL AS status_before, rb.status AS status_after
                   FROM rb ANTI JOIN ra USING (resource_type_id, resource_id)
                   UNION ALL
                   SELECT 'account_removed', ra.resource_type_id, ra.resource_id, ra.display_name, ra.status, NULL
                   FROM ra ANTI JOIN rb USING (resource_type_id, resource_id)
                   UNION ALL
                   SELECT CASE WHEN rb.status = '{model.STATUS_DISABLED}' THEN 'account_disabled'
                               WHEN rb.status = '{model.STATUS_UNSPECIFIED}' THEN 'account_status_unknown'
                               ELSE 'account_enabled' END,
                          rb.resource_type_id, rb.resource_id, rb.display_name, ra.status, rb.status
                   FROM ra JOIN rb USING (resource_type_id, resource_id)
                   WHERE ra.status <> rb.status
                 )
            SELECT c.change, c.ptype || ':' || c.pid AS account,
                   coalesce(CASE c.side WHEN 'a' THEN pa.display_name ELSE pb.display_name END,
                            pa.display_name, pb.display_name) AS account_name,
                   c.entitlement_id,
                   coalesce(CASE c.side WHEN 'a' THEN ea.display_name ELSE eb.display_name END,
                            ea.display_name, eb.display_name) AS entitlement_name,
                   c.direct_before, list_transform(c.roles_before, lambda x: coalesce(rla.m[x], x)) AS via_roles_before,
                   c.direct_after, list_transform(c.roles_after, lambda x: coalesce(rlb.m[x], x)) AS via_roles_after,
                   NULL AS status_before, NULL AS status_after
            FROM grant_changes c
            CROSS JOIN {a["roles"]} rla CROSS JOIN {b["roles"]} rlb
            LEFT JOIN {a["resources"]} pa ON pa.resource_type_id = c.ptype AND pa.resource_id = c.pid
            LEFT JOIN {b["resources"]} pb ON pb.resource_type_id = c.ptype AND pb.resource_id = c.pid
            LEFT JOIN {a["entitlements"]} ea ON ea.entitlement_id = c.entitlement_id
            LEFT JOIN {b["entitlements"]} eb ON eb.entitlement_id = c.entitlement_id
            UNION ALL
            SELECT change, ptype || ':' || pid, name, NULL, NULL, NULL, NULL, NULL, NULL, status_before, status_after
            FROM account_changes
            ORDER BY change, account, entitlement_id NULLS FIRST
            """
        )
        return Answer(
            question=f"changes from {before.id} to {after.id}",
            snapshots={"from": before, "to": after},
            columns=columns,
            rows=rows,
            subject={"counts": _count_by(rows, columns.index("change"))},
            requested={"from": _utc(start), "to": _utc(end)},
        )

    # -- evidence ---------------------------------------------------------------------------------

    def evidence(self, at: datetime, out: Path, *, now: datetime | None = None) -> dict[str, Any]:
        """Write the evidence pack for the snapshot in effect at `at` into the new or empty folder `out`:
        grants.csv (one row per grant, names beside ids), entitlements.csv (with holder counts),
        accounts.csv, manifest.json (snapshot, taken-at, tenant, SHA-256 and rows of each file) and
        SHA256SUMS (`sha256sum -c SHA256SUMS` checks the files and the manifest)."""
        if out.exists() and any(out.iterdir()):
            raise HistoryError(f"{out} is not empty: an evidence pack goes into a new or empty folder")
        ref = self.in_effect(at)
        sql = self._named(ref.id)
        queries = {
            "grants.csv": f"""
                SELECT g.entitlement_id, e.display_name AS entitlement_name,
                       g.resource_type_id || ':' || g.resource_id AS resource, r.display_name AS resource_name,
                       g.principal_resource_type_id || ':' || g.principal_resource_id AS account,
                       a.display_name AS account_name, a.email AS account_email, a.status AS account_status,
                       g.is_direct AS direct, array_to_string(g.source_role_ids, ';') AS via_role_ids,
                       array_to_string(list_transform(g.source_role_ids, lambda x: coalesce(roles.m[x], x)), ';')
                         AS via_role_names
                FROM {sql["grants"]} g
                CROSS JOIN {sql["roles"]} roles
                LEFT JOIN {sql["entitlements"]} e ON e.entitlement_id = g.entitlement_id
                LEFT JOIN {sql["resources"]} r
                  ON r.resource_type_id = g.resource_type_id AND r.resource_id = g.resource_id
                LEFT JOIN {sql["resources"]} a
                  ON a.resource_type_id = g.principal_resource_type_id AND a.resource_id = g.principal_resource_id
                ORDER BY g.entitlement_id, g.principal_resource_type_id, g.principal_resource_id""",
            "entitlements.csv": f"""
                SELECT e.entitlement_id, e.display_name AS entitlement_name,
                       e.resource_type_id || ':' || e.resource_id AS resource, r.display_name AS resource_name,
                       count(g.grant_id) AS holders,
                       count(g.grant_id) FILTER (WHERE g.is_direct) AS direct_holders
                FROM {sql["entitlements"]} e
                LEFT JOIN {sql["resources"]} r
                  ON r.resource_type_id = e.resource_type_id AND r.resource_id = e.resource_id
                LEFT JOIN {sql["grants"]} g ON g.entitlement_id = e.entitlement_id
                GROUP BY ALL ORDER BY e.entitlement_id""",
            "accounts.csv": f"""
                SELECT resource_type_id || ':' || resource_id AS account, display_name AS account_name,
                       email, login, status, account_type, last_login
                FROM {sql["resources"]}
                WHERE resource_type_id IN ({", ".join(_sql_text(t) for t in ACCOUNT_TYPES)})
                ORDER BY resource_type_id, resource_id""",
        }
        file_mode, folder_mode = local_modes()
        out.mkdir(parents=True, exist_ok=True, mode=folder_mode)
        files = {}
        for name, query in queries.items():
            path = out / name
            (rows,) = self.db.execute(
                f"COPY ({query}) TO {_sql_text(str(path))} (FORMAT csv, HEADER true)"
            ).fetchone()
            os.chmod(path, file_mode)
            files[name] = {"sha256": _sha256(path), "bytes": path.stat().st_size, "rows": rows}
        manifest = {
            "generated_by": "halo-c1 history evidence",
            "generated_at": _utc(now or datetime.now(UTC)),
            "requested_at": _utc(at),
            **ref.as_record(),
            "snapshots_counted": self.which,
            "tenant": self.tenant.as_record(),
            "lake": _public_url(self.lake.base),
            "files": files,
        }
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        sums = {**{name: info["sha256"] for name, info in files.items()}, MANIFEST: _sha256(out / MANIFEST)}
        (out / CHECKSUMS).write_text("".join(f"{digest}  {name}\n" for name, digest in sums.items()))
        for name in (MANIFEST, CHECKSUMS):
            os.chmod(out / name, file_mode)
        return {**manifest, "manifest_sha256": sums[MANIFEST]}


def _count_by(rows: Iterable[tuple[Any, ...]], index: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[index]] = counts.get(row[index], 0) + 1
    return counts


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _public_url(path: UPath) -> str:
    """The lake's URL without credentials (storage options are never written)."""
    return path.path if is_local(path) else f"{path.protocol}://{path.path}"


def verify_evidence(folder: Path) -> list[str]:
    """Problems with an evidence pack (empty = intact): every file the manifest lists has its SHA-256,
    and SHA256SUMS agrees with the manifest and with manifest.json itself."""
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        return [f"{manifest_path} is missing"]
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return [f"{manifest_path} is not an evidence manifest"]
    problems = []
    for name, info in sorted(files.items()):
        path = folder / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif _sha256(path) != info["sha256"]:
            problems.append(f"{name}: SHA-256 differs from the manifest (changed since the pack was made)")
    sums_path = folder / CHECKSUMS
    if not sums_path.exists():
        problems.append(f"{CHECKSUMS}: missing")
    else:
        listed = dict(reversed(line.split(maxsplit=1)) for line in sums_path.read_text().splitlines() if line)
        if listed.get(MANIFEST) != _sha256(manifest_path):
            problems.append(f"{MANIFEST}: SHA-256 differs from {CHECKSUMS} (the manifest was changed)")
        for name, info in files.items():
            if listed.get(name) != info["sha256"]:
                problems.append(f"{name}: {CHECKSUMS} and {MANIFEST} disagree")
    return problems
