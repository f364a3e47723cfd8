"""The fault matrix: every simulator fault switch × every HaloITSM stage of the extraction, once and
persistently. Each cell must end one of three ways, and the table is printed (and kept in the README):

    same     the run recovered and its curated tables are identical to a clean run's
    try 1    a clear failure a retry cannot fix (`PermanentError`): the DAG fails it on the first try
    retries  a clear failure after the client's retries (the DAG retries the task, then fails)
    n/a      the fault cannot fire there (paging faults on unpaged listings)

A fault that fires once must always recover with identical data; a persistent one must always fail
clearly (naming the endpoint) and leave no raw snapshot behind.
"""

from __future__ import annotations

from typing import Any

import pytest

from dev.halo_simulator import Faults, TenantSpec
from dev.halo_simulator.faults import (
    DropConnection,
    DuplicateRow,
    MalformedJson,
    RateLimit,
    RecordCountDrift,
    ServerError,
    SlowResponse,
    TokenExpiry,
)
from halo_c1.errors import PermanentError
from halo_c1.halo import HaloClient, HaloError, extract_snapshot
from halo_c1.lake import Lake, read_parquet
from halo_c1.transform import transform_snapshot
from tests.integration.conftest import halo_settings

pytestmark = pytest.mark.integration

SNAPSHOT = "20261127T050000Z"
TENANT = TenantSpec(seed=1, agents=20, users=45, teams=5, roles=4, departments=3)
PAGE_CAP = 7
CURATED = ("resource_types", "resources", "entitlements", "grants", "rejected_rows")

# stage → (path the fault targets, agent rows carry memberships?)
STAGES: dict[str, tuple[str | None, bool]] = {
    "token": ("/auth/token", True),
    "teams": ("/api/Team", True),
    "roles": ("/api/Roles", True),
    "agents": ("/api/Agent", True),
    "users": ("/api/Users", True),
    "team members": ("/api/Team/{id}", False),
    "agent details": ("/api/Agent/{id}", False),
}


def fault(name: str, path: str | None, times: int | None) -> Faults:
    """The switch `name` aimed at `path`; `times=None` keeps it on."""
    make = {
        "server_error": lambda: ServerError(times=times, path=path),
        "slow_response": lambda: SlowResponse(times=times, path=path, delay_s=1.0),
        "drop_connection": lambda: DropConnection(times=times, path=path),
        "malformed_json": lambda: MalformedJson(times=times, path=path),
        "token_expiry": lambda: TokenExpiry(times=times, path=path, after=0),
        "record_count_drift": lambda: RecordCountDrift(times=times, path=path),
        "duplicate_row": lambda: DuplicateRow(times=times, path=path),
    }
    if name == "rate_limit":  # a rolling window over every request: not aimed at one path
        return Faults(rate_limit=RateLimit(requests=3, window_s=0.5, times=1 if times else None))
    return Faults(**{name: make[name]()})


FAULTS = (
    "server_error",
    "slow_response",
    "drop_connection",
    "malformed_json",
    "token_expiry",
    "record_count_drift",
    "duplicate_row",
    "rate_limit",
)


def curated_tables(lake: Lake) -> dict[str, Any]:
    transform_snapshot(lake, SNAPSHOT)
    return {name: read_parquet(lake.curated_file(name, SNAPSHOT)) for name in CURATED}


def attempt(sim: Any, lake: Lake, faults: Faults) -> tuple[Exception | None, dict[str, int]]:
    sim.set_faults(faults)
    try:
        settings = halo_settings(sim, timeout_s=0.5, max_retries=2, rate_limit_fallback_wait_s=0.05)
        with HaloClient(settings) as client:
            extract_snapshot(client, lake, SNAPSHOT)
    except HaloError as error:
        return error, sim.faults_fired()
    return None, sim.faults_fired()


def outcome(
    error: Exception | None, fired: dict[str, int], lake: Lake, clean: dict[str, Any], path: str | None
) -> str:
    if not fired:
        assert error is None
        return "n/a"
    if error is None:
        tables = curated_tables(lake)
        assert all(tables[name].equals(clean[name]) for name in CURATED), "recovered with different data"
        return "same"
    message = str(error)
    assert not lake.has_raw(SNAPSHOT), "a failed extraction leaves no raw snapshot"
    assert len(message.splitlines()) == 1, message
    if path is not None and "{id}" not in path:
        assert path in message or "token endpoint" in message or "/auth/token" in message, message
    return "try 1" if isinstance(error, PermanentError) else "retries"


def test_fault_matrix(start_simulator, tmp_path, capsys):
    sims = {
        inline: start_simulator(
            tenant=TENANT, agent_envelope="results", page_cap=PAGE_CAP, membership_inline=inline
        )
        for inline in (True, False)
    }
    clean = {}
    for inline, sim in sims.items():
        error, _ = attempt(sim, (lake := Lake(str(tmp_path / f"clean-{inline}"))), Faults())
        assert error is None
        clean[inline] = curated_tables(lake)
    for name in CURATED:  # both membership modes describe the same tenant (issue 9.2)
        assert clean[True][name].equals(clean[False][name]), name

    table: dict[tuple[str, str], tuple[str, str]] = {}
    for fault_name in FAULTS:
        for stage, (path, inline) in STAGES.items():
            if fault_name == "rate_limit" and stage != "token":
                continue  # one row: the window covers every request
            cells = []
            for label, times in (("once", 1), ("persists", None)):
                lake = Lake(str(tmp_path / f"{fault_name}-{stage}-{label}".replace(" ", "_")))
                error, fired = attempt(sims[inline], lake, fault(fault_name, path, times))
                named = None if fault_name == "rate_limit" else path
                cells.append(outcome(error, fired, lake, clean[inline], named))
            table[fault_name, "all requests" if fault_name == "rate_limit" else stage] = (cells[0], cells[1])

    lines = ["| fault | stage | fires once | persists |", "|---|---|---|---|"]
    lines += [
        f"| {fault_name} | {stage} | {once} | {persists} |"
        for (fault_name, stage), (once, persists) in table.items()
    ]
    with capsys.disabled():
        print("\nfault matrix (same = recovered with identical data; try 1 / retries = clear failure)")
        print("\n".join(lines))

    for (fault_name, stage), (once, persists) in table.items():
        assert once in ("same", "n/a"), (fault_name, stage, once)
        assert (once == "n/a") == (persists == "n/a"), (fault_name, stage)
        assert persists in ("try 1", "retries", "n/a"), (fault_name, stage, persists)
    assert sum(once == "same" for once, _ in table.values()) >= 30
