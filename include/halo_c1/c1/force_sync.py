"""Ask C1 to sync now: REST `POST /api/v1/apps/{app_id}/connectors/{connector_id}/force_sync`.

C1 answers by queueing a sync_full task for the connector ("puts the sync on the queue; does not
guarantee immediate sync", spec c1z-and-c1.md §B2). The bearer token comes from the same
client-credentials flow as the gRPC side; the REST base is the token URL's origin (the tenant host).
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlsplit

import httpx

from halo_c1.c1.errors import (
    CERTIFICATE_HINT,
    C1AuthError,
    C1CertificateError,
    C1ConfigError,
    C1Error,
    C1UnavailableError,
    certificate_problem,
)
from halo_c1.c1.settings import ServiceSettings
from halo_c1.c1.token import TIMEOUT_S, TokenSource
from halo_c1.c1.version import USER_AGENT_PRODUCT

log = logging.getLogger(__name__)


def force_sync_url(settings: ServiceSettings) -> str:
    if not settings.app_id or not settings.connector_id:
        raise C1ConfigError("force_sync needs both app_id and connector_id in the conductorone_default extra")
    origin = urlsplit(settings.token_url)
    return (
        f"{origin.scheme}://{origin.netloc}/api/v1/apps/{quote(settings.app_id, safe='')}"
        f"/connectors/{quote(settings.connector_id, safe='')}/force_sync"
    )


def force_sync(settings: ServiceSettings, tokens: TokenSource | None = None) -> None:
    """Queue a sync of the connector in C1; raises `C1Error` if C1 does not accept the request."""
    url = force_sync_url(settings)
    tokens = tokens or TokenSource(settings)
    try:
        with httpx.Client(
            verify=settings.ssl_context(), timeout=TIMEOUT_S, headers={"User-Agent": USER_AGENT_PRODUCT}
        ) as http:
            response = http.post(url, json={}, headers={"Authorization": f"Bearer {tokens.token()}"})
    except httpx.TransportError as exc:
        if (problem := certificate_problem(exc)) is not None:
            raise C1CertificateError(
                f"C1 force_sync {url}: TLS certificate not accepted ({problem}); {CERTIFICATE_HINT}"
            ) from None
        raise C1UnavailableError(f"C1 force_sync {url} unreachable: {type(exc).__name__}") from None
    if response.status_code in (401, 403):
        raise C1AuthError(f"C1 force_sync {url} refused: HTTP {response.status_code}")
    if response.status_code >= 500:
        raise C1UnavailableError(f"C1 force_sync {url} failed: HTTP {response.status_code}")
    if response.status_code != 200:
        raise C1Error(f"C1 force_sync {url} failed: HTTP {response.status_code}")
    log.info("Asked C1 to sync connector %s of app %s now", settings.connector_id, settings.app_id)
