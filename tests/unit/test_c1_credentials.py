"""C1 credentials: client id/secret parsing names the wrong part; the assertion has baton-sdk's shape."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from halo_c1.c1 import codegen
from halo_c1.c1.credentials import ClientCredentials, b64url_decode, parse_client_id, parse_client_secret
from halo_c1.c1.errors import C1ConfigError
from halo_c1.c1.settings import ServiceSettings
from tests.fake_c1.creds import make_credentials


def _secret(jwk: dict) -> str:
    return (
        "secret-token:conductorone.com:v1:"
        + base64.urlsafe_b64encode(json.dumps(jwk).encode()).rstrip(b"=").decode()
    )


def test_c1_committed_generated_code_matches_the_proto_files():
    assert codegen.stale_files() == []


def test_c1_codegen_check_names_a_stale_file(tmp_path):
    import shutil

    committed = tmp_path / "pb"
    shutil.copytree(codegen.PB_ROOT, committed, ignore=shutil.ignore_patterns("__pycache__"))
    stale = committed / "c1" / "connectorapi" / "baton" / "v1" / "baton_pb2_grpc.py"
    stale.write_text(stale.read_text() + "\n")
    with pytest.raises(
        codegen.StaleGeneratedCode, match=r"baton_pb2_grpc\.py.*python -m halo_c1\.c1\.codegen"
    ):
        codegen.check(committed)


def test_parse_client_id_splits_name_and_host_and_strips_the_port_for_the_audience():
    parsed = parse_client_id("strange-hydra-68836@acme.conductor.one:8443/pcc")
    assert (parsed.name, parsed.host, parsed.audience) == (
        "strange-hydra-68836",
        "acme.conductor.one:8443",
        "acme.conductor.one",
    )


@pytest.mark.parametrize(
    ("client_id", "names"),
    [
        ("acme.conductor.one/pcc", "'<name>@'"),
        ("name@acme.conductor.one", "'@<host>/<suffix>'"),
        ("name@/pcc", "'@<host>/<suffix>'"),
    ],
)
def test_parse_client_id_names_the_missing_part(client_id, names):
    with pytest.raises(C1ConfigError, match=names):
        parse_client_id(client_id)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda s: s.replace("secret-token:", "secret:"), "must start with 'secret-token:conductorone.com:'"),
        (lambda s: s.replace(":v1:", ":v2:"), "third part must be 'v1'"),
        (lambda s: s.rsplit(":", 1)[0], "4 ':'-separated parts"),
        (lambda s: s[:-6] + "!!!!!!", "not base64url-encoded JSON"),
    ],
)
def test_parse_client_secret_names_the_wrong_part_and_never_quotes_the_key(mangle, message):
    creds = make_credentials()
    with pytest.raises(C1ConfigError, match=message) as raised:
        parse_client_secret(mangle(creds.client_secret))
    assert creds.jwk_d not in str(raised.value)


def test_parse_client_secret_refuses_public_keys_wrong_curves_and_mismatched_halves():
    creds = make_credentials()
    jwk = json.loads(b64url_decode(creds.client_secret.split(":", 3)[3]))
    with pytest.raises(C1ConfigError, match="public key"):
        parse_client_secret(_secret({k: v for k, v in jwk.items() if k != "d"}))
    with pytest.raises(C1ConfigError, match="not an Ed25519 JWK"):
        parse_client_secret(_secret({**jwk, "crv": "X25519"}))
    other = make_credentials()
    other_x = json.loads(b64url_decode(other.client_secret.split(":", 3)[3]))["x"]
    with pytest.raises(C1ConfigError, match="'x' does not match"):
        parse_client_secret(_secret({**jwk, "x": other_x}))


def test_assertion_has_the_go_sdk_header_and_claims_and_verifies():
    creds = make_credentials(host="acme.conductor.one:443")
    parsed = ClientCredentials.parse(creds.client_id, creds.client_secret)
    token = parsed.assertion(now=1_800_000_000, nonce="ab" * 16)
    header_b64, claims_b64, signature = token.split(".")
    assert json.loads(b64url_decode(header_b64)) == {"alg": "EdDSA", "nonce": "ab" * 16}
    assert json.loads(b64url_decode(claims_b64)) == {
        "iss": creds.client_id,
        "sub": creds.client_id,
        "aud": "acme.conductor.one",
        "exp": 1_800_000_120,
        "nbf": 1_799_999_880,
        "iat": 1_800_000_000,
    }
    creds.public_key.verify(b64url_decode(signature), f"{header_b64}.{claims_b64}".encode())
    assert parsed.assertion().split(".")[0] != parsed.assertion().split(".")[0]  # a fresh nonce each time


def test_credentials_and_settings_reprs_hide_the_key():
    creds = make_credentials()
    settings = ServiceSettings.from_connection_fields(
        login=creds.client_id, password=creds.client_secret, extra={}, env={}
    )
    assert creds.jwk_d not in repr(settings)
    assert "key" not in repr(settings.credentials)
    assert isinstance(settings.credentials.key, Ed25519PrivateKey)


def test_settings_defaults_come_from_the_client_id_and_the_env_overrides_the_host():
    creds = make_credentials(host="acme.conductor.one")
    default = ServiceSettings.from_connection_fields(
        login=creds.client_id, password=creds.client_secret, extra={}, env={}
    )
    assert (default.grpc_target, default.token_url, default.provisioning) == (
        "acme.conductor.one:443",
        "https://acme.conductor.one/auth/v1/token",
        False,
    )
    overridden = ServiceSettings.from_connection_fields(
        login=creds.client_id,
        password=creds.client_secret,
        extra={},
        env={"BATON_C1_API_HOST": "c1.internal:8443"},
    )
    assert (overridden.grpc_target, overridden.token_url) == (
        "c1.internal:8443",
        "https://c1.internal:8443/auth/v1/token",
    )
    explicit = ServiceSettings.from_connection_fields(
        login=creds.client_id,
        password=creds.client_secret,
        extra={"api_host": "c1.explicit", "provisioning": "true"},
        env={"BATON_C1_API_HOST": "c1.internal:8443"},
    )
    assert (explicit.grpc_target, explicit.provisioning) == ("c1.explicit:443", True)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"bogus": 1}, "unknown keys \\['bogus'\\]"),
        ({"token_url": "http://plain/auth"}, "must be an https:// URL"),
        ({"ca_bundle": "/nonexistent/ca.pem"}, "not a readable PEM file"),
        ({"provisioning": "maybe"}, "'provisioning' must be true or false"),
        ({"api_host": "https://acme/x"}, "without scheme or path"),
    ],
)
def test_settings_reject_bad_extras_by_name(extra, message):
    creds = make_credentials()
    with pytest.raises(C1ConfigError, match=message):
        ServiceSettings.from_connection_fields(
            login=creds.client_id, password=creds.client_secret, extra=extra, env={}
        )
