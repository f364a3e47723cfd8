"""Two extractions of one tenant in flight at once, in two processes, share its request budget.

The simulator enforces a small rolling window (as HaloITSM enforces 300 per 5 minutes) and logs
every request it receives; two extraction processes start together. With the shared budget (a
SQLite file on this host by default, or Redis) the tenant answers no 429 and the simulator's own log
never holds more requests in any window than the budget. The control case gives each process its
own budget (as every run had before) and shows the same tenant answering 429s.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dev.halo_simulator import Faults, RateLimit, TenantSpec

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
BUDGET, WINDOW_S = 8, 1.0
TENANT = TenantSpec(seed=3, agents=40, users=300)
PAGE_CAP = 20  # 300 users: 15 pages each, so each extraction alone needs a few windows


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real redis-server on a free port, without persistence, stopped at teardown."""
    port = _free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def max_in_any_window(times: list[float], window_s: float) -> int:
    """The most requests that arrived within any rolling `window_s` (half-open, as the limiter counts)."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window_s:
            start += 1
        most = max(most, end - start + 1)
    return most


def overlapping_extractions(sim: Any, tmp_path: Path, stores: list[str | None]) -> list[dict[str, Any]]:
    """Start one extraction process per store at once (same tenant, own lake each); their results."""
    processes = []
    for index, store in enumerate(stores):
        spec = {
            "base_url": sim.base_url,
            "lake": str(tmp_path / f"lake-{index}"),
            "snapshot_id": f"20261127T05000{index}Z",
            "requests": BUDGET,
            "period_s": WINDOW_S,
            "rate_limit_store": store,
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.integration.budget_worker", json.dumps(spec)],
                cwd=PROJECT,
                env={**os.environ, "PYTHONPATH": f"{PROJECT}:{PROJECT / 'include'}"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


@pytest.mark.parametrize("store", ["host file (default)", "redis"])
def test_two_overlapping_extractions_stay_within_the_tenants_budget(
    start_simulator: Any, tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    sim = start_simulator(
        tenant=TENANT,
        page_cap=PAGE_CAP,
        faults=Faults(rate_limit=RateLimit(requests=BUDGET, window_s=WINDOW_S)),
    )
    shared = request.getfixturevalue("redis_url") if store == "redis" else None
    results = overlapping_extractions(sim, tmp_path, [shared, shared])

    log = sim.request_log()
    assert [r.status for r in log if r.status == 429] == []
    assert sum(r["requests"] for r in results) == len(log) > 4 * BUDGET
    assert max_in_any_window([r.at for r in log], WINDOW_S) <= BUDGET
    # They really were in flight together, each waiting for slots the other one used.
    (a, b) = results
    assert a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]
    assert all(r["responses_429"] == 0 and r["seconds_waited"]["throttle"] > 0 for r in results)
    # The pace is the budget's: together they took at least as many windows as their requests fill.
    assert log[-1].at - log[0].at >= (len(log) // BUDGET - 1) * WINDOW_S


def test_control_two_processes_with_a_budget_each_draw_429s(start_simulator: Any, tmp_path: Path) -> None:
    """What every run did before the budget was shared: each process alone is within the limit,
    together they are not, and the tenant says so."""
    sim = start_simulator(
        tenant=TENANT,
        page_cap=PAGE_CAP,
        faults=Faults(rate_limit=RateLimit(requests=BUDGET, window_s=WINDOW_S)),
    )
    results = overlapping_extractions(sim, tmp_path, [str(tmp_path / "own-0"), str(tmp_path / "own-1")])
    assert sim.responses_by_status().get(429, 0) > 0
    assert sum(r["responses_429"] for r in results) == sim.responses_by_status()[429]


def test_an_unreachable_budget_store_sends_nothing_and_says_which_setting(start_simulator: Any) -> None:
    from halo_c1.halo import HaloClient
    from halo_c1.halo.errors import HaloBudgetStoreError
    from tests.integration.conftest import halo_settings

    sim = start_simulator(tenant=TENANT)
    password = "budget-store-password"
    settings = halo_settings(sim, rate_limit_store=f"redis://:{password}@127.0.0.1:{_free_port()}/0")
    with HaloClient(settings) as client, pytest.raises(HaloBudgetStoreError) as info:
        client.get_json("/api/Roles")
    assert "extra.rate_limit_store" in str(info.value) and password not in str(info.value)
    assert sim.total_requests() == 0
