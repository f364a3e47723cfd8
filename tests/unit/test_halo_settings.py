"""Settings validation: clear field names, normalised URLs, and a secret that never shows."""

import pytest

from halo_c1.halo.errors import HaloConfigError
from halo_c1.halo.settings import HaloSettings

SECRET = "s3cr3t-value-never-shown"


def test_defaults_and_token_url():
    settings = HaloSettings(base_url="https://acme.haloitsm.com/", client_id="id", client_secret=SECRET)
    assert settings.base_url == "https://acme.haloitsm.com"
    assert settings.effective_token_url == "https://acme.haloitsm.com/auth/token"
    assert (settings.scope, settings.page_size, settings.rate_limit_requests) == ("all", 100, 300)
    assert settings.rate_limit_period_s == pytest.approx(300.0)


def test_tenant_is_added_to_the_token_url_once():
    settings = HaloSettings(
        base_url="https://acme.haloitsm.com/api", client_id="i", client_secret=SECRET, tenant="acme"
    )
    assert settings.base_url == "https://acme.haloitsm.com"
    assert settings.effective_token_url == "https://acme.haloitsm.com/auth/token?tenant=acme"
    override = settings.model_copy(update={"token_url": "https://auth.haloservicedesk.com/token?tenant=x"})
    assert override.effective_token_url == "https://auth.haloservicedesk.com/token?tenant=x"


def test_secret_is_hidden_from_repr_and_dump():
    settings = HaloSettings(base_url="https://a.example", client_id="id", client_secret=SECRET)
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())
    assert settings.client_secret.get_secret_value() == SECRET


def test_from_connection_fields_maps_airflow_fields():
    settings = HaloSettings.from_connection_fields(
        "acme.haloitsm.com",
        "client",
        SECRET,
        {"tenant": "acme", "page_size": "50", "include_end_users": "false", "rate_limit_period_s": 60},
    )
    assert settings.base_url == "https://acme.haloitsm.com"
    assert settings.page_size == 50
    assert settings.include_end_users is False
    assert settings.rate_limit_period_s == pytest.approx(60.0)


def test_from_connection_fields_names_each_invalid_field_without_echoing_input():
    with pytest.raises(HaloConfigError) as info:
        HaloSettings.from_connection_fields(
            "ftp://x", "", SECRET, {"page_size": 0, "rate_limit_requests": "lots"}
        )
    message = str(info.value)
    assert "host (base_url)" in message
    assert "login (client_id)" in message
    assert "extra.page_size" in message
    assert "extra.rate_limit_requests" in message
    assert SECRET not in message
    assert "lots" not in message


def test_from_connection_fields_rejects_empty_password_and_unknown_extras():
    with pytest.raises(HaloConfigError, match=r"password \(client_secret\)"):
        HaloSettings.from_connection_fields("https://a.example", "id", "", {})
    with pytest.raises(HaloConfigError, match=r"unknown extra field\(s\) \['pagesize'\]"):
        HaloSettings.from_connection_fields("https://a.example", "id", SECRET, {"pagesize": 10})


def test_build_names_invalid_settings_by_their_own_name():
    with pytest.raises(HaloConfigError, match="max_retries") as info:
        HaloSettings.build(base_url="https://a.example", client_id="id", client_secret=SECRET, max_retries=-1)
    assert isinstance(info.value, ValueError)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("host", "extra", "field"),
    [
        ("http://acme.haloitsm.com", {}, "base_url"),
        ("https://acme.haloitsm.com", {"token_url": "http://auth.haloservicedesk.com/token"}, "token_url"),
        ("http://10.0.0.5:8080", {}, "base_url"),
    ],
)
def test_plain_http_to_a_remote_host_is_refused(host, extra, field):
    with pytest.raises(HaloConfigError, match=f"{field} uses plain http:// .*allow_insecure_http") as info:
        HaloSettings.from_connection_fields(host, "id", SECRET, extra)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("host", ["http://127.0.0.1:8900", "http://localhost:8900", "http://[::1]:8900"])
def test_plain_http_on_loopback_is_accepted_silently(host, caplog):
    with caplog.at_level("WARNING", logger="halo_c1.halo"):
        settings = HaloSettings.from_connection_fields(host, "id", SECRET, {})
    assert settings.effective_token_url.startswith("http://")
    assert not caplog.records


def test_allow_insecure_http_accepts_plain_http_with_a_warning(caplog):
    with caplog.at_level("WARNING", logger="halo_c1.halo"):
        settings = HaloSettings.from_connection_fields(
            "http://acme.haloitsm.com", "id", SECRET, {"allow_insecure_http": True, "tenant": "acme"}
        )
    assert settings.base_url == "http://acme.haloitsm.com"
    warnings = [r.getMessage() for r in caplog.records]
    assert any("base_url http://acme.haloitsm.com uses plain http://" in w for w in warnings)
    assert any("token_url http://acme.haloitsm.com/auth/token uses plain http://" in w for w in warnings)
    assert all(SECRET not in w and "tenant=acme" not in w for w in warnings)


def test_end_user_cadence_and_budget_store_come_from_the_connection_extra():
    store = f"redis://:{SECRET}@redis.example:6379/1"
    settings = HaloSettings.from_connection_fields(
        "acme.haloitsm.com", "client", "pw", {"end_user_refresh_hours": "24", "rate_limit_store": store}
    )
    assert settings.end_user_refresh_hours == pytest.approx(24.0)
    assert settings.rate_limit_store.get_secret_value() == store
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
    default = HaloSettings(base_url="https://a.example", client_id="id", client_secret="pw")
    assert (default.end_user_refresh_hours, default.rate_limit_store) == (0.0, None)  # everything, every run
    with pytest.raises(HaloConfigError, match=r"extra\.end_user_refresh_hours") as info:
        HaloSettings.from_connection_fields("a.example", "id", "pw", {"end_user_refresh_hours": -1})
    assert "-1" not in str(info.value)


def test_a_relative_budget_folder_is_refused_by_name(tmp_path):
    from halo_c1.halo.budget import shared_throttle

    settings = HaloSettings(
        base_url="https://a.example", client_id="id", client_secret="pw", rate_limit_store="relative/dir"
    )
    with pytest.raises(HaloConfigError, match=r"extra\.rate_limit_store must be a redis"):
        shared_throttle(settings)
    folder = HaloSettings(
        base_url="https://a.example", client_id="id", client_secret="pw", rate_limit_store=str(tmp_path / "b")
    )
    throttle = shared_throttle(folder)
    assert throttle.path.parent == tmp_path / "b"
    throttle.close()
