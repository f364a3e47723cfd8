"""HaloITSM client settings, validated once, with the client secret kept out of every repr and error."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from halo_c1.halo.errors import HaloConfigError

log = logging.getLogger("halo_c1.halo")

# Where each setting comes from in the Airflow connection (ARCHITECTURE.md §4).
_CONNECTION_FIELD = {"base_url": "host", "client_id": "login", "client_secret": "password"}
EXTRA_KEYS = frozenset(
    {
        "tenant",
        "token_url",
        "scope",
        "page_size",
        "rate_limit_requests",
        "rate_limit_period_s",
        "include_end_users",
        "end_user_refresh_hours",
        "rate_limit_store",
        "lake_prefix",
        "allow_insecure_http",
    }
)


def is_loopback(host: str | None) -> bool:
    """True for localhost and loopback addresses (the simulator), where plain http stays on the machine."""
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _http_url(value: str, field: str) -> str:
    value = value.strip()
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{field} must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise ValueError(f"{field} must not carry credentials")
    return value


class HaloSettings(BaseModel):
    """Everything the client needs to talk to one HaloITSM tenant.

    >>> s = HaloSettings(base_url="https://acme.haloitsm.com", client_id="id", client_secret="s")
    >>> s.effective_token_url
    'https://acme.haloitsm.com/auth/token'
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    base_url: str = Field(
        description="Tenant URL, e.g. https://acme.haloitsm.com (a trailing /api is dropped)"
    )
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    tenant: str | None = None
    token_url: str | None = Field(default=None, description="Full token URL; default <base_url>/auth/token")
    scope: str = Field(default="all", min_length=1)
    page_size: int = Field(default=100, ge=1, le=10_000)
    rate_limit_requests: int = Field(default=300, ge=1)
    rate_limit_period_s: float = Field(default=300.0, gt=0)
    include_end_users: bool = True
    end_user_refresh_hours: float = Field(
        default=0.0,
        ge=0,
        description="0: every run reads end users (small tenants). N > 0: the end-user refresh reads them "
        "when the newest end-user extraction would be N hours old before the next one lands, and the "
        "hourly runs reuse that extraction (docs/freshness.md)",
    )
    rate_limit_store: SecretStr | None = Field(
        default=None,
        description="Where the tenant's request budget is shared: a redis:// URL (every host), an absolute "
        "folder (a SQLite file per tenant), or unset: HALO_C1_RATE_LIMIT_DIR / the temp dir (this host)",
    )
    lake_prefix: str | None = Field(
        default=None, description="This tenant's folder in the lake; default tenant=<host>[-<tenant>]"
    )
    allow_insecure_http: bool = Field(
        default=False,
        description="Accept http:// base and token URLs on non-loopback hosts (the client secret then "
        "travels unencrypted); logged as a warning on every use",
    )
    timeout_s: float = Field(default=30.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_retries: int = Field(default=5, ge=0)
    backoff_base_s: float = Field(default=1.0, ge=0, description="First backoff after a 5xx/timeout/drop")
    max_backoff_s: float = Field(default=60.0, ge=0)
    rate_limit_fallback_wait_s: float = Field(
        default=60.0,
        ge=0,
        description="Wait after a 429 without Retry-After; doubles on each further 429, capped at the period",
    )
    max_listing_restarts: int = Field(default=2, ge=0, description="Re-reads of an inconsistent listing")
    token_refresh_margin_s: float = Field(default=60.0, ge=0)

    @field_validator("base_url")
    @classmethod
    def _normalise_base_url(cls, value: str) -> str:
        value = _http_url(value, "base_url").rstrip("/")
        return value.removesuffix("/api") if value.lower().endswith("/api") else value

    @field_validator("token_url")
    @classmethod
    def _check_token_url(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else _http_url(value, "token_url")

    @model_validator(mode="after")
    def _refuse_cleartext(self) -> HaloSettings:
        """Plain http sends the client secret and every identity unencrypted: loopback only, or opted in."""
        for field, url in (("base_url", self.base_url), ("token_url", self.effective_token_url)):
            parts = urlsplit(url)
            if parts.scheme != "http" or is_loopback(parts.hostname):
                continue
            if not self.allow_insecure_http:
                raise ValueError(
                    f"{field} uses plain http:// on {parts.hostname}: the client secret would travel "
                    "unencrypted; use https://, or set allow_insecure_http=true to accept it"
                )
            log.warning(
                "HaloITSM %s %s uses plain http:// (allow_insecure_http is set): the client secret and "
                "identity data travel unencrypted",
                field,
                urlunsplit(parts._replace(query="")),
            )
        return self

    @field_validator("tenant")
    @classmethod
    def _blank_tenant_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("lake_prefix")
    @classmethod
    def _check_lake_prefix(cls, value: str | None) -> str | None:
        from halo_c1.tenancy import validate_prefix

        return validate_prefix(value) if value and value.strip() else None

    @field_validator("client_secret")
    @classmethod
    def _secret_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("client_secret must not be empty")
        return value

    @property
    def effective_token_url(self) -> str:
        """The token URL to POST to, with `?tenant=` added when a tenant is set and the URL lacks one."""
        url = self.token_url or f"{self.base_url}/auth/token"
        if not self.tenant:
            return url
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if any(key == "tenant" for key, _ in query):
            return url
        return urlunsplit(parts._replace(query=urlencode([*query, ("tenant", self.tenant)])))

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or self.base_url

    @classmethod
    def from_connection_fields(
        cls, host: str | None, login: str | None, password: str | None, extra: dict[str, Any] | None
    ) -> HaloSettings:
        """Build settings from an Airflow connection; an invalid field is named as the connection names it."""
        extra = dict(extra or {})
        unknown = sorted(set(extra) - EXTRA_KEYS)
        if unknown:
            raise HaloConfigError(
                f"invalid HaloITSM connection: unknown extra field(s) {unknown}; known: {sorted(EXTRA_KEYS)}"
            )
        fields = {key: value for key, value in extra.items() if value is not None}
        fields.update(base_url=host or "", client_id=login or "", client_secret=password or "")
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise HaloConfigError(f"invalid HaloITSM connection: {describe_errors(exc)}") from None

    @classmethod
    def build(cls, **fields: Any) -> HaloSettings:
        """Like the constructor, but raises `HaloConfigError` naming the bad fields, never echoing input."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise HaloConfigError(f"invalid HaloITSM settings: {describe_errors(exc)}") from None


def describe_errors(exc: ValidationError) -> str:
    """`field: problem` for each error, with fields named as in the Airflow connection; never the input."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        if field in _CONNECTION_FIELD:
            label = f"{_CONNECTION_FIELD[field]} ({field})"
        else:
            label = f"extra.{field}" if field in EXTRA_KEYS else field
        problems.append(f"{label}: {error['msg']}")
    return "; ".join(problems)
