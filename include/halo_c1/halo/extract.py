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

Freshness (`halo_c1.freshness`): the manifest's `freshness` says, per raw entity, which snapshot's
file holds it, when its listing started and ended, and how old it was when the extraction ended.
With `reuse_end_users` the run reads the access data only and points `users` at that complete
end-user extraction (no request for end users); `extract_end_users` is the end-user refresh, which
reads end users alone into `raw/entity=users/snapshot=<id>/` with its own manifest under
`raw/_end_users/`.

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
from collections.abc import Callable, Generator, Iterable
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from halo_c1 import model
from halo_c1.freshness import END_USERS, EndUserExtraction, entity_record, raw_entity_file
from halo_c1.halo.client import HaloClient
from halo_c1.halo.errors import HaloPagingError, HaloResponseError, HaloSnapshotExistsError, truncate
from halo_c1.halo.paging import normalize_id
from halo_c1.halo.paths import api_path
from halo_c1.lake import END_USER_FILE, PARQUET_FILE, Lake, parquet_writer, write_json
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

    def __init__(self, entity: str, lake: Lake, snapshot_id: str, name: str = PARQUET_FILE) -> None:
        self.entity = entity
        self.path = lake.raw_file(entity, snapshot_id, name)
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


def _shown(value: Any) -> str:
    """A short, non-personal view of a value HaloITSM sent for an id or a flag."""
    return truncate(repr(value), 40)


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


class _Fields:
    """One raw row's readable fields, and `invalid_fields` naming each value that cannot be read.

    The row is always kept: the transform delivers it with the unreadable fields unknown.
    """

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.invalid: list[str] = []

    def id(self, key: str, name: str | None = None) -> str | None:
        """An id (see `normalize_id`); a value that is present but not an id is named."""
        value = self.row.get(key)
        normalized = normalize_id(value)
        if normalized is None and value is not None:
            self.invalid.append(f"{name or key}={_shown(value)}")
        return normalized

    def text(self, key: str) -> str | None:
        """Text; an object or a list is named by its JSON type only (text may be personal data)."""
        value = self.row.get(key)
        if isinstance(value, dict | list):
            self.invalid.append(f"{key}=<{'object' if isinstance(value, dict) else 'list'}>")
        return _text(value)

    def flag(self, key: str) -> bool | None:
        value = _flag(self.row.get(key))
        if value is _NOT_A_FLAG:
            self.invalid.append(f"{key}={_shown(self.row.get(key))}")
            return None
        return value

    def done(self, **columns: Any) -> dict[str, Any]:
        return {**columns, "invalid_fields": self.invalid or None, "raw_json": raw_json(self.row)}


def via_role(value: Any) -> str | None:
    """A membership row's `role_id`: set means inherited from that role; blank means direct."""
    role_id = normalize_id(value)
    return role_id if role_id and role_id.strip() and role_id != "0" else None


def is_department_id(department_id: str | None) -> bool:
    """Halo writes 0 (or null) on a team that belongs to no department."""
    return department_id is not None and department_id.strip() not in ("", model.NO_DEPARTMENT)


USER_TEXTS = ("name", "firstname", "surname", "lastlogindate")


def agent_row(row: dict[str, Any]) -> dict[str, Any]:
    f = _Fields(row)
    return f.done(
        agent_id=f.id("id"),
        **{key: f.text(key) for key in (*USER_TEXTS, "email", "ad")},
        isdisabled=f.flag("isdisabled"),
        isapiagent=f.flag("isapiagent"),
    )


def team_row(row: dict[str, Any]) -> dict[str, Any]:
    f = _Fields(row)
    return f.done(
        team_id=f.id("id"),
        name=f.text("name"),
        department_id=f.id("department_id"),
        department_name=f.text("department_name"),
        inactive=f.flag("inactive"),
    )


def role_row(row: dict[str, Any]) -> dict[str, Any]:
    f = _Fields(row)
    return f.done(role_id=f.id("id"), name=f.text("name"))


def user_row(row: dict[str, Any]) -> dict[str, Any]:
    f = _Fields(row)
    return f.done(
        user_id=f.id("id"),
        **{key: f.text(key) for key in (*USER_TEXTS, "emailaddress", "login")},
        inactive=f.flag("inactive"),
        isserviceaccount=f.flag("isserviceaccount"),
    )


def membership_row(agent_id: str | None, kind: str, item: Any, source: str) -> dict[str, Any]:
    """One agent→team/department/role row from a UnameSection, UnameDepartment or role element.

    A `role_id` that is present but not an id is named: the row is then delivered as direct (no
    role can be named as its source).
    """
    f = _Fields(item if isinstance(item, dict) else {})
    if not isinstance(item, dict):
        f.invalid.append(f"{kind}=<{type(item).__name__}>")
        target_id = target_name = via_role_id = None
    elif kind == "role":
        target_id = f.id("id" if "id" in item else "role_id", "id")
        target_name = f.text("name" if "name" in item else "role_name")
        via_role_id = None
    else:
        target_id = f.id(f"{kind}_id")
        target_name = f.text(f"{kind}_name")
        via_role_id = via_role(f.id("role_id"))
    row = f.done(
        agent_id=agent_id,
        kind=kind,
        target_id=target_id,
        target_name=target_name,
        via_role_id=via_role_id,
        source=source,
    )
    row["raw_json"] = raw_json(item)
    return row


# ---------------------------------------------------------------------------------------------
# The extraction.
# ---------------------------------------------------------------------------------------------


class _Extraction:
    def __init__(
        self,
        client: HaloClient,
        lake: Lake,
        snapshot_id: str,
        entities: tuple[str, ...],
        name: str = PARQUET_FILE,
    ) -> None:
        self.client = client
        self.snapshot_id = snapshot_id
        self.tables = {entity: StagedTable(entity, lake, snapshot_id, name) for entity in entities}
        self.restarts = 0
        self.membership_sources: dict[str, str] = {}
        self.department_ids: set[str] = set()
        self.fallback_requests = 0
        self.timing: dict[str, tuple[datetime, datetime]] = {}

    @contextmanager
    def committed(self) -> Generator[None, None, None]:
        """Write the request log and commit every table when the block succeeds; discard them all when
        it fails, so no file of a failed run is committed."""
        try:
            yield
            self.tables["request_log"].write(self.client.request_log.rows)
            for table in self.tables.values():
                table.commit()
        except BaseException:
            for table in self.tables.values():
                table.discard()
            raise

    def timed(self, entities: tuple[str, ...], read: Callable[[], T]) -> T:
        """Run `read` and record, for each entity it fills, when it started and ended."""
        started = datetime.now(UTC)
        result = read()
        for entity in entities:
            self.timing[entity] = (started, datetime.now(UTC))
        return result

    def entity_records(self, ended: datetime) -> dict[str, dict[str, Any]]:
        """The manifest's `freshness` entries of what this run read."""
        return {
            entity: {
                **entity_record(
                    self.snapshot_id,
                    *self.timing[entity],
                    self.tables[entity].rows,
                    ended=ended,
                    file=self.tables[entity].path.name,
                ),
                "reused": False,
            }
            for entity in self.timing
        }

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
    client: HaloClient,
    lake: Lake,
    snapshot_id: str,
    *,
    include_end_users: bool = True,
    reuse_end_users: EndUserExtraction | None = None,
) -> dict:
    """Write one raw snapshot of the tenant to the lake and return its manifest (small, JSON-able).

    With `reuse_end_users` (and `include_end_users`), end users are not read: the manifest points
    them at that complete end-user extraction. Raises the client's `HaloError` (or a storage error)
    on failure; then no file of this run is committed and no manifest is written. Two runs never
    write into one raw snapshot: the extraction holds the snapshot's claim (an expiring lease in the
    lake, `lake.raw_claim`) from the check that it is not archived until its manifest is written; a
    run that waited for another one finds the snapshot archived (`HaloSnapshotExistsError`).
    """
    from halo_c1.lease import Lease

    claim = Lease(
        lake.raw_claim(snapshot_id),
        what=f"raw snapshot {snapshot_id}",
        ttl_s=RAW_CLAIM_TTL_S,
        wait_s=RAW_CLAIM_WAIT_S,
    )
    with claim:
        return _extract_claimed(
            client,
            lake,
            snapshot_id,
            include_end_users=include_end_users,
            reuse_end_users=reuse_end_users if include_end_users else None,
        )


def _extract_claimed(
    client: HaloClient,
    lake: Lake,
    snapshot_id: str,
    *,
    include_end_users: bool,
    reuse_end_users: EndUserExtraction | None,
) -> dict:
    if lake.has_raw(snapshot_id):
        raise HaloSnapshotExistsError(
            f"raw snapshot {snapshot_id} in {lake.base} is complete already; archived snapshots are "
            "immutable (re-derive from it, or extract into a new snapshot)"
        )
    started = datetime.now(UTC)
    entities = tuple(e for e in model.RAW_ENTITIES if not (e == END_USERS and reuse_end_users))
    run = _Extraction(client, lake, snapshot_id, entities)
    log.info("extracting HaloITSM %s into snapshot %s", client.settings.base_url, snapshot_id)
    with run.committed():
        teams = run.timed(("teams",), lambda: run.read_simple("teams", "/api/Team", TEAM_PARAMS, team_row))
        roles = run.timed(("roles",), lambda: run.read_simple("roles", "/api/Roles", {}, role_row))

        def agents_and_memberships() -> None:
            run.memberships_per_group(run.read_agents(), teams, roles)

        run.timed(("agents", "agent_memberships"), agents_and_memberships)
        run.department_ids.update(
            d for d in (normalize_id(team.get("department_id")) for team in teams) if is_department_id(d)
        )
        if reuse_end_users:
            log.info(
                "users: reusing end-user extraction %s (%d rows, taken %s): no request for end users",
                reuse_end_users.snapshot_id,
                reuse_end_users.rows,
                reuse_end_users.taken_at.isoformat(timespec="seconds"),
            )
        elif include_end_users:
            run.timed((END_USERS,), lambda: run.read_simple("users", "/api/Users", USER_PARAMS, user_row))
        else:
            run.tables["users"].reset()
            log.info("users: skipped (include_end_users is off); writing an empty users table")
    finished = datetime.now(UTC)
    records = run.entity_records(finished)
    if reuse_end_users:
        records[END_USERS] = reuse_end_users.as_record(ended=finished)
    counts = {entity: run.tables[entity].rows for entity in entities if entity != "request_log"}
    if reuse_end_users:
        counts[END_USERS] = reuse_end_users.rows
    manifest = {
        "snapshot_id": snapshot_id,
        **_request_facts(client, started, finished),
        "include_end_users": include_end_users,
        "end_user_refresh_hours": client.settings.end_user_refresh_hours,
        "freshness": records,
        "counts": {entity: counts[entity] for entity in model.RAW_ENTITIES if entity in counts},
        "pages": {
            entity: run.tables[entity].pages
            for entity in ("agents", "teams", "roles", "users")
            if entity in run.tables
        },
        "distinct_department_ids": len(run.department_ids),
        "membership_sources": run.membership_sources,
        "membership_fallback_requests": run.fallback_requests,
        "listing_restarts": run.restarts,
        "files": {
            entity: str(
                raw_entity_file(lake, entity, snapshot_id, {"snapshot_id": snapshot_id, "freshness": records})
            )
            for entity in model.RAW_ENTITIES
        },
        "manifest": str(lake.raw_manifest(snapshot_id)),
    }
    write_json(lake.raw_manifest(snapshot_id), manifest)
    log.info(
        "snapshot %s extracted: %s; %d requests, %d retries, %d×429, %.1f s throttled",
        snapshot_id,
        manifest["counts"],
        manifest["requests"],
        manifest["retries"],
        manifest["responses_429"],
        manifest["seconds_waited"]["throttle"],
    )
    return manifest


def _request_facts(client: HaloClient, started: datetime, finished: datetime) -> dict[str, Any]:
    """What the client did: where, when, requests, retries, waits (the manifest's common part)."""
    stats = client.stats.as_dict()
    return {
        "halo_base_url": client.settings.base_url,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "duration_s": round((finished - started).total_seconds(), 3),
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
    }


END_USER_CLAIM_TTL_S = 120.0  # renewed while the refresh runs (hours for a 1M-user tenant)


class EndUserRefreshBusy(Exception):
    """Another end-user refresh of this lake is in flight: this one has nothing to do."""


def extract_end_users(client: HaloClient, lake: Lake, snapshot_id: str) -> dict:
    """The end-user refresh: read every end user into `raw/entity=users/snapshot=<id>/` and write its
    manifest (`lake.end_user_manifest`) last; return the manifest.

    One refresh at a time per lake (`lake.end_user_claim`, an expiring lease): a second one raises
    `EndUserRefreshBusy` at once instead of spending the tenant's budget on the same rows. A failed
    refresh writes no manifest, so the hourly runs keep the previous extraction.
    """
    from halo_c1.lease import Lease, LeaseBusy

    try:
        with Lease(
            lake.end_user_claim(), what="the end-user refresh", ttl_s=END_USER_CLAIM_TTL_S, wait_s=0.0
        ):
            manifest = _refresh_claimed(client, lake, snapshot_id)
    except LeaseBusy as busy:
        raise EndUserRefreshBusy(f"an end-user refresh is in flight already: {busy}") from None
    log.info(
        "end users refreshed into %s: %d rows, %d requests, %d×429, %.1f s throttled",
        snapshot_id,
        manifest["counts"][END_USERS],
        manifest["requests"],
        manifest["responses_429"],
        manifest["seconds_waited"]["throttle"],
    )
    return manifest


def _refresh_claimed(client: HaloClient, lake: Lake, snapshot_id: str) -> dict:
    started = datetime.now(UTC)
    run = _Extraction(client, lake, snapshot_id, (END_USERS, "request_log"), END_USER_FILE)
    log.info("end-user refresh of HaloITSM %s into %s", client.settings.base_url, snapshot_id)
    with run.committed():
        run.timed((END_USERS,), lambda: run.read_simple("users", "/api/Users", USER_PARAMS, user_row))
    finished = datetime.now(UTC)
    manifest = {
        "snapshot_id": snapshot_id,
        "kind": "end_users",
        **_request_facts(client, started, finished),
        "freshness": run.entity_records(finished),
        "counts": {END_USERS: run.tables[END_USERS].rows},
        "pages": {END_USERS: run.tables[END_USERS].pages},
        "listing_restarts": run.restarts,
        "files": {entity: str(table.path) for entity, table in run.tables.items()},
        "manifest": str(lake.end_user_manifest(snapshot_id)),
    }
    write_json(lake.end_user_manifest(snapshot_id), manifest)
    return manifest
