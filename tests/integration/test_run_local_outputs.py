"""`make run`'s output listing: a tenant's own folder, on a local lake and on an S3 lake (moto server)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from scripts.run_local import delivery_environment, print_outputs, tenant_key

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
    assert folder == "tenant=acme.haloitsm.com-acme"
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
    assert "delivered sha256   " + "ab" * 32 in printed

    client.delete_object(Bucket=s3_bucket.bucket, Key=f"halo/{folder}/c1z/snapshot={SNAPSHOT}/sync.c1z")
    assert print_outputs(env, SNAPSHOT) is False
    assert "sync.c1z  (MISSING)" in capsys.readouterr().out


def test_a_real_tenant_delivers_to_its_own_file_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", raising=False)
    env = {
        "HALO_C1_USE_SIMULATOR": "0",
        "AIRFLOW_CONN_HALOITSM_DEFAULT": json.dumps(ACME),
        "AIRFLOW_VAR_HALO_C1_DELIVERY_URL": "file:///project/.lake/delivered/sync.c1z",
    }

    own = delivery_environment(env)["AIRFLOW_VAR_HALO_C1_DELIVERY_URL"]
    assert own.endswith("/.lake/delivered/tenant=acme.haloitsm.com/sync.c1z")

    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", "s3://bucket/acme/sync.c1z")
    assert delivery_environment(env) == env
    assert delivery_environment({**env, "HALO_C1_USE_SIMULATOR": "1"}) == {
        **env,
        "HALO_C1_USE_SIMULATOR": "1",
    }
