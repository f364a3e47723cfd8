"""HaloITSM side of halo-c1: settings, OAuth2 auth, the HTTP client (throttle, retry, paging), extraction."""

from halo_c1.halo.auth import HaloAuth
from halo_c1.halo.budget import RedisRollingWindow, SqliteRollingWindow, shared_throttle
from halo_c1.halo.client import ClientStats, HaloClient, RequestLog
from halo_c1.halo.errors import (
    HaloAuthError,
    HaloConfigError,
    HaloError,
    HaloPagingError,
    HaloResponseError,
    HaloRetriesExhausted,
    HaloSnapshotExistsError,
    HaloUnreachableError,
)
from halo_c1.halo.extract import extract_snapshot
from halo_c1.halo.paging import Envelope, HaloPagePaginator, Page, normalize_id, parse_envelope
from halo_c1.halo.settings import HaloSettings

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
    "RedisRollingWindow",
    "RequestLog",
    "SqliteRollingWindow",
    "extract_snapshot",
    "normalize_id",
    "parse_envelope",
    "shared_throttle",
]
