"""The HaloITSM API as a Starlette app, behind a small ASGI gate that does what every request shares.

`create_app(state)` returns the gate. Per request, in this order:

1. `/_sim/*` goes straight to the app (never counted, limited or faulted): `/_sim/stats` (requests
   served), `/_sim/requests` (the request log) and `/_sim/info` (this simulator's name, tenant name,
   client id and the spec its tenant was generated from).
2. The path is lower-cased (Halo paths are case-insensitive) and matched to a route, whose
   canonical name (`"GET /api/Agent/{id}"`) keys the request counts and fault targeting. The
   request log keeps each request's method, path exactly as sent (still percent-encoded) and status.
3. The rolling-window rate limit (429 with Halo's plain-text body, optional `Retry-After`).
4. Faults: dropped connection, slow response, 5xx.
5. Bearer auth for `/api/*` except `/api/authinfo`: 401 with an empty body and
   `WWW-Authenticate: Bearer error="invalid_token"` when the token is missing, unknown or expired
   (token expiry fault included).
6. The endpoint; a malformed-JSON fault cuts its body in half. Paged endpoints apply the
   `record_count` drift and duplicate-row faults themselves.

Dropping a connection: uvicorn answers 500 to any app exception raised before a response starts,
so an exception cannot drop it. The gate reaches uvicorn's per-request cycle through the ASGI `send`
callable it was given (a bound method of `RequestResponseCycle`, in both the h11 and httptools
protocols), calls `abort()` on its asyncio transport and returns once uvicorn has seen the
connection go (`cycle.disconnected`), so uvicorn sends and logs nothing. If that private attribute
ever disappears, the gate raises instead and the client gets a 500.

`POST /api/Agent` upserts agents (writes.py); `GET /api/Team/{id}` and `GET /api/Roles/{id}` answer
404 for unknown ids.

Agent list filters (`GET /api/Agent`), all ANDed: `includeenabled` (default true), `includedisabled`,
`includeapiagents`, `includeunassigned` (default false each; an API agent that is disabled needs both
flags), `role` (role string id or its `id_int`), `team_id`, `team` (name), `department_id` (agents
with a matching membership row, direct or inherited), `search` (name or email). Unknown parameters
such as `includeinactive` are ignored, as Halo does. Query parameter names are case-insensitive.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from http import HTTPStatus
from operator import itemgetter
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import SimulatorConfig
from .faults import FaultBook, Faults, retry_after_seconds
from .tenant import Row, Tenant, TenantSpec, _int_id, build_tenant
from .writes import AgentWriter, WriteRejected

SIMULATOR_NAME = "halo-c1 HaloITSM simulator"

# Scopes Halo knows (spec §1.4, PS Classes/HaloAuth.psm1). There is no read:agents or read:users.
_SCOPE_AREAS = (
    "tickets",
    "calendar",
    "customers",
    "crm",
    "timesheets",
    "contracts",
    "suppliers",
    "items",
    "projects",
    "sales",
    "quotes",
    "sos",
    "pos",
    "invoices",
    "reporting",
    "software",
    "softwarelicensing",
    "kb",
    "assets",
)
KNOWN_SCOPES = frozenset(
    {"all", "all:standard", "admin", "editMine:timesheets", "access:chat", "access:adpasswordreset"}
    | {f"{verb}:{area}" for verb in ("read", "edit") for area in _SCOPE_AREAS}
)
# Requests the log keeps (tests and the day benchmark read it; a demo must not grow without bound).
REQUEST_LOG_SIZE = 100_000
_MEMBERSHIP_KEYS = frozenset({"teams", "departments", "clients"})
_DETAIL_KEYS = _MEMBERSHIP_KEYS | {"roles"}


class LoggedRequest(NamedTuple):
    """One request as the simulator saw it: method, path exactly as sent (percent-encoding kept),
    status (0: the connection was dropped without a response), when it arrived (the rate limiter's
    clock) and the route it was counted under."""

    method: str
    path: str
    status: int
    at: float
    route: str


class SimulatorState:
    """Everything the running app reads and the test thread inspects: tenant, faults, tokens, counts."""

    def __init__(self, config: SimulatorConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.tenant: Tenant = (
            config.tenant if isinstance(config.tenant, Tenant) else build_tenant(config.tenant)
        )
        self.faults = FaultBook(config.faults, clock)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._writes: Counter[str] = Counter()
        self._log: deque[LoggedRequest] = deque(maxlen=REQUEST_LOG_SIZE)
        self.write_hook: Callable[[Tenant], None] | None = None

    # -- tokens ----------------------------------------------------------------------------------

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + self.config.token_expires_in
        return token

    def token_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._tokens.get(token)
            return expiry is not None and expiry > self._clock()

    def expire_all_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # -- counts ----------------------------------------------------------------------------------

    def count_request(self, key: str) -> None:
        with self._lock:
            self._requests[key] += 1

    def count_status(self, status: int) -> None:
        with self._lock:
            self._statuses[status] += 1

    def now(self) -> float:
        return self._clock()

    def request_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._requests.items()))

    def log_request(self, request: LoggedRequest) -> None:
        with self._lock:
            self._log.append(request)

    def request_log(self) -> list[LoggedRequest]:
        """The last `REQUEST_LOG_SIZE` requests in arrival order (every client's alike), oldest first."""
        with self._lock:
            return list(self._log)

    def responses_by_status(self) -> dict[int, int]:
        """Status -> responses sent; 0 counts connections dropped without a response."""
        with self._lock:
            return dict(sorted(self._statuses.items()))

    def count_write(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._writes[key] += n

    def write_counts(self) -> dict[str, int]:
        """`posts` (accepted POST /api/Agent), `agents_updated`, `agents_created`, `rejected` (400s)."""
        with self._lock:
            return {k: self._writes[k] for k in ("posts", "agents_updated", "agents_created", "rejected")}

    def reset_counts(self) -> None:
        with self._lock:
            self._requests.clear()
            self._statuses.clear()
            self._writes.clear()
            self._log.clear()

    def set_faults(self, faults: Faults) -> None:
        self.faults.replace(faults)

    def stats(self) -> dict[str, Any]:
        requests, statuses = self.request_counts(), self.responses_by_status()
        return {
            "requests": requests,
            "total": sum(requests.values()),
            "by_status": {str(k): v for k, v in statuses.items()},
            "rate_limited": statuses.get(429, 0),
            "faults_fired": self.faults.fired(),
            "writes": self.write_counts(),
        }


def create_app(state: SimulatorState) -> ASGIApp:
    return _Gate(Starlette(routes=_Api(state).routes()), state)


# -- the gate -------------------------------------------------------------------------------------


class _Gate:
    def __init__(self, app: Starlette, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sim/"):
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/") or "/"
        raw_path = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        scope["path"] = path.lower()
        route = self._route_name(scope)
        key = route or f"{scope['method']} {path}"
        arrived = self.state.now()
        self.state.count_request(key)
        status = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._handle(scope, receive, send, send_and_note, route, path)
        finally:
            self.state.count_status(status)
            self.state.log_request(LoggedRequest(scope["method"], raw_path, status, arrived, key))

    def _route_name(self, scope: Scope) -> str | None:
        for candidate in self.app.routes:
            match, _ = candidate.matches(scope)
            if match is Match.FULL:
                return candidate.name
        return None

    async def _handle(
        self, scope: Scope, receive: Receive, raw_send: Send, send: Send, route: str | None, path: str
    ) -> None:
        faults = self.state.faults
        template = route.split(" ", 1)[1] if route else None
        page_no = _int_id(_query(scope).get("page_no"))

        limited = faults.admit()
        if limited is not None:
            limit, wait_s = limited
            headers = {"Retry-After": str(retry_after_seconds(wait_s))} if limit.retry_after else None
            await PlainTextResponse(limit.message(), 429, headers=headers)(scope, receive, send)
            return
        if faults.take("drop_connection", template, path, page_no):
            await _drop_connection(raw_send)
            return
        slow = faults.take("slow_response", template, path, page_no)
        if slow is not None:
            await asyncio.sleep(slow.delay_s)
        error = faults.take("server_error", template, path, page_no)
        if error is not None:
            text = f"{error.status} {HTTPStatus(error.status).phrase}"
            await PlainTextResponse(text, error.status)(scope, receive, send)
            return
        if scope["path"].startswith("/api/") and route != "GET /api/authinfo":
            rejection = self._authenticate(scope, template, path)
            if rejection is not None:
                await rejection(scope, receive, send)
                return
        if faults.take("malformed_json", template, path, page_no):
            send = _cut_body_in_half(send)
        await self.app(scope, receive, send)

    def _authenticate(self, scope: Scope, template: str | None, path: str) -> Response | None:
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not self.state.token_valid(token.strip()):
            return _unauthorized("The access token is missing, invalid or expired")
        if self.state.faults.tokens_expire_now(template, path):
            self.state.expire_all_tokens()
            return _unauthorized("The token expired")
        return None


def _unauthorized(description: str) -> Response:
    challenge = f'Bearer error="invalid_token", error_description="{description}"'
    return Response(status_code=401, headers={"WWW-Authenticate": challenge})


async def _drop_connection(send: Send) -> None:
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("simulator: cannot reach the transport to drop the connection")
    transport.abort()
    for _ in range(100):  # connection_lost runs on a later loop iteration
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0)


def _cut_body_in_half(send: Send) -> Send:
    start: Message = {}
    body = bytearray()

    async def cut(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        body.extend(message.get("body", b""))
        if message.get("more_body"):
            return
        half = bytes(body[: len(body) // 2])
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(half)).encode())]})
        await send({"type": "http.response.body", "body": half})

    return cut


# -- query helpers --------------------------------------------------------------------------------


class _BadRequest(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _query(scope: Scope) -> dict[str, str]:
    """Query parameters with lower-cased names (ASP.NET binds them case-insensitively); last wins."""
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return {k.lower(): v for k, v in pairs}


def _flag(q: dict[str, str], name: str, default: bool) -> bool:
    value = q.get(name, "").strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    return default


def _number(q: dict[str, str], name: str) -> int | None:
    raw = q.get(name, "").strip()
    if not raw:
        return None
    value = _int_id(raw)
    if value is None:
        raise _BadRequest(name, f"The value '{raw}' is not valid.")
    return value


_ID = itemgetter("id")


def _id_key(row: Any) -> tuple[int, float, str]:
    value = row.get("id") if isinstance(row, dict) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, str(value))


def _by_id(rows: Iterable[Row]) -> list[Row]:
    """Stable order by id; rows with odd ids (a test's broken row) sort after the rest."""
    rows = list(rows)
    try:
        return sorted(rows, key=_ID)  # the fast path: every row has a numeric (or every a string) id
    except (KeyError, TypeError):
        return sorted(rows, key=_id_key)


def _text(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _matches_search(row: Row, needle: str, keys: tuple[str, ...]) -> bool:
    return any(needle in _text(row.get(k)) for k in keys)


class _Paging(NamedTuple):
    page_no: int
    page_size: int


# -- the API --------------------------------------------------------------------------------------


class _Api:
    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        def route(
            method: str, template: str, endpoint: Callable[[Request], Any], path: str | None = None
        ) -> Route:
            return Route(
                (path or template).lower(), _guarded(endpoint), methods=[method], name=f"{method} {template}"
            )

        return [
            route("POST", "/auth/token", self.token),
            route("POST", "/token", self.token),
            route("GET", "/api/authinfo", self.authinfo),
            route("GET", "/api/Agent", self.agents),
            route("POST", "/api/Agent", self.post_agents),
            route("GET", "/api/Agent/me", self.agent_me),
            route("GET", "/api/Agent/{id}", self.agent, "/api/Agent/{id:int}"),
            route("GET", "/api/Team", self.teams),
            route("GET", "/api/Team/{id}", self.team, "/api/Team/{id:int}"),
            route("GET", "/api/Roles", self.roles),
            route("GET", "/api/Roles/{id}", self.role),
            route("GET", "/api/Users", self.users),
            route("GET", "/api/Users/{id}", self.user, "/api/Users/{id:int}"),
            route("GET", "/api/Site", self.sites),
            route("GET", "/api/Client", self.clients),
            Route("/_sim/stats", self.stats, methods=["GET"], name="GET /_sim/stats"),
            Route("/_sim/info", self.info, methods=["GET"], name="GET /_sim/info"),
            Route("/_sim/requests", self.requests, methods=["GET"], name="GET /_sim/requests"),
        ]

    @property
    def tenant(self) -> Tenant:
        return self.state.tenant

    @property
    def config(self) -> SimulatorConfig:
        return self.state.config

    # -- auth ------------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        cfg = self.config
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _oauth_error("invalid_request", 400, "the body must be application/x-www-form-urlencoded")
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        tenant = _query(request.scope).get("tenant") or form.get("tenant")
        if not tenant and cfg.require_tenant:
            return _oauth_error("invalid_request", 400, "tenant is required")
        if tenant and tenant.strip().lower() != cfg.tenant_name.lower():
            return _oauth_error("invalid_client", 401)
        grant_type = form.get("grant_type")
        if not grant_type:
            return _oauth_error("invalid_request", 400, "grant_type is required")
        if grant_type != "client_credentials":
            return _oauth_error("unsupported_grant_type", 400)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if client_id is None and request.headers.get("authorization", "").lower().startswith("basic "):
            client_id, client_secret = _basic_credentials(request.headers["authorization"])
        if client_id != cfg.client_id or not secrets.compare_digest(client_secret or "", cfg.client_secret):
            return _oauth_error("invalid_client", 401)
        scopes = (form.get("scope") or "all").split()
        if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
            return _oauth_error("invalid_scope", 400)
        return JSONResponse(
            {
                "scope": " ".join(scopes),
                "token_type": "Bearer",
                "access_token": self.state.issue_token(),
                "expires_in": cfg.token_expires_in,
            }
        )

    async def authinfo(self, request: Request) -> Response:
        base = f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse({"auth_url": f"{base}/auth", "tenant_id": self.config.tenant_name})

    # -- agents ----------------------------------------------------------------------------------

    async def agents(self, request: Request) -> Response:
        q = _query(request.scope)
        rows = _by_id(self._agent_rows(q))
        inline = self.config.membership_inline and not _flag(q, "exclude_membership_info", False)
        hidden = set() if inline else set(_MEMBERSHIP_KEYS)
        if not (inline and _flag(q, "includeroles", False)):
            hidden.add("roles")
        rows = [{k: v for k, v in row.items() if k not in hidden} for row in rows]
        envelope = self.config.agent_envelope
        paging = self._paging(q)
        if envelope == "bare" or paging is None:
            return JSONResponse(rows)
        return JSONResponse(self._page_envelope(request, envelope, rows, paging))

    def _agent_rows(self, q: dict[str, str]) -> Iterable[Row]:
        include_enabled = _flag(q, "includeenabled", True)
        include_disabled = _flag(q, "includedisabled", False)
        include_api = _flag(q, "includeapiagents", False)
        include_unassigned = _flag(q, "includeunassigned", False)
        role = q.get("role", "").strip().lower()
        team_id, department_id = _number(q, "team_id"), _number(q, "department_id")
        team_name = _text(q.get("team"))
        needle = _text(q.get("search"))
        for agent in self.tenant.agents:
            if not isinstance(agent, dict):
                continue
            if _int_id(agent.get("id")) == self.tenant.unassigned_agent_id:
                if not include_unassigned:
                    continue
            elif not (include_disabled if agent.get("isdisabled") else include_enabled) or (
                agent.get("isapiagent") and not include_api
            ):
                continue
            if role and not any(
                role in (_text(r.get("id")), str(r.get("id_int"))) for r in _rows(agent.get("roles"))
            ):
                continue
            teams = _rows(agent.get("teams"))
            if team_id is not None and not any(_int_id(r.get("team_id")) == team_id for r in teams):
                continue
            if team_name and not any(_text(r.get("team_name")) == team_name for r in teams):
                continue
            if department_id is not None and not any(
                _int_id(r.get("department_id")) == department_id for r in _rows(agent.get("departments"))
            ):
                continue
            if needle and not _matches_search(agent, needle, ("name", "email")):
                continue
            yield agent

    async def post_agents(self, request: Request) -> Response:
        """Upsert agents (writes.py); the whole body is checked before anything changes."""
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            self.state.count_write("rejected")
            return JSONResponse({"error": "the body is not JSON"}, 400)
        writer = AgentWriter(
            self.tenant, self.config.list_semantics, reject_inherited_rows=self.config.reject_inherited_rows
        )
        try:
            items = writer.validate(body)
        except WriteRejected as exc:
            self.state.count_write("rejected")
            return JSONResponse({"error": str(exc)}, 400)
        if self.state.write_hook is not None:
            self.state.write_hook(self.tenant)
        saved = []
        for item in items:
            agent, created = writer.apply(item)
            self.state.count_write("agents_created" if created else "agents_updated")
            saved.append(agent)
        self.state.count_write("posts")
        return JSONResponse(saved if isinstance(body, list) else saved[0])

    async def agent(self, request: Request) -> Response:
        return self._one_agent(
            request, self.tenant.agent(request.path_params["id"]), request.path_params["id"]
        )

    async def agent_me(self, request: Request) -> Response:
        return self._one_agent(request, self.tenant.agent(self.tenant.service_agent_id), "me")

    def _one_agent(self, request: Request, agent: Row | None, wanted: Any) -> Response:
        if agent is None:
            return _not_found("Agent", wanted)
        if not _flag(_query(request.scope), "includedetails", False):
            agent = {k: v for k, v in agent.items() if k not in _DETAIL_KEYS}
        return JSONResponse(agent)

    # -- teams and roles -------------------------------------------------------------------------

    async def teams(self, request: Request) -> Response:
        q = _query(request.scope)
        include_enabled, include_disabled = (
            _flag(q, "includeenabled", True),
            _flag(q, "includedisabled", False),
        )
        department_id = _number(q, "department_id")
        rows = [
            t
            for t in _rows(self.tenant.teams)
            if (include_disabled if t.get("inactive") else include_enabled)
            and (department_id is None or _int_id(t.get("department_id")) == department_id)
        ]
        return JSONResponse(_by_id(rows))

    async def team(self, request: Request) -> Response:
        team_id = request.path_params["id"]
        team = self.tenant.team(team_id)
        if team is None:
            return _not_found("Team", team_id)
        if _flag(_query(request.scope), "includeagents", False):
            members = [
                row
                for agent in _by_id(_rows(self.tenant.agents))
                for row in _rows(agent.get("teams"))
                if _int_id(row.get("team_id")) == team_id
            ]
            team = {**team, "agents": members}
        return JSONResponse(team)

    async def roles(self, request: Request) -> Response:
        agent_id = _number(_query(request.scope), "agentid")
        rows = list(_rows(self.tenant.roles))
        if agent_id is not None:
            agent = self.tenant.agent(agent_id)
            held = {_text(r.get("id")) for r in _rows(agent.get("roles"))} if agent else set()
            rows = [r for r in rows if _text(r.get("id")) in held]
        return JSONResponse(_by_id(rows))

    async def role(self, request: Request) -> Response:
        role = self.tenant.role(request.path_params["id"])
        return JSONResponse(role) if role is not None else _not_found("Role", request.path_params["id"])

    # -- end users, sites, clients ---------------------------------------------------------------

    async def users(self, request: Request) -> Response:
        q = _query(request.scope)
        include_active, include_inactive = _flag(q, "includeactive", True), _flag(q, "includeinactive", False)
        needle = _text(q.get("search"))
        rows = [
            u
            for u in _rows(self.tenant.users)
            if (include_inactive if u.get("inactive") else include_active)
            and (not needle or _matches_search(u, needle, ("name", "emailaddress", "login")))
        ]
        return self._wrapped_list(request, q, "users", rows)

    async def user(self, request: Request) -> Response:
        user_id = request.path_params["id"]
        user = next((u for u in _rows(self.tenant.users) if _int_id(u.get("id")) == user_id), None)
        return JSONResponse(user) if user is not None else _not_found("User", user_id)

    async def sites(self, request: Request) -> Response:
        return self._active_list(request, "sites", self.tenant.sites)

    async def clients(self, request: Request) -> Response:
        return self._active_list(request, "clients", self.tenant.clients)

    def _active_list(self, request: Request, key: str, source: list[Row]) -> Response:
        q = _query(request.scope)
        include_active, include_inactive = _flag(q, "includeactive", True), _flag(q, "includeinactive", False)
        rows = [r for r in _rows(source) if (include_inactive if r.get("inactive") else include_active)]
        return self._wrapped_list(request, q, key, rows)

    def _wrapped_list(self, request: Request, q: dict[str, str], key: str, rows: list[Row]) -> Response:
        """`{record_count, <key>}`, or the paged envelope with `pageinate=true`; `count` limits."""
        rows = _by_id(rows)
        paging = self._paging(q)
        if paging is not None:
            return JSONResponse(self._page_envelope(request, key, rows, paging))
        count = _number(q, "count")
        record_count = self._drifted(request, None, len(rows))
        return JSONResponse({"record_count": record_count, key: rows[:count] if count else rows})

    # -- paging ----------------------------------------------------------------------------------

    def _paging(self, q: dict[str, str]) -> _Paging | None:
        if not _flag(q, "pageinate", False):
            return None
        page_no = max(1, _number(q, "page_no") or 1)
        page_size = min(self.config.page_cap, max(1, _number(q, "page_size") or self.config.page_cap))
        return _Paging(page_no, page_size)

    def _page_envelope(self, request: Request, key: str, rows: list[Row], paging: _Paging) -> dict[str, Any]:
        start = (paging.page_no - 1) * paging.page_size
        page = rows[start : start + paging.page_size]
        path = request.scope["path"]
        template = request.scope["route"].name.split(" ", 1)[1]
        if page and start > 0 and self.state.faults.take("duplicate_row", template, path, paging.page_no):
            page = [rows[start - 1], *page]
        return {
            "page_no": paging.page_no,
            "page_size": paging.page_size,
            "record_count": self._drifted(request, paging.page_no, len(rows)),
            key: page,
        }

    def _drifted(self, request: Request, page_no: int | None, record_count: int) -> int:
        template = request.scope["route"].name.split(" ", 1)[1]
        drift = self.state.faults.take("record_count_drift", template, request.scope["path"], page_no)
        return record_count + drift.delta if drift is not None else record_count

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.state.stats())

    async def info(self, request: Request) -> Response:
        """Which simulator this is and what it serves, so `make run` can tell it apart and reuse it."""
        tenant = self.config.tenant
        spec = tenant if isinstance(tenant, TenantSpec) else tenant.spec  # what it was generated from
        return JSONResponse(
            {
                "simulator": SIMULATOR_NAME,
                "tenant_name": self.config.tenant_name,
                "client_id": self.config.client_id,
                "spec": dataclasses.asdict(spec),
            }
        )

    async def requests(self, request: Request) -> Response:
        """The request log (`SimulatorState.request_log`) for a client in another process."""
        return JSONResponse([request._asdict() for request in self.state.request_log()])


def _guarded(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except _BadRequest as exc:
            return JSONResponse({exc.field: str(exc)}, 400)

    return run


def _rows(value: Any) -> Iterable[Row]:
    return (r for r in value if isinstance(r, dict)) if isinstance(value, list) else ()


def _oauth_error(error: str, status: int, description: str | None = None) -> Response:
    body = {"error": error} if description is None else {"error": error, "error_description": description}
    return JSONResponse(body, status)


def _not_found(entity: str, wanted: Any) -> Response:
    return JSONResponse({"error": f"{entity} {wanted} not found"}, 404)


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1].strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, None
    client_id, sep, client_secret = decoded.partition(":")
    return (client_id, client_secret) if sep else (None, None)
