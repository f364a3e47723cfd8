"""Run the simulator with uvicorn in a background thread on 127.0.0.1, as httpx's own test server does.

Usage::

    with running_simulator(SimulatorConfig(agent_envelope="results")) as sim:
        httpx.post(f"{sim.base_url}/auth/token", data={...})
        sim.set_faults(Faults(server_error=ServerError(times=2)))
        assert sim.request_counts()["POST /auth/token"] == 1
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import uvicorn

from .app import LoggedRequest, SimulatorState, create_app
from .config import SimulatorConfig
from .faults import Faults
from .tenant import Tenant


class _ThreadServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:  # the owner stops us; signals belong to the main thread
        yield


class Simulator:
    """A running (after `start()`) HaloITSM simulator. Also a context manager."""

    def __init__(
        self, config: SimulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._state = SimulatorState(config or SimulatorConfig())
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))  # bound now, so the port is known before the server starts
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = _ThreadServer(
            uvicorn.Config(
                create_app(self._state),
                lifespan="off",
                log_config=None,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=1,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def tenant(self) -> Tenant:
        return self._state.tenant

    @property
    def config(self) -> SimulatorConfig:
        return self._state.config

    @property
    def faults(self) -> Faults:
        return self._state.faults.faults

    def start(self, timeout_s: float = 10.0) -> Simulator:
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"halo-simulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the HaloITSM simulator did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout=5)
            self._thread = None
        self._sock.close()

    def __enter__(self) -> Simulator:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inspection and control ------------------------------------------------------------------

    def set_faults(self, faults: Faults) -> None:
        """Swap the faults while running; counters and the rate-limit window start afresh."""
        self._state.set_faults(faults)

    def faults_fired(self) -> dict[str, int]:
        return self._state.faults.fired()

    def request_counts(self) -> dict[str, int]:
        """`"GET /api/Agent"`-style route -> requests (unknown paths keyed by their literal path)."""
        return self._state.request_counts()

    def request_log(self) -> list[LoggedRequest]:
        """Per request, oldest first: method, path exactly as sent (percent-encoding kept), status, when
        it arrived on the rate limiter's clock, and its route (`LoggedRequest`)."""
        return self._state.request_log()

    def total_requests(self) -> int:
        return sum(self._state.request_counts().values())

    def responses_by_status(self) -> dict[int, int]:
        """Status -> responses; 0 counts connections dropped without a response."""
        return self._state.responses_by_status()

    def reset_counts(self) -> None:
        self._state.reset_counts()

    def write_counts(self) -> dict[str, int]:
        """`posts`, `agents_updated`, `agents_created`, `rejected` (as in `stats()["writes"]`)."""
        return self._state.write_counts()

    def on_write(self, hook: Callable[[Tenant], None] | None) -> None:
        """Run `hook(tenant)` inside each accepted POST /api/Agent, just before it is applied.

        It stands for another HaloITSM user changing the tenant between a client's read and write.
        """
        self._state.write_hook = hook

    def stats(self) -> dict[str, Any]:
        """What `GET /_sim/stats` answers."""
        return self._state.stats()


@contextlib.contextmanager
def running_simulator(config: SimulatorConfig | None = None, **kwargs: Any) -> Generator[Simulator]:
    """Start a simulator (`host`, `port` may be given), yield it, and stop it however the block ends."""
    with Simulator(config, **kwargs) as sim:
        yield sim
