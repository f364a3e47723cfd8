"""A real S3-compatible server for tests: moto's server mode on 127.0.0.1, one per test session.

A test module that needs it declares `pytest_plugins = ["tests.integration.s3_server"]` (and imports
`S3Server` under `TYPE_CHECKING` for hints), so that no shared conftest has to know about it.
Fixtures: `s3_server` (session-wide server with one bucket) and `s3_bucket` (the same server with a
fresh bucket per test, so tests never see each other's objects).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from upath import UPath

from tests.servers import free_port

REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    """Where the test S3 server listens and how to reach it."""

    endpoint_url: str
    key: str
    secret: str
    bucket: str

    @property
    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs options for a `UPath` on this server."""
        return {"endpoint_url": self.endpoint_url, "key": self.key, "secret": self.secret}

    def path(self, key: str, bucket: str | None = None) -> UPath:
        """`s3://<bucket>/<key>` on this server."""
        return UPath(f"s3://{bucket or self.bucket}/{key}", **self.storage_options)

    def client(self) -> Any:
        """A boto3 client, to check objects independently of s3fs."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name=REGION,
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def object_keys(self, bucket: str | None = None) -> list[str]:
        """Every key in a bucket, read with boto3 (no s3fs listing cache in the way)."""
        listing = self.client().list_objects_v2(Bucket=bucket or self.bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto in server mode on a free loopback port, with one bucket created, for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        s3 = S3Server(
            endpoint_url=f"http://127.0.0.1:{port}",
            key="test-access-key",
            secret="test-secret-key",
            bucket="halo-c1-test",
        )
        s3.create_bucket(s3.bucket)
        yield s3
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> S3Server:
    """The session's server with a fresh, empty bucket for this test."""
    bucket = s3_server.create_bucket(f"test-{uuid.uuid4().hex[:12]}")
    return S3Server(s3_server.endpoint_url, s3_server.key, s3_server.secret, bucket)
