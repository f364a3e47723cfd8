"""Extraction: HaloITSM → the lake's raw zone, one Parquet file per entity, then the manifest.

What is read (ARCHITECTURE.md §2, haloitsm-api.md §2.8):

    teams        GET /api/Team?includeenabled=true&includedisabled=true                (one request)
    roles        GET /api/Roles                                                          (one request)
    agents       GET /api/Agent?includedisabled=true&includeapiagents=true&includeroles=true
                     &includeunassigned=false&include_membership_info=true&pageinate=true…  (paged)
    memberships  the `teams`/`departments`/`roles` arrays on the agent rows (no extra request);
                 only for a kind the list rows do not carry: GET /api/Team/{id}?includeagents=true
                 per team, GET /api/Agent?role=<id> per role (each paged), and for departments
                 GET /api/Agent/{id}?includedetails=true per agent lacking them
    users        GET /api/Users?includeactive=true&includeinactive=true&pageinate=true…  (paged)

So a tenant whose agent list carries memberships costs 2 + ⌈agents/cap⌉ + ⌈users/cap⌉ requests plus
the token; without inline memberships add T + R·⌈members/cap⌉ + A (agents). Departments are read per
agent because nothing else says the same thing: `GET /api/Agent?department_id=` names the members of
a department already known from a team (not one referenced only by an agent), and not whether a
membership was inherited from a role, so both membership modes yield the same curated tables.

Consistency: every file is written page by page (memory stays bounded) to a hidden temporary file.
A listing that changes while it is read (see `paging`) is read again from page 1, at most
`settings.max_listing_restarts` times, discarding what was written for it; then the run fails. Files
are moved into place only when every entity succeeded, and the manifest is written last, so a
failed run leaves no manifest. A complete raw snapshot is immutable: extracting into it again is
refused before any request, so the archive a backfill re-derives from never changes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from halo_c1 import model
from halo_c1.halo.client import HaloClient
from halo_c1.halo.errors import HaloPagingError, HaloResponseError, HaloSnapshotExistsError, truncate
from halo_c1.halo.paging import normalize_id
from halo_c1.halo.paths import api_path
from halo_c1.lake import Lake, parquet_writer, write_json
from halo_c1.redact import strip_secret_keys

log = logging.getLogger("halo_c1.halo")

AGENT_PARAMS = {
    "includeenabled": "true",
    "includedisabled": "true",
    "includeapiagents": "true",
    "includeroles": "true",
    "includeunassigned": "false",
    "include_membership_info": "true",
}
TEAM_PARAMS = {"includeenabled": "true", "includedisabled": "true"}
USER_PARAMS = {"includeactive": "true", "includeinactive": "true"}

# Membership kinds and the agent-row array that carries each.
MEMBERSHIP_ARRAYS = {"team": "teams", "department": "departments", "role": "roles"}

T = TypeVar("T")

# A raw file's row groups: large enough to read fast, small enough to keep memory bounded.
ROW_GROUP_ROWS = 65_536
ROW_GROUP_BYTES = 32 * 2**20


class _Discarded(Exception):
    """Thrown into a staged writer to make it delete its temporary file."""


class StagedTable:
    """One raw file being written: rows go to a hidden temporary file until `commit`.

    Pages are buffered and written as row groups of up to `ROW_GROUP_ROWS` rows or
    `ROW_GROUP_BYTES` of Arrow data: a row group per 50-row page made a 1M-user file 8x larger and
    11x slower to read. Memory stays bounded by one row group.
    """

    def __init__(self, entity: str, lake: Lake, snapshot_id: str) -> None:
        self.entity = entity
        self.path = lake.raw_file(entity, snapshot_id)
        self.schema = model.RAW_ENTITIES[entity]
        self.rows = 0
        self.pages = 0
        self._stack: ExitStack | None = None
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._pending_bytes = 0

    def reset(self) -> None:
        """Start (again) from an empty file."""
        self.discard()
        self._stack = ExitStack()
        self._writer = self._stack.enter_context(parquet_writer(self.path, self.schema))
        self.rows = 0
        self.pages = 0

    def write(self, rows: list[dict[str, Any]]) -> None:
        if self._writer is None:
            self.reset()
        if rows:
            table = pa.Table.from_pylist(rows, schema=self.schema)
            self._pending.append(table)
            self._pending_rows += table.num_rows
            self._pending_bytes += table.nbytes
            self.rows += len(rows)
            if self._pending_rows >= ROW_GROUP_ROWS or self._pending_bytes >= ROW_GROUP_BYTES:
                self._flush()

    def _flush(self) -> None:
        if self._pending:
            assert self._writer is not None
            self._writer.write_table(pa.concat_tables(self._pending), row_group_size=self._pending_rows)
        self._drop_pending()

    def _drop_pending(self) -> None:
        self._pending = []
        self._pending_rows = self._pending_bytes = 0

    def commit(self) -> None:
        if self._writer is None:
            self.reset()
        self._flush()
        assert self._stack is not None
        self._stack.close()
        self._stack = self._writer = None

    def discard(self) -> None:
        self._drop_pending()
        if self._stack is not None:
            reason = _Discarded(self.entity)
            self._stack.__exit__(_Discarded, reason, None)
            self._stack = self._writer = None


# ---------------------------------------------------------------------------------------------
# Row builders: Halo JSON → raw-zone rows.
# ---------------------------------------------------------------------------------------------


def raw_json(row: Any) -> str:
    """The row as Halo returned it, without secret-looking keys."""
    return json.dumps(strip_secret_keys(row), ensure_ascii=False, default=str)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return value if isinstance(value, str) else str(value)


_NOT_A_FLAG = object()


def _flag(value: Any) -> Any:
    """A HaloITSM boolean: JSON true/false (or the strings "true"/"false"); null when absent.

    Anything else ("yes", "no", 1, 0, "enabled") is `_NOT_A_FLAG`: Halo does not send it, so its
    meaning is a guess, and a guess of "not disabled" would make an account ENABLED in C1.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return _NOT_A_FLAG


def _flags(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The flag columns, plus `invalid_flags` naming (with the value) any that is not a boolean."""
    parsed = {name: _flag(row.get(name)) for name in names}
    invalid = [f"{name}={truncate(repr(row.get(name)), 40)}" for name in names if parsed[name] is _NOT_A_FLAG]
    return {
        **{name: None if value is _NOT_A_FLAG else value for name, value in parsed.items()},
        "invalid_flags": invalid or None,
    }


def via_role(value: Any) -> str | None:
    """A membership row's `role_id`: set means inherited from that role; blank means direct."""
    role_id = normalize_id(value)
    return role_id if role_id and role_id.strip() and role_id != "0" else None


def is_department_id(department_id: str | None) -> bool:
    """Halo writes 0 (or null) on a team that belongs to no department."""
    return department_id is not None and department_id.strip() not in ("", model.NO_DEPARTMENT)


def agent_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "agent_id": normalize_id(row.get("id")),
        **{
            key: _text(row.get(key))
            for key in ("name", "firstname", "surname", "email", "ad", "lastlogindate")
        },
        **_flags(row, ("isdisabled", "isapiagent")),
        "raw_json": raw_json(row),
    }


def team_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "team_id": normalize_id(row.get("id")),
        "name": _text(row.get("name")),
        "department_id": normalize_id(row.get("department_id")),
        "department_name": _text(row.get("department_name")),
        **_flags(row, ("inactive",)),
        "raw_json": raw_json(row),
    }


def role_row(row: dict[str, Any]) -> dict[str, Any]:
    return {"role_id": normalize_id(row.get("id")), "name": _text(row.get("name")), "raw_json": raw_json(row)}


def user_row(row: dict[str, Any]) -> dict[str, Any]:
    texts = ("name", "firstname", "surname", "emailaddress", "login", "lastlogindate")
    return {
        "user_id": normalize_id(row.get("id")),
        **{key: _text(row.get(key)) for key in texts},
        **_flags(row, ("inactive", "isserviceaccount")),
        "raw_json": raw_json(row),
    }


def membership_row(agent_id: str | None, kind: str, item: Any, source: str) -> dict[str, Any]:
    """One agent→team/department/role row from a UnameSection, UnameDepartment or role element."""
    if not isinstance(item, dict):
        target_id = target_name = via_role_id = None
    elif kind == "role":
        target_id = normalize_id(item.get("id", item.get("role_id")))
        target_name = _text(item.get("name", item.get("role_name")))
        via_role_id = None
    else:
        target_id = normalize_id(item.get(f"{kind}_id"))
        target_name = _text(item.get(f"{kind}_name"))
        via_role_id = via_role(item.get("role_id"))
    return {
        "agent_id": agent_id,
        "kind": kind,
        "target_id": target_id,
        "target_name": target_name,
        "via_role_id": via_role_id,
        "source": source,
        "raw_json": raw_json(item),
    }


# ---------------------------------------------------------------------------------------------
# The extraction.
# ---------------------------------------------------------------------------------------------


class _Extraction:
    def __init__(self, client: HaloClient, lake: Lake, snapshot_id: str) -> None:
        self.client = client
        self.tables = {entity: StagedTable(entity, lake, snapshot_id) for entity in model.RAW_ENTITIES}
        self.restarts = 0
        self.membership_sources: dict[str, str] = {}
        self.department_ids: set[str] = set()
        self.fallback_requests = 0

    def with_restarts(self, what: str, read: Callable[[], T]) -> T:
        """Run `read` (which starts its listing from page 1); re-run it when the listing changed under us."""
        limit = self.client.settings.max_listing_restarts
        for attempt in range(limit + 1):
            try:
                return read()
            except HaloPagingError as exc:
                if not exc.restartable:
                    raise
                if attempt == limit:
                    raise HaloPagingError(
                        f"{what}: listing still inconsistent after {limit} restart(s); last anomaly: {exc}",
                        restartable=False,
                    ) from None
                self.restarts += 1
                log.warning(
                    "%s: %s; reading the listing again from page 1 (restart %d)", what, exc, attempt + 1
                )
        raise AssertionError("unreachable")

    def read_simple(self, entity: str, path: str, params: dict[str, Any], build: Callable[..., dict]) -> list:
        """An unpaged or paged listing straight into its table; returns the raw rows of small listings."""
        table = self.tables[entity]

        def read() -> list[dict[str, Any]]:
            table.reset()
            kept: list[dict[str, Any]] = []
            for page in self.client.paginate(path, params, paged=entity == "users"):
                table.write([build(row) for row in page.rows])
                table.pages += 1
                if entity != "users":
                    kept.extend(page.rows)
                log.info(
                    "%s: page %d done, %d rows so far (record_count %s)",
                    entity,
                    page.page_no,
                    table.rows,
                    page.record_count,
                )
            return kept

        return self.with_restarts(entity, read)

    def read_agents(self) -> dict[str, set[str]]:
        """Agents and their inline memberships; returns, per kind, the agents whose rows lacked that array."""
        agents, memberships = self.tables["agents"], self.tables["agent_memberships"]
        source = "GET /api/Agent"

        def read() -> dict[str, set[str]]:
            agents.reset()
            memberships.reset()
            self.department_ids.clear()
            lacking: dict[str, set[str]] = {kind: set() for kind in MEMBERSHIP_ARRAYS}
            for page in self.client.paginate("/api/Agent", AGENT_PARAMS):
                agents.write([agent_row(row) for row in page.rows])
                agents.pages += 1
                rows = []
                for row in page.rows:
                    agent_id = normalize_id(row.get("id"))
                    for kind, key in MEMBERSHIP_ARRAYS.items():
                        items = row.get(key)
                        if isinstance(items, list):
                            rows.extend(membership_row(agent_id, kind, item, source) for item in items)
                        elif agent_id is not None:
                            lacking[kind].add(agent_id)
                self.write_memberships(rows)
                log.info(
                    "agents: page %d done, %d agents and %d memberships so far (record_count %s)",
                    page.page_no,
                    agents.rows,
                    memberships.rows,
                    page.record_count,
                )
            return lacking

        return self.with_restarts("agents", read)

    def members_of(self, what: str, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """All rows of one group's agent listing, read whole so a restart discards nothing written."""

        def read() -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            for page in self.client.paginate(path, params):
                self.fallback_requests += 1
                rows.extend(page.rows)
            return rows

        return self.with_restarts(what, read)

    def memberships_per_group(
        self, lacking: dict[str, set[str]], teams: list[dict[str, Any]], roles: list[dict[str, Any]]
    ) -> None:
        """For each kind the agent list did not carry, ask per group; departments per agent (see above)."""
        for kind in MEMBERSHIP_ARRAYS:
            self.membership_sources[kind] = "agent list" if not lacking[kind] else "per group"
        if lacking["department"]:
            self.membership_sources["department"] = "per agent"
        if lacking["team"]:
            for team in teams:
                team_id = normalize_id(team.get("id"))
                if team_id is None:
                    continue
                source = f"GET /api/Team/{team_id}?includeagents=true"
                try:
                    detail = self.client.get_json(api_path("Team", team_id), {"includeagents": "true"})
                except HaloResponseError as error:
                    if error.status != 404:
                        raise
                    log.warning("team %s was deleted during the extraction: no members recorded", team_id)
                    detail = None
                self.fallback_requests += 1
                items = detail.get("agents") if isinstance(detail, dict) else None
                rows = []
                for item in items if isinstance(items, list) else []:
                    agent_id = normalize_id(item.get("agent_id")) if isinstance(item, dict) else None
                    if agent_id in lacking["team"]:
                        row = membership_row(agent_id, "team", item, source)
                        row["target_id"] = row["target_id"] or team_id
                        row["target_name"] = row["target_name"] or _text(team.get("name"))
                        rows.append(row)
                self.write_memberships(rows)
        if lacking["role"]:
            for role in roles:
                role_id = normalize_id(role.get("id"))
                if role_id is None:
                    continue
                source = f"GET /api/Agent?role={role_id}"
                members = self.members_of(source, "/api/Agent", {**AGENT_PARAMS, "role": role_id})
                self.write_memberships(
                    [
                        membership_row(agent_id, "role", role, source)
                        for agent_id in self._lacking_ids(members, lacking["role"])
                    ]
                )
        if lacking["department"]:
            for agent_id in sorted(lacking["department"], key=lambda value: (len(value), value)):
                self.departments_of_agent(agent_id)

    def departments_of_agent(self, agent_id: str) -> None:
        """One agent's department rows (direct and role-inherited) from its detail record."""
        source = f"GET /api/Agent/{agent_id}?includedetails=true"
        try:
            detail = self.client.get_json(api_path("Agent", agent_id), {"includedetails": "true"})
        except HaloResponseError as error:
            if error.status != 404:
                raise
            log.warning("agent %s was deleted during the extraction: no departments recorded", agent_id)
            return
        self.fallback_requests += 1
        items = detail.get("departments") if isinstance(detail, dict) else None
        if not isinstance(items, list):
            raise HaloPagingError(
                f"{source} carries no departments list; the agent's department memberships cannot be read",
                restartable=False,
            )
        self.write_memberships([membership_row(agent_id, "department", item, source) for item in items])

    @staticmethod
    def _lacking_ids(members: Iterable[dict[str, Any]], lacking: set[str]) -> list[str]:
        ids = (normalize_id(member.get("id")) for member in members)
        return [agent_id for agent_id in ids if agent_id in lacking]

    def write_memberships(self, rows: list[dict[str, Any]]) -> None:
        self.tables["agent_memberships"].write(rows)
        self.department_ids.update(
            row["target_id"]
            for row in rows
            if row["kind"] == "department" and is_department_id(row["target_id"])
        )


RAW_CLAIM_TTL_S = 120.0  # renewed while the extraction runs; a dead run's claim expires after this
RAW_CLAIM_WAIT_S = 600.0  # a second run waits this long for the first, then fails (and retries)


def extract_snapshot(
    client: HaloClient, lake: Lake, snapshot_id: str, *, include_end_users: bool = True
) -> dict:
    """Write one raw snapshot of the tenant to the lake and return its manifest (small, JSON-able).

    Raises the client's `HaloError` (or a storage error) on failure; then no file of this run is
    committed and no manifest is written. Two runs never write into one raw snapshot: the
    extraction holds the snapshot's claim (an expiring lease in the lake, `lake.raw_claim`) from the
    check that it is not archived until its manifest is written; a run that waited for another one
    finds the snapshot archived (`HaloSnapshotExistsError`).
    """
    from halo_c1.provision.lease import AgentLease as Lease

    with Lease(lake.raw_claim(snapshot_id), ttl_s=RAW_CLAIM_TTL_S, wait_s=RAW_CLAIM_WAIT_S):
        return _extract_claimed(client, lake, snapshot_id, include_end_users=include_end_users)


def _extract_claimed(client: HaloClient, lake: Lake, snapshot_id: str, *, include_end_users: bool) -> dict:
    if lake.has_raw(snapshot_id):
        raise HaloSnapshotExistsError(
            f"raw snapshot {snapshot_id} in {lake.base} is complete already; archived snapshots are "
            "immutable (re-derive from it, or extract into a new snapshot)"
        )
    started = datetime.now(UTC)
    run = _Extraction(client, lake, snapshot_id)
    log.info("extracting HaloITSM %s into snapshot %s", client.settings.base_url, snapshot_id)
    try:
        teams = run.read_simple("teams", "/api/Team", TEAM_PARAMS, team_row)
        roles = run.read_simple("roles", "/api/Roles", {}, role_row)
        lacking = run.read_agents()
        run.memberships_per_group(lacking, teams, roles)
        run.department_ids.update(
            d for d in (normalize_id(team.get("department_id")) for team in teams) if is_department_id(d)
        )
        if include_end_users:
            run.read_simple("users", "/api/Users", USER_PARAMS, user_row)
        else:
            run.tables["users"].reset()
            log.info("users: skipped (include_end_users is off); writing an empty users table")
        run.tables["request_log"].write(client.request_log.rows)
        for table in run.tables.values():
            table.commit()
    except BaseException:
        for table in run.tables.values():
            table.discard()
        raise
    finished = datetime.now(UTC)
    stats = client.stats.as_dict()
    entities = [entity for entity in model.RAW_ENTITIES if entity != "request_log"]
    manifest = {
        "snapshot_id": snapshot_id,
        "halo_base_url": client.settings.base_url,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "duration_s": round((finished - started).total_seconds(), 3),
        "include_end_users": include_end_users,
        "counts": {entity: run.tables[entity].rows for entity in entities},
        "pages": {entity: run.tables[entity].pages for entity in ("agents", "teams", "roles", "users")},
        "distinct_department_ids": len(run.department_ids),
        "membership_sources": run.membership_sources,
        "membership_fallback_requests": run.fallback_requests,
        "listing_restarts": run.restarts,
        "requests": stats["requests"],
        "token_requests": stats["token_requests"],
        "retries": stats["retries"],
        "responses_429": stats["responses_429"],
        "responses_by_status": stats["responses_by_status"],
        "repaired": {
            "lone_surrogates": stats["lone_surrogates_repaired"],
            "records": stats["repaired_records"],
        },
        "seconds_waited": {
            "throttle": stats["throttle_wait_s"],
            "rate_limit_429": stats["rate_limit_wait_s"],
            "backoff": stats["backoff_wait_s"],
        },
        "files": {entity: str(table.path) for entity, table in run.tables.items()},
        "manifest": str(lake.raw_manifest(snapshot_id)),
    }
    write_json(lake.raw_manifest(snapshot_id), manifest)
    log.info(
        "snapshot %s extracted: %s; %d requests, %d retries, %d×429, %.1f s throttled",
        snapshot_id,
        manifest["counts"],
        stats["requests"],
        stats["retries"],
        stats["responses_429"],
        stats["throttle_wait_s"],
    )
    return manifest
