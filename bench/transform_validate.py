"""Benchmark: transform + quality gate on a synthetic raw snapshot, against the pyarrow I/O floor.

Prints, from one run: the I/O floor (bare pyarrow read of the raw zone plus a write of the same
rows), the transform time and its ratio to the floor (goal ≤ 3×), the GX import time, the gate time
with and without Data Docs (goal ≤ 10 s), and the peak RSS (goal ≤ 2 GiB). The raw snapshot is
generated in a child process so the peak RSS reported is the pipeline's, not the generator's.

    PYTHONPATH=.:include .venv/bin/python bench/transform_validate.py --principals 100000 --memberships 1000000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from halo_c1 import model
from halo_c1.lake import Lake, write_json, write_parquet

SNAPSHOT = "20261127T050000Z"


def _ids(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _raw_json(key: str, ids: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(f'{{"{key}":', ids, "}", "")


def generate(base: str, principals: int, memberships: int, seed: int) -> None:
    """A Halo-shaped raw snapshot: 20% agents, 80% end users, teams/departments/roles, and
    membership rows of which ~20% are inherited via a role (some duplicating a direct row)."""
    rng = np.random.default_rng(seed)
    lake = Lake(base)
    agents = max(principals // 5, 2)
    users = principals - agents
    teams, departments, roles = max(agents // 40, 1), max(agents // 400, 1), max(agents // 200, 1)
    agent_ids = _ids(np.arange(2, agents + 2))
    emails = pc.binary_join_element_wise("agent", agent_ids, "@example.com", "")
    write_parquet(
        lake.raw_file("agents", SNAPSHOT),
        pa.table(
            {
                "agent_id": agent_ids,
                "name": pc.binary_join_element_wise("Agent ", agent_ids, ""),
                "firstname": pa.array(["Ann"] * agents),
                "surname": pc.binary_join_element_wise("Surname", agent_ids, ""),
                "email": emails,
                "ad": pa.nulls(agents, pa.string()),
                "isdisabled": pa.array(rng.random(agents) < 0.05),
                "isapiagent": pa.array(rng.random(agents) < 0.01),
                "lastlogindate": pa.array(["2025-01-02T09:00:00"] * agents),
                "invalid_fields": pa.nulls(agents, pa.list_(pa.string())),
                "raw_json": _raw_json("id", agent_ids),
            },
            schema=model.RAW_AGENTS,
        ),
    )
    user_ids = _ids(np.arange(1, users + 1))
    write_parquet(
        lake.raw_file("users", SNAPSHOT),
        pa.table(
            {
                "user_id": user_ids,
                "name": pc.binary_join_element_wise("User ", user_ids, ""),
                "firstname": pa.array(["Bo"] * users),
                "surname": pc.binary_join_element_wise("Surname", user_ids, ""),
                "emailaddress": pc.binary_join_element_wise("user", user_ids, "@example.com", ""),
                "login": pa.nulls(users, pa.string()),
                "inactive": pa.array(rng.random(users) < 0.1),
                "isserviceaccount": pa.array(rng.random(users) < 0.01),
                "lastlogindate": pa.array(["2025-03-04T10:11:12"] * users),
                "invalid_fields": pa.nulls(users, pa.list_(pa.string())),
                "raw_json": _raw_json("id", user_ids),
            },
            schema=model.RAW_USERS,
        ),
    )
    team_ids = _ids(np.arange(1, teams + 1))
    team_departments = _ids(rng.integers(1, departments + 1, teams))
    write_parquet(
        lake.raw_file("teams", SNAPSHOT),
        pa.table(
            {
                "team_id": team_ids,
                "name": pc.binary_join_element_wise("Team ", team_ids, ""),
                "department_id": team_departments,
                "department_name": pc.binary_join_element_wise("Department ", team_departments, ""),
                "inactive": pa.array(rng.random(teams) < 0.05),
                "invalid_fields": pa.nulls(teams, pa.list_(pa.string())),
                "raw_json": _raw_json("id", team_ids),
            },
            schema=model.RAW_TEAMS,
        ),
    )
    role_ids = pa.array([f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(roles)])
    write_parquet(
        lake.raw_file("roles", SNAPSHOT),
        pa.table(
            {
                "role_id": role_ids,
                "name": pc.binary_join_element_wise("Role ", role_ids, ""),
                "invalid_fields": pa.nulls(roles, pa.list_(pa.string())),
                "raw_json": role_ids,
            },
            schema=model.RAW_ROLES,
        ),
    )
    kinds = rng.choice(np.array(["team", "department", "role"]), memberships, p=[0.6, 0.2, 0.2])
    targets = np.where(
        kinds == "team",
        rng.integers(1, teams + 1, memberships).astype(str),
        np.where(kinds == "department", rng.integers(1, departments + 1, memberships).astype(str), ""),
    ).astype(object)
    is_role = kinds == "role"
    targets[is_role] = np.asarray(role_ids.to_pylist(), dtype=object)[
        rng.integers(0, roles, int(is_role.sum()))
    ]
    via = np.full(memberships, None, dtype=object)
    inherited = (rng.random(memberships) < 0.2) & ~is_role
    via[inherited] = np.asarray(role_ids.to_pylist(), dtype=object)[
        rng.integers(0, roles, int(inherited.sum()))
    ]
    member_agents = _ids(rng.integers(2, agents + 2, memberships))
    write_parquet(
        lake.raw_file("agent_memberships", SNAPSHOT),
        pa.table(
            {
                "agent_id": member_agents,
                "kind": pa.array(kinds),
                "target_id": pa.array(targets, pa.string()),
                "target_name": pa.nulls(memberships, pa.string()),
                "via_role_id": pa.array(via, pa.string()),
                "source": pa.array(["/api/Agent"] * memberships),
                "invalid_fields": pa.nulls(memberships, pa.list_(pa.string())),
                "raw_json": _raw_json("agent_id", member_agents),
            },
            schema=model.RAW_AGENT_MEMBERSHIPS,
        ),
    )
    write_json(lake.raw_manifest(SNAPSHOT), {"snapshot_id": SNAPSHOT})


def io_floor(lake: Lake, out: Path) -> tuple[float, int]:
    """Read every raw entity with pyarrow and write the same rows back out: the least any stage costs."""
    start = time.perf_counter()
    rows = 0
    for entity in ("agents", "users", "teams", "roles", "agent_memberships"):
        table = pq.read_table(lake.raw_file(entity, SNAPSHOT).path)
        rows += table.num_rows
        pq.write_table(table, out / f"{entity}.parquet", compression="zstd")
    return time.perf_counter() - start, rows


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--principals", type=int, default=100_000, help="agents + end users")
    parser.add_argument("--memberships", type=int, default=1_000_000, help="raw membership rows (≈ grants)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="floor/transform runs; the best is compared")
    args = parser.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

    with tempfile.TemporaryDirectory(prefix="bench_transform_") as tmp:
        base = Path(tmp) / "lake"
        child = multiprocessing.get_context("spawn").Process(
            target=generate, args=(str(base), args.principals, args.memberships, args.seed)
        )
        child.start()
        child.join()
        if child.exitcode:
            raise SystemExit(f"generator failed with exit code {child.exitcode}")
        lake = Lake(str(base))
        floor_dir = Path(tmp) / "floor"
        floor_dir.mkdir()

        from halo_c1.quality import run_quality_gate
        from halo_c1.transform import transform_snapshot

        floor_runs, transform_runs = [], []
        for _ in range(args.repeat):
            floor_s, raw_rows = io_floor(lake, floor_dir)
            floor_runs.append(floor_s)
            start = time.perf_counter()
            stats = transform_snapshot(lake, SNAPSHOT)
            transform_runs.append(time.perf_counter() - start)
        rss_transform = peak_rss_mib()

        start = time.perf_counter()
        import great_expectations  # ruff: ignore[unused-import]  (timed alone: the gate imports it lazily)

        import_s = time.perf_counter() - start
        start = time.perf_counter()
        no_docs = run_quality_gate(lake, SNAPSHOT, data_docs=False)
        gate_no_docs_s = time.perf_counter() - start
        start = time.perf_counter()
        result = run_quality_gate(lake, SNAPSHOT)
        gate_s = time.perf_counter() - start

    print(
        f"raw rows read: {raw_rows:,}; curated rows: {stats['rows']}; by type: {stats['resources_by_type']}"
    )
    floor_s, transform_s = min(floor_runs), min(transform_runs)
    runs = [(round(f, 2), round(t, 2)) for f, t in zip(floor_runs, transform_runs, strict=True)]
    print(f"runs (floor s, transform s): {runs}")
    print(f"I/O floor (pyarrow read raw + write same rows): {floor_s:6.2f} s (best of {args.repeat})")
    print(
        f"transform_snapshot:                             {transform_s:6.2f} s  = {transform_s / floor_s:.2f}x floor "
        f"(best of {args.repeat}; first run {transform_runs[0] / floor_runs[0]:.2f}x; goal <= 3x)"
    )
    print(f"GX import (once per process):                   {import_s:6.2f} s")
    print(
        f"gate, no Data Docs (excl. import):              {gate_no_docs_s:6.2f} s  ({no_docs['evaluated']} expectations)"
    )
    print(
        f"gate with Data Docs (excl. import):             {gate_s:6.2f} s  (goal <= 10 s); "
        f"incl. import {gate_s + import_s:.2f} s; passed={result['passed']}, "
        f"failed errors={result['failed_errors']}, warnings={result['failed_warnings']}"
    )
    print(
        f"peak RSS after transform: {rss_transform:,.0f} MiB; after gate: {peak_rss_mib():,.0f} MiB (goal <= 2048)"
    )


if __name__ == "__main__":
    main()
