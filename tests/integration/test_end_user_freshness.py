"""End users on their own cadence (`end_user_refresh_hours`), against the real simulator.

The hourly run reads only the access data and reuses the newest complete end-user extraction by
reference; the refresh reads end users when due. Every c1z still holds every end user, the manifest
and the summary say how old each entity is, the deletion guard and the change log compare by ids
across mixed-age snapshots, and retention keeps an end-user extraction a kept snapshot reuses.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dev.halo_simulator import TenantSpec
from halo_c1 import stages
from halo_c1.c1z.reader import C1zReader
from halo_c1.changelog import read_change_log
from halo_c1.deliver import ObjectStorageTarget
from halo_c1.errors import StageSkipped
from halo_c1.freshness import newest_end_users, raw_entity_file
from halo_c1.guard import DEFAULT_MAX_DROP_RATIO
from halo_c1.lake import Lake, read_json
from halo_c1.retention import RetentionPolicy, ZoneRule, apply_retention
from halo_c1.runs import RunPlan
from halo_c1.summary import summarize
from tests.integration.conftest import halo_settings

pytestmark = pytest.mark.integration

TENANT = TenantSpec(seed=11, agents=25, users=120, teams=4, roles=3, departments=2)
HOUR = timedelta(hours=1)


class World:
    """A simulator, a file lake and a delivery file; runs named after the real time they start."""

    def __init__(self, sim: Any, tmp_path: Any, **settings: Any) -> None:
        self.sim = sim
        self.lake = Lake(str(tmp_path / "lake"))
        self.delivered = tmp_path / "c1" / "sync.c1z"
        self.settings = halo_settings(sim, page_size=25, **settings)
        self.runs = 0

    @property
    def env(self) -> stages.Environment:
        return stages.Environment(
            lake=self.lake,
            halo_settings=lambda: self.settings,
            delivery_target=lambda: ObjectStorageTarget(str(self.delivered)),
            max_drop_ratio=lambda value: value or DEFAULT_MAX_DROP_RATIO,
        )

    def plan(self) -> RunPlan:
        time.sleep(1.05)  # snapshot ids are whole seconds: one per run
        self.runs += 1
        now = datetime.now(UTC)
        return stages.plan(
            self.env,
            run_id=f"scheduled__{self.runs}",
            run_type="scheduled",
            params={},
            interval=(now - HOUR, now),
        )

    def hourly_run(self) -> tuple[RunPlan, dict[str, Any]]:
        """extract → transform → guard → package → deliver (the gate does not touch HaloITSM)."""
        plan = self.plan()
        results = {"extract": stages.extract(plan, self.env), "transform": stages.transform(plan, self.env)}
        results["guard"] = stages.guard(plan, self.env)
        results["package"] = stages.package(plan, self.env)
        results["delivery"] = stages.deliver(plan, self.env)
        return plan, results

    def refresh(self) -> Any:
        time.sleep(1.05)
        return stages.refresh_end_users(self.env, interval=HOUR)

    def delivered_users(self) -> int:
        with C1zReader.open(str(self.delivered)) as reader:
            return reader.counts()["resources_by_type"].get("user", 0)


def user_requests(sim: Any) -> int:
    return sim.request_counts().get("GET /api/Users", 0)


@pytest.fixture
def sim(start_simulator: Any) -> Any:
    return start_simulator(tenant=TENANT, page_cap=25, agent_envelope="results")


def test_default_every_run_reads_end_users_and_the_refresh_skips(sim: Any, tmp_path: Any) -> None:
    world = World(sim, tmp_path)
    with pytest.raises(StageSkipped, match="end_user_refresh_hours is 0"):
        world.refresh()
    for _ in range(2):
        sim.reset_counts()
        plan, _ = world.hourly_run()
        assert user_requests(sim) > 0
        manifest = read_json(world.lake.raw_manifest(plan.snapshot_id))
        assert {record["snapshot_id"] for record in manifest["freshness"].values()} == {plan.snapshot_id}
        assert world.delivered_users() == len(sim.tenant.users)

    # Switched on, the next run reuses the end users the last run read: nothing to wait for.
    world.settings = world.settings.model_copy(update={"end_user_refresh_hours": 24.0})
    sim.reset_counts()
    _, results = world.hourly_run()
    assert user_requests(sim) == 0
    assert results["extract"].freshness["users"]["snapshot_id"] == plan.snapshot_id
    assert world.delivered_users() == len(sim.tenant.users)


def test_hourly_runs_reuse_end_users_until_the_refresh_lands_new_ones(sim: Any, tmp_path: Any) -> None:
    world = World(sim, tmp_path, end_user_refresh_hours=24)
    with pytest.raises(StageSkipped, match="no complete end-user extraction"):
        world.hourly_run()  # nothing complete to deliver: C1 never gets a c1z without end users
    assert not world.delivered.exists()

    first = world.refresh()
    assert first.refreshed and first.rows == len(sim.tenant.users)
    with pytest.raises(StageSkipped, match=r"a refresh is due in 22 h 5\d min"):
        world.refresh()  # 24 h cadence - one interval (1 h) - the last read's duration (~0 s)

    sim.reset_counts()
    plan, results = world.hourly_run()
    assert user_requests(sim) == 0
    assert sim.total_requests() == results["extract"].requests > 0
    manifest = read_json(world.lake.raw_manifest(plan.snapshot_id))
    users = manifest["freshness"]["users"]
    assert (users["snapshot_id"], users["reused"], users["rows"]) == (
        first.snapshot_id,
        True,
        len(sim.tenant.users),
    )
    assert all(
        manifest["freshness"][e]["snapshot_id"] == plan.snapshot_id for e in ("agents", "teams", "roles")
    )
    assert users["age_s"] > manifest["freshness"]["agents"]["age_s"]
    assert not world.lake.raw_file("users", plan.snapshot_id).exists()  # referenced, not copied
    assert raw_entity_file(world.lake, "users", plan.snapshot_id).exists()
    assert world.delivered_users() == len(sim.tenant.users)

    summary = summarize(plan, results["extract"], results["transform"], None, results["guard"], None, None)
    assert f"users              taken {users['taken_at'][:10]}" in summary
    assert f"(reused from {first.snapshot_id})" in summary
    assert f"(read in {plan.snapshot_id})" in summary

    # A refresh lands new end users; the next run delivers them, the access data again its own.
    world.settings = world.settings.model_copy(update={"end_user_refresh_hours": 0.0001})
    second = world.refresh()
    assert second.refreshed
    _, later = world.hourly_run()
    assert later["extract"].freshness["users"]["snapshot_id"] == second.snapshot_id
    assert newest_end_users(world.lake).snapshot_id == second.snapshot_id


def test_guard_and_change_log_compare_by_ids_across_mixed_age_snapshots(sim: Any, tmp_path: Any) -> None:
    world = World(sim, tmp_path, end_user_refresh_hours=24)
    world.refresh()
    world.hourly_run()
    gone = sim.tenant.users.pop()  # an end user leaves HaloITSM, and an agent loses its access
    agent = next(a for a in sim.tenant.non_system_agents() if a.get("teams"))
    agent.update(teams=[], departments=[], roles=[])

    plan, results = world.hourly_run()  # access data now, end users from the earlier read
    assert results["guard"].resources["user"]["removed"] == 0
    assert world.delivered_users() == len(sim.tenant.users) + 1  # not re-read this hour: still there
    assert results["guard"].grants["removed"] >= 1  # the access change shows at once

    world.settings = world.settings.model_copy(update={"end_user_refresh_hours": 0.0001})
    refresh = world.refresh()
    plan, results = world.hourly_run()
    assert results["guard"].passed
    assert results["guard"].resources["user"]["removed"] == 1
    assert world.delivered_users() == len(sim.tenant.users)
    stages.validate(plan, world.env)  # writes the change log against the previous delivery
    _, rows = read_change_log(world.lake, plan.snapshot_id)
    removed = [r for r in rows.to_pylist() if r["change"] == "resource_removed"]
    assert [(r["resource_type_id"], r["resource_id"]) for r in removed] == [("user", str(gone["id"]))]
    # The snapshot's report says how old each entity is and where its end users come from.
    page = (world.lake.report_dir(plan.snapshot_id) / "report.html").read_text()
    assert '<tr data-entity="users"' in page and f"reused from {refresh.snapshot_id}" in page
    assert f"read in {plan.snapshot_id}" in page


def test_retention_keeps_end_users_a_kept_snapshot_reuses(sim: Any, tmp_path: Any) -> None:
    world = World(sim, tmp_path, end_user_refresh_hours=24)
    refresh = world.refresh()
    first, _ = world.hourly_run()
    second, _ = world.hourly_run()

    report = apply_retention(world.lake, RetentionPolicy(raw=ZoneRule(days=None, max_snapshots=2)))

    # Raw entries newest first: second, first, the refresh. Past the count, but both runs reuse it.
    assert report.referenced == [refresh.snapshot_id]
    assert not [d for d in report.deleted if d.zone == "raw"]
    assert raw_entity_file(world.lake, "users", second.snapshot_id).exists()
    stages.transform(second, world.env)  # still re-derivable

    report = apply_retention(world.lake, RetentionPolicy(raw=ZoneRule(days=None, max_snapshots=1)))
    deleted = {d.snapshot_id for d in report.deleted if d.zone == "raw"}
    assert deleted == {first.snapshot_id}
    assert report.referenced == [refresh.snapshot_id]  # `second` is kept and still reuses it
    assert world.lake.end_user_manifest(refresh.snapshot_id).exists()
