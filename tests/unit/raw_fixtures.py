"""Hand-built raw snapshots with the RAW_* schemas, shared by the transform and quality-gate tests."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from halo_c1 import model
from halo_c1.lake import Lake, write_json, write_parquet

SNAPSHOT = "20261127T050000Z"
PREVIOUS = "20261126T050000Z"
ROLE_ADMIN = "03cbebd0-3443-4f1e-9a5b-1234567890ab"
ROLE_DESK = "5c9d2e10-aaaa-4bbb-8ccc-0123456789ab"


def raw_table(schema: pa.Schema, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as Halo returned them; `raw_json` is filled from the row when the test leaves it out."""
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for row in rows:
        for name in schema.names:
            if name == "raw_json":
                columns[name].append(row.get("raw_json", json.dumps(row, sort_keys=True)))
            else:
                columns[name].append(row.get(name))
    return pa.table(columns, schema=schema)


def agent(agent_id: str | None, name: str, **fields: Any) -> dict[str, Any]:
    return {"agent_id": agent_id, "name": name, "isdisabled": False, "isapiagent": False, **fields}


def user(user_id: str | None, name: str, **fields: Any) -> dict[str, Any]:
    return {"user_id": user_id, "name": name, **fields}


def team(team_id: str | None, name: str, **fields: Any) -> dict[str, Any]:
    return {"team_id": team_id, "name": name, **fields}


def member(
    agent_id: str | None, kind: str, target_id: str | None, via: str | None = None, name: str | None = None
) -> dict[str, Any]:
    return {
        "agent_id": agent_id,
        "kind": kind,
        "target_id": target_id,
        "target_name": name,
        "via_role_id": via,
        "source": f"/api/Agent/{agent_id}",
    }


def good_raw() -> dict[str, list[dict[str, Any]]]:
    """A small tenant with every case the transform maps: system agent, disabled/API agents, users,
    teams with and without departments, GUID roles, direct, inherited and direct+inherited rows."""
    return {
        "agents": [
            agent("1", "Unassigned"),
            agent(
                "12",
                "Jane Doe",
                firstname="Jane",
                surname="Doe",
                email=" Jane.Doe@Example.com ",
                ad="ACME\\jdoe",
                lastlogindate="2025-01-02T09:00:00",
            ),
            agent("13", "Bob Roe", email="bob@example.com", isdisabled=True, lastlogindate="not a date"),
            agent("14", "API Bot", isapiagent=True),
        ],
        "users": [
            user("100", "Alice Ng", emailaddress="alice@example.com", inactive=False),
            user("101", "", firstname="Old", surname="User", login="olduser", inactive=True),
            user("102", "Scanner", emailaddress="scan@example.com", isserviceaccount=True),
        ],
        "teams": [
            team("3", "1st Line", department_id="2", department_name="IT", inactive=False),
            team("4", "2nd Line", department_id="2", department_name="", inactive=True),
            team("5", "Facilities", inactive=None),
        ],
        "roles": [
            {"role_id": ROLE_ADMIN, "name": "HaloITSM Administrator"},
            {"role_id": ROLE_DESK, "name": "Service Desk"},
        ],
        "agent_memberships": [
            member("12", "team", "3"),
            member("12", "team", "3", via=ROLE_ADMIN),
            member("13", "team", "4", via=ROLE_DESK),
            member("13", "team", "4", via=ROLE_ADMIN),
            member("12", "department", "2", name="IT"),
            member("13", "department", "7", name="HR"),
            member("12", "role", ROLE_ADMIN),
            member("13", "role", ROLE_DESK),
            member("14", "team", "5"),
        ],
    }


def write_raw(lake: Lake, snapshot_id: str, entities: dict[str, list[dict[str, Any]]]) -> None:
    """Write a raw snapshot the way extraction does: one Parquet file per entity, manifest last."""
    for entity, rows in entities.items():
        write_parquet(lake.raw_file(entity, snapshot_id), raw_table(model.RAW_ENTITIES[entity], rows))
    write_json(lake.raw_manifest(snapshot_id), {"snapshot_id": snapshot_id, "entities": sorted(entities)})
