"""Shared integration fixtures: a running HaloITSM simulator and client settings that point at it.

    def test_something(start_simulator):
        sim = start_simulator(tenant=TenantSpec(seed=1, agents=20), agent_envelope="results")
        with HaloClient(halo_settings(sim)) as client:
            ...

`start_simulator` takes `SimulatorConfig` fields; every simulator it starts is stopped at teardown.
`halo_settings(sim, **overrides)` gives settings with short timeouts and tiny waits, so fault tests
stay fast; pass overrides to test the production values. `airflow_halo_connection(sim)` is the same
client as the Airflow connection the DAGs read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from halo_c1.halo import HaloSettings

DEV_CLIENT_ID = "halo-c1-dev"
DEV_CLIENT_SECRET = "halo-c1-dev-secret"

FAST_SETTINGS: dict[str, Any] = {
    "timeout_s": 2.0,
    "connect_timeout_s": 1.0,
    "max_retries": 4,
    "backoff_base_s": 0.01,
    "max_backoff_s": 0.05,
    "rate_limit_fallback_wait_s": 0.2,
    "rate_limit_requests": 10_000,
    "rate_limit_period_s": 1.0,
}


def halo_settings(sim: Any, **overrides: Any) -> HaloSettings:
    """Settings for a client of `sim` with the dev credentials and fast waits; overrides win."""
    fields = {
        "base_url": sim.base_url,
        "client_id": DEV_CLIENT_ID,
        "client_secret": DEV_CLIENT_SECRET,
        **FAST_SETTINGS,
        **overrides,
    }
    return HaloSettings(**fields)


UNTHROTTLED: dict[str, Any] = {"rate_limit_requests": 1000, "rate_limit_period_s": 1}


def airflow_halo_connection(sim: Any, **extra: Any) -> str:
    """`AIRFLOW_CONN_HALOITSM_DEFAULT` (JSON) for a client of `sim` with the dev credentials and `extra`
    (e.g. `tenant="demo", **UNTHROTTLED`), as the DAGs read it."""
    connection = {
        "conn_type": "http",
        "host": sim.base_url,
        "login": DEV_CLIENT_ID,
        "password": DEV_CLIENT_SECRET,
    }
    return json.dumps({**connection, "extra": extra} if extra else connection)


@pytest.fixture
def start_simulator() -> Iterator[Callable[..., Any]]:
    """Factory fixture: `start_simulator(**SimulatorConfig fields)` → a running simulator."""
    from dev.halo_simulator import SimulatorConfig, running_simulator  # only tests that use it need it

    with ExitStack() as stack:

        def start(**config: Any) -> Any:
            config.setdefault("client_id", DEV_CLIENT_ID)
            config.setdefault("client_secret", DEV_CLIENT_SECRET)
            return stack.enter_context(running_simulator(SimulatorConfig(**config)))

        yield start
