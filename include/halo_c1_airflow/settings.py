"""Airflow connections and variables turned into the domain's settings: HaloITSM, the lake, the
deletion guard's threshold, the c1z size cap and C1 service mode.

A missing or unusable setting is a `ConfigurationError` naming it (never retried: it will not
appear). Airflow is imported inside functions: DAG files import this module cheaply at parse time.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from halo_c1.errors import ConfigurationError

if TYPE_CHECKING:
    from upath import UPath

    from halo_c1.c1.settings import ServiceSettings
    from halo_c1.halo.settings import HaloSettings
    from halo_c1.lake import Lake

HALO_CONN_ID = "haloitsm_default"
C1_CONN_ID = "conductorone_default"
LAKE_URL_VARIABLE = "halo_c1_lake_url"
LAKE_CONN_VARIABLE = "halo_c1_lake_conn_id"
MAX_DROP_RATIO_VARIABLE = "halo_c1_max_drop_ratio"
C1Z_MAX_DECODED_GIB_VARIABLE = "halo_c1_c1z_max_decoded_gib"
DEFAULT_C1Z_MAX_DECODED_GIB = 3  # baton-sdk before v0.25 refuses a c1z whose SQLite passes 3 GiB
# The Azure SDK logs every request's and response's headers at INFO: hundreds of lines per task.
AZURE_HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


def connection(conn_id: str) -> Any:
    """The Airflow connection, or a `ConfigurationError` naming it (never retried: it will not appear)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise ConfigurationError(
            f"Airflow connection {conn_id!r} is not defined: add it (UI Admin > Connections, "
            f"AIRFLOW_CONN_{conn_id.upper()}, or your secrets backend)"
        ) from None


def variable(key: str, default: Any = None) -> Any:
    """The Airflow variable `key`, or `default` when it is not set."""
    from airflow.sdk import Variable

    return Variable.get(key, default=default)


def object_storage_path(url: str, conn_id: str | None, variable_key: str) -> UPath:
    """`url` (read from the variable `variable_key`) as Airflow's ObjectStoragePath with `conn_id`'s credentials."""
    from airflow.sdk import ObjectStoragePath

    if conn_id:
        connection(conn_id)
    try:
        path = ObjectStoragePath(url, conn_id=conn_id or None)
    except ValueError as error:  # e.g. "Unsupported filesystem: 'nonsense'"
        raise ConfigurationError(f"Airflow variable {variable_key!r} is not a usable URL: {error}") from None
    if path.protocol in ("abfs", "abfss"):
        logging.getLogger(AZURE_HTTP_LOGGER).setLevel(logging.WARNING)
    return path


def halo_settings(conn_id: str = HALO_CONN_ID) -> HaloSettings:
    """HaloITSM client settings from the Airflow connection (host, login, password, extra)."""
    from halo_c1.halo.settings import HaloSettings

    conn = connection(conn_id)
    return HaloSettings.from_connection_fields(
        host=conn.host or "",
        login=conn.login or "",
        password=conn.password or "",
        extra=conn.extra_dejson,
    )


def lake() -> Lake:
    """This tenant's lake: its folder under `halo_c1_lake_url` (+ `halo_c1_lake_conn_id`).

    The folder comes from the HaloITSM connection (see `halo_c1.tenancy`); a folder another tenant
    claimed is refused with `TenantMismatchError`.
    """
    from halo_c1.tenancy import TenantIdentity, tenant_lake

    url = variable(LAKE_URL_VARIABLE)
    if not url:
        raise ConfigurationError(
            f"Airflow variable {LAKE_URL_VARIABLE!r} is not set: give the lake's base URL, "
            "e.g. file:///data/halo_c1 or s3://bucket/halo_c1"
        )
    settings = halo_settings()
    identity = TenantIdentity.from_connection(settings.base_url, settings.tenant)
    return tenant_lake(
        object_storage_path(url, variable(LAKE_CONN_VARIABLE), LAKE_URL_VARIABLE),
        identity,
        settings.lake_prefix,
    )


def max_drop_ratio(override: float | None = None) -> float:
    """The deletion guard's threshold: the run's param, else `halo_c1_max_drop_ratio`, else the guard's 20%."""
    from halo_c1.guard import DEFAULT_MAX_DROP_RATIO, validate_max_drop_ratio

    value = override if override is not None else variable(MAX_DROP_RATIO_VARIABLE, default=None)
    if value is None:
        return DEFAULT_MAX_DROP_RATIO
    try:
        return validate_max_drop_ratio(float(value))
    except ValueError as error:
        raise ConfigurationError(f"{MAX_DROP_RATIO_VARIABLE} / param max_drop_ratio: {error}") from None


def c1z_max_decoded_bytes() -> int:
    """The c1z's decoded-size cap: `halo_c1_c1z_max_decoded_gib` (GiB), else the older readers' 3 GiB.

    Raise it only when every reader of the file runs baton-sdk v0.25+ (10 GiB by default there,
    `BATON_DECODER_MAX_DECODED_SIZE_MB`): an older reader refuses the whole file.
    """
    value = variable(C1Z_MAX_DECODED_GIB_VARIABLE, default=None)
    if value is None:
        return DEFAULT_C1Z_MAX_DECODED_GIB * 2**30
    gib = positive_number(
        value, C1Z_MAX_DECODED_GIB_VARIABLE, "GiB (e.g. 10 when every reader runs baton-sdk v0.25+)"
    )
    return int(gib * 2**30)


def positive_number(value: str, setting: str, unit: str) -> float:
    """`value` of `setting` as a positive, finite number of `unit`, or a `ConfigurationError` saying so."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise ConfigurationError(f"{setting} must be a positive number of {unit}, got {value!r}")
    return number


def _c1_settings_from(conn: Any) -> ServiceSettings:
    from halo_c1.c1.settings import ServiceSettings

    return ServiceSettings.from_connection_fields(
        login=conn.login or "", password=conn.password or "", extra=conn.extra_dejson
    )


def c1_settings(conn_id: str = C1_CONN_ID) -> ServiceSettings:
    """C1 service-mode settings from `conductorone_default`: login = client id, password = secret,
    extra = api_host, token_url, ca_bundle, host_id, provisioning (+ app_id, connector_id,
    max_snapshot_age_s); env BATON_C1_API_HOST is honoured."""
    return _c1_settings_from(connection(conn_id))


async def c1_settings_async(conn_id: str = C1_CONN_ID) -> ServiceSettings:
    """`c1_settings` for the triggerer: the connection is fetched without blocking its event loop."""
    import asyncio

    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = await BaseHook.aget_connection(conn_id)
    except AirflowNotFoundException:
        raise ConfigurationError(f"Airflow connection {conn_id!r} is not defined") from None
    return await asyncio.to_thread(_c1_settings_from, conn)
