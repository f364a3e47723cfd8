"""`make run`'s output listing: a tenant's own folder, on a local lake and on an S3 lake (moto server)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Generator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from halo_c1.tenancy import TenantIdentity, tenant_folder
from scripts.run_local import DEMO_TENANT, delivery_environment, print_outputs, simulator, tenant_key

if TYPE_CHECKING:
    from tests.integration.s3_server import S3Server

pytest_plugins = ["tests.integration.s3_server"]
pytestmark = pytest.mark.integration

SNAPSHOT = "20261129T124400Z"
ACME = {"conn_type": "http", "host": "https://acme.haloitsm.com", "login": "id", "password": "secret"}


def _outputs(lake_key: str) -> list[str]:
    """The keys a successful run writes, relative to the tenant folder."""
    return [
        f"raw/_manifests/snapshot={SNAPSHOT}.json",
        f"curated/grants/snapshot={SNAPSHOT}/part-0.parquet",
        f"reports/snapshot={SNAPSHOT}/report.html",
        f"reports/snapshot={SNAPSHOT}/data_docs/index.html",
        "reports/index.html",
        f"c1z/snapshot={SNAPSHOT}/sync.c1z",
        f"deliveries/snapshot={SNAPSHOT}.json",
    ]


def test_an_s3_lake_and_delivery_are_checked_as_objects(s3_bucket: S3Server, monkeypatch, capsys):
    conn = {"conn_type": "aws", "login": s3_bucket.key, "password": s3_bucket.secret}
    conn["extra"] = {"endpoint_url": s3_bucket.endpoint_url, "region_name": "us-east-1"}
    monkeypatch.setenv("AIRFLOW_CONN_LAKE_S3", json.dumps(conn))
    env = {
        "AIRFLOW_CONN_HALOITSM_DEFAULT": json.dumps({**ACME, "extra": {"tenant": "acme"}}),
        "AIRFLOW_VAR_HALO_C1_LAKE_URL": f"s3://{s3_bucket.bucket}/halo",
        "AIRFLOW_VAR_HALO_C1_LAKE_CONN_ID": "lake_s3",
        "AIRFLOW_VAR_HALO_C1_DELIVERY_URL": f"s3://{s3_bucket.bucket}/c1/sync.c1z",
        "AIRFLOW_VAR_HALO_C1_DELIVERY_CONN_ID": "lake_s3",
    }
    folder = tenant_key(env)
    assert folder == tenant_folder(TenantIdentity.from_connection("https://acme.haloitsm.com", "acme"))
    client = s3_bucket.client()
    for key in _outputs(folder):
        body = json.dumps({"sha256": "ab" * 32}) if key.startswith("deliveries/") else "x"
        client.put_object(Bucket=s3_bucket.bucket, Key=f"halo/{folder}/{key}", Body=body)
    client.put_object(Bucket=s3_bucket.bucket, Key="c1/sync.c1z", Body=b"C1ZF\x00")

    assert print_outputs(env, SNAPSHOT) is True
    printed = capsys.readouterr().out
    # Object-store paths are printed as URLs (Airflow's form names the connection: s3://lake_s3@bucket/...).
    assert f"s3://lake_s3@{s3_bucket.bucket}/halo/{folder}/c1z/snapshot={SNAPSHOT}/sync.c1z" in printed
    assert "MISSING" not in printed
    assert re.search(r"delivered sha256 +" + "ab" * 32, printed)

    client.delete_object(Bucket=s3_bucket.bucket, Key=f"halo/{folder}/c1z/snapshot={SNAPSHOT}/sync.c1z")
    assert print_outputs(env, SNAPSHOT) is False
    assert "sync.c1z  (MISSING)" in capsys.readouterr().out


def test_a_real_tenant_delivers_to_its_own_file_unless_told_otherwise(monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", raising=False)
    env = {
        "HALO_C1_USE_SIMULATOR": "0",
        "AIRFLOW_CONN_HALOITSM_DEFAULT": json.dumps(ACME),
        "AIRFLOW_VAR_HALO_C1_LAKE_URL": f"file://{tmp_path}/lake",
        "AIRFLOW_VAR_HALO_C1_DELIVERY_URL": "file:///project/.lake/delivered/sync.c1z",
    }

    own = delivery_environment(env)["AIRFLOW_VAR_HALO_C1_DELIVERY_URL"]
    folder = tenant_folder(TenantIdentity.from_connection("https://acme.haloitsm.com", None))
    assert own.endswith(f"/.lake/delivered/{folder}/sync.c1z")

    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", "s3://bucket/acme/sync.c1z")
    assert delivery_environment(env) == env
    assert delivery_environment({**env, "HALO_C1_USE_SIMULATOR": "1"}) == {
        **env,
        "HALO_C1_USE_SIMULATOR": "1",
    }


def test_make_run_reuses_the_demo_simulator_already_on_its_port(capsys):
    """A busy simulator port never means another tenant: the demo simulator there (at whatever demo
    step it serves) is reused as it is; only --mass-deletion, which needs its own simulator, stops."""
    from dev.halo_simulator import running_simulator
    from dev.halo_simulator.__main__ import config_from_args, parse_args

    with running_simulator(config_from_args(parse_args([*DEMO_TENANT, "--evolve", "2"])), port=0) as sim:
        port = int(sim.base_url.rsplit(":", 1)[1])
        with simulator(port, {}, ["--evolve", "5"]) as base_url:
            assert base_url == f"http://127.0.0.1:{port}"
            assert httpx.get(f"{base_url}/api/authinfo").json()["tenant_id"] == "demo"
        assert httpx.get(f"{sim.base_url}/_sim/info").status_code == 200  # left running
        with (
            pytest.raises(SystemExit, match=r"^make run: --mass-deletion needs make run's own simulator"),
            simulator(port, {}, ["--evolve", "5", "--drop-agents", "0.5"]),
        ):
            pytest.fail("make run dropped agents in a simulator it does not own")
    assert (
        f"reusing the HaloITSM simulator already serving the demo tenant at {base_url}"
        in capsys.readouterr().out
    )


@pytest.mark.parametrize("other", ["another tenant", "another program"])
def test_make_run_stops_with_one_line_when_its_port_serves_something_else(other):
    from dev.halo_simulator import TenantSpec, running_simulator
    from dev.halo_simulator.config import SimulatorConfig

    if other == "another tenant":
        server = running_simulator(SimulatorConfig(tenant=TenantSpec(seed=99, agents=3)), port=0)
        expected = "the HaloITSM simulator serving another tenant"
    else:
        server = _plain_http_server()
        expected = "a program that is not the bundled HaloITSM simulator"
    with server as running, pytest.raises(SystemExit) as stopped:
        port = int(running.base_url.rsplit(":", 1)[1])
        with simulator(port, {}):
            pytest.fail("make run went on with a port that serves something else")

    message = str(stopped.value)
    assert message.startswith(f"make run: port {port} is taken by {expected}; stop it")
    assert "\n" not in message


@contextmanager
def _plain_http_server() -> Generator[Any, None, None]:
    """Any other program holding the port: an HTTP server that implements no method (501)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
