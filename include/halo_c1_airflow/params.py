"""The ETL DAG's trigger-form params (validated by Airflow before a run starts)."""

from __future__ import annotations

from typing import Any


def etl_params() -> dict[str, Any]:
    """The ETL DAG's trigger-form params (validated by Airflow before a run starts)."""
    from airflow.sdk import Param

    return {
        "dry_run": Param(
            False, type="boolean", title="Dry run", description="Everything but delivery to C1."
        ),
        "allow_mass_deletion": Param(
            False,
            type="boolean",
            title="Allow mass deletion (once)",
            description="Deliver even if the deletion-safety guard sees a drop above the threshold.",
        ),
        # A drop-down, not a toggle: a boolean field cannot show "empty" and sends false once touched.
        "include_end_users": Param(
            None,
            type=["null", "string"],
            enum=[None, "include", "exclude"],
            values_display={
                "null": "The connection's setting",
                "include": "Include end users",
                "exclude": "Leave end users out",
            },
            title="End users",
            description="Extract HaloITSM end users? Empty = the connection's `include_end_users`.",
        ),
        "max_drop_ratio": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            exclusiveMaximum=1,
            title="Deletion guard threshold",
            description="Largest allowed drop per resource type and for grants; empty = 0.2 or the variable.",
        ),
        "confirm_first_delivery": Param(
            False,
            type="boolean",
            title="Confirm first delivery",
            description="The delivery record is missing or unreadable: deliver as if C1 never had a snapshot.",
        ),
        "takeover_delivery_target": Param(
            False,
            type="boolean",
            title="Take over the delivery target",
            description="Replace the c1z at the delivery target although another lake folder or tenant wrote it "
            "(docs/delivery-target.md).",
        ),
        "rederive_only": Param(
            False,
            type="boolean",
            title="Re-derive only",
            description="Re-derive the newest archived snapshot taken in this run's interval: no API call, no delivery.",
        ),
        "snapshot_id": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{8}T\d{6}Z$",
            title="Snapshot id",
            description="Re-derive this archived snapshot (e.g. 20261127T050000Z): no API call, no delivery.",
        ),
    }
