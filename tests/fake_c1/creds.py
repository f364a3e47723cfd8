"""Test C1 credentials: a fresh Ed25519 key as a C1 client id and secret, plus a distinctive marker."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class TestCredentials:
    client_id: str
    client_secret: str
    public_key: Ed25519PublicKey

    @property
    def jwk_d(self) -> str:
        """The private key as it appears inside the secret: the distinctive string a leak grep looks for."""
        return json.loads(base64.urlsafe_b64decode(self.client_secret.split(":", 3)[3] + "==="))["d"]


def make_credentials(host: str = "127.0.0.1", name: str | None = None) -> TestCredentials:
    key = Ed25519PrivateKey.generate()
    d = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    x = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64(x), "d": _b64(d)}
    secret = "secret-token:conductorone.com:v1:" + _b64(json.dumps(jwk, separators=(",", ":")).encode())
    client_id = f"{name or 'halo-test-' + secrets.token_hex(3)}@{host}/pcc"
    return TestCredentials(client_id=client_id, client_secret=secret, public_key=key.public_key())
