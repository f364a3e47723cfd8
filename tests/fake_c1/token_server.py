"""The fake C1's HTTPS side: `POST /auth/v1/token` (client-assertion checks) and REST `force_sync`.

The token endpoint verifies what C1 would (spec §5.1): form fields, EdDSA signature with the
client's public key, iss = sub = client_id, aud = host without port, nbf ≤ now ≤ exp, a lifetime
of at most 5 minutes, and a nonce (header or claims) never seen before. Every request is recorded
with its verdict.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME_S = 300


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class TokenRecord:
    path: str
    status: int
    reason: str
    form: dict[str, str] = field(default_factory=dict)
    user_agent: str = ""


@dataclass
class TokenState:
    """What the endpoint knows and its switches; tests flip the switches."""

    client_id: str
    public_key: Ed25519PublicKey
    audience: str
    expires_in: int = 3600
    fail_status: int | None = None  # answer this status to every token request
    empty_token: bool = False
    reject_bearer: bool = False  # every RPC answers UNAUTHENTICATED, even with a fresh token
    records: list[TokenRecord] = field(default_factory=list)
    seen_nonces: set[str] = field(default_factory=set)
    issued: dict[str, float] = field(default_factory=dict)  # token -> expiry (server clock)
    tokens_issued: list[str] = field(default_factory=list)  # every token ever handed out
    force_syncs: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def token_valid(self, token: str) -> bool:
        if self.reject_bearer:
            return False
        with self.lock:
            expiry = self.issued.get(token)
        return expiry is not None and time.time() < expiry

    def expire_tokens(self) -> None:
        """Server-side expiry of every issued token (the next RPC gets UNAUTHENTICATED)."""
        with self.lock:
            self.issued.clear()

    def verify_assertion(self, form: dict[str, str]) -> str | None:
        """None if the assertion is good, else why it is not."""
        if form.get("grant_type") != "client_credentials":
            return "grant_type"
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return "client_assertion_type"
        if form.get("client_id") != self.client_id:
            return "client_id"
        try:
            header_b64, claims_b64, signature_b64 = form["client_assertion"].split(".")
            header = json.loads(_b64decode(header_b64))
            claims = json.loads(_b64decode(claims_b64))
            signature = _b64decode(signature_b64)
        except (KeyError, ValueError):
            return "malformed assertion"
        if header.get("alg") != "EdDSA":
            return "alg"
        try:
            self.public_key.verify(signature, f"{header_b64}.{claims_b64}".encode())
        except InvalidSignature:
            return "signature"
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            return "iss/sub"
        audience = claims.get("aud")
        if (audience if isinstance(audience, list) else [audience]) != [self.audience]:
            return "aud"
        now = time.time()
        try:
            nbf, exp, iat = int(claims["nbf"]), int(claims["exp"]), int(claims["iat"])
        except (KeyError, TypeError, ValueError):
            return "time claims"
        if not nbf <= now <= exp:
            return "expired or not yet valid (nbf/exp)"
        if exp - iat > MAX_LIFETIME_S:
            return "lifetime too long"
        nonce = header.get("nonce") or claims.get("nonce")
        if not nonce:
            return "nonce missing"
        with self.lock:
            if nonce in self.seen_nonces:
                return "nonce replayed"
            self.seen_nonces.add(nonce)
        return None


def _handler(state: TokenState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:  # keep the test output quiet
            return

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            if self.path == "/auth/v1/token":
                self._token(body)
            elif self.path.startswith("/api/v1/apps/") and self.path.endswith("/force_sync"):
                self._force_sync()
            else:
                self._reply(404, {"error": "not found"})

        def _token(self, body: str) -> None:
            form = {key: values[0] for key, values in parse_qs(body).items()}
            reason = "switch: fail_status" if state.fail_status else state.verify_assertion(form)
            status = state.fail_status or (401 if reason else 200)
            state.records.append(
                TokenRecord(self.path, status, reason or "ok", form, self.headers.get("User-Agent", ""))
            )
            if status != 200:
                self._reply(status, {"error": "invalid_client"})
                return
            token = "" if state.empty_token else f"fake-c1-token-{secrets.token_hex(12)}"
            with state.lock:
                state.issued[token] = time.time() + state.expires_in
                state.tokens_issued.append(token)
            self._reply(200, {"access_token": token, "token_type": "bearer", "expires_in": state.expires_in})

        def _force_sync(self) -> None:
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if not state.token_valid(token):
                self._reply(401, {"error": "unauthenticated"})
                return
            parts = self.path.split("/")  # /api/v1/apps/{app}/connectors/{connector}/force_sync
            state.force_syncs.append({"app_id": parts[4], "connector_id": parts[6]})
            self._reply(200, {})

    return Handler


class TokenServer:
    """HTTPS on 127.0.0.1, a free port, in a thread."""

    def __init__(self, state: TokenState, cert_file: str, key_file: str) -> None:
        self.state = state
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
