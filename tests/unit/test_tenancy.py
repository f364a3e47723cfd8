"""One lake per tenant: the folder a connection gets, and the refusal of another tenant's folder."""

from __future__ import annotations

import json
import logging
import re

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
    ("base_url", "tenant", "slug"),
    [
        ("https://acme.haloitsm.com", None, "tenant=acme.haloitsm.com-"),
        ("https://ACME.haloitsm.com/", "Acme", "tenant=acme.haloitsm.com-acme-"),
        ("http://127.0.0.1:8900", "demo", "tenant=127.0.0.1_8900-demo-"),
        ("https://halo.example.org:8443", "it dept/2", "tenant=halo.example.org_8443-it_dept_2-"),
    ],
)
def test_the_folder_is_a_readable_slug_and_a_hash_of_host_port_and_tenant(base_url, tenant, slug):
    folder = tenant_folder(TenantIdentity.from_connection(base_url, tenant))

    assert folder.startswith(slug)
    assert re.fullmatch(r"[0-9a-f]{12}", folder.removeprefix(slug))


@pytest.mark.parametrize(
    "spelling",
    [
        "https://acme.haloitsm.com:443",
        "https://ACME.HaloITSM.com/",
        "https://acme.haloitsm.com./",
        "http://acme.haloitsm.com:80",
        "acme.haloitsm.com",
        "https://acme.haloitsm.com.:443/api",
    ],
)
def test_one_tenant_is_one_folder_however_its_url_is_spelled(spelling):
    canonical = TenantIdentity.from_connection("https://acme.haloitsm.com", "acme")
    spelled = TenantIdentity.from_connection(spelling, " ACME ")

    assert spelled == canonical
    assert tenant_folder(spelled) == tenant_folder(canonical)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("https://halo.example.org", "x y"), ("https://halo.example.org", "x_y")),
        (("https://a.com_8080", None), ("https://a.com:8080", None)),
        (("https://a.com", "b-c"), ("https://a.com-b", "c")),
        (("http://127.0.0.1:8900", "demo"), ("http://127.0.0.1:8901", "demo")),
    ],
)
def test_two_tenants_never_share_a_folder_even_when_their_slugs_look_alike(first, second):
    one, other = TenantIdentity.from_connection(*first), TenantIdentity.from_connection(*second)

    assert one != other
    assert tenant_folder(one) != tenant_folder(other)


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

    assert str(lake.base) == str(base / tenant_folder(identity))
    record = json.loads((tmp_path / tenant_folder(identity) / TENANT_RECORD).read_text())
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


@pytest.mark.parametrize(
    ("folder", "recorded_host"),
    [
        ("tenant=acme.haloitsm.com-acme", "acme.haloitsm.com"),
        ("tenant=acme.haloitsm.com_443-acme", "acme.haloitsm.com:443"),
    ],
)
def test_a_folder_named_before_hashed_names_is_found_and_kept_in_use(tmp_path, folder, recorded_host, caplog):
    """Upgrading moves nothing: the earlier folder name of the same tenant stays in use, also when the
    connection now spells the host another way (here with or without :443)."""
    (tmp_path / folder).mkdir()
    (tmp_path / folder / TENANT_RECORD).write_text(json.dumps({"host": recorded_host, "tenant": "acme"}))

    with caplog.at_level(logging.INFO, logger="halo_c1.tenancy"):
        lake = tenant_lake(
            UPath(tmp_path), TenantIdentity.from_connection("https://acme.haloitsm.com:443", "acme")
        )

    assert lake.base.name == folder
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder]
    assert f"Using the existing lake folder {folder}" in caplog.text


def test_an_earlier_folder_of_a_tenant_whose_slug_collides_is_not_taken(tmp_path):
    """`x y` and `x_y` had one folder name before hashes; the second tenant gets its own folder."""
    (tmp_path / "tenant=halo.example.org-x_y").mkdir()
    record = {"host": "halo.example.org", "tenant": "x y"}
    (tmp_path / "tenant=halo.example.org-x_y" / TENANT_RECORD).write_text(json.dumps(record))
    other = TenantIdentity.from_connection("https://halo.example.org", "x_y")

    lake = tenant_lake(UPath(tmp_path), other)

    assert lake.base.name == tenant_folder(other)
    assert json.loads((tmp_path / tenant_folder(other) / TENANT_RECORD).read_text())["tenant"] == "x_y"


@pytest.mark.parametrize("below", ["reports", "x/globex"])
def test_a_prefix_inside_another_tenants_folder_is_refused_before_it_is_claimed(tmp_path, below):
    acme = tenant_lake(UPath(tmp_path), ACME)
    inside = f"{tenant_folder(ACME)}/{below}"

    with pytest.raises(NestedTenantError) as refused:
        tenant_lake(UPath(tmp_path), GLOBEX, inside)

    assert isinstance(refused.value, PermanentError)
    assert f"lies inside {acme.base}, the folder of HaloITSM tenant acme.haloitsm.com" in str(refused.value)
    assert not (tmp_path / inside).exists()  # nothing claimed or written


def test_a_nested_folder_claimed_before_the_check_existed_is_refused_on_its_next_run(tmp_path):
    tenant_lake(UPath(tmp_path), ACME)
    nested = tmp_path / tenant_folder(ACME) / "curated"
    nested.mkdir()
    (nested / TENANT_RECORD).write_text(json.dumps(GLOBEX.as_record()))

    with pytest.raises(NestedTenantError, match="lies inside"):
        tenant_lake(UPath(tmp_path), GLOBEX, f"{tenant_folder(ACME)}/curated")


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
