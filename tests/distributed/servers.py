"""PostgreSQL and Redis from the Debian packages, started on 127.0.0.1 in temporary directories.

PostgreSQL refuses to run as root (CI runs as root), so as root the server runs as the `postgres`
account the Debian package creates (else `nobody`), in a data directory handed to that account.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port, stop, wait_until_ready

PG_BIN_CANDIDATES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _pg_bin(name: str) -> str:
    for directory in PG_BIN_CANDIDATES:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found: run scripts/system_deps.sh (make test does)")
    return found


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

    def accepts_logins(self) -> bool:
        """Whether the server takes a login yet (it listens before it has finished starting)."""
        import psycopg2

        try:
            self.connect().close()
        except psycopg2.OperationalError:
            return False
        return True


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
        server = Postgres(port=port, user=superuser, database="postgres")
        log = workdir / "postgres.log"
        wait_until_ready(server.accepts_logins, process, what="PostgreSQL", timeout_s=60, log=log)
        connection = server.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{database}"')
        finally:
            connection.close()
        yield Postgres(port=port, user=superuser, database=database)
    finally:
        if process is not None:
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def running_redis() -> Generator[str, None, None]:
    """redis-server on a free loopback port, no persistence; yields its URL."""
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
        wait_until_ready(lambda: _answers_ping(url), process, what="redis-server", timeout_s=30)
        yield url
    finally:
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


def _answers_ping(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.ConnectionError:
        return False
