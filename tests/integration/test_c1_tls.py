"""TLS failures towards C1 are certificate problems, not outages: the fake C1 over real TLS with a
server certificate from a CA the client does not trust, and one for another host name.

Each path to C1 (token endpoint, BatonService over gRPC, force_sync over REST) must fail at once with
`C1CertificateError` (a PermanentError, so Airflow does not retry it) naming what was refused, and the
poll loop must not back off and retry it as it does an outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from halo_c1.c1.client import BatonClient
from halo_c1.c1.errors import C1CertificateError, C1UnavailableError
from halo_c1.c1.force_sync import force_sync
from halo_c1.c1.poll import wait_for_task
from halo_c1.c1.token import TokenSource
from halo_c1.errors import PermanentError
from tests.fake_c1 import FakeC1, running_fake_c1
from tests.fake_c1.tls import make_pki

pytestmark = pytest.mark.integration

OTHER_HOST = "c1.example.invalid"


@pytest.fixture
def untrusted_ca(tmp_path) -> Path:
    """A CA the fake C1's certificate was not issued by (another name, another key)."""
    folder = tmp_path / "other-ca"
    folder.mkdir()
    return make_pki(ca_name="someone else's CA").write_ca(folder)


@pytest.fixture
def wrong_host_c1(tmp_path_factory) -> Iterator[FakeC1]:
    """A fake C1 whose certificate (from the CA the client trusts) names another host."""
    with running_fake_c1(tmp_path_factory.mktemp("wrong_host"), server_names=(OTHER_HOST,)) as fake:
        yield fake


def test_an_untrusted_ca_at_the_token_endpoint_is_a_certificate_error(fake_c1, untrusted_ca):
    with pytest.raises(C1CertificateError) as refused:
        TokenSource(fake_c1.settings(ca_bundle=str(untrusted_ca))).token()

    assert isinstance(refused.value, PermanentError)
    assert not isinstance(refused.value, C1UnavailableError)
    message = str(refused.value)
    assert f"C1 token endpoint {fake_c1.token_url}: TLS certificate not accepted" in message
    assert "unable to get local issuer certificate" in message
    assert "ca_bundle" in message and "not an outage" in message
    assert fake_c1.tokens.records == []  # nothing reached the endpoint


def test_an_untrusted_ca_at_the_baton_service_is_a_certificate_error(fake_c1, untrusted_ca):
    tokens = TokenSource(fake_c1.settings())  # the token endpoint is trusted; the gRPC host is not
    client = BatonClient(fake_c1.settings(ca_bundle=str(untrusted_ca)), tokens, timeout_s=10)
    with client, pytest.raises(C1CertificateError) as refused:
        client.hello()

    message = str(refused.value)
    assert f"C1 Hello to {fake_c1.api_host}: TLS certificate not accepted" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message


def test_a_certificate_for_another_host_name_is_a_certificate_error(fake_c1, wrong_host_c1):
    with pytest.raises(C1CertificateError, match=r"TLS certificate not accepted \(IP address mismatch"):
        TokenSource(wrong_host_c1.settings()).token()

    tokens = TokenSource(fake_c1.settings())  # a token from elsewhere: TLS fails before it is read
    client = BatonClient(wrong_host_c1.settings(), tokens, timeout_s=10)
    with client, pytest.raises(C1CertificateError, match="Hostname Verification Check failed"):
        client.hello()
    assert wrong_host_c1.tokens.records == []


def test_force_sync_with_an_untrusted_ca_is_a_certificate_error(fake_c1, untrusted_ca):
    settings = fake_c1.settings(ca_bundle=str(untrusted_ca), app_id="app-1", connector_id="conn-1")
    tokens = TokenSource(fake_c1.settings())

    with pytest.raises(C1CertificateError, match=r"C1 force_sync https://.*TLS certificate not accepted"):
        force_sync(settings, tokens)


def test_the_poll_loop_does_not_retry_a_certificate_error_as_an_outage(fake_c1, untrusted_ca):
    now, sleeps = [0.0], []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds
        await asyncio.sleep(0)

    tokens = TokenSource(fake_c1.settings())
    client = BatonClient(fake_c1.settings(ca_bundle=str(untrusted_ca)), tokens, timeout_s=10)
    with client, pytest.raises(C1CertificateError):
        asyncio.run(wait_for_task(client, wait_s=3600, sleep=sleep, clock=lambda: now[0]))

    assert sleeps == []  # no back-off: waiting does not fix a certificate
