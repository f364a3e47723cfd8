"""C1 client credentials: parse the client id and secret, sign the client assertion.

A C1 client id is `<name>@<host>/<suffix>` and its secret `secret-token:conductorone.com:v1:<JWK>`,
the JWK being a base64url (unpadded) Ed25519 private key (spec c1-service-mode.md §1.1-1.3). The
assertion is an EdDSA JWS shaped as baton-sdk's: header `{"alg":"EdDSA","nonce":<32 hex>}`, claims
iss = sub = the client id, aud = the host without port, exp = now+120 s, nbf = now-120 s (§1.4).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from halo_c1.c1.errors import C1ConfigError

SECRET_PREFIX = "secret-token:conductorone.com:v1:"
ASSERTION_LIFETIME_S = 120


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding (Go's RawURLEncoding has none)."""
    stripped = text.rstrip("=")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


@dataclass(frozen=True)
class ClientId:
    """A parsed client id: the full string (iss/sub/client_id), its name and its host[:port]."""

    value: str
    name: str
    host: str

    @property
    def audience(self) -> str:
        """The JWT `aud`: the host without any port."""
        return self.host.rsplit(":", 1)[0] if self.host.count(":") == 1 else self.host


def parse_client_id(client_id: str) -> ClientId:
    """`name@host/suffix`; the message names the missing part (the id itself is not secret)."""
    name, at, rest = client_id.strip().partition("@")
    if not at or not name:
        raise C1ConfigError(
            f"C1 client id {client_id!r} has no '<name>@': expected e.g. 'strange-hydra-68836@acme.conductor.one/pcc'"
        )
    host, slash, suffix = rest.partition("/")
    if not slash or not host or not suffix:
        raise C1ConfigError(
            f"C1 client id {client_id!r} has no '@<host>/<suffix>': expected e.g. 'strange-hydra-68836@acme.conductor.one/pcc'"
        )
    return ClientId(value=client_id.strip(), name=name, host=host)


def parse_client_secret(secret: str) -> Ed25519PrivateKey:
    """The Ed25519 key inside a C1 client secret. Errors name the wrong part, never quote the value."""
    parts = secret.strip().split(":", 3)
    if len(parts) != 4:
        raise C1ConfigError(
            "C1 client secret must have 4 ':'-separated parts 'secret-token:conductorone.com:v1:<key>'"
            f" (got {len(parts)})"
        )
    if parts[0] != "secret-token" or parts[1] != "conductorone.com":
        raise C1ConfigError("C1 client secret must start with 'secret-token:conductorone.com:'")
    if parts[2] != "v1":
        raise C1ConfigError("C1 client secret has an unknown version (the third part must be 'v1')")
    try:
        jwk = json.loads(b64url_decode(parts[3]))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise C1ConfigError("C1 client secret's key part is not base64url-encoded JSON (a JWK)") from None
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise C1ConfigError('C1 client secret\'s key is not an Ed25519 JWK ({"kty":"OKP","crv":"Ed25519"})')
    if not isinstance(jwk.get("d"), str):
        raise C1ConfigError("C1 client secret's key is a public key (no 'd'); a private key is needed")
    try:
        key = Ed25519PrivateKey.from_private_bytes(b64url_decode(jwk["d"]))
    except (binascii.Error, ValueError):
        raise C1ConfigError("C1 client secret's private key 'd' is not 32 base64url bytes") from None
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    if "x" in jwk and b64url_decode(str(jwk["x"])) != public:
        raise C1ConfigError("C1 client secret's key is inconsistent: public 'x' does not match private 'd'")
    return key


@dataclass(frozen=True)
class ClientCredentials:
    """The client id and its signing key. `repr` never shows the key."""

    client_id: ClientId
    key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def parse(cls, client_id: str, client_secret: str) -> ClientCredentials:
        return cls(parse_client_id(client_id), parse_client_secret(client_secret))

    def assertion(self, *, now: float | None = None, nonce: str | None = None) -> str:
        """A fresh client-assertion JWS (compact form); a new random nonce each call."""
        issued = int(time.time() if now is None else now)
        header = {"alg": "EdDSA", "nonce": nonce or secrets.token_hex(16)}
        claims = {
            "iss": self.client_id.value,
            "sub": self.client_id.value,
            "aud": self.client_id.audience,
            "exp": issued + ASSERTION_LIFETIME_S,
            "nbf": issued - ASSERTION_LIFETIME_S,
            "iat": issued,
        }
        signing_input = ".".join(
            b64url_encode(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        return f"{signing_input}.{b64url_encode(self.key.sign(signing_input.encode()))}"
