"""Benchmark: `halo-c1 history` point-in-time questions over the largest tenant's lake, on one core.

    PYTHONPATH=.:include .venv/bin/python bench/history.py [--scale 0.1] [--workdir DIR]

Builds the scale benchmark's curated snapshot (bench/scale.py's raw generator, then the real
transform: 1M end users, 20k agents, 3.4M grants at scale 1) beside one earlier snapshot, so the
snapshot in effect has to be chosen; then, in a fresh process with DuckDB on one thread
(`SET threads=1`), asks for the holders of the most-held entitlement and for everything the agent
with the most grants holds. Printed: the first call in the process (snapshot choice, Parquet
footers, query) and the best of three more, for each question; then one evidence pack of the whole
snapshot (every grant, entitlement and account as CSV, hashed), also on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale import FULL, FULL_MEMBERSHIPS, SNAPSHOT, generate_raw

EARLIER = "20261126T050000Z"
ASKED_AT = "2026-11-27T12:00:00Z"
REPEATS = 3


def build(lake_url: str, scale: float, seed: int) -> dict[str, Any]:
    """The curated snapshot of the scale benchmark (and a copy as an earlier one); the questions to ask."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from halo_c1.lake import Lake
    from halo_c1.transform import transform_snapshot

    sizes = dict(FULL)
    for key in ("users", "agents"):
        sizes[key] = max(int(FULL[key] * scale), 10)
    started = time.perf_counter()
    generate_raw(lake_url, sizes, max(int(FULL_MEMBERSHIPS * scale), 10), seed)
    rows = transform_snapshot(Lake(lake_url), SNAPSHOT)["rows"]
    lake = Lake(lake_url)
    for table in ("resources", "entitlements", "grants"):  # an earlier snapshot to pass over
        earlier = lake.curated_file(table, EARLIER)
        earlier.parent.mkdir(parents=True, exist_ok=True)
        os.link(lake.curated_file(table, SNAPSHOT).path, earlier.path)
    grants = pq.read_table(lake.curated_file("grants", SNAPSHOT).path)
    top = pc.value_counts(grants["entitlement_id"]).to_pylist()
    entitlement = max(top, key=lambda v: v["counts"])["values"]
    per_agent = pc.value_counts(grants["principal_resource_id"]).to_pylist()
    agent = max(per_agent, key=lambda v: v["counts"])["values"]
    return {
        "rows": rows,
        "entitlement": entitlement,
        "account": f"agent:{agent}",
        "build_s": time.perf_counter() - started,
    }


def ask(lake_url: str, entitlement: str, account: str) -> dict[str, Any]:
    """Both questions in this (fresh) process, DuckDB on one thread: first call and best of the rest."""
    from halo_c1.history import CURATED, History, open_tenant, parse_time

    at = parse_time(ASKED_AT)
    results: dict[str, Any] = {}
    history = History(open_tenant(lake_url), which=CURATED, threads=1)
    for name, question in (
        ("holders", lambda: history.holders(entitlement, at)),
        ("access", lambda: history.access(account, at)),
    ):
        times, cpu, answer = [], [], None
        for _ in range(1 + REPEATS):
            started, started_cpu = time.perf_counter(), time.process_time()
            answer = question()
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        results[name] = {
            "first_s": times[0],
            "best_s": min(times[1:]),
            "first_cpu_s": cpu[0],
            "best_cpu_s": min(cpu[1:]),
            "rows": len(answer.rows),
            "snapshot": answer.snapshots["in effect"].id,
        }
    with tempfile.TemporaryDirectory(prefix="halo-c1-evidence-") as out:
        started, started_cpu = time.perf_counter(), time.process_time()
        manifest = history.evidence(at, Path(out) / "pack")
        results["evidence"] = {
            "seconds": time.perf_counter() - started,
            "cpu_s": time.process_time() - started_cpu,
            "rows": {name: info["rows"] for name, info in manifest["files"].items()},
            "bytes": sum(info["bytes"] for info in manifest["files"].values()),
        }
    history.close()
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies users, agents and grants")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", default=None, help="where the temporary lake goes")
    parser.add_argument("--ask", nargs=3, metavar=("LAKE", "ENTITLEMENT", "ACCOUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ask:
        print(json.dumps(ask(*args.ask)))
        return {}
    with tempfile.TemporaryDirectory(prefix="halo-c1-history-", dir=args.workdir) as tmp:
        lake_url = str(Path(tmp) / "lake")
        print(f"load average before: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
        print(f"building the curated snapshot (scale {args.scale}) ...", flush=True)
        built = build(lake_url, args.scale, args.seed)
        print(f"  curated rows {built['rows']} in {built['build_s']:.1f} s", flush=True)
        asked = subprocess.run(
            [sys.executable, __file__, "--ask", lake_url, built["entitlement"], built["account"]],
            check=True,
            capture_output=True,
            text=True,
        )
        results = json.loads(asked.stdout.strip().splitlines()[-1])
    for name, subject in (("holders", built["entitlement"]), ("access", built["account"])):
        r = results[name]
        print(
            f"{name:8s} {subject}: {r['rows']:,} rows from snapshot {r['snapshot']}, one thread: "
            f"first call {r['first_s']:.2f} s (CPU {r['first_cpu_s']:.2f} s), best of {REPEATS} "
            f"{r['best_s']:.2f} s (CPU {r['best_cpu_s']:.2f} s)"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    pack = results["evidence"]
    print(
        f"evidence pack: {pack['rows']} rows, {pack['bytes'] / 2**20:.0f} MiB of CSV, one thread: "
        f"{pack['seconds']:.1f} s (CPU {pack['cpu_s']:.1f} s)"
    )
    return {"built": built, **results}


if __name__ == "__main__":
    main()
