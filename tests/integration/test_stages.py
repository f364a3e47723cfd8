"""The stage functions without Airflow: the run policy that used to live in the DAG.

Each test plans a run with `stages.plan` and runs stages against a real simulator and a file lake,
through an `Environment` built by hand (what `halo_c1_airflow.stage.environment()` builds from
Airflow configuration).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from halo_c1 import stages
from halo_c1.deliver import ObjectStorageTarget
from halo_c1.errors import ConfigurationError, StageSkipped
from halo_c1.guard import MassDeletionError
from halo_c1.lake import Lake, read_json, snapshot_id_for
from halo_c1.results import DeliveryResult, ExtractResult, GuardResult
from halo_c1.runs import REDERIVE, RunPlan
from halo_c1_airflow.settings import max_drop_ratio
from tests.integration.conftest import halo_settings

pytestmark = pytest.mark.integration


class World:
    """A simulator, a lake and a delivery file, and an `Environment` over them that counts what the
    stages asked for."""

    def __init__(self, sim: Any, tmp_path: Any, *, include_end_users: bool = True) -> None:
        self.sim = sim
        self.lake = Lake(str(tmp_path / "lake"))
        self.delivered = tmp_path / "c1" / "sync.c1z"
        self.settings = halo_settings(sim, include_end_users=include_end_users)
        self.asked: list[str] = []
        # When the runs take their data: recent, and read when the test runs (extraction refuses a
        # snapshot named over 45 min ago, which a module-level constant became in a long session).
        self.t1 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
        self.t2 = self.t1 + timedelta(minutes=10)

    def _settings(self) -> Any:
        self.asked.append("halo_settings")
        return self.settings

    def _target(self) -> ObjectStorageTarget:
        self.asked.append("delivery_target")
        return ObjectStorageTarget(str(self.delivered))

    @property
    def env(self) -> stages.Environment:
        return stages.Environment(
            lake=self.lake,
            halo_settings=self._settings,
            delivery_target=self._target,
            max_drop_ratio=max_drop_ratio,
        )

    def plan(self, moment: datetime, run_type: str = "manual", **params: Any) -> RunPlan:
        """Plan the run of `moment` (its DAG run id, its hour as data interval) taking data at `moment`."""
        return stages.plan(
            self.env,
            run_id=f"{run_type}__{moment.isoformat()}",
            run_type=run_type,
            params=params,
            interval=(moment, moment + timedelta(hours=1)),
            now=moment,
        )

    def run_all(self, plan: RunPlan) -> list[Any]:
        """Every stage after the plan, in the DAG's order."""
        order = (stages.extract, stages.transform, stages.validate, stages.guard, stages.package)
        results = [stage(plan, self.env) for stage in order]
        return [*results, stages.deliver(plan, self.env)]


@pytest.fixture
def world(start_simulator, tmp_path) -> World:
    from dev.halo_simulator import TenantSpec

    sim = start_simulator(tenant=TenantSpec(seed=5, agents=20, users=15, teams=4, roles=3, departments=2))
    return World(sim, tmp_path)


def test_extract_reuses_an_archived_raw_snapshot_without_calling_halo(world: World) -> None:
    first = stages.extract(world.plan(world.t1), world.env)
    world.sim.reset_counts()
    world.asked.clear()

    again = stages.extract(world.plan(world.t1, rederive_only=True), world.env)

    assert (first.reused, again.reused) == (False, True)
    assert first.requests > 0
    assert again.requests == 0
    assert world.sim.total_requests() == 0
    assert "halo_settings" not in world.asked  # a re-derive needs no HaloITSM connection
    assert again.counts == first.counts


def test_rederive_without_archived_raw_is_skipped_with_the_reason(world: World) -> None:
    plan = world.plan(world.t1, rederive_only=True)

    with pytest.raises(StageSkipped, match=r"no archived raw snapshot taken in \[.*\) UTC"):
        stages.extract(plan, world.env)

    assert world.sim.total_requests() == 0


@pytest.mark.parametrize(
    ("connection", "param", "extracted"),
    [(True, None, True), (False, None, False), (True, "exclude", False), (False, "include", True)],
)
def test_end_users_follow_the_run_param_else_the_connection(
    start_simulator, tmp_path, connection: bool, param: str | None, extracted: bool
) -> None:
    from dev.halo_simulator import TenantSpec

    sim = start_simulator(tenant=TenantSpec(seed=6, agents=5, users=7, teams=2, roles=2, departments=1))
    world = World(sim, tmp_path, include_end_users=connection)
    plan = world.plan(world.t1, dry_run=True, include_end_users=param)

    result = stages.extract(plan, world.env)
    transformed = stages.transform(plan, world.env)

    assert result.include_end_users is extracted
    assert (result.counts["users"] == 7) is extracted
    assert ("user" in transformed.resources_by_type) is extracted


def test_a_rederived_run_skips_the_guard_and_never_delivers(world: World) -> None:
    plan = world.plan(world.t1, rederive_only=True)
    assert (plan.mode, plan.deliver) == (REDERIVE, False)

    guarded = stages.guard(plan, world.env)  # no curated tables at all: a real comparison would fail

    assert guarded.passed and guarded.skipped == "re-derived snapshots are never delivered"
    assert not world.lake.guard_report(plan.snapshot_id).exists()
    with pytest.raises(StageSkipped, match="never delivered"):
        stages.deliver(plan, world.env)
    assert "delivery_target" not in world.asked


def test_the_plan_reads_the_baseline_once_and_refuses_a_bad_target_before_any_work(world: World) -> None:
    assert world.plan(world.t1).baseline is None
    world.run_all(world.plan(world.t1))

    plan = world.plan(world.t2)

    assert plan.baseline is not None
    assert plan.baseline.snapshot_id == snapshot_id_for(world.t1)
    assert plan.max_drop_ratio == pytest.approx(0.2)
    assert RunPlan.from_xcom(plan.to_xcom()) == plan
    world.delivered = world.delivered.parent  # a folder, not the .c1z file
    with pytest.raises(ConfigurationError, match=r"must name the \.c1z file"):
        world.plan(world.t2)
    world.asked.clear()
    assert world.plan(world.t2, dry_run=True).deliver is False
    assert "delivery_target" not in world.asked


def test_stages_deliver_then_the_guard_blocks_a_drop_against_the_planned_baseline(world: World) -> None:
    results = world.run_all(world.plan(world.t1))
    delivered = results[-1]
    assert isinstance(results[0], ExtractResult)
    assert isinstance(delivered, DeliveryResult)
    assert world.delivered.read_bytes() == world.lake.c1z_file(delivered.snapshot_id).read_bytes()
    world.sim.tenant.drop_agents(0.5)
    plan = world.plan(world.t2)
    for stage in (stages.extract, stages.transform, stages.validate):
        stage(plan, world.env)

    with pytest.raises(MassDeletionError, match="resource type 'agent'"):
        stages.guard(plan, world.env)

    report = read_json(world.lake.guard_report(plan.snapshot_id))
    assert report["passed"] is False
    assert report["previous_snapshot_id"] == delivered.snapshot_id
    allowed = stages.guard(RunPlan.from_xcom({**plan.to_xcom(), "allow_mass_deletion": True}), world.env)
    assert isinstance(allowed, GuardResult) and allowed.overridden
