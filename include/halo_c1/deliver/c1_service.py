"""Delivery in C1 service mode: nothing to copy, the delivery record is what the connector serves.

C1 takes a service-mode snapshot only when it asks (a `sync_full` task to the `c1_connector` DAG),
which uploads the last delivered snapshot. So this target publishes nothing: staging measures the
lake's c1z (the size and SHA-256 recorded), and committing optionally asks C1 to sync now
(`force_sync`, when app_id and connector_id are configured). A failed force_sync is logged, never
fatal: C1 still syncs on its own schedule, and the snapshot is recorded either way.

What C1 gets is what the connector serves: the last delivery recorded in the lake folder of the
current HaloITSM connection. That folder can change (a new host spelling, a new lake URL), so the
writer record of each delivery (`deliver.writer`) is kept outside any lake folder, in a
`WriterStore` (the deployment's Airflow variable `halo_c1_c1_service_writer`, see
`halo_c1_airflow.targets`); what the target "holds" is the c1z that record names. Without a store
(or a record for this C1 host), the target holds nothing known.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from upath import UPath

from halo_c1.deliver.target import Held, WriterStore
from halo_c1.lake import copy_hashing

log = logging.getLogger(__name__)

READ_CHUNK = 8 * 1024 * 1024


@dataclass
class _Recorded:
    sha256: str
    size_bytes: int
    on_commit: Callable[[], None] | None

    def commit(self) -> None:
        if self.on_commit is None:
            return
        try:
            self.on_commit()
        except Exception as error:
            log.warning(
                "Could not ask C1 to sync now (%s); C1 will pick the snapshot up on its schedule", error
            )

    def discard(self) -> None:
        return


class C1ServiceTarget:
    """The snapshot is served to C1 by the connector DAG; `force_sync` (optional) nudges C1."""

    def __init__(
        self,
        api_host: str,
        force_sync: Callable[[], None] | None = None,
        store: WriterStore | None = None,
    ) -> None:
        self.api_host = api_host
        self.force_sync = force_sync
        self.store = store

    def describe(self) -> str:
        return f"c1-service-mode://{self.api_host} (served by the c1_connector DAG)"

    def check(self) -> None:
        return

    def stage(self, c1z: UPath, snapshot_id: str) -> _Recorded:
        with c1z.open("rb") as handle:
            measured = copy_hashing(handle, chunk_size=READ_CHUNK)
        log.info("Snapshot %s (%d bytes) is the one C1 will get at its next sync", snapshot_id, measured.size)
        return _Recorded(measured.digest.hexdigest(), measured.size, self.force_sync)

    def held(self) -> Held:
        """The c1z the last writer record for this C1 host names (the one C1 is served)."""
        record = self.store.get() if self.store is not None else None
        if not isinstance(record, dict) or record.get("target") != self.describe():
            return Held(None)
        return Held(record.get("sha256"), record, record.get("source"))

    def record_writer(self, record: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.put(record)
