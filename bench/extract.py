"""Benchmark: a full extraction against the simulator under a shared rate-limit budget.

    PYTHONPATH=.:include .venv/bin/python bench/extract.py [--agents 500] [--teams 40] [--roles 25] \
        [--users 20000] [--page-cap 50] [--budget 20/1]

The simulator (in this process, on 127.0.0.1) enforces a rolling window of `--budget` requests per
seconds, as Halo does with 300/300 s; 20 per 1 s keeps the run short while the window is still
what the client must respect. The client is configured to the same budget. Prints, from one run:

- requests made vs the minimum the API allows for this tenant: 1 token + 1 /Team + 1 /Roles
  + ⌈agents/cap⌉ + ⌈users/cap⌉ (memberships inline on the agent rows; no per-agent requests);
- 429s received (goal 0: the client-side throttle keeps the tenant from refusing);
- wall time vs requests ÷ budget (goal ≤ 1.15×);
- peak RSS (resource.getrusage) before and after the extraction; the simulator's tenant is in the
  same process, so the growth is what the extraction adds.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dev.halo_simulator import Faults, RateLimit, SimulatorConfig, TenantSpec, running_simulator
from halo_c1.halo import HaloClient, HaloSettings, extract_snapshot
from halo_c1.lake import Lake

SNAPSHOT = "20261127T050000Z"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--teams", type=int, default=40)
    parser.add_argument("--roles", type=int, default=25)
    parser.add_argument("--departments", type=int, default=8)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--page-cap", type=int, default=50)
    parser.add_argument("--budget", default="20/1", help="REQUESTS/SECONDS, for the simulator and the client")
    parser.add_argument("--agent-envelope", default="results", choices=["bare", "results", "agents"])
    args = parser.parse_args()
    requests, seconds = (float(part) for part in args.budget.split("/"))
    spec = TenantSpec(
        seed=7,
        agents=args.agents,
        users=args.users,
        teams=args.teams,
        roles=args.roles,
        departments=args.departments,
    )
    config = SimulatorConfig(
        tenant=spec,
        agent_envelope=args.agent_envelope,
        page_cap=args.page_cap,
        faults=Faults(rate_limit=RateLimit(requests=int(requests), window_s=seconds)),
    )
    with running_simulator(config) as sim, tempfile.TemporaryDirectory() as lake_dir:
        served_agents = len(sim.tenant.agents) - 1  # the system "Unassigned" agent is not asked for
        paged_agents = 1 if args.agent_envelope == "bare" else math.ceil(served_agents / args.page_cap)
        minimum = 1 + 1 + 1 + paged_agents + math.ceil(len(sim.tenant.users) / args.page_cap)
        settings = HaloSettings(
            base_url=sim.base_url,
            client_id=config.client_id,
            client_secret=config.client_secret,
            page_size=100,  # more than the cap on purpose: the client must follow the echoed size
            rate_limit_requests=int(requests),
            rate_limit_period_s=seconds,
        )
        rss_before = peak_rss_mib()
        started = time.perf_counter()
        with HaloClient(settings) as client:
            summary = extract_snapshot(client, Lake(lake_dir), SNAPSHOT)
        wall = time.perf_counter() - started
        rss_after = peak_rss_mib()
        made = summary["requests"]
        budget_time = made / (requests / seconds)
        print(
            f"tenant: {served_agents} agents, {len(sim.tenant.teams)} teams, {len(sim.tenant.roles)} roles, "
            f"{len(sim.tenant.users)} users; page cap {args.page_cap}; budget {args.budget} (req/s)"
        )
        print(f"rows: {summary['counts']}")
        print(
            f"requests made: {made} (server saw {sim.total_requests()})  minimum for this tenant: {minimum}"
        )
        print(
            f"429s received: {summary['responses_429']} (server answered {sim.responses_by_status().get(429, 0)})"
        )
        print(
            f"wall time: {wall:.2f} s  requests/budget: {budget_time:.2f} s  ratio: {wall / budget_time:.3f}"
        )
        print(f"throttle waited: {summary['seconds_waited']['throttle']:.2f} s")
        print(
            f"peak RSS: {rss_before:.0f} MiB before extraction (tenant + simulator), {rss_after:.0f} MiB after "
            f"(+{rss_after - rss_before:.0f} MiB)"
        )


if __name__ == "__main__":
    main()
