"""Serve a simulated HaloITSM tenant until SIGINT/SIGTERM, then log the requests per endpoint.

    python -m dev.halo_simulator --port 8900 --seed 1 --agents 50 --users 500 --teams 8 --roles 5 \
        --departments 4 --page-cap 100 --agent-envelope results --rate-limit 300/300

`--evolve N` serves the tenant N demo steps later (people joined, left, changed teams and roles:
`Tenant.evolve`), `--drop-agents 0.5` then removes half the agents (a mass deletion the pipeline's
guard should block). `make run` passes both.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from .config import AGENT_ENVELOPES, SimulatorConfig
from .faults import Faults, RateLimit
from .server import Simulator
from .tenant import Tenant, TenantSpec, build_tenant
from .writes import LIST_SEMANTICS

log = logging.getLogger("halo_simulator")


def _rate_limit(text: str) -> RateLimit:
    try:
        requests, window = text.split("/")
        return RateLimit(requests=int(requests), window_s=float(window))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected REQUESTS/SECONDS, e.g. 300/300, not {text!r}") from None


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, not {text!r}")
    return int(text)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, e.g. 0.5, not {text!r}")
    return value


def tenant_from_args(args: argparse.Namespace) -> TenantSpec | Tenant:
    """The spec, or the tenant built from it and moved on by `--evolve` / `--drop-agents`."""
    spec = TenantSpec(
        seed=args.seed,
        agents=args.agents,
        users=args.users,
        teams=args.teams,
        roles=args.roles,
        departments=args.departments,
    )
    if not args.evolve and not args.drop_agents:
        return spec
    tenant = build_tenant(spec)
    for line in tenant.evolve(args.evolve):
        log.info("step: %s", line)
    if args.drop_agents:
        removed = tenant.drop_agents(args.drop_agents, seed=args.evolve)
        log.info("mass deletion: %d agents removed", len(removed))
    return tenant


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m dev.halo_simulator", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8900, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--teams", type=int, default=5)
    p.add_argument("--roles", type=int, default=4)
    p.add_argument("--departments", type=int, default=3)
    p.add_argument(
        "--evolve",
        type=_count,
        default=0,
        metavar="STEPS",
        help="serve the tenant this many demo steps later",
    )
    p.add_argument(
        "--drop-agents",
        type=_fraction,
        default=0.0,
        metavar="FRACTION",
        help="then remove this share of the agents, e.g. 0.5 (a mass deletion)",
    )
    p.add_argument("--page-cap", type=int, default=100)
    p.add_argument("--agent-envelope", choices=AGENT_ENVELOPES, default="bare")
    p.add_argument(
        "--no-membership-inline",
        dest="membership_inline",
        action="store_false",
        help="agent list rows carry no teams/departments/roles",
    )
    p.add_argument(
        "--rate-limit",
        type=_rate_limit,
        metavar="REQUESTS/SECONDS",
        help="rolling-window limit, e.g. 300/300 (default: none)",
    )
    p.add_argument("--retry-after", action="store_true", help="send Retry-After with 429s")
    p.add_argument("--tenant-name", default="demo")
    p.add_argument("--require-tenant", action="store_true")
    p.add_argument("--client-id", default=SimulatorConfig.client_id)
    p.add_argument("--client-secret", default=SimulatorConfig.client_secret)
    p.add_argument("--token-expires-in", type=int, default=3600)
    p.add_argument(
        "--list-semantics",
        choices=LIST_SEMANTICS,
        default="replace",
        help="what a posted teams/departments/roles list does on POST /api/Agent",
    )
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    rate_limit = args.rate_limit
    if rate_limit is not None and args.retry_after:
        rate_limit = RateLimit(rate_limit.requests, rate_limit.window_s, retry_after=True)
    return SimulatorConfig(
        tenant=tenant_from_args(args),
        faults=Faults(rate_limit=rate_limit),
        client_id=args.client_id,
        client_secret=args.client_secret,
        tenant_name=args.tenant_name,
        require_tenant=args.require_tenant,
        agent_envelope=args.agent_envelope,
        membership_inline=args.membership_inline,
        page_cap=args.page_cap,
        token_expires_in=args.token_expires_in,
        list_semantics=args.list_semantics,
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    config = config_from_args(args)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Simulator(config, host=args.host, port=args.port) as sim:
        tenant = sim.tenant
        # A dev-only credential, printed on purpose so the demo can be pointed at it.
        print(
            json.dumps(
                {
                    "base_url": sim.base_url,
                    "token_url": f"{sim.base_url}/auth/token",
                    "tenant": config.tenant_name,
                    "client_id": config.client_id,
                    "client_secret": config.client_secret,
                    "agents": len(tenant.agents),
                    "users": len(tenant.users),
                    "teams": len(tenant.teams),
                    "roles": len(tenant.roles),
                }
            ),
            flush=True,
        )
        log.info("serving %s until SIGINT/SIGTERM", sim.base_url)
        stop.wait()
        stats = sim.stats()
    for endpoint, count in stats["requests"].items():
        log.info("%6d  %s", count, endpoint)
    log.info(
        "%6d  total, %d rate-limited, by status %s", stats["total"], stats["rate_limited"], stats["by_status"]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
