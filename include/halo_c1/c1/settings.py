"""Service-mode settings: where C1 is, who we are, and what we may do.

Built from the `conductorone_default` Airflow connection by `halo_c1_airflow.settings.c1_settings`; plain
values here so the service code runs and is tested without Airflow.
"""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from halo_c1.c1.credentials import ClientCredentials
from halo_c1.c1.errors import C1ConfigError

API_HOST_ENV = "BATON_C1_API_HOST"
DEFAULT_PORT = 443
MAX_HOST_ID = 256
EXTRA_KEYS = frozenset(
    {
        "api_host",
        "token_url",
        "ca_bundle",
        "host_id",
        "provisioning",
        "app_id",
        "connector_id",
        "max_snapshot_age_s",
    }
)


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise C1ConfigError(f"conductorone_default extra {name!r} must be true or false, got {value!r}")


@dataclass(frozen=True)
class ServiceSettings:
    """Everything the connector needs to talk to C1. `repr` never shows the key."""

    credentials: ClientCredentials = field(repr=False)
    api_host: str
    token_url: str
    host_id: str
    ca_bundle: str | None = None
    provisioning: bool = False
    app_id: str | None = None
    connector_id: str | None = None
    max_snapshot_age_s: int | None = None

    @property
    def client_id(self) -> str:
        return self.credentials.client_id.value

    @property
    def grpc_target(self) -> str:
        """`host:port` of the BatonService (port 443 unless `api_host` names one)."""
        host = self.api_host
        return host if host.rpartition(":")[2].isdigit() else f"{host}:{DEFAULT_PORT}"

    @property
    def rest_base_url(self) -> str:
        return f"https://{self.api_host}"

    def ssl_context(self) -> ssl.SSLContext:
        """System roots plus `ca_bundle`, TLS 1.2 or newer (for the token and REST endpoints)."""
        context = ssl.create_default_context()
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.ca_bundle:
            context.load_verify_locations(cafile=self.ca_bundle)
        return context

    def grpc_root_certificates(self) -> bytes | None:
        """PEM roots for gRPC: None (gRPC's own roots) or the system roots plus `ca_bundle`."""
        if not self.ca_bundle:
            return None
        system = ssl.get_default_verify_paths().cafile
        roots = Path(system).read_bytes() if system and Path(system).exists() else b""
        return roots + b"\n" + Path(self.ca_bundle).read_bytes()

    @classmethod
    def from_connection_fields(
        cls, *, login: str, password: str, extra: dict[str, Any], env: dict[str, str] | None = None
    ) -> ServiceSettings:
        """Parse the connection: login = client id, password = client secret, extra = the options."""
        env = os.environ if env is None else env
        if not login:
            raise C1ConfigError("conductorone_default has no login: set it to the C1 client id")
        if not password:
            raise C1ConfigError("conductorone_default has no password: set it to the C1 client secret")
        unknown = sorted(set(extra) - EXTRA_KEYS)
        if unknown:
            raise C1ConfigError(
                f"conductorone_default extra has unknown keys {unknown}; known: {sorted(EXTRA_KEYS)}"
            )
        credentials = ClientCredentials.parse(login, password)
        api_host = str(extra.get("api_host") or env.get(API_HOST_ENV) or credentials.client_id.host).strip()
        if "/" in api_host or not api_host:
            raise C1ConfigError(f"api_host {api_host!r} must be host or host:port, without scheme or path")
        token_url = str(extra.get("token_url") or f"https://{api_host}/auth/v1/token")
        if not token_url.startswith("https://"):
            raise C1ConfigError(f"token_url {token_url!r} must be an https:// URL")
        ca_bundle = extra.get("ca_bundle") or None
        if ca_bundle and not Path(ca_bundle).is_file():
            raise C1ConfigError(f"ca_bundle {ca_bundle!r} is not a readable PEM file")
        host_id = str(extra.get("host_id") or socket.gethostname() or "halo-c1")
        if not 1 <= len(host_id) <= MAX_HOST_ID:
            raise C1ConfigError(f"host_id must be 1..{MAX_HOST_ID} characters")
        max_age = extra.get("max_snapshot_age_s")
        if max_age is not None and (
            not isinstance(max_age, int) or isinstance(max_age, bool) or max_age <= 0
        ):
            raise C1ConfigError(f"max_snapshot_age_s must be a positive number of seconds, got {max_age!r}")
        return cls(
            credentials=credentials,
            api_host=api_host,
            token_url=token_url,
            host_id=host_id,
            ca_bundle=ca_bundle,
            provisioning=_as_bool("provisioning", extra.get("provisioning", False)),
            app_id=str(extra["app_id"]) if extra.get("app_id") else None,
            connector_id=str(extra["connector_id"]) if extra.get("connector_id") else None,
            max_snapshot_age_s=max_age,
        )
