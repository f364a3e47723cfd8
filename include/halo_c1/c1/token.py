"""The C1 access token: client-credentials with a signed assertion, cached until 10 s before expiry.

There is no refresh token; each renewal signs a new assertion (spec §1.5-1.6). `invalidate()`
drops the cached token, so a caller that got UNAUTHENTICATED can renew once and retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx

from halo_c1.c1.errors import (
    CERTIFICATE_HINT,
    C1AuthError,
    C1CertificateError,
    C1UnavailableError,
    certificate_problem,
)
from halo_c1.c1.settings import ServiceSettings
from halo_c1.c1.version import USER_AGENT_PRODUCT

log = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RENEW_BEFORE_S = 10
TIMEOUT_S = 30


class TokenSource:
    """Thread-safe cache of one bearer token for C1."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._transport = transport
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.fetches = 0

    def __repr__(self) -> str:
        return f"TokenSource({self._settings.token_url!r})"

    def token(self) -> str:
        """A valid access token, renewed when fewer than 10 s remain."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - RENEW_BEFORE_S:
                self._token, self._expires_at = self._fetch()
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self) -> tuple[str, float]:
        settings = self._settings
        form = {
            "client_id": settings.client_id,
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": settings.credentials.assertion(now=self._clock()),
        }
        try:
            with httpx.Client(
                verify=settings.ssl_context(),
                transport=self._transport,
                timeout=TIMEOUT_S,
                headers={"User-Agent": USER_AGENT_PRODUCT},
            ) as http:
                response = http.post(settings.token_url, data=form)
        except httpx.TransportError as exc:
            if (problem := certificate_problem(exc)) is not None:
                raise C1CertificateError(
                    f"C1 token endpoint {settings.token_url}: TLS certificate not accepted ({problem}); "
                    f"{CERTIFICATE_HINT}"
                ) from None
            raise C1UnavailableError(
                f"C1 token endpoint {settings.token_url} unreachable: {type(exc).__name__}"
            ) from None
        self.fetches += 1
        if response.status_code != 200:
            raise C1AuthError(
                f"C1 token endpoint {settings.token_url} refused client {settings.client_id}: "
                f"HTTP {response.status_code}; check the client id and secret (C1: Connectors → Settings → Rotate)"
            )
        try:
            body = response.json()
            token = body["access_token"]
            expires_in = float(body.get("expires_in") or 0)
        except (ValueError, KeyError, TypeError):
            raise C1AuthError(
                f"C1 token endpoint {settings.token_url} answered without an access_token"
            ) from None
        if not isinstance(token, str) or not token:
            raise C1AuthError(f"C1 token endpoint {settings.token_url} answered an empty access_token")
        log.info("Got a C1 access token for %s (expires in %d s)", settings.client_id, expires_in)
        return token, self._clock() + expires_in
