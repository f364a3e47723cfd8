"""OAuth2 client credentials for HaloITSM as an `httpx.Auth` flow.

The token request is yielded from the flow, so it goes through the client's own transport: the
throttle counts it, the request log records it, and tests see it on the MockTransport or simulator.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx
from pydantic import SecretStr

from halo_c1.halo.errors import HaloAuthError, HaloTokenResponseError, truncate
from halo_c1.halo.settings import HaloSettings
from halo_c1.redact import scrub

log = logging.getLogger("halo_c1.halo")

DEFAULT_EXPIRES_IN_S = 3600.0


class HaloAuth(httpx.Auth):
    """Fetches a bearer token when it has none or it is about to expire, and once more on a 401.

    A token endpoint answering 429 or 5xx is not an auth failure: the flow hands that response back,
    so the client's retry layer treats it like any other transient answer.

    >>> auth = HaloAuth.from_settings(settings)          # doctest: +SKIP
    >>> httpx.Client(base_url=settings.base_url, auth=auth)  # doctest: +SKIP
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        scope: str = "all",
        *,
        refresh_margin_s: float = 60.0,
        timeout: httpx.Timeout | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope
        self.refresh_margin_s = refresh_margin_s
        # A request made inside an auth flow does not inherit the client's timeout: without its own,
        # a token endpoint that never answers would hold the task forever.
        self.timeout = timeout or httpx.Timeout(30.0, connect=10.0)
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0

    @classmethod
    def from_settings(
        cls, settings: HaloSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> HaloAuth:
        return cls(
            settings.effective_token_url,
            settings.client_id,
            settings.client_secret,
            settings.scope,
            refresh_margin_s=settings.token_refresh_margin_s,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"HaloAuth(token_url={self.token_url!r}, client_id={self.client_id!r}, client_secret='***')"

    @property
    def current_token(self) -> str | None:
        """The bearer token in use (for redaction only; never log it)."""
        return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        needs_token = self._token is None or self._clock() >= self._refresh_at
        if needs_token and not self._accept_token_response((yield self.build_token_request())):
            return
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code != 401:
            return
        log.info(
            "HaloITSM answered 401 to %s %s; fetching a new token once", request.method, request.url.path
        )
        self._token = None
        if not self._accept_token_response((yield self.build_token_request())):
            return
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def build_token_request(self) -> httpx.Request:
        """The form-encoded client-credentials request (the secret travels in the body only)."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret.get_secret_value(),
            "scope": self.scope,
        }
        return httpx.Request(
            "POST",
            self.token_url,
            data=form,
            headers={"Accept": "application/json"},
            extensions={"timeout": self.timeout.as_dict()},
        )

    def _accept_token_response(self, response: httpx.Response) -> bool:
        """Store the token; False hands a transient answer back; a refusal raises `HaloAuthError`.

        A 200 without a usable token raises `HaloTokenResponseError`, which the client retries.
        """
        if response.status_code == 429 or response.status_code >= 500:
            return False
        payload = self._json_or_none(response)
        if response.status_code != 200:
            raise HaloAuthError(
                f"HaloITSM token endpoint {self.token_url} refused client {self.client_id!r} "
                f"(HTTP {response.status_code}): "
                + scrub(self.describe_error(payload, response), [self._client_secret.get_secret_value()])
            )
        if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
            raise HaloTokenResponseError(
                f"HaloITSM token endpoint {self.token_url} answered HTTP 200 without an access_token "
                f"(content-type {response.headers.get('content-type', 'none')!r})"
            )
        self._token = payload["access_token"]
        lifetime = self.parse_expires_in(payload.get("expires_in"))
        self._refresh_at = self._clock() + lifetime - min(self.refresh_margin_s, lifetime * 0.2)
        log.info("HaloITSM token obtained from %s (expires in %.0f s)", self.token_url, lifetime)
        return True

    @staticmethod
    def parse_expires_in(value: Any) -> float:
        """Seconds the token lives; Halo sends 3600, and anything unusable falls back to that."""
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            return DEFAULT_EXPIRES_IN_S
        return seconds if seconds > 0 else DEFAULT_EXPIRES_IN_S

    @staticmethod
    def describe_error(payload: Any, response: httpx.Response) -> str:
        """Halo's OAuth error (`error`, `error_description`) or the start of the body."""
        if isinstance(payload, dict) and payload.get("error"):
            detail = payload.get("error_description")
            return f"{payload['error']}: {detail}" if detail else str(payload["error"])
        return truncate(response.text) or "(empty body)"

    @staticmethod
    def _json_or_none(response: httpx.Response) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
