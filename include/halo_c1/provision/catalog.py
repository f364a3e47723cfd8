"""The catalog C1 holds: every id a grant or revoke names must be one halo-c1 delivered, spelled alike.

C1 only knows the agents, teams and roles of the snapshot it last received, so a task naming
anything else was not made from that catalog: a crafted id (`../Team/1`, `<guid>?x=1`), another
spelling of a real id (`01`, a GUID in other letter case) or a principal the access model leaves out
(HaloITSM's system agent 1, "Unassigned"). Each is refused before any HaloITSM request, naming the
id and the snapshot, so nothing outside the catalog is ever read or written.

The catalog is the curated `resources` table of the snapshot in `deliveries/latest.json` (the same
record every delivery target and service mode's sync answer from).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.compute as pc
import pyarrow.parquet as pq

from halo_c1 import model
from halo_c1.lake import Lake
from halo_c1.provision.request import FAILED_PRECONDITION, INVALID_ARGUMENT, Refusal, Target


@dataclass(frozen=True)
class DeliveredCatalog:
    """The ids of one delivered snapshot, per resource type (only the types provisioning names)."""

    snapshot_id: str
    ids: dict[str, frozenset[str]]

    @classmethod
    def of(cls, lake: Lake, target: Target) -> DeliveredCatalog:
        """The delivered snapshot's agent id and `target`'s kind of ids; refuses (FAILED_PRECONDITION) without one."""
        from halo_c1.deliver.errors import DeliveryRecordError
        from halo_c1.deliver.manifest import last_delivery

        try:
            record = last_delivery(lake)
        except DeliveryRecordError as exc:
            raise Refusal(FAILED_PRECONDITION, f"the delivered catalog cannot be read: {exc}") from None
        if record is None:
            raise Refusal(
                FAILED_PRECONDITION,
                f"no snapshot has been delivered from {lake.base}, so there is no catalog to check "
                f"{target.entitlement_id} for agent {target.principal_id} against; run the ETL first",
            )
        snapshot_id = str(record["snapshot_id"])
        path = lake.curated_file("resources", snapshot_id)
        if not path.exists():
            raise Refusal(
                FAILED_PRECONDITION,
                f"the delivered snapshot {snapshot_id} has no curated resources table ({path}); "
                "cannot check the request against the catalog",
            )
        wanted = {model.AGENT: target.principal_id, target.kind: target.target_id}
        with path.open("rb") as handle:
            table = pq.read_table(
                handle,
                columns=["resource_type_id", "resource_id"],
                filters=[("resource_type_id", "in", sorted(wanted))],
            )
        ids = {}
        for resource_type in wanted:
            rows = table.filter(pc.equal(table["resource_type_id"], resource_type))
            ids[resource_type] = frozenset(rows["resource_id"].to_pylist())
        return cls(snapshot_id, ids)

    def require(self, target: Target) -> None:
        """Refuse (INVALID_ARGUMENT) unless the catalog holds the agent and the team or role, spelled alike."""
        self._require(model.AGENT, target.principal_id, "agent")
        self._require(target.kind, target.target_id, target.kind)

    def _require(self, resource_type: str, resource_id: str, label: str) -> None:
        ids = self.ids.get(resource_type, frozenset())
        if resource_id in ids:
            return
        same = sorted(i for i in ids if i.lower() == resource_id.lower())
        hint = (
            f"; the catalog spells it {same[0]!r}"
            if same
            else (
                " (HaloITSM's system agent, which the access model leaves out)"
                if resource_type == model.AGENT and resource_id == "1"
                else ""
            )
        )
        raise Refusal(
            INVALID_ARGUMENT,
            f"{label} {resource_id!r} is not in the catalog halo-c1 delivered to C1 (snapshot "
            f"{self.snapshot_id}){hint}; nothing was asked of HaloITSM",
        )
