"""The delivery target named by the Airflow variable `halo_c1_delivery_target`, built from its settings.

A new target registers its builder in `DELIVERY_TARGETS`; the DAG does not change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from halo_c1.errors import ConfigurationError
from halo_c1_airflow.settings import c1_settings, object_storage_path, variable

if TYPE_CHECKING:
    from halo_c1.deliver.target import Target

DELIVERY_TARGET_VARIABLE = "halo_c1_delivery_target"
DELIVERY_URL_VARIABLE = "halo_c1_delivery_url"
DELIVERY_CONN_VARIABLE = "halo_c1_delivery_conn_id"
DEFAULT_DELIVERY_TARGET = "object_storage"
C1_SERVICE_WRITER_VARIABLE = "halo_c1_c1_service_writer"

# Under `halo_c1` like the domain's loggers, so configuring `halo_c1` reaches these too.
log = logging.getLogger(__name__.replace("halo_c1_airflow", "halo_c1.airflow"))


def _object_storage_target() -> Target:
    """The c1z at `halo_c1_delivery_url` (with `halo_c1_delivery_conn_id`): a file or object-store key."""
    from halo_c1.deliver.objectstore import ObjectStorageTarget, check_target_url

    url = variable(DELIVERY_URL_VARIABLE)
    if not url:
        raise ConfigurationError(
            f"Airflow variable {DELIVERY_URL_VARIABLE!r} is not set: give the c1z's URL, e.g. "
            "s3://bucket/halo/sync.c1z (a C1 external data source) or file:///exports/sync.c1z"
        )
    check_target_url(url)
    return ObjectStorageTarget(
        object_storage_path(url, variable(DELIVERY_CONN_VARIABLE), DELIVERY_URL_VARIABLE)
    )


class _VariableStore:
    """A writer record kept in an Airflow variable: service mode's target state outlives lake folders."""

    def __init__(self, key: str) -> None:
        self.key = key

    def get(self) -> dict[str, Any] | None:
        value = variable(self.key, default=None)
        try:
            record = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            log.warning("Airflow variable %r is not JSON; treated as no writer record", self.key)
            return None
        return record if isinstance(record, dict) else None

    def put(self, record: dict[str, Any]) -> None:
        from airflow.sdk import Variable

        Variable.set(
            self.key,
            json.dumps(record, sort_keys=True),
            description="halo-c1: who delivered to C1 service mode",
        )


def _c1_service_target() -> Target:
    """C1 service mode: the delivery record is what the `c1_connector` DAG serves; with `app_id` and
    `connector_id` in `conductorone_default`, C1 is also asked to sync now (REST force_sync). The
    writer record (deliver.writer) lives in the variable `halo_c1_c1_service_writer`."""
    from halo_c1.c1.force_sync import force_sync
    from halo_c1.deliver.c1_service import C1ServiceTarget

    settings = c1_settings()
    nudge = None
    if settings.app_id and settings.connector_id:

        def nudge() -> None:
            force_sync(settings)

    return C1ServiceTarget(settings.api_host, nudge, _VariableStore(C1_SERVICE_WRITER_VARIABLE))


# `halo_c1_delivery_target` names one of these; a new target registers its builder here.
DELIVERY_TARGETS: dict[str, Callable[[], Target]] = {
    DEFAULT_DELIVERY_TARGET: _object_storage_target,
    "c1_service": _c1_service_target,
}


def delivery_target() -> Target:
    """The target named by `halo_c1_delivery_target` (default `object_storage`), checked."""
    name = variable(DELIVERY_TARGET_VARIABLE, default=DEFAULT_DELIVERY_TARGET)
    if name not in DELIVERY_TARGETS:
        raise ConfigurationError(
            f"Airflow variable {DELIVERY_TARGET_VARIABLE!r} is {name!r}; expected one of {sorted(DELIVERY_TARGETS)}"
        )
    target = DELIVERY_TARGETS[name]()
    target.check()
    return target
