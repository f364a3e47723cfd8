"""The deletion guard compares ids, not only counts: re-identified or replaced accounts, an entitlement
stripped of its holders and accounts disabled at once block delivery even when every count is equal;
resource types one of the two snapshots did not extract are not compared, and the report says so."""

from __future__ import annotations

import pyarrow as pa
import pytest

from halo_c1 import model
from halo_c1.deliver import last_delivery, record_delivery
from halo_c1.guard import MassDeletionError, check_deletion_safety, snapshot_counts
from halo_c1.lake import Lake, write_json, write_parquet

PREVIOUS = "20261126T050000Z"
CURRENT = "20261127T050000Z"
ADMIN = "03cbebd0-3443-4f1e-9a5b-1234567890ab"


def tenant(
    agents: list[str], *, users: int = 30, disabled: set[str] = frozenset(), admins: list[str] | None = None
) -> tuple[list[dict], list[tuple[str, str, str]]]:
    """Resources (agents, users, 4 teams, the admin role) and grants (each agent in team id % 4; the first
    three agents admins unless `admins` says otherwise)."""
    resources = [
        {
            "resource_type_id": model.AGENT,
            "resource_id": a,
            "status": "DISABLED" if a in disabled else "ENABLED",
        }
        for a in agents
    ]
    resources += [
        {"resource_type_id": model.USER, "resource_id": str(1000 + i), "status": "ENABLED"}
        for i in range(users)
    ]
    resources += [
        {"resource_type_id": model.TEAM, "resource_id": str(t), "status": "ENABLED"} for t in range(4)
    ]
    resources += [{"resource_type_id": model.ROLE, "resource_id": ADMIN, "status": "ENABLED"}]
    grants = [(model.TEAM, str(int(agent) % 4), agent) for agent in agents]
    grants += [(model.ROLE, ADMIN, agent) for agent in (agents[:3] if admins is None else admins)]
    return resources, grants


def write(
    lake: Lake, snapshot_id: str, data: tuple[list[dict], list[tuple[str, str, str]]], *, users: bool = True
) -> None:
    resources, grants = data
    write_parquet(
        lake.curated_file("resources", snapshot_id),
        pa.Table.from_pylist(
            [{"snapshot_id": snapshot_id, "display_name": r["resource_id"], **r} for r in resources],
            schema=model.CURATED_RESOURCES,
        ),
    )
    rows = []
    for type_id, resource_id, agent in grants:
        slug = model.ASSIGNED if type_id == model.ROLE else model.MEMBER
        entitlement = model.entitlement_id(type_id, resource_id, slug)
        rows.append(
            {
                "snapshot_id": snapshot_id,
                "grant_id": model.grant_id(entitlement, model.AGENT, agent),
                "entitlement_id": entitlement,
                "resource_type_id": type_id,
                "resource_id": resource_id,
                "principal_resource_type_id": model.AGENT,
                "principal_resource_id": agent,
                "is_direct": True,
                "source_role_ids": [],
            }
        )
    write_parquet(
        lake.curated_file("grants", snapshot_id), pa.Table.from_pylist(rows, schema=model.CURATED_GRANTS)
    )
    write_json(lake.raw_manifest(snapshot_id), {"snapshot_id": snapshot_id, "include_end_users": users})


def delivered(lake: Lake, data, *, users: bool = True) -> None:
    write(lake, PREVIOUS, data, users=users)
    record_delivery(lake, {"snapshot_id": PREVIOUS, "counts": snapshot_counts(lake, PREVIOUS)})


AGENTS = [str(i) for i in range(10, 30)]  # 20 agents


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(str(tmp_path / "lake"))


def blocked(lake: Lake) -> MassDeletionError:
    with pytest.raises(MassDeletionError) as caught:
        check_deletion_safety(lake, CURRENT, last_delivery(lake))
    return caught.value


def test_every_agent_re_identified_with_the_same_count_blocks(lake):
    delivered(lake, tenant(AGENTS))
    write(lake, CURRENT, tenant([str(i) for i in range(510, 530)]))
    error = blocked(lake)
    drops = {d["item"]: d for d in error.result["drops"]}
    agents = drops["resource type 'agent'"]
    assert (agents["before"], agents["after"], agents["removed"], agents["added"]) == (20, 20, 20, 20)
    assert agents["examples"] == ["10", "11", "12"]
    assert "resource type 'agent': 20 → 20, 20 removed and 20 added (-100.0%), e.g. 10, 11, 12" in str(error)
    assert "grants" in drops
    assert error.result["resources"]["agent"]["removed"] == 20


def test_a_whole_tenant_replaced_by_one_of_the_same_size_blocks(lake):
    delivered(lake, tenant(AGENTS))
    resources, grants = tenant([str(i) for i in range(510, 530)])
    for row in resources:
        row["resource_id"] = f"x{row['resource_id']}"
    write(lake, CURRENT, (resources, [(t, f"x{r}", a) for t, r, a in grants]))
    items = {d["item"] for d in blocked(lake).result["drops"]}
    assert {
        "resource type 'agent'",
        "resource type 'user'",
        "resource type 'team'",
        "resource type 'role'",
        "grants",
    } <= items


def test_a_privileged_role_stripped_from_all_its_holders_blocks(lake):
    delivered(lake, tenant(AGENTS))
    write(lake, CURRENT, tenant(AGENTS, admins=[]))
    error = blocked(lake)
    drop = next(d for d in error.result["drops"] if d["item"].startswith("entitlement"))
    assert drop["item"] == f"entitlement 'role:{ADMIN}:assigned'"
    assert (drop["before"], drop["after"], drop["emptied"]) == (3, 0, True)
    assert drop["examples"] == ["agent:10", "agent:11", "agent:12"]
    assert f"role:{ADMIN}:assigned" in str(error)
    assert [d["item"] for d in error.result["drops"]] == [drop["item"]]  # 3 of 23 grants alone would pass


def test_every_agent_disabled_at_once_blocks(lake):
    delivered(lake, tenant(AGENTS))
    write(lake, CURRENT, tenant(AGENTS, disabled=set(AGENTS)))
    error = blocked(lake)
    drop = next(d for d in error.result["drops"] if d["item"] == "enabled 'agent' accounts disabled")
    assert (drop["before"], drop["removed"], drop["emptied"]) == (20, 20, True)


def test_ordinary_churn_passes(lake):
    delivered(lake, tenant(AGENTS))
    changed = [*AGENTS[1:], "99"]  # one agent leaves, one joins, two are disabled, one admin steps down
    write(lake, CURRENT, tenant(changed, disabled={"20", "21"}, admins=changed[:2]))
    result = check_deletion_safety(lake, CURRENT, last_delivery(lake))
    assert result["passed"] is True and result["drops"] == []
    assert (result["resources"]["agent"]["removed"], result["resources"]["agent"]["added"]) == (1, 1)


def test_switching_end_users_off_is_not_a_mass_deletion_and_the_report_says_so(lake):
    delivered(lake, tenant(AGENTS), users=True)
    write(lake, CURRENT, tenant(AGENTS, users=0), users=False)
    result = check_deletion_safety(lake, CURRENT, last_delivery(lake))
    assert result["passed"] is True and result["drops"] == []
    assert "user" in result["not_compared"]
    assert "end users" in result["not_compared"]["user"]
    # ...while end users that were extracted and vanished still block
    write(lake, CURRENT, tenant(AGENTS, users=0), users=True)
    assert "resource type 'user'" in {d["item"] for d in blocked(lake).result["drops"]}


def test_without_the_previous_curated_tables_the_guard_compares_counts_and_says_so(lake):
    delivered(lake, tenant(AGENTS))
    lake.curated_file("resources", PREVIOUS).unlink()
    write(lake, CURRENT, tenant([str(i) for i in range(510, 530)]))
    result = check_deletion_safety(lake, CURRENT, last_delivery(lake))
    assert result["passed"] is True
    assert "counts only" in result["compared_by"]
