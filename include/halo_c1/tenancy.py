"""One lake per HaloITSM tenant: each tenant's data under its own prefix, and no lake shared by two.

The lake base URL (variable `halo_c1_lake_url`) holds one folder per tenant, `tenant=<key>/`, and the
raw, curated, reports, c1z and deliveries zones live inside it, so the guard's baseline and the
delivery record are the tenant's own. The connection extra `lake_prefix` replaces the folder name
(e.g. `acme-prod`, or `halo/acme`).

The tenant is the connection's host and its `tenant` extra, in a canonical form, so that one tenant
is one folder however its URL is spelled: the host in lower case, without trailing dots, in its
IDNA (ASCII) form, with the port only when it is not 80 or 443 (`https://ACME.haloitsm.com.:443/`
is `acme.haloitsm.com`); the `tenant` extra trimmed and in lower case. The folder name is a readable
slug of that plus the first 12 hex digits of the SHA-256 of the canonical form
(`tenant=acme.haloitsm.com-acme-6305db270a7a`), so two tenants whose slugs look alike (`x y` and
`x_y`, or host `a.com_8080` and `a.com:8080`) never share a folder. A folder named by the scheme
before this one (`tenant=acme.haloitsm.com-acme`) is found and kept in use when its record names the
same tenant, so upgrading moves nothing.

The first run in a folder records the tenant in `<folder>/_tenant.json`; a run whose connection names
another tenant is refused (`TenantMismatchError`) before it reads or writes anything there.

Tenant folders never nest: a folder inside another tenant's folder (e.g. `lake_prefix` =
`tenant=acme.haloitsm.com/reports`) would have its snapshots, c1z and delivery records deleted by
that tenant's retention. A folder below another tenant's folder (or below a lake base that is one) is
refused on every run; a folder that holds another tenant's `_tenant.json` below it is refused when it
is claimed, and retention refuses to run in it (`refuse_nested_tenants`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from upath import UPath

from halo_c1.errors import PermanentError
from halo_c1.lake import Lake, read_json, write_json

log = logging.getLogger(__name__)

TENANT_RECORD = "_tenant.json"
DEFAULT_PORTS = (80, 443)  # HaloITSM is served on the web ports; naming one changes nothing
HASH_DIGITS = 12
MAX_SLUG = 80
_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_PREFIX = re.compile(r"^[A-Za-z0-9._=-]+(/[A-Za-z0-9._=-]+)*$")


class TenantMismatchError(PermanentError):
    """The lake folder belongs to another HaloITSM tenant than the connection's."""


def canonical_host(host: str, port: int | None = None) -> str:
    """`host[:port]` in one spelling: lower case, no trailing dot, ASCII (IDNA), no port 80/443."""
    name = host.strip().rstrip(".").lower()
    with contextlib.suppress(UnicodeError):  # not an IDNA name (an IPv6 literal): kept, lower case
        name = name.encode("idna").decode("ascii")
    if ":" in name:  # an IPv6 literal
        name = f"[{name}]"
    return name + (f":{port}" if port and port not in DEFAULT_PORTS else "")


def _split_recorded(host: str) -> tuple[str, int | None]:
    """A recorded `host[:port]` (or `[v6]:port`) as host and port."""
    parts = urlsplit(f"//{host}")
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname or host, port


class NestedTenantError(TenantMismatchError):
    """The lake folder lies inside another tenant's folder, or holds one."""


@dataclass(frozen=True)
class TenantIdentity:
    """Which HaloITSM tenant a connection reaches: the canonical API host (and port) and the `tenant`
    extra. `spelled` is the host as configured (before canonicalisation): only used to find a folder
    named by the earlier scheme."""

    host: str
    tenant: str | None = None
    spelled: str | None = field(default=None, compare=False)

    @classmethod
    def from_connection(cls, base_url: str, tenant: str | None) -> TenantIdentity:
        parts = urlsplit(base_url if "://" in base_url else f"https://{base_url}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"the base URL {base_url!r} names an invalid port") from None
        if not parts.hostname or not parts.hostname.strip("."):
            raise ValueError(f"cannot tell the HaloITSM tenant from the base URL {base_url!r}")
        spelled = parts.hostname.lower() + (f":{port}" if port else "")
        return cls(
            host=canonical_host(parts.hostname, port),
            tenant=(tenant or "").strip().lower() or None,
            spelled=spelled,
        )

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TenantIdentity:
        """The identity a `_tenant.json` (or a delivery's writer record) names, canonicalised: a
        record written before canonical hosts (`acme.haloitsm.com:443`) names the same tenant."""
        host, port = _split_recorded(str(record["host"]))
        return cls(
            host=canonical_host(host, port),
            tenant=(record.get("tenant") or "").strip().lower() or None,
            spelled=str(record["host"]),
        )

    @property
    def canonical(self) -> str:
        """The identity as one string; what the folder's hash is taken of."""
        return json.dumps([self.host, self.tenant], separators=(",", ":"))

    @property
    def key(self) -> str:
        """The default folder name (after `tenant=`): a readable slug and a hash of the canonical form."""
        digest = hashlib.sha256(self.canonical.encode()).hexdigest()[:HASH_DIGITS]
        return f"{_slug(self.host, self.tenant)[:MAX_SLUG]}-{digest}"

    def legacy_keys(self) -> list[str]:
        """Folder names the earlier scheme gave this tenant (as spelled, and canonically)."""
        hosts = [self.host.replace("[", "").replace("]", "")]
        if self.spelled and self.spelled not in hosts:
            hosts.append(self.spelled)
        return [_slug(host, self.tenant) for host in hosts]

    def describe(self) -> str:
        return self.host + (f" (tenant {self.tenant!r})" if self.tenant else "")

    def as_record(self) -> dict[str, Any]:
        return {"host": self.host, "tenant": self.tenant, "key": self.key}


def _slug(host: str, tenant: str | None) -> str:
    """host[_port][-tenant] in characters every object store accepts (the earlier folder scheme)."""
    key = _UNSAFE.sub("_", host.replace(":", "_"))
    return f"{key}-{_UNSAFE.sub('_', tenant)}" if tenant else key


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
    """The tenant's folder name under the lake base URL for a new lake (see `resolve_folder`)."""
    return validate_prefix(prefix) if prefix else f"tenant={identity.key}"


def _recorded_owner(record_path: UPath) -> TenantIdentity | None:
    """The tenant a folder's `_tenant.json` names; None when it names none."""
    recorded = read_json(record_path)
    if not isinstance(recorded, dict) or "host" not in recorded:
        return None
    return TenantIdentity.from_record(recorded)


def resolve_folder(base: UPath, identity: TenantIdentity, prefix: str | None = None) -> str:
    """The tenant's folder under `base`: `tenant_folder`, unless only a folder named by the earlier
    scheme exists for this same tenant (its `_tenant.json` says so), which then stays in use."""
    folder = tenant_folder(identity, prefix)
    if prefix or (base / folder / TENANT_RECORD).exists():
        return folder
    for legacy in identity.legacy_keys():
        record_path = base / f"tenant={legacy}" / TENANT_RECORD
        if record_path.exists() and _recorded_owner(record_path) == identity:
            log.info(
                "Using the existing lake folder tenant=%s of HaloITSM tenant %s (named before folder "
                "names carried a hash; new tenants get names like %s)",
                legacy,
                identity.describe(),
                folder,
            )
            return f"tenant={legacy}"
    return folder


def lake_tenant(lake: Lake) -> TenantIdentity | None:
    """The tenant that claimed this lake folder; None for a lake without `_tenant.json`."""
    record_path = lake.base / TENANT_RECORD
    return _recorded_owner(record_path) if record_path.exists() else None


def _owner(record_path: UPath) -> str:
    """Who a `_tenant.json` names, for messages (never fails: the record may be anything)."""
    try:
        owner = _recorded_owner(record_path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # still another tenant's folder
        owner = None
    return owner.describe() if owner else "an unreadable record"


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
    folder = resolve_folder(base, identity, prefix)
    _refuse_enclosing_tenant(base, folder)
    lake = Lake(base / folder)
    record_path = lake.base / TENANT_RECORD
    if record_path.exists():
        owner = _recorded_owner(record_path)
        if owner is None:
            raise TenantMismatchError(
                f"{record_path} does not name a HaloITSM tenant; fix or remove it (it should hold "
                f"{identity.as_record()} if this folder is this connection's tenant)"
            )
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
