"""Simulators for the simulator's own tests, and a plain httpx client (never the project's client)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import httpx
import pytest

from dev.halo_simulator import Simulator, SimulatorConfig, TenantSpec, running_simulator


def get_token(sim: Simulator, **form: str) -> str:
    data = {
        "grant_type": "client_credentials",
        "client_id": sim.config.client_id,
        "client_secret": sim.config.client_secret,
        "scope": "all",
        **form,
    }
    response = httpx.post(f"{sim.base_url}/auth/token", data=data, trust_env=False)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def api_client(sim: Simulator, timeout: float = 5.0) -> httpx.Client:
    """An httpx client holding a fresh bearer token for `sim`."""
    return httpx.Client(
        base_url=sim.base_url,
        headers={"Authorization": f"Bearer {get_token(sim)}"},
        timeout=timeout,
        trust_env=False,
    )


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """A well-behaved simulator shared by a module's read-only tests."""
    with running_simulator(SimulatorConfig(tenant=TenantSpec(seed=7, agents=30, users=230))) as server:
        yield server


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Simulator]]:
    """Start a simulator with `SimulatorConfig(**kwargs)`; stopped when the test ends."""
    with contextlib.ExitStack() as stack:
        yield lambda **kwargs: stack.enter_context(running_simulator(SimulatorConfig(**kwargs)))
