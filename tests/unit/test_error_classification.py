"""Deterministic input and configuration problems are `PermanentError`s naming the record or setting;
safely repairable data (a lone UTF-16 surrogate) is repaired and recorded."""

from __future__ import annotations

import httpx
import pytest

from halo_c1.errors import ConfigurationError, PermanentError
from halo_c1.halo import HaloClient, HaloRetriesExhausted, HaloSettings
from halo_c1.halo.errors import HaloDataError
from halo_c1_airflow.settings import halo_settings, lake
from halo_c1_airflow.targets import delivery_target

SECRET = "s3cr3t-value-never-shown"


def client_answering(*bodies: bytes) -> tuple[HaloClient, list[int]]:
    """A client whose API calls get `bodies` in turn (the last repeats); counts the API calls."""
    calls = [0]

    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(200, json={"access_token": "tok-abcdef"})
        body = bodies[min(calls[0], len(bodies) - 1)]
        calls[0] += 1
        return httpx.Response(200, headers={"content-type": "application/json"}, content=body)

    settings = HaloSettings(
        base_url="https://acme.example", client_id="c", client_secret=SECRET, max_retries=3
    )
    return HaloClient(settings, transport=httpx.MockTransport(serve), sleep=lambda _: None), calls


def test_invalid_utf8_in_a_complete_answer_fails_at_once_naming_the_record():
    body = b'{"record_count": 2, "users": [{"id": 7, "name": "ok"}, {"id": 8, "name": "Zo\xeb"}]}'
    client, calls = client_answering(body)
    with pytest.raises(
        HaloDataError, match=r"GET /api/Users returned invalid UTF-8 \(byte \d+.*in record id 8"
    ) as info:
        client.get_json("/api/Users")
    assert isinstance(info.value, PermanentError)
    assert calls[0] == 1  # not retried
    assert len(str(info.value).splitlines()) == 1


def test_a_body_cut_inside_a_character_is_transient():
    whole = '{"users": [{"id": 8, "name": "Zoë"}]}'.encode()
    cut = whole[: whole.index("ë".encode()) + 1]
    client, calls = client_answering(cut, whole)
    assert client.get_json("/api/Users") == {"users": [{"id": 8, "name": "Zoë"}]}
    assert calls[0] == 2
    client, _ = client_answering(cut)
    with pytest.raises(HaloRetriesExhausted, match="truncated body"):
        client.get_json("/api/Users")


def test_a_lone_surrogate_is_replaced_and_recorded(caplog):
    body = rb'{"record_count": 2, "users": [{"id": 7, "name": "Zo\ud83d"}, {"id": 9, "name": "ok \ud83d\ude00"}]}'
    client, calls = client_answering(body)
    with caplog.at_level("WARNING", logger="halo_c1.halo"):
        payload = client.get_json("/api/Users")
    assert payload["users"][0]["name"] == "Zo\ufffd"
    assert payload["users"][1]["name"] == "ok \U0001f600"  # a whole pair is a real emoji, kept
    assert client.stats.lone_surrogates_repaired == 1
    assert client.stats.repaired_records == ["GET /api/Users id 7"]
    assert "1 lone UTF-16 surrogate(s)" in caplog.text
    assert calls[0] == 1


def test_missing_airflow_settings_are_permanent_configuration_errors(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_HALOITSM_DEFAULT", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", raising=False)
    with pytest.raises(ConfigurationError, match="connection 'haloitsm_default' is not defined") as info:
        halo_settings()
    assert isinstance(info.value, PermanentError)
    with pytest.raises(PermanentError, match="variable 'halo_c1_lake_url' is not set"):
        lake()
    with pytest.raises(PermanentError, match="variable 'halo_c1_delivery_url' is not set"):
        delivery_target()
    monkeypatch.setenv(
        "AIRFLOW_CONN_HALOITSM_DEFAULT",
        '{"conn_type": "http", "host": "https://acme.haloitsm.com", "login": "c", "password": "p"}',
    )
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", "nonsense://bucket/lake")
    with pytest.raises(PermanentError, match="'halo_c1_lake_url' is not a usable URL"):
        lake()
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", "s3://bucket/lake")
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_CONN_ID", "no_such_aws")
    with pytest.raises(PermanentError, match="connection 'no_such_aws' is not defined"):
        lake()
