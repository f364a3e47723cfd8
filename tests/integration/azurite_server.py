"""A real Azure Blob server for tests: Azurite (npm, installed into .tools/ by scripts/system_deps.sh).

A test module that needs it declares `pytest_plugins = ["tests.integration.azurite_server"]`.
Fixtures: `azurite` (one server per session, on a free loopback port, data in a temporary
directory) and `azure_container` (the same server with a fresh container per test).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from upath import UPath

PROJECT = Path(__file__).resolve().parents[2]
AZURITE = PROJECT / ".tools" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's single well-known development account (public, documented by Microsoft; not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_LISTENING = re.compile(r"listens on http://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class AzureBlobServer:
    """Where Azurite listens and how to reach it."""

    port: int
    container: str

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    @property
    def storage_options(self) -> dict[str, Any]:
        """adlfs options for a `UPath` on this server."""
        return {"connection_string": self.connection_string}

    @property
    def airflow_connection(self) -> str:
        """The Airflow connection (JSON form, microsoft-azure provider's `adls` type) for this server."""
        return json.dumps({"conn_type": "adls", "extra": {"connection_string": self.connection_string}})

    def path(self, key: str, container: str | None = None) -> UPath:
        """`abfs://<container>/<key>` on this server."""
        return UPath(f"abfs://{container or self.container}/{key}", **self.storage_options)

    def service(self) -> Any:
        """An azure-storage-blob client, to check blobs independently of adlfs."""
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def create_container(self, name: str) -> str:
        self.service().create_container(name)
        return name

    def blob_names(self, container: str | None = None) -> list[str]:
        """Every committed blob in a container (uncommitted blocks are not blobs)."""
        client = self.service().get_container_client(container or self.container)
        return sorted(blob.name for blob in client.list_blobs())

    def blob(self, name: str, container: str | None = None) -> bytes:
        client = self.service().get_blob_client(container or self.container, name)
        return client.download_blob().readall()


def _wait_for_port(process: subprocess.Popen[str], timeout_s: float = 60.0) -> int:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if match := _LISTENING.search(line):
            return int(match.group(1))
    raise RuntimeError(f"Azurite did not start: {''.join(seen)[-2000:]}")


@pytest.fixture(scope="session")
def azurite() -> Iterator[AzureBlobServer]:
    """Azurite's blob service on 127.0.0.1 (port chosen by the OS), one container, for the session."""
    if not AZURITE.exists():
        pytest.fail(f"{AZURITE} is missing: run scripts/system_deps.sh (make test does)")
    workdir = tempfile.mkdtemp(prefix="halo-c1-azurite-")
    process = subprocess.Popen(
        [
            str(AZURITE),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            "0",
            "--location",
            workdir,
            "--skipApiVersionCheck",
            "--loose",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        server = AzureBlobServer(port=_wait_for_port(process), container="halo-c1-test")
        # Keep reading Azurite's output so a full pipe never blocks it.
        threading.Thread(target=process.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        server.create_container(server.container)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def azure_container(azurite: AzureBlobServer) -> AzureBlobServer:
    """The session's server with a fresh, empty container for this test."""
    return AzureBlobServer(azurite.port, azurite.create_container(f"test-{uuid.uuid4().hex[:12]}"))
