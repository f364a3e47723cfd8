"""One lake per HaloITSM tenant: each tenant's data under its own prefix, and no lake shared by two.

The lake base URL (variable `halo_c1_lake_url`) holds one folder per tenant, `tenant=<key>/`, and the
raw, curated, reports, c1z and deliveries zones live inside it, so the guard's baseline and the
delivery record are the tenant's own. The key comes from the connection: its host (with the port when
the URL names one) and its `tenant` extra, e.g. `tenant=acme.haloitsm.com-acme`. The connection extra
`lake_prefix` replaces the folder name (e.g. `acme-prod`, or `halo/acme`).

The first run in a folder records the tenant in `<folder>/_tenant.json`; a run whose connection names
another tenant is refused (`TenantMismatchError`) before it reads or writes anything there.

Tenant folders never nest: a folder inside another tenant's folder (e.g. `lake_prefix` =
`tenant=acme.haloitsm.com/reports`) would have its snapshots, c1z and delivery records deleted by
that tenant's retention. A folder below another tenant's folder (or below a lake base that is one) is
refused on every run; a folder that holds another tenant's `_tenant.json` below it is refused when it
is claimed, and retention refuses to run in it (`refuse_nested_tenants`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from upath import UPath

from halo_c1.errors import PermanentError
from halo_c1.lake import Lake, read_json, write_json

log = logging.getLogger(__name__)

TENANT_RECORD = "_tenant.json"
_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_PREFIX = re.compile(r"^[A-Za-z0-9._=-]+(/[A-Za-z0-9._=-]+)*$")


class TenantMismatchError(PermanentError):
    """The lake folder belongs to another HaloITSM tenant than the connection's."""


class NestedTenantError(TenantMismatchError):
    """The lake folder lies inside another tenant's folder, or holds one."""


@dataclass(frozen=True)
class TenantIdentity:
    """Which HaloITSM tenant a connection reaches: the API host (and port) and the `tenant` extra."""

    host: str
    tenant: str | None = None

    @classmethod
    def from_connection(cls, base_url: str, tenant: str | None) -> TenantIdentity:
        parts = urlsplit(base_url if "://" in base_url else f"https://{base_url}")
        if not parts.hostname:
            raise ValueError(f"cannot tell the HaloITSM tenant from the base URL {base_url!r}")
        host = parts.hostname.lower() + (f":{parts.port}" if parts.port else "")
        return cls(host=host, tenant=(tenant or "").strip().lower() or None)

    @property
    def key(self) -> str:
        """The default folder name: host[_port][-tenant], in characters every object store accepts."""
        key = _UNSAFE.sub("_", self.host.replace(":", "_"))
        return f"{key}-{_UNSAFE.sub('_', self.tenant)}" if self.tenant else key

    def describe(self) -> str:
        return self.host + (f" (tenant {self.tenant!r})" if self.tenant else "")

    def as_record(self) -> dict[str, Any]:
        return {"host": self.host, "tenant": self.tenant}


def validate_prefix(prefix: str) -> str:
    """A `lake_prefix` override: relative folder names only, so it can never leave the lake."""
    prefix = prefix.strip().rstrip("/")
    if not _PREFIX.match(prefix) or any(part in (".", "..") for part in prefix.split("/")):
        raise ValueError(
            f"lake_prefix {prefix!r} must be a relative folder like 'acme' or 'halo/acme' "
            "(letters, digits, '.', '_', '-', '='; no '..')"
        )
    return prefix


def tenant_folder(identity: TenantIdentity, prefix: str | None = None) -> str:
    """The tenant's folder under the lake base URL."""
    return validate_prefix(prefix) if prefix else f"tenant={identity.key}"


def _owner(record_path: UPath) -> str:
    """Who a `_tenant.json` names, for messages (never fails: the record may be anything)."""
    try:
        recorded = read_json(record_path)
        return TenantIdentity(str(recorded["host"]), recorded.get("tenant")).describe()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # still another tenant's folder
        return "an unreadable record"


def _nested_tenant_records(folder: UPath) -> list[UPath]:
    """Every other tenant's `_tenant.json` below `folder` (its own record excluded): one listing."""
    folder.fs.invalidate_cache(folder.path)  # object-store listings are cached per process
    if not folder.exists():
        return []
    own = f"{folder.path.rstrip('/')}/{TENANT_RECORD}"
    found = folder.fs.find(folder.path)
    return [
        folder / name[len(folder.path.rstrip("/")) + 1 :]
        for name in sorted(found)
        if name.endswith(f"/{TENANT_RECORD}") and name != own
    ]


def refuse_nested_tenants(folder: UPath) -> None:
    """Raise `NestedTenantError` if another tenant's folder lies below `folder`."""
    if nested := _nested_tenant_records(folder):
        raise NestedTenantError(
            f"the lake folder {folder} holds another HaloITSM tenant's folder "
            f"({', '.join(f'{p.parent} of {_owner(p)}' for p in nested)}): its retention would delete that "
            "tenant's snapshots, c1z and delivery records. Give each tenant a folder of its own, side by "
            "side (connection extra 'lake_prefix', e.g. 'acme' and 'globex', never 'acme' and 'acme/globex')"
        )


def _refuse_enclosing_tenant(base: UPath, folder: str) -> None:
    """Raise `NestedTenantError` if the lake base or a folder between it and `folder` is a tenant's."""
    parts = folder.split("/")
    for depth in range(len(parts)):
        enclosing = base.joinpath(*parts[:depth]) if depth else base
        record = enclosing / TENANT_RECORD
        if record.exists():
            raise NestedTenantError(
                f"the lake folder {base / folder} lies inside {enclosing}, the folder of HaloITSM tenant "
                f"{_owner(record)}: that tenant's retention would delete this tenant's snapshots, c1z and "
                "delivery records. Point the connection's extra 'lake_prefix' at a folder beside it, "
                "not inside it"
            )


def tenant_lake(base: UPath, identity: TenantIdentity, prefix: str | None = None) -> Lake:
    """The tenant's own lake under `base`: claimed on first use, refused if another tenant claimed it
    or if it would nest inside (or, when claimed, around) another tenant's folder."""
    folder = tenant_folder(identity, prefix)
    _refuse_enclosing_tenant(base, folder)
    lake = Lake(base / folder)
    record_path = lake.base / TENANT_RECORD
    if record_path.exists():
        recorded = read_json(record_path)
        if not isinstance(recorded, dict) or "host" not in recorded:
            raise TenantMismatchError(
                f"{record_path} does not name a HaloITSM tenant; fix or remove it (it should hold "
                f"{identity.as_record()} if this folder is this connection's tenant)"
            )
        owner = TenantIdentity(recorded["host"], recorded.get("tenant"))
        if owner != identity:
            raise TenantMismatchError(
                f"the lake folder {lake.base} belongs to HaloITSM tenant {owner.describe()}, but the "
                f"connection reaches {identity.describe()}: one lake never mixes tenants, or the deletion "
                f"guard would compare one tenant with another's data. Point the connection's extra "
                f"'lake_prefix' at another folder; if it really is the same tenant under a new URL, "
                f"replace {record_path.name} with {identity.as_record()}"
            )
        return lake
    refuse_nested_tenants(lake.base)
    if (base / "deliveries" / "latest.json").exists():
        log.warning(
            "The lake base %s holds deliveries from before per-tenant folders; this tenant starts fresh in "
            "%s. To keep its history and the guard's baseline, move raw/, curated/, reports/, c1z/ and "
            "deliveries/ into that folder.",
            base,
            lake.base,
        )
    write_json(record_path, {**identity.as_record(), "claimed_at": datetime.now(UTC).isoformat()})
    log.info("Lake folder %s now belongs to HaloITSM tenant %s", lake.base, identity.describe())
    return lake
