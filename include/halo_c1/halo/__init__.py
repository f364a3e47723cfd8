"""HaloITSM side of halo-c1: settings, OAuth2 auth, the HTTP client (throttle, retry, paging), extraction."""

from include.halo_c1.halo.auth import HaloAuth
from include.halo_c1.halo.client import ClientStats, HaloClient, RequestLog, RollingWindowThrottle
from include.halo_c1.halo.errors import (
    HaloAuthError,
    HaloConfigError,
    HaloError,
    HaloPagingError,
    HaloResponseError,
    HaloRetriesExhausted,
    HaloSnapshotExistsError,
    HaloUnreachableError,
)
from include.halo_c1.halo.extract import extract_snapshot
from include.halo_c1.halo.paging import Envelope, HaloPagePaginator, Page, normalize_id, parse_envelope
from include.halo_c1.halo.settings import HaloSettings

__all__ = [
    "ClientStats",
    "Envelope",
    "HaloAuth",
    "HaloAuthError",
    "HaloClient",
    "HaloConfigError",
    "HaloError",
    "HaloPagePaginator",
    "HaloPagingError",
    "HaloResponseError",
    "HaloRetriesExhausted",
    "HaloSettings",
    "HaloSnapshotExistsError",
    "HaloUnreachableError",
    "Page",
    "RequestLog",
    "RollingWindowThrottle",
    "extract_snapshot",
    "normalize_id",
    "parse_envelope",
]
