"""Benchmark: the largest reported tenant end to end, each stage in its own process (issue 15).

    make bench-scale                       # 1,000,000 users, 20,000 agents, 3,400,000 memberships
    PYTHONPATH=.:include .venv/bin/python bench/scale.py --scale 0.1 [--part pipeline|extract|all]

Pipeline part: a child process writes a synthetic raw snapshot with the extractor's own writer
(`StagedTable`, one write per API page, as `extract_snapshot` does) and the extractor's manifest;
then transform → quality gate (Data Docs on) → guard → c1z → delivery to a moto S3 server on
127.0.0.1 each run in a fresh process (spawn), calling the domain stage functions as the DAG's
tasks do. Before each stage, its I/O floor runs in its own fresh process: a pyarrow read of the
rows the stage reads and a Parquet write of the same rows (delivery: read the c1z and put the same
bytes with one plain upload). Printed per stage: wall time of the stage call (imports excluded,
first call in the process), floor, ratio, and the process's peak RSS (VmHWM). Then the c1z writer
runs again on the same grants shuffled and in agent order, and the decoded SQLite size is compared
with the 3 GiB cap of older Baton readers.

Extraction part: the HaloITSM simulator in its own process (page cap 50, no rate limit), one fresh
extraction process per size (default 50k, 100k, 200k end users): requests made against the minimum,
and the extraction process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.c1z import _peak_rss_bytes
from bench.delivery_memory import _free_port, _wait_for

SNAPSHOT = "20261127T050000Z"
SNAPSHOT_TIME = datetime(2026, 11, 27, 5, tzinfo=UTC)
# Stage functions the DAG's tasks call, in order; the c1z job stands for `package` (see _setup).
STAGES = ("transform", "validate", "guard", "deliver")
BUCKET = "scale-bench"
PAGE_CAP = 50
CAP_BYTES = 3 * 2**30  # older Baton readers' decoded-size cap (c1z-and-c1.md A1), write_c1z's default
CURRENT_READERS_CAP_BYTES = 10 * 2**30  # baton-sdk v0.25+
FULL = {"users": 1_000_000, "agents": 20_000, "teams": 500, "roles": 100, "departments": 50}
FULL_MEMBERSHIPS = 3_400_000
INHERITED_SHARE = 0.25  # team/department memberships that come only through a role
ALSO_INHERITED_SHARE = 0.02  # direct team memberships that a role grants as well (a second raw row)


def _rss_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


# ---------------------------------------------------------------------------------------------
# The synthetic raw snapshot, written the way the extractor writes it
# ---------------------------------------------------------------------------------------------


def _pages(table: Any, rows_per_page: int) -> Any:
    for start in range(0, table.num_rows, rows_per_page):
        yield table.slice(start, rows_per_page).to_pylist()


def _conform(columns: dict[str, Any], schema: Any) -> Any:
    """The columns as a table of the raw schema; a column the extractor leaves null when all is well
    (e.g. `invalid_fields`) is all null."""
    import pyarrow as pa

    rows = len(next(iter(columns.values())))
    return pa.table(
        [columns[f.name] if f.name in columns else pa.nulls(rows, f.type) for f in schema], schema=schema
    )


def generate_raw(lake_url: str, sizes: dict[str, int], memberships: int, seed: int) -> dict[str, int]:
    """Write a raw snapshot with `StagedTable` page by page and the extractor's manifest; return counts."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from halo_c1 import model
    from halo_c1.halo.extract import StagedTable
    from halo_c1.lake import Lake, write_json

    rng = np.random.default_rng(seed)
    lake = Lake(lake_url)
    users, agents, teams, roles, departments = (
        sizes[k] for k in ("users", "agents", "teams", "roles", "departments")
    )

    def ids(start: int, count: int) -> pa.Array:
        return pc.cast(pa.array(np.arange(start, start + count)), pa.string())

    def text(*parts: Any) -> pa.Array:
        return pc.binary_join_element_wise(*parts, "")

    role_ids = pa.array([f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(1, roles + 1)])
    team_ids = ids(1, teams)
    team_departments = ids(1, departments).take(pa.array(rng.integers(0, departments, teams)))

    # Memberships: distinct (agent, target) pairs over teams, departments and roles.
    targets = teams + departments + roles
    pairs = np.sort(rng.choice(agents * targets, size=memberships, replace=False))
    agent_index, target_index = np.divmod(pairs, targets)
    kind = np.where(target_index < teams, 0, np.where(target_index < teams + departments, 1, 2))
    inherited = (kind != 2) & (rng.random(memberships) < INHERITED_SHARE)
    also = (kind == 0) & ~inherited & (rng.random(memberships) < ALSO_INHERITED_SHARE)
    # A second, role-inherited row for the "also" pairs, right after the direct one.
    order = np.argsort(np.concatenate([np.arange(memberships), np.flatnonzero(also)]), kind="stable")
    agent_index = np.concatenate([agent_index, agent_index[also]])[order]
    target_index = np.concatenate([target_index, target_index[also]])[order]
    kind = np.concatenate([kind, kind[also]])[order]
    via = np.concatenate([inherited, np.ones(int(also.sum()), bool)])[order]
    rows = len(kind)
    all_targets = pa.concat_arrays([team_ids, ids(1, departments), role_ids])
    target_text = all_targets.take(pa.array(target_index))
    kind_text = pa.array(np.array(["team", "department", "role"])[kind])
    via_roles = np.full(rows, None, object)
    via_roles[via] = np.asarray(role_ids.to_pylist(), dtype=object)[rng.integers(0, roles, int(via.sum()))]
    via_text = pa.array(via_roles, pa.string())
    agent_text = ids(2, agents).take(pa.array(agent_index))
    member_json = text(
        '{"', kind_text, '_id":"', target_text, '","role_id":"', pc.fill_null(via_text, ""), '"}'
    )
    member_table = _conform(
        {
            "agent_id": agent_text,
            "kind": kind_text,
            "target_id": target_text,
            "target_name": pa.nulls(rows, pa.string()),
            "via_role_id": via_text,
            "source": pa.array(["GET /api/Agent"] * rows),
            "raw_json": member_json,
        },
        model.RAW_AGENT_MEMBERSHIPS,
    )
    # The agent row's raw JSON carries its membership arrays, as Halo returns it.
    offsets = np.concatenate([[0], np.cumsum(np.bincount(agent_index, minlength=agents))]).astype(np.int32)
    arrays = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), member_json), ",")
    agent_ids = ids(2, agents)
    agent_table = _conform(
        {
            "agent_id": agent_ids,
            "name": text("Agent ", agent_ids),
            "firstname": pa.array(["Ann"] * agents),
            "surname": text("Surname", agent_ids),
            "email": text("agent", agent_ids, "@example.com"),
            "ad": pa.nulls(agents, pa.string()),
            "isdisabled": pa.array(rng.random(agents) < 0.05),
            "isapiagent": pa.array(rng.random(agents) < 0.01),
            "lastlogindate": pa.array(["2025-01-02T09:00:00"] * agents),
            "raw_json": text('{"id":', agent_ids, ',"name":"Agent ', agent_ids, '","teams":[', arrays, "]}"),
        },
        model.RAW_AGENTS,
    )
    user_ids = ids(1, users)
    user_table = _conform(
        {
            "user_id": user_ids,
            "name": text("User ", user_ids),
            "firstname": pa.array(["Bo"] * users),
            "surname": text("Surname", user_ids),
            "emailaddress": text("user", user_ids, "@example.com"),
            "login": pa.nulls(users, pa.string()),
            "inactive": pa.array(rng.random(users) < 0.1),
            "isserviceaccount": pa.array(rng.random(users) < 0.01),
            "lastlogindate": pa.array(["2025-03-04T10:11:12"] * users),
            "raw_json": text(
                '{"id":',
                user_ids,
                ',"name":"User ',
                user_ids,
                '","emailaddress":"user',
                user_ids,
                '@example.com","site_id":1,"site_name":"Main","client_id":1,"client_name":"Example",'
                '"inactive":false,"isserviceaccount":false,"lastlogindate":"2025-03-04T10:11:12"}',
            ),
        },
        model.RAW_USERS,
    )
    team_table = _conform(
        {
            "team_id": team_ids,
            "name": text("Team ", team_ids),
            "department_id": team_departments,
            "department_name": text("Department ", team_departments),
            "inactive": pa.array(rng.random(teams) < 0.05),
            "raw_json": text('{"id":', team_ids, ',"department_id":', team_departments, "}"),
        },
        model.RAW_TEAMS,
    )
    role_table = _conform(
        {"role_id": role_ids, "name": text("Role ", role_ids), "raw_json": text('{"id":"', role_ids, '"}')},
        model.RAW_ROLES,
    )

    staged = {entity: StagedTable(entity, lake, SNAPSHOT) for entity in model.RAW_ENTITIES}
    for table in staged.values():
        table.reset()
    staged["teams"].write(team_table.to_pylist())
    staged["roles"].write(role_table.to_pylist())
    agent_pages = math.ceil(agents / PAGE_CAP)
    for page in range(agent_pages):
        staged["agents"].write(agent_table.slice(page * PAGE_CAP, PAGE_CAP).to_pylist())
        start, end = offsets[page * PAGE_CAP], offsets[min((page + 1) * PAGE_CAP, agents)]
        staged["agent_memberships"].write(member_table.slice(start, end - start).to_pylist())
    for page in _pages(user_table, PAGE_CAP):
        staged["users"].write(page)
    user_pages = math.ceil(users / PAGE_CAP)
    requests = 1 + 1 + 1 + agent_pages + user_pages
    moment = datetime(2026, 11, 27, 5, tzinfo=UTC)
    paths = [
        "/auth/token",
        "/api/Team",
        "/api/Roles",
        *["/api/Agent"] * agent_pages,
        *["/api/Users"] * user_pages,
    ]
    staged["request_log"].write(
        [
            {
                "seq": seq,
                "at": moment + timedelta(milliseconds=20 * seq),
                "method": "POST" if seq == 1 else "GET",
                "path": path,
                "params": None,
                "status": 200,
                "elapsed_ms": 20.0,
                "attempt": 1,
                "throttle_wait_s": 0.0,
                "error": None,
            }
            for seq, path in enumerate(paths, start=1)
        ]
    )
    for table in staged.values():
        table.commit()
    counts = {
        "agents": agents,
        "agent_memberships": rows,
        "teams": teams,
        "roles": roles,
        "users": users,
    }
    write_json(
        lake.raw_manifest(SNAPSHOT),
        {
            "snapshot_id": SNAPSHOT,
            "halo_base_url": "https://synthetic.halo.example",
            "started_at": moment.isoformat(),
            "finished_at": (moment + timedelta(milliseconds=20 * requests)).isoformat(),
            "duration_s": round(0.02 * requests, 3),
            "include_end_users": True,
            "counts": counts,
            "pages": {"agents": agent_pages, "teams": 1, "roles": 1, "users": user_pages},
            "distinct_department_ids": departments,
            "membership_sources": dict.fromkeys(("team", "department", "role"), "agent list"),
            "membership_fallback_requests": 0,
            "listing_restarts": 0,
            "requests": requests,
            "token_requests": 1,
            "retries": 0,
            "responses_429": 0,
            "responses_by_status": {"200": requests},
            "seconds_waited": {"throttle": 0.0, "rate_limit_429": 0.0, "backoff": 0.0},
            "files": {entity: str(table.path) for entity, table in staged.items()},
            "manifest": str(lake.raw_manifest(SNAPSHOT)),
        },
    )
    row_groups = {}
    for entity, table in staged.items():
        with table.path.open("rb") as handle:
            row_groups[entity] = pq.ParquetFile(handle).metadata.num_row_groups
    raw_bytes = sum(table.path.stat().st_size for table in staged.values())
    return {**counts, "distinct_memberships": memberships, "raw_bytes": raw_bytes, "row_groups": row_groups}


# ---------------------------------------------------------------------------------------------
# Jobs: each runs in a fresh process. `setup` imports and prepares; only the returned call is timed.
# ---------------------------------------------------------------------------------------------


def _parquet_floor(inputs: list[tuple[str, list[str] | None]], out_dir: str) -> Callable[[], dict]:
    """Read each file's columns with pyarrow and write the same rows back as zstd Parquet."""
    import pyarrow.parquet as pq

    def run() -> dict:
        rows = 0
        for number, (path, columns) in enumerate(inputs):
            table = pq.read_table(path, columns=columns)
            rows += table.num_rows
            pq.write_table(table, os.path.join(out_dir, f"{number}.parquet"), compression="zstd")
        return {"rows": rows}

    return run


def _transform_floor(
    inputs: list[tuple[str, list[str] | None]], lake: Any, out_dir: str
) -> Callable[[], dict]:
    """Read the raw rows the transform reads and write the curated rows it writes (loaded before
    the clock starts): the I/O any transform must do, as zstd Parquet. The transform writes about
    four times the bytes it reads (derived ids), so a floor that wrote the raw rows back would
    charge that necessary output to the stage."""
    import pyarrow.parquet as pq

    from halo_c1.model import CURATED_TABLES

    outputs = [pq.read_table(_local(lake.curated_file(t, SNAPSHOT))) for t in CURATED_TABLES]

    def run() -> dict:
        rows = 0
        for path, columns in inputs:
            rows += pq.read_table(path, columns=columns).num_rows
        for number, table in enumerate(outputs):
            pq.write_table(table, os.path.join(out_dir, f"{number}.parquet"), compression="zstd")
        return {"rows": rows}

    return run


def _local(path: Any) -> str:
    return str(path.path)


def _environment(payload: dict[str, Any]) -> Any:
    """The stages' `Environment` over the benchmark's lake, simulator and S3 server."""
    from upath import UPath

    from halo_c1 import stages
    from halo_c1.deliver.objectstore import ObjectStorageTarget
    from halo_c1.guard import DEFAULT_MAX_DROP_RATIO
    from halo_c1.halo import HaloSettings
    from halo_c1.lake import Lake

    return stages.Environment(
        lake=Lake(payload["lake"]),
        halo_settings=lambda: HaloSettings(**payload["settings"]),
        delivery_target=lambda: ObjectStorageTarget(UPath(f"s3://{BUCKET}/halo/sync.c1z", **payload["s3"])),
        max_drop_ratio=lambda value: value or DEFAULT_MAX_DROP_RATIO,
    )


def _plan(env: Any, now: datetime | None, **params: Any) -> Any:
    """The run's plan, as the DAG's plan task makes it for a scheduled run taking its data at `now`."""
    from halo_c1 import stages

    moment = now or datetime.now(UTC)
    return stages.plan(
        env,
        run_id=f"scheduled__{moment.isoformat()}",
        run_type="scheduled",
        params=params,
        interval=(moment - timedelta(hours=1), moment),
        now=now,
    )


def _setup(job: str, payload: dict[str, Any]) -> Callable[[], Any]:
    from upath import UPath

    from halo_c1.lake import Lake

    lake = Lake(payload["lake"])
    snapshot = SNAPSHOT
    if job == "generate":
        return lambda: generate_raw(
            payload["lake"], payload["sizes"], payload["memberships"], payload["seed"]
        )
    if job == "floor:transform":
        from halo_c1 import model

        inputs = [
            (
                _local(lake.raw_file(entity, snapshot)),
                [n for n in model.RAW_ENTITIES[entity].names if n != "raw_json"],
            )
            for entity in ("agents", "users", "teams", "roles")
        ]
        inputs.append(
            (
                _local(lake.raw_file("agent_memberships", snapshot)),
                ["agent_id", "kind", "target_id", "target_name", "via_role_id"],
            )
        )
        return _transform_floor(inputs, lake, payload["scratch"])
    if job in ("floor:gate", "floor:c1z"):
        tables = ["resource_types", "resources", "entitlements", "grants"]
        if job == "floor:gate":
            tables.append("rejected_rows")
        return _parquet_floor(
            [(_local(lake.curated_file(t, snapshot)), None) for t in tables], payload["scratch"]
        )
    if job == "floor:guard":
        return _parquet_floor(
            [(_local(lake.curated_file("resources", snapshot)), ["resource_type_id"])], payload["scratch"]
        )
    if job == "floor:deliver":
        source = lake.c1z_file(snapshot)
        target = UPath(f"s3://{BUCKET}/floor/sync.c1z", **payload["s3"])
        target.write_bytes(b"warm up the client")

        def put() -> dict:
            data = source.read_bytes()
            target.write_bytes(data)
            return {"bytes": len(data)}

        return put
    if job == "c1z":
        from halo_c1.c1z.writer import write_c1z

        # `stages.package` is write_c1z with the default 3 GiB cap, which refuses the largest tenant
        # (measured here); the benchmark writes it with the 10 GiB cap of current readers instead.
        return lambda: write_c1z(lake, snapshot, max_decoded_bytes=CURRENT_READERS_CAP_BYTES)
    if job == "extract":
        from halo_c1 import stages

        env = _environment(payload)
        run = _plan(env, None, dry_run=True)
        return lambda: stages.extract(run, env).to_xcom()
    if job in STAGES:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        from halo_c1 import stages
        from halo_c1.runs import RunPlan

        if job == "validate":
            import great_expectations  # ruff: ignore[unused-import]  (imported lazily by the gate; not timed)
        env = _environment(payload)
        run = RunPlan.from_xcom(payload["plan"])
        stage = getattr(stages, job)
        if job == "deliver":  # the S3 client's one-off setup is not the stage's cost
            UPath(f"s3://{BUCKET}/warmup", **payload["s3"]).write_bytes(b"warm up the client")
        return lambda: stage(run, env).to_xcom()
    raise ValueError(f"unknown job {job!r}")


def _child(job: str, payload: dict[str, Any], queue: multiprocessing.Queue) -> None:
    try:
        started = time.perf_counter()
        call = _setup(job, payload)
        setup_s = time.perf_counter() - started
        ready_rss = _rss_bytes("VmRSS")
        started, cpu = time.perf_counter(), time.process_time()
        result = call()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        queue.put(
            {
                "seconds": seconds,
                "cpu_s": cpu,
                "setup_s": setup_s,
                "ready_rss": ready_rss,
                "peak_rss": _peak_rss_bytes(),
                "result": result,
            }
        )
    except BaseException as error:
        queue.put({"error": f"{type(error).__name__}: {error}"})
        raise


def run_job(job: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run one job in a fresh interpreter (as an Airflow task runs in its own process)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(job, payload, queue), name=f"bench-{job}")
    process.start()
    outcome = queue.get()
    process.join()
    if "error" in outcome:
        raise RuntimeError(f"{job} failed in its process: {outcome['error']}")
    return outcome


# ---------------------------------------------------------------------------------------------
# The pipeline part
# ---------------------------------------------------------------------------------------------


def _moto() -> tuple[subprocess.Popen, dict[str, str]]:
    import boto3

    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for(port)
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    return server, {"endpoint_url": endpoint, "key": "bench", "secret": "bench"}


def _reordered_lake(lake_url: str, into: Path, order: str) -> str:
    """A lake sharing the curated snapshot's files except grants, rewritten shuffled or in agent order."""
    import numpy as np
    import pyarrow.parquet as pq

    from halo_c1.lake import Lake, write_parquet

    source, target = Lake(lake_url), Lake(into.as_uri())
    for table in ("resource_types", "resources", "entitlements"):
        path = target.curated_file(table, SNAPSHOT)
        Path(path.path).parent.mkdir(parents=True)
        os.link(source.curated_file(table, SNAPSHOT).path, path.path)
    grants = pq.read_table(source.curated_file("grants", SNAPSHOT).path)
    if order == "shuffled":
        grants = grants.take(np.random.default_rng(1).permutation(grants.num_rows))
    else:
        grants = grants.sort_by([("principal_resource_id", "ascending"), ("entitlement_id", "ascending")])
    write_parquet(target.curated_file("grants", SNAPSHOT), grants)
    return target.base.as_uri()


def _gib(value: float) -> str:
    return f"{value / 2**30:.2f} GiB"


def pipeline(
    sizes: dict[str, int], memberships: int, seed: int, order_check: bool, workdir: str | None
) -> dict:
    """Generate, then run every stage and its floor in fresh processes; print the table; return the numbers."""
    results: dict[str, Any] = {"stages": {}}
    with tempfile.TemporaryDirectory(prefix="halo-c1-scale-", dir=workdir) as tmp:
        lake_url = (Path(tmp) / "lake").as_uri()
        scratch = Path(tmp) / "scratch"
        print(f"generating the raw snapshot: {sizes}, {memberships:,} distinct memberships ...", flush=True)
        generated = run_job(
            "generate", {"lake": lake_url, "sizes": sizes, "memberships": memberships, "seed": seed}
        )
        results["raw"] = generated["result"]
        print(f"  raw rows {generated['result']} written in {generated['seconds']:.1f} s", flush=True)
        server, s3 = _moto()
        try:
            payload: dict[str, Any] = {"lake": lake_url, "s3": s3, "settings": {}}
            plan = _plan(_environment(payload), SNAPSHOT_TIME)
            if plan.snapshot_id != SNAPSHOT:
                raise RuntimeError(
                    f"the plan chose snapshot {plan.snapshot_id}, not the generated {SNAPSHOT}"
                )
            payload["plan"] = plan.to_xcom()
            for stage in ("transform", "validate", "guard", "c1z", "deliver"):
                scratch.mkdir()
                floor_job = "floor:gate" if stage == "validate" else f"floor:{stage}"
                # The transform's floor writes what the transform wrote, so it runs after it.
                if stage == "transform":
                    outcome = run_job(stage, payload)
                floor = run_job(floor_job, {**payload, "scratch": str(scratch)})
                shutil.rmtree(scratch)
                if stage != "transform":
                    outcome = run_job(stage, payload)
                results["stages"][stage] = {"floor": floor, "stage": outcome}
                print(
                    f"  {stage:9s} {outcome['seconds']:7.2f} s (CPU {outcome['cpu_s']:.1f} s)  floor {floor['seconds']:6.2f} s "
                    f"(CPU {floor['cpu_s']:.1f} s)  {outcome['cpu_s'] / floor['cpu_s']:6.2f}x CPU  "
                    f"peak RSS {_gib(outcome['peak_rss'])} (ready {_gib(outcome['ready_rss'])}, "
                    f"imports {outcome['setup_s']:.1f} s)",
                    flush=True,
                )
            if order_check:
                results["order"] = {}
                for order in ("shuffled", "agent order"):
                    variant = Path(tmp) / order.replace(" ", "_")
                    url = _reordered_lake(lake_url, variant, order)
                    results["order"][order] = run_job("c1z", {"lake": url})
                    shutil.rmtree(variant)
                    outcome = results["order"][order]
                    print(
                        f"  c1z, grants {order:11s} {outcome['seconds']:7.2f} s (CPU {outcome['cpu_s']:.1f} s)  "
                        f"peak RSS {_gib(outcome['peak_rss'])}",
                        flush=True,
                    )
        finally:
            server.terminate()
            server.wait()
    return results


def stage_table(results: dict[str, Any]) -> list[str]:
    """One row per measured process, columns fixed: the stage's wall and CPU time, its floor's CPU
    time, the CPU ratio (the shared machine makes wall time mostly waiting) and the peak RSS."""
    lines = ["| stage | wall | CPU | floor | ratio | peak RSS |", "|---|---|---|---|---|---|"]
    pipeline = results.get("pipeline", {})
    for stage, numbers in pipeline.get("stages", {}).items():
        run, floor = numbers["stage"], numbers["floor"]
        lines.append(
            f"| {stage} | {run['seconds']:.1f} s | {run['cpu_s']:.1f} s | {floor['cpu_s']:.1f} s "
            f"| {run['cpu_s'] / floor['cpu_s']:.2f}x | {_gib(run['peak_rss'])} |"
        )
    for order, run in pipeline.get("order", {}).items():
        ordered = pipeline["stages"]["c1z"]["stage"]["cpu_s"]
        lines.append(
            f"| c1z, grants {order} | {run['seconds']:.1f} s | {run['cpu_s']:.1f} s | {ordered:.1f} s (c1z) "
            f"| {run['cpu_s'] / ordered:.2f}x | {_gib(run['peak_rss'])} |"
        )
    for row in results.get("extract", []):
        lines.append(
            f"| extract, {row['users']:,} end users | {row['seconds']:.1f} s | {row['cpu_s']:.1f} s | — | — "
            f"| {_gib(row['peak_rss'])} |"
        )
    return lines


def goal_lines(results: dict[str, Any]) -> list[str]:
    """`goal <name>: met|missed (<figure> vs <goal>)` for each goal this run measured (issue 20)."""
    lines = []

    def goal(name: str, met: bool, figure: str, target: str) -> None:
        lines.append(f"goal {name}: {'met' if met else 'missed'} ({figure} vs {target})")

    pipeline = results.get("pipeline", {})
    if stages := pipeline.get("stages"):
        transform = stages["transform"]
        ratio = transform["stage"]["cpu_s"] / transform["floor"]["cpu_s"]
        goal("transform", ratio <= 3, f"{ratio:.2f}x its I/O floor, CPU", "3x")
        gate = stages["validate"]["stage"]
        goal("gate-memory", gate["peak_rss"] <= 2 * 2**30, f"peak RSS {_gib(gate['peak_rss'])}", "2.00 GiB")
        goal(
            "gate-time",
            gate["seconds"] <= 30,
            f"{gate['seconds']:.1f} s wall, {gate['cpu_s']:.1f} s CPU",
            "30 s",
        )
        c1z = stages["c1z"]["stage"]
        grants = c1z["result"]["counts"]["v1_grants"]
        goal("c1z-cpu", c1z["cpu_s"] <= 40, f"{c1z['cpu_s']:.1f} s CPU for {grants:,} grants", "40 s")
        if order := pipeline.get("order"):
            worst, slowest = max((run["cpu_s"], name) for name, run in order.items())
            ratio = worst / c1z["cpu_s"]
            goal("c1z-order", ratio <= 1.2, f"{ratio:.2f}x the CPU with grants {slowest}", "1.2x")
    if extract := results.get("extract"):
        exact = all(row["requests"] == row["minimum"] for row in extract)
        made = ", ".join(f"{row['requests']:,}/{row['minimum']:,}" for row in extract)
        goal("extraction-requests", exact, f"{made} requests/minimum", "the minimum")
        first, last = extract[0], extract[-1]
        growth = last["peak_rss"] / first["peak_rss"]
        goal(
            "extraction-memory",
            growth <= 1.25,
            f"peak RSS {_gib(last['peak_rss'])} at {last['users']:,} end users, {growth:.2f}x that at {first['users']:,}",
            "flat: at most 1.25x",
        )
    return lines


def print_pipeline(results: dict[str, Any]) -> None:
    stages = results["stages"]
    transform = stages["transform"]["stage"]["result"]
    gate = stages["validate"]["stage"]["result"]
    c1z = stages["c1z"]["stage"]["result"]
    deliver = stages["deliver"]["stage"]
    print()
    print(f"curated rows: {transform['rows']}")
    print(
        f"gate: passed={gate['passed']}, {gate['evaluated']} expectations, failed: {gate['failed_errors']} errors, "
        f"{gate['failed_warnings']} warnings"
    )
    verdict = (
        "over it: write_c1z's default refuses this tenant before writing"
        if c1z["sqlite_bytes"] > CAP_BYTES
        else "under it"
    )
    print(
        f"c1z: {c1z['counts']['v1_grants']:,} grants, {c1z['size_bytes'] / 2**20:.1f} MiB compressed, decoded SQLite "
        f"{c1z['sqlite_bytes'] / 2**20:,.0f} MiB = {c1z['sqlite_bytes'] / CAP_BYTES:.0%} of the 3 GiB cap of older "
        f"readers ({verdict}); {c1z['sqlite_bytes'] / c1z['counts']['v1_grants']:.0f} bytes per grant, all tables"
    )
    print(
        f"delivery: RSS {_gib(deliver['ready_rss'])} ready, peak {_gib(deliver['peak_rss'])} while streaming a "
        f"{c1z['size_bytes'] / 2**20:.1f} MiB c1z (+{(deliver['peak_rss'] - deliver['ready_rss']) / 2**20:.0f} MiB)"
    )


# ---------------------------------------------------------------------------------------------
# The extraction part
# ---------------------------------------------------------------------------------------------


def simulator_process(args: list[str]) -> tuple[subprocess.Popen, dict]:
    """`python -m dev.halo_simulator <args>` in its own process, and the address line it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dev.halo_simulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise RuntimeError("the simulator exited before printing its address")
    return process, json.loads(line)


def _simulator(
    users: int, agents: int, teams: int, roles: int, departments: int
) -> tuple[subprocess.Popen, dict]:
    return simulator_process(
        [
            "--port",
            "0",
            "--seed",
            "7",
            "--users",
            str(users),
            "--agents",
            str(agents),
            "--teams",
            str(teams),
            "--roles",
            str(roles),
            "--departments",
            str(departments),
            "--page-cap",
            str(PAGE_CAP),
            "--agent-envelope",
            "results",
        ]
    )


def listing_requests(rows: int) -> int:
    """Pages of a paged listing: one per `PAGE_CAP` rows, plus the one that confirms the end when the
    last page is full (`paging` reads past a reached record_count that might understate the total)."""
    return math.ceil(rows / PAGE_CAP) + (rows % PAGE_CAP == 0)


def extraction(
    user_counts: list[int], agents: int, teams: int, roles: int, departments: int, workdir: str | None
) -> list[dict]:
    rows = []
    for users in user_counts:
        process, served = _simulator(users, agents, teams, roles, departments)
        try:
            with tempfile.TemporaryDirectory(prefix="halo-c1-extract-", dir=workdir) as tmp:
                settings = {
                    "base_url": served["base_url"],
                    "client_id": served["client_id"],
                    "client_secret": served["client_secret"],
                    "page_size": 100,  # above the cap on purpose: the client follows the echoed size
                    "rate_limit_requests": 1_000_000,  # throttle off, as the simulator's limit is
                    "rate_limit_period_s": 1.0,
                }
                outcome = run_job("extract", {"lake": Path(tmp).as_uri(), "settings": settings})
        finally:
            process.terminate()
            process.wait()
        minimum = 3 + listing_requests(served["agents"] - 1) + listing_requests(served["users"])
        row = {
            "users": served["users"],
            "agents": served["agents"] - 1,
            "requests": outcome["result"]["requests"],
            "minimum": minimum,
            "seconds": outcome["seconds"],
            "cpu_s": outcome["cpu_s"],
            "peak_rss": outcome["peak_rss"],
            "ready_rss": outcome["ready_rss"],
            "memberships": outcome["result"]["counts"]["agent_memberships"],
        }
        rows.append(row)
        print(
            f"  extraction of {row['users']:,} users, {row['agents']} agents: {row['requests']} requests (minimum "
            f"{minimum}), {row['seconds']:.1f} s, peak RSS {row['peak_rss'] / 2**20:.0f} MiB "
            f"(ready {row['ready_rss'] / 2**20:.0f} MiB)",
            flush=True,
        )
    return rows


def budget_line(users: int, agents: int, page_size: int, requests: int = 300, window_s: float = 300.0) -> str:
    needed = 3 + math.ceil(agents / page_size) + math.ceil(users / page_size) + 2  # + the end confirmations
    hours = needed / (requests / window_s) / 3600
    return f"{users:,} users + {agents:,} agents at {page_size}/page: {needed:,} requests = {hours:.1f} h at {requests}/{window_s:.0f} s"


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies users, agents and memberships")
    parser.add_argument("--part", choices=["pipeline", "extract", "all"], default="all")
    parser.add_argument("--no-order-check", dest="order_check", action="store_false")
    parser.add_argument(
        "--extract-users", default="50000,100000,200000", help="end-user counts of the extraction runs"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--workdir", default=None, help="where the temporary lakes go (default: the temp dir)"
    )
    args = parser.parse_args(argv)
    sizes = dict(FULL)
    for key in ("users", "agents"):
        sizes[key] = max(int(FULL[key] * args.scale), 10)
    memberships = max(int(FULL_MEMBERSHIPS * args.scale), 10)
    results: dict[str, Any] = {"load_before": _load()}
    print(f"load average before: {results['load_before']} ({os.cpu_count()} cores)", flush=True)
    if args.part in ("pipeline", "all"):
        results["pipeline"] = pipeline(sizes, memberships, args.seed, args.order_check, args.workdir)
    if args.part in ("extract", "all"):
        user_counts = [int(n) for n in args.extract_users.split(",")]
        agents = max(int(1000 * args.scale), 10) if args.scale < 1 else 1000
        results["extract"] = extraction(user_counts, agents, 40, 25, 8, args.workdir)
    results["load_after"] = _load()
    print()
    print("\n".join(stage_table(results)))
    print()
    if "pipeline" in results:
        print_pipeline(results["pipeline"])
    if "extract" in results:
        print("HaloITSM's documented budget (300 requests per rolling 5 min):")
        for page_size in (50, 100):
            print("  " + budget_line(FULL["users"], FULL["agents"], page_size))
    print(f"load average after: {results['load_after']}")
    print("\n".join(goal_lines(results)))
    return results


if __name__ == "__main__":
    main()
