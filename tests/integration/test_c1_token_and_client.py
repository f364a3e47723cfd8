"""The C1 token flow and the BatonService client against the fake C1 (TLS, 127.0.0.1)."""

from __future__ import annotations

import time

import httpx
import pytest

from halo_c1.c1.client import BatonClient
from halo_c1.c1.credentials import ClientCredentials, ClientId
from halo_c1.c1.errors import C1AuthError
from halo_c1.c1.pb.c1.connector.v2 import connector_pb2
from halo_c1.c1.token import ASSERTION_TYPE, TokenSource
from tests.fake_c1.creds import make_credentials

pytestmark = pytest.mark.integration


def _post(fake, assertion: str, client_id: str | None = None) -> httpx.Response:
    form = {
        "client_id": client_id or fake.credentials.client_id,
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    return httpx.post(fake.token_url, data=form, verify=str(fake.ca_file))


def _creds(fake) -> ClientCredentials:
    return ClientCredentials.parse(fake.credentials.client_id, fake.credentials.client_secret)


class TestTokenEndpoint:
    def test_token_good_assertion_is_accepted(self, fake_c1):
        token = TokenSource(fake_c1.settings()).token()
        assert token.startswith("fake-c1-token-")
        assert [r.reason for r in fake_c1.tokens.records] == ["ok"]
        assert fake_c1.tokens.records[0].user_agent.startswith("halo-c1/")

    def test_token_wrong_key_is_rejected_with_a_clear_error(self, fake_c1):
        impostor = make_credentials()
        settings = fake_c1.settings()
        wrong = ClientCredentials(
            settings.credentials.client_id,
            ClientCredentials.parse(impostor.client_id, impostor.client_secret).key,
        )
        source = TokenSource(type(settings)(**{**settings.__dict__, "credentials": wrong}))
        with pytest.raises(C1AuthError, match=r"refused client .*HTTP 401.*Rotate"):
            source.token()
        assert fake_c1.tokens.records[-1].reason == "signature"

    def test_token_wrong_audience_is_rejected(self, fake_c1):
        creds = _creds(fake_c1)
        elsewhere = ClientCredentials(
            ClientId(creds.client_id.value, creds.client_id.name, "evil.example"), creds.key
        )
        assert _post(fake_c1, elsewhere.assertion()).status_code == 401
        assert fake_c1.tokens.records[-1].reason == "aud"

    def test_token_expired_assertion_is_rejected(self, fake_c1):
        assert _post(fake_c1, _creds(fake_c1).assertion(now=time.time() - 600)).status_code == 401
        assert fake_c1.tokens.records[-1].reason == "expired or not yet valid (nbf/exp)"

    def test_token_replayed_nonce_is_rejected(self, fake_c1):
        creds = _creds(fake_c1)
        assert _post(fake_c1, creds.assertion(nonce="cd" * 16)).status_code == 200
        assert _post(fake_c1, creds.assertion(nonce="cd" * 16)).status_code == 401
        assert fake_c1.tokens.records[-1].reason == "nonce replayed"

    def test_token_wrong_issuer_is_rejected(self, fake_c1):
        creds = _creds(fake_c1)
        other = ClientCredentials(ClientId("someone@127.0.0.1/pcc", "someone", "127.0.0.1"), creds.key)
        assert _post(fake_c1, other.assertion()).status_code == 401
        assert fake_c1.tokens.records[-1].reason == "iss/sub"

    def test_token_is_cached_until_ten_seconds_before_expiry(self, fake_c1):
        source = TokenSource(fake_c1.settings())
        assert source.token() == source.token()
        assert source.fetches == 1
        fake_c1.tokens.expires_in = 5  # inside the 10 s margin: every call renews
        source.invalidate()
        first = source.token()
        assert source.token() != first
        assert source.fetches == 3

    def test_token_endpoint_401_fails_at_once_with_a_clear_error(self, fake_c1):
        fake_c1.tokens.fail_status = 401
        with BatonClient(fake_c1.settings()) as client, pytest.raises(C1AuthError, match="HTTP 401"):
            client.hello()
        assert fake_c1.baton.calls == []

    def test_empty_access_token_is_an_auth_error(self, fake_c1):
        fake_c1.tokens.empty_token = True
        with pytest.raises(C1AuthError, match="empty access_token"):
            TokenSource(fake_c1.settings()).token()


class TestClient:
    def test_expired_token_is_renewed_once_and_the_call_succeeds(self, fake_c1):
        with BatonClient(fake_c1.settings()) as client:
            client.get_task()
            fake_c1.tokens.expire_tokens()
            client.get_task()
            assert client.tokens.fetches == 2
        assert [c.method for c in fake_c1.baton.calls] == ["GetTask", "GetTask", "GetTask"]

    def test_a_rejected_fresh_token_fails_clearly_after_one_renewal(self, fake_c1):
        fake_c1.tokens.reject_bearer = True
        with (
            BatonClient(fake_c1.settings()) as client,
            pytest.raises(C1AuthError, match="refused a freshly issued token"),
        ):
            client.get_task()
        assert len(fake_c1.baton.calls) == 2
        assert len(fake_c1.tokens.records) == 2

    def test_every_call_carries_the_bearer_token_and_the_halo_c1_user_agent(self, fake_c1):
        with BatonClient(fake_c1.settings()) as client:
            client.hello()
        metadata = fake_c1.baton.calls[0].metadata
        assert metadata["authorization"].startswith("Bearer fake-c1-token-")
        assert "halo-c1/" in metadata["user-agent"]
        assert metadata["user-agent"].startswith(fake_c1.credentials.client_id.split("@")[0])

    def test_hello_carries_the_metadata_without_provisioning_by_default(self, fake_c1):
        with BatonClient(fake_c1.settings()) as client:
            client.hello()
        request = fake_c1.baton.calls_to("Hello")[0].request
        assert request.host_id == "halo-c1-test-host"
        assert request.task_id == ""
        assert request.build_info.package == "halo-c1"
        assert all(getattr(request.os_info, f.name) for f in request.os_info.DESCRIPTOR.fields)
        metadata = request.connector_metadata
        assert metadata.display_name == "HaloITSM (halo-c1)"
        caps = {
            c.resource_type.id: list(c.capabilities) for c in metadata.capabilities.resource_type_capabilities
        }
        sync = [connector_pb2.CAPABILITY_SYNC]
        assert caps == {"agent": sync, "department": sync, "role": sync, "team": sync, "user": sync}
        assert list(metadata.capabilities.connector_capabilities) == sync
        assert fake_c1.baton.violations == []

    def test_hello_declares_provisioning_for_team_and_role_only_when_enabled(self, fake_c1):
        with BatonClient(fake_c1.settings(provisioning=True)) as client:
            client.hello()
        metadata = fake_c1.baton.calls_to("Hello")[0].request.connector_metadata
        provision = {
            c.resource_type.id
            for c in metadata.capabilities.resource_type_capabilities
            if connector_pb2.CAPABILITY_PROVISION in c.capabilities
        }
        assert provision == {"team", "role"}
        assert list(metadata.capabilities.connector_capabilities) == [
            connector_pb2.CAPABILITY_PROVISION,
            connector_pb2.CAPABILITY_SYNC,
        ]

    def test_upload_sends_512_kib_chunks_and_the_sha256_eof(self, fake_c1, tmp_path):
        import hashlib
        import os

        task_id = fake_c1.enqueue_sync_full()
        payload = tmp_path / "sync.c1z"
        payload.write_bytes(os.urandom(1_300_000))
        with BatonClient(fake_c1.settings()) as client:
            digest = client.upload(task_id, payload)
        assert digest == hashlib.sha256(payload.read_bytes()).hexdigest()
        assert fake_c1.baton.uploads[task_id] == payload.read_bytes()
        assert fake_c1.baton.upload_chunk_sizes[task_id] == [524288, 524288, 1_300_000 - 2 * 524288]
