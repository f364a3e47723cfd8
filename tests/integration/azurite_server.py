"""A real Azure Blob server for tests: Azurite (npm, installed into .tools/ by scripts/system_deps.sh).

A test module that needs it declares `pytest_plugins = ["tests.integration.azurite_server"]`.
Fixtures: `azurite` (one server per session, on a free loopback port, data in a temporary
directory) and `azure_container` (the same server with a fresh container per test).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from upath import UPath

from tests.servers import accepts_connections, free_port, stop, wait_until_ready

PROJECT = Path(__file__).resolve().parents[2]
AZURITE = PROJECT / ".tools" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's single well-known development account (public, documented by Microsoft; not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


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


@pytest.fixture(scope="session")
def azurite() -> Iterator[AzureBlobServer]:
    """Azurite's blob service on a free 127.0.0.1 port, one container, for the session."""
    if not AZURITE.exists():
        pytest.fail(f"{AZURITE} is missing: run scripts/system_deps.sh (make test does)")
    workdir = Path(tempfile.mkdtemp(prefix="halo-c1-azurite-"))
    port, log = free_port(), workdir / "azurite.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(AZURITE),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
                "--location",
                str(workdir),
                "--skipApiVersionCheck",
                "--loose",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_ready(accepts_connections(port), process, what="Azurite", timeout_s=60, log=log)
        server = AzureBlobServer(port=port, container="halo-c1-test")
        server.create_container(server.container)
        yield server
    finally:
        stop(process, timeout_s=10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def azure_container(azurite: AzureBlobServer) -> AzureBlobServer:
    """The session's server with a fresh, empty container for this test."""
    return AzureBlobServer(azurite.port, azurite.create_container(f"test-{uuid.uuid4().hex[:12]}"))
