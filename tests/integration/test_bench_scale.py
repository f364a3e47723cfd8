"""bench/scale.py at 1/50 size: every stage runs in its own process, end to end, so the benchmark cannot rot.

No timing is asserted: the numbers are the benchmark's business. What is checked is that each
stage did its job on the synthetic tenant and the per-stage measurements exist.
"""

from __future__ import annotations

import re

import pytest

from bench import scale


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("scale")
    return scale.main(["--scale", "0.02", "--extract-users", "1000", "--workdir", str(workdir)])


def test_scale_pipeline_runs_every_stage_in_its_own_process_with_a_floor(results):
    stages = results["pipeline"]["stages"]
    assert list(stages) == ["transform", "validate", "guard", "c1z", "deliver"]
    for name, numbers in stages.items():
        for side in ("stage", "floor"):
            assert numbers[side]["seconds"] > 0, (name, side)
            assert numbers[side]["peak_rss"] >= numbers[side]["ready_rss"] > 0, (name, side)


def test_scale_pipeline_carries_the_synthetic_tenant_to_the_c1z_and_s3(results):
    pipeline = results["pipeline"]
    raw, stages = pipeline["raw"], pipeline["stages"]
    assert raw["users"] == 20_000 and raw["agents"] == 400
    assert raw["agent_memberships"] > raw["distinct_memberships"] == 68_000  # role-inherited duplicates
    rows = stages["transform"]["stage"]["result"]["rows"]
    assert rows["grants"] == raw["distinct_memberships"]
    assert rows["resources"] == raw["users"] + raw["agents"] + raw["teams"] + raw["roles"] + 50
    assert stages["validate"]["stage"]["result"]["passed"] is True
    assert stages["guard"]["stage"]["result"]["passed"] is True
    c1z = stages["c1z"]["stage"]["result"]
    assert c1z["counts"]["v1_grants"] == rows["grants"]
    assert c1z["counts"]["v1_resources"] == rows["resources"]
    assert 0 < c1z["size_bytes"] < c1z["sqlite_bytes"] < scale.CAP_BYTES
    delivered = stages["deliver"]["stage"]["result"]
    assert delivered["sha256"] == c1z["sha256"]


def test_scale_order_check_writes_the_same_rows_in_any_grant_order(results):
    order = results["pipeline"]["order"]
    curated = results["pipeline"]["stages"]["c1z"]["stage"]["result"]
    assert set(order) == {"shuffled", "agent order"}
    for outcome in order.values():
        assert outcome["result"]["counts"] == curated["counts"]
        assert outcome["result"]["sync_id"] == curated["sync_id"]
        assert outcome["result"]["sha256"] == curated["sha256"]  # loaded in one order: the same file


def test_scale_extraction_makes_the_minimum_requests(results):
    runs = results["extract"]
    assert [run["users"] for run in runs] == [1000]
    for run in runs:
        assert run["requests"] == run["minimum"]
        assert run["peak_rss"] > 0


def test_scale_prints_one_stable_table_and_ends_with_a_line_per_goal(results):
    table = scale.stage_table(results)
    assert table[0] == "| stage | wall | CPU | floor | ratio | peak RSS |"
    assert [row.split(" | ")[0] for row in table[2:]] == [
        "| transform", "| validate", "| guard", "| c1z", "| deliver",
        "| c1z, grants shuffled", "| c1z, grants agent order", "| extract, 1,000 end users",
    ]  # fmt: skip
    goals = scale.goal_lines(results)
    assert [line.partition(":")[0] for line in goals] == [
        "goal transform", "goal gate-memory", "goal gate-time", "goal c1z-cpu", "goal c1z-order",
        "goal extraction-requests", "goal extraction-memory",
    ]  # fmt: skip
    for line in goals:
        assert re.fullmatch(r"goal [a-z0-9-]+: (met|missed) \(.+ vs .+\)", line), line
    assert goals[5].startswith("goal extraction-requests: met")
