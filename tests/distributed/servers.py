"""PostgreSQL and Redis from the Debian packages, started on 127.0.0.1 in temporary directories.

PostgreSQL refuses to run as root (CI runs as root), so as root the server runs as the `postgres`
account the Debian package creates (else `nobody`), in a data directory handed to that account.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PG_BIN_CANDIDATES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin(name: str) -> str:
    for directory in PG_BIN_CANDIDATES:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found: run scripts/system_deps.sh (make test does)")
    return found


def _stop(process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class Postgres:
    port: int
    user: str
    database: str

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def connect(self):
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=self.database)
        connection.autocommit = True
        return connection


@contextmanager
def running_postgres(database: str = "airflow") -> Generator[Postgres, None, None]:
    """A throw-away PostgreSQL cluster (trust auth on loopback only, fsync off) with one database."""
    workdir = Path(tempfile.mkdtemp(prefix="halo-c1-pg-"))
    as_root = os.geteuid() == 0
    account = None
    if as_root:
        names = {entry.pw_name for entry in pwd.getpwall()}
        account = pwd.getpwnam("postgres" if "postgres" in names else "nobody")
        os.chown(workdir, account.pw_uid, account.pw_gid)
    run_as = {"user": account.pw_uid, "group": account.pw_gid} if account else {}
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    data, superuser, port = workdir / "data", "halo_c1", free_port()
    process = None
    try:
        subprocess.run(
            [_pg_bin("initdb"), "-D", str(data), "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C"],
            check=True,
            capture_output=True,
            env=env,
            cwd=workdir,
            **run_as,
        )
        log = (workdir / "postgres.log").open("wb")
        process = subprocess.Popen(
            [
                _pg_bin("postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-k",
                str(workdir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdout=log,
            stderr=log,
            env=env,
            cwd=workdir,
            **run_as,
        )
        import psycopg2

        server = Postgres(port=port, user=superuser, database="postgres")
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = server.connect()
                break
            except psycopg2.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL did not start: {(workdir / 'postgres.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.3)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{database}"')
        finally:
            connection.close()
        yield Postgres(port=port, user=superuser, database=database)
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def running_redis() -> Generator[str, None, None]:
    """redis-server on a free loopback port, no persistence; yields its URL."""
    import redis

    workdir = Path(tempfile.mkdtemp(prefix="halo-c1-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
