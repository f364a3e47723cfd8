"""A small hand-built curated snapshot (the model's curated schemas) for the c1z tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from halo_c1 import model
from halo_c1.lake import Lake, write_parquet

SNAPSHOT = "20261127T050000Z"
ROLE_GUID = "7f1c0c1e-5b2a-4c1e-9d8e-0a1b2c3d4e5f"
LAST_LOGIN = datetime(2026, 11, 26, 17, 30, 15, 250000, tzinfo=UTC)


def _resource(type_id: str, resource_id: str, display_name: str, **extra: Any) -> dict[str, Any]:
    row = {
        "snapshot_id": SNAPSHOT,
        "resource_type_id": type_id,
        "resource_id": resource_id,
        "display_name": display_name,
        "description": None,
        "parent_resource_type_id": None,
        "parent_resource_id": None,
        "status": model.STATUS_ENABLED,
        "email": None,
        "email_normalized": None,
        "login": None,
        "account_type": None,
        "given_name": None,
        "family_name": None,
        "last_login": None,
    }
    row.update(extra)
    return row


def _entitlement(type_id: str, resource_id: str, slug: str, display_name: str) -> dict[str, Any]:
    return {
        "snapshot_id": SNAPSHOT,
        "entitlement_id": f"{type_id}:{resource_id}:{slug}",
        "resource_type_id": type_id,
        "resource_id": resource_id,
        "slug": slug,
        "display_name": display_name,
        "description": f"Member of {display_name}",
        "purpose": model.PURPOSE_ASSIGNMENT,
        "grantable_to": [model.AGENT],
    }


def _grant(entitlement: str, agent: str, *, is_direct: bool, roles: tuple[str, ...] = ()) -> dict[str, Any]:
    type_id, resource_id, _slug = entitlement.split(":")
    return {
        "snapshot_id": SNAPSHOT,
        "grant_id": f"{entitlement}:agent:{agent}",
        "entitlement_id": entitlement,
        "resource_type_id": type_id,
        "resource_id": resource_id,
        "principal_resource_type_id": model.AGENT,
        "principal_resource_id": agent,
        "is_direct": is_direct,
        "source_role_ids": list(roles),
    }


def curated_rows() -> dict[str, list[dict[str, Any]]]:
    """Agents (one disabled, one API), end users (one inactive service account), teams under
    departments (one inactive), roles (one GUID id), direct and role-inherited grants."""
    resource_types = [
        {
            "snapshot_id": SNAPSHOT,
            "resource_type_id": spec.id,
            "display_name": spec.display_name,
            "trait": spec.trait,
            "description": spec.description,
            "child_resource_type_ids": list(spec.child_resource_type_ids),
        }
        for spec in model.RESOURCE_TYPES
    ]
    user = {"account_type": model.ACCOUNT_HUMAN}
    resources = [
        _resource(
            "agent",
            "12",
            "Zoë Ångström-Łukasiewicz",
            email="Zoe.Angstrom@Example.com",
            email_normalized="zoe.angstrom@example.com",
            login="zoe",
            given_name="Zoë",
            family_name="Ångström-Łukasiewicz",
            last_login=LAST_LOGIN,
            **user,
        ),
        _resource("agent", "13", "Former Agent", status=model.STATUS_DISABLED, given_name="Former", **user),
        _resource("agent", "14", "API Integration", account_type=model.ACCOUNT_SERVICE),
        _resource(
            "user",
            "100",
            "Ünal Şahin",
            email="unal@example.com",
            email_normalized="unal@example.com",
            login="unal",
            family_name="Şahin",
            **user,
        ),
        _resource(
            "user", "101", "Backup Service", status=model.STATUS_DISABLED, account_type=model.ACCOUNT_SERVICE
        ),
        _resource(
            "team",
            "3",
            "Service Desk",
            description="First line",
            parent_resource_type_id="department",
            parent_resource_id="7",
        ),
        _resource(
            "team",
            "4",
            "Netzwerk & Sicherheit 🔒",
            status=model.STATUS_DISABLED,
            parent_resource_type_id="department",
            parent_resource_id="8",
        ),
        _resource("department", "7", "IT"),
        _resource("department", "8", "Infrastruktur"),
        _resource("role", ROLE_GUID, "Administrators"),
        _resource("role", "2", "Technicians"),
    ]
    entitlements = [
        _entitlement("team", "3", "member", "Service Desk Team Member"),
        _entitlement("team", "4", "member", "Netzwerk & Sicherheit 🔒 Team Member"),
        _entitlement("department", "7", "member", "IT Department Member"),
        _entitlement("department", "8", "member", "Infrastruktur Department Member"),
        _entitlement("role", ROLE_GUID, "assigned", "Administrators Role"),
        _entitlement("role", "2", "assigned", "Technicians Role"),
    ]
    grants = [
        _grant("team:3:member", "12", is_direct=True),
        _grant("team:3:member", "13", is_direct=False, roles=(ROLE_GUID,)),
        _grant("team:4:member", "12", is_direct=True, roles=("2", ROLE_GUID)),
        _grant("department:7:member", "12", is_direct=True),
        _grant("department:8:member", "14", is_direct=False, roles=("2",)),
        _grant(f"role:{ROLE_GUID}:assigned", "12", is_direct=True),
        _grant(f"role:{ROLE_GUID}:assigned", "13", is_direct=True),
        _grant("role:2:assigned", "12", is_direct=True),
        _grant("role:2:assigned", "14", is_direct=True),
    ]
    return {
        "resource_types": resource_types,
        "resources": resources,
        "entitlements": entitlements,
        "grants": grants,
    }


def write_curated(lake: Lake, rows: dict[str, list[dict[str, Any]]], snapshot_id: str = SNAPSHOT) -> None:
    for table, table_rows in rows.items():
        schema = model.CURATED_TABLES[table]
        write_parquet(lake.curated_file(table, snapshot_id), pa.Table.from_pylist(table_rows, schema=schema))
