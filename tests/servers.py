"""Starting the real servers the tests use, and waiting until they answer: one way for all of them.

`free_port` picks a free loopback port (the simulator's default port may be taken by another run);
`wait_until_ready` polls a probe until the server answers, failing at once with its log when the
process died; `stop` ends it (its whole process group when it has one); `airflow_serving` runs
`airflow api-server` or `airflow standalone` for the duration of a block, entered once healthy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(
    probe: Callable[[], bool],
    process: subprocess.Popen | None,
    *,
    what: str,
    timeout_s: float,
    poll_s: float = 0.3,
    log: Path | None = None,
) -> None:
    """Call `probe` until it is true; fail naming `what` (and the end of `log`) when `process` exits or
    `timeout_s` passes first."""
    deadline = time.monotonic() + timeout_s
    while not probe():
        tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it answered:\n{tail}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer within {timeout_s:.0f} s:\n{tail}")
        time.sleep(poll_s)


def accepts_connections(port: int) -> Callable[[], bool]:
    """A probe: something listens on 127.0.0.1:`port`."""

    def probe() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    return probe


def answers_200(url: str) -> Callable[[], bool]:
    """A probe: GET `url` answers 200."""

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


def stop(process: subprocess.Popen, timeout_s: float = 20) -> None:
    """Terminate `process` (its whole process group if it leads one), then kill what is left."""
    group = process.pid if _leads_group(process) else None
    _signal(process, group, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _signal(process, group, signal.SIGKILL)
        process.wait(timeout=10)
    if group is not None:  # children that outlived their leader (airflow standalone's components)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


def _leads_group(process: subprocess.Popen) -> bool:
    try:
        return os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        return False


def _signal(process: subprocess.Popen, group: int | None, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        if group is not None:
            os.killpg(group, signum)
        else:
            process.send_signal(signum)


@contextmanager
def airflow_serving(
    command: list[str], env: dict[str, str], log: Path, url: str, *, timeout_s: float = 120
) -> Generator[subprocess.Popen, None, None]:
    """Run an Airflow server command (its own session, owner-only files, output to `log`) for the block,
    entered once `url`'s health endpoint answers 200; stopped with its process group afterwards."""
    from scripts.standalone import launch

    process = launch(command, env, log)
    try:
        wait_until_ready(
            answers_200(f"{url}/api/v2/monitor/health"),
            process,
            what=" ".join([Path(command[0]).name, *command[1:]]),
            timeout_s=timeout_s,
            poll_s=1,
            log=log,
        )
        yield process
    finally:
        stop(process)
