"""One lake per tenant: the folder a connection gets, and the refusal of another tenant's folder."""

from __future__ import annotations

import json
import logging

import pytest
from upath import UPath

from halo_c1.errors import PermanentError
from halo_c1.halo.errors import HaloConfigError
from halo_c1.halo.settings import HaloSettings
from halo_c1.tenancy import (
    TENANT_RECORD,
    NestedTenantError,
    TenantIdentity,
    TenantMismatchError,
    tenant_folder,
    tenant_lake,
)

ACME = TenantIdentity.from_connection("https://acme.haloitsm.com", None)
GLOBEX = TenantIdentity.from_connection("https://globex.haloitsm.com", None)


@pytest.mark.parametrize(
    ("base_url", "tenant", "folder"),
    [
        ("https://acme.haloitsm.com", None, "tenant=acme.haloitsm.com"),
        ("https://ACME.haloitsm.com/", "Acme", "tenant=acme.haloitsm.com-acme"),
        ("http://127.0.0.1:8900", "demo", "tenant=127.0.0.1_8900-demo"),
        ("https://halo.example.org:8443", "it dept/2", "tenant=halo.example.org_8443-it_dept_2"),
    ],
)
def test_the_folder_is_derived_from_host_port_and_tenant(base_url, tenant, folder):
    assert tenant_folder(TenantIdentity.from_connection(base_url, tenant)) == folder


def test_two_simulators_on_one_host_are_two_tenants():
    first = TenantIdentity.from_connection("http://127.0.0.1:8900", "demo")
    second = TenantIdentity.from_connection("http://127.0.0.1:8901", "demo")

    assert first != second
    assert tenant_folder(first) != tenant_folder(second)


def test_the_connection_can_name_the_folder():
    identity = TenantIdentity.from_connection("https://acme.haloitsm.com", "acme")
    assert tenant_folder(identity, "halo/acme-prod/") == "halo/acme-prod"

    settings = HaloSettings.from_connection_fields(
        "https://acme.haloitsm.com", "id", "secret", {"lake_prefix": "acme-prod"}
    )
    assert settings.lake_prefix == "acme-prod"


@pytest.mark.parametrize("prefix", ["../other", "a/../b", "/abs", "s3://bucket", "a b", "a//b"])
def test_a_prefix_that_could_leave_the_lake_is_refused(prefix):
    with pytest.raises(HaloConfigError, match=r"extra\.lake_prefix"):
        HaloSettings.from_connection_fields(
            "https://acme.haloitsm.com", "id", "secret", {"lake_prefix": prefix}
        )


def test_the_first_run_claims_the_folder_and_the_same_tenant_reuses_it(tmp_path):
    base = UPath(tmp_path)
    identity = TenantIdentity.from_connection("https://acme.haloitsm.com", "acme")

    lake = tenant_lake(base, identity)

    assert str(lake.base) == str(base / "tenant=acme.haloitsm.com-acme")
    record = json.loads((tmp_path / "tenant=acme.haloitsm.com-acme" / TENANT_RECORD).read_text())
    assert record["host"] == "acme.haloitsm.com"
    assert record["tenant"] == "acme"
    assert str(tenant_lake(base, identity).base) == str(lake.base)


def test_a_folder_claimed_by_another_tenant_is_refused_with_both_named(tmp_path):
    base = UPath(tmp_path)
    tenant_lake(base, TenantIdentity.from_connection("https://acme.haloitsm.com", None), "shared")

    with pytest.raises(TenantMismatchError) as refused:
        tenant_lake(base, TenantIdentity.from_connection("https://globex.haloitsm.com", None), "shared")

    assert isinstance(refused.value, PermanentError)
    message = str(refused.value)
    assert "belongs to HaloITSM tenant acme.haloitsm.com" in message
    assert "connection reaches globex.haloitsm.com" in message
    assert "lake_prefix" in message


def test_a_record_that_names_no_tenant_is_refused(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / TENANT_RECORD).write_text("[]")

    with pytest.raises(TenantMismatchError, match="does not name a HaloITSM tenant"):
        tenant_lake(
            UPath(tmp_path), TenantIdentity.from_connection("https://acme.haloitsm.com", None), "shared"
        )


def test_a_lake_from_before_tenant_folders_is_pointed_out(tmp_path, caplog):
    (tmp_path / "deliveries").mkdir()
    (tmp_path / "deliveries" / "latest.json").write_text("{}")

    with caplog.at_level(logging.WARNING, logger="halo_c1.tenancy"):
        tenant_lake(UPath(tmp_path), TenantIdentity.from_connection("https://acme.haloitsm.com", None))

    assert "holds deliveries from before per-tenant folders" in caplog.text
    assert "tenant=acme.haloitsm.com" in caplog.text


@pytest.mark.parametrize("inside", ["tenant=acme.haloitsm.com/reports", "tenant=acme.haloitsm.com/x/globex"])
def test_a_prefix_inside_another_tenants_folder_is_refused_before_it_is_claimed(tmp_path, inside):
    acme = tenant_lake(UPath(tmp_path), ACME)

    with pytest.raises(NestedTenantError) as refused:
        tenant_lake(UPath(tmp_path), GLOBEX, inside)

    assert isinstance(refused.value, PermanentError)
    assert f"lies inside {acme.base}, the folder of HaloITSM tenant acme.haloitsm.com" in str(refused.value)
    assert not (tmp_path / inside).exists()  # nothing claimed or written


def test_a_nested_folder_claimed_before_the_check_existed_is_refused_on_its_next_run(tmp_path):
    tenant_lake(UPath(tmp_path), ACME)
    nested = tmp_path / "tenant=acme.haloitsm.com" / "curated"
    nested.mkdir()
    (nested / TENANT_RECORD).write_text(json.dumps(GLOBEX.as_record()))

    with pytest.raises(NestedTenantError, match="lies inside"):
        tenant_lake(UPath(tmp_path), GLOBEX, "tenant=acme.haloitsm.com/curated")


def test_a_prefix_containing_another_tenants_folder_is_refused(tmp_path):
    tenant_lake(UPath(tmp_path), GLOBEX, "halo/globex")

    with pytest.raises(NestedTenantError) as refused:
        tenant_lake(UPath(tmp_path), ACME, "halo")

    assert f"holds another HaloITSM tenant's folder ({tmp_path}/halo/globex of globex" in str(refused.value)
    assert not (tmp_path / "halo" / TENANT_RECORD).exists()


def test_a_lake_base_that_is_a_tenants_folder_is_refused(tmp_path):
    acme = tenant_lake(UPath(tmp_path), ACME)

    with pytest.raises(NestedTenantError, match=r"the folder of HaloITSM tenant acme\.haloitsm\.com"):
        tenant_lake(acme.base, GLOBEX)


def test_tenant_folders_side_by_side_under_one_prefix_are_fine(tmp_path):
    acme = tenant_lake(UPath(tmp_path), ACME, "halo/acme")
    globex = tenant_lake(UPath(tmp_path), GLOBEX, "halo/globex")

    assert str(tenant_lake(UPath(tmp_path), ACME, "halo/acme").base) == str(acme.base)
    assert str(tenant_lake(UPath(tmp_path), GLOBEX, "halo/globex").base) == str(globex.base)
