"""Benchmark: packaging a curated snapshot as a c1z versus writing the same rows as Parquet.

    PYTHONPATH=.:include .venv/bin/python bench/c1z.py [--resources 100000] [--grants 1000000]

Builds a synthetic curated snapshot (the model's schemas) in a temporary lake, then prints, from one
run: the time to write the four curated tables with pyarrow (the floor), the c1z write time, their
ratio (goal ≤ 5), the c1z size, and the writer's peak RSS (goal ≤ 1.5 GiB). The writer runs in a
fresh child process that only imports the package and calls `write_c1z`, so its peak RSS
(`ru_maxrss` of RUSAGE_CHILDREN) is not inflated by the synthetic data generation in the parent.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from halo_c1 import model
from halo_c1.lake import Lake, write_parquet

SNAPSHOT = "20261127T050000Z"


def synthetic_tables(resources: int, grants: int) -> dict[str, pa.Table]:
    """Agents (80%), end users, teams, departments and roles; grants of agents onto teams/depts/roles."""
    departments = max(1, resources // 1000)
    teams = max(1, resources // 100)
    roles = max(1, resources // 500)
    agents = max(1, int(resources * 0.8))
    users = max(0, resources - departments - teams - roles - agents)

    def ids(count: int) -> pa.Array:
        return pc.cast(pa.array(range(1, count + 1)), pa.string())

    def column(count: int, value: object, type_: pa.DataType | None = None) -> pa.Array:
        return pa.array([value] * count, type_ or pa.string())

    def resource_block(type_id: str, count: int, user_like: bool, parent: pa.Array | None) -> pa.Table:
        rid = ids(count)
        names = pc.binary_join_element_wise(type_id.title() + " ", rid, "")
        emails = pc.binary_join_element_wise(f"{type_id}", rid, "@example.com", "") if user_like else None
        null_text = column(count, None)
        return pa.table(
            {
                "snapshot_id": column(count, SNAPSHOT),
                "resource_type_id": column(count, type_id),
                "resource_id": rid,
                "display_name": names,
                "description": null_text,
                "parent_resource_type_id": column(count, model.DEPARTMENT)
                if parent is not None
                else null_text,
                "parent_resource_id": parent if parent is not None else null_text,
                "status": column(count, model.STATUS_ENABLED),
                "email": emails if user_like else null_text,
                "email_normalized": emails if user_like else null_text,
                "login": emails if user_like else null_text,
                "account_type": column(count, model.ACCOUNT_HUMAN if user_like else None),
                "given_name": column(count, "Given" if user_like else None),
                "family_name": names if user_like else null_text,
                "last_login": column(
                    count, 1_790_000_000_000_000 if user_like else None, pa.timestamp("us", tz="UTC")
                ),
            },
            schema=model.CURATED_RESOURCES,
        )

    team_parents = pc.cast(pa.array([(i % departments) + 1 for i in range(teams)]), pa.string())
    resources_table = pa.concat_tables(
        [
            resource_block(model.AGENT, agents, True, None),
            resource_block(model.USER, users, True, None),
            resource_block(model.TEAM, teams, False, team_parents),
            resource_block(model.DEPARTMENT, departments, False, None),
            resource_block(model.ROLE, roles, False, None),
        ]
    )
    resource_types = pa.table(
        {
            "snapshot_id": [SNAPSHOT] * len(model.RESOURCE_TYPES),
            "resource_type_id": [spec.id for spec in model.RESOURCE_TYPES],
            "display_name": [spec.display_name for spec in model.RESOURCE_TYPES],
            "trait": [spec.trait for spec in model.RESOURCE_TYPES],
            "description": [spec.description for spec in model.RESOURCE_TYPES],
            "child_resource_type_ids": [list(spec.child_resource_type_ids) for spec in model.RESOURCE_TYPES],
        },
        schema=model.CURATED_RESOURCE_TYPES,
    )
    targets = [(model.TEAM, teams, model.MEMBER), (model.DEPARTMENT, departments, model.MEMBER)]
    targets.append((model.ROLE, roles, model.ASSIGNED))
    ent_rows = [
        (model.entitlement_id(type_id, str(i), slug), type_id, str(i), slug)
        for type_id, count, slug in targets
        for i in range(1, count + 1)
    ]
    entitlements = pa.table(
        {
            "snapshot_id": [SNAPSHOT] * len(ent_rows),
            "entitlement_id": [row[0] for row in ent_rows],
            "resource_type_id": [row[1] for row in ent_rows],
            "resource_id": [row[2] for row in ent_rows],
            "slug": [row[3] for row in ent_rows],
            "display_name": [f"{row[1]} {row[2]} {row[3]}" for row in ent_rows],
            "description": [None] * len(ent_rows),
            "purpose": [model.PURPOSE_ASSIGNMENT] * len(ent_rows),
            "grantable_to": [[model.AGENT]] * len(ent_rows),
        },
        schema=model.CURATED_ENTITLEMENTS,
    )
    # Grant k: agent (k % agents) + 1 holds entitlement (k // agents); distinct pairs while grants ≤
    # agents × entitlements. Every 7th grant is inherited only from role 1, every 5th also direct.
    grant_rows = []
    for k in range(grants):
        entitlement_id, type_id, rid, _slug = ent_rows[(k // agents) % len(ent_rows)]
        agent = str(k % agents + 1)
        inherited = k % 7 == 0 and type_id != model.ROLE
        direct = not inherited or k % 5 == 0
        grant_rows.append(
            (
                model.grant_id(entitlement_id, model.AGENT, agent),
                entitlement_id,
                type_id,
                rid,
                agent,
                direct,
                ["1"] if inherited else [],
            )
        )
    grants_table = pa.table(
        {
            "snapshot_id": pa.array([SNAPSHOT] * grants),
            "grant_id": [row[0] for row in grant_rows],
            "entitlement_id": [row[1] for row in grant_rows],
            "resource_type_id": [row[2] for row in grant_rows],
            "resource_id": [row[3] for row in grant_rows],
            "principal_resource_type_id": [model.AGENT] * grants,
            "principal_resource_id": [row[4] for row in grant_rows],
            "is_direct": [row[5] for row in grant_rows],
            "source_role_ids": [row[6] for row in grant_rows],
        },
        schema=model.CURATED_GRANTS,
    )
    return {
        "resource_types": resource_types,
        "resources": resources_table,
        "entitlements": entitlements,
        "grants": grants_table,
    }


def _write_curated(lake: Lake, tables: dict[str, pa.Table]) -> float:
    started = time.perf_counter()
    for name, table in tables.items():
        write_parquet(lake.curated_file(name, SNAPSHOT), table)
    return time.perf_counter() - started


def _child_write_c1z(lake_url: str, queue: multiprocessing.Queue) -> None:
    from halo_c1.c1z.writer import write_c1z

    started = time.perf_counter()
    summary = write_c1z(Lake(lake_url), SNAPSHOT)
    elapsed = time.perf_counter() - started
    queue.put({"seconds": elapsed, "peak_rss_bytes": _peak_rss_bytes(), "summary": summary})


def _peak_rss_bytes() -> int:
    """This address space's peak RSS (VmHWM).

    Not `ru_maxrss`: it survives exec, so a spawned child would report the parent's peak at fork
    time (here: the synthetic tables), not its own.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--grants", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="halo-c1-bench-") as tmp:
        lake = Lake(Path(tmp).as_uri())
        generated = time.perf_counter()
        tables = synthetic_tables(args.resources, args.grants)
        generated = time.perf_counter() - generated
        parquet_s = _write_curated(lake, tables)
        del tables

        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(target=_child_write_c1z, args=(Path(tmp).as_uri(), queue))
        child.start()
        result = queue.get()
        child.join()

    ratio = result["seconds"] / parquet_s
    summary = result["summary"]
    print(f"rows: {args.resources:,} resources, {args.grants:,} grants (generated in {generated:.1f} s)")
    print(f"parquet write (4 curated tables, pyarrow, zstd): {parquet_s:.2f} s")
    print(f"c1z write (write_c1z, child process):          {result['seconds']:.2f} s")
    print(f"ratio c1z / parquet:                           {ratio:.2f} (goal <= 5)")
    print(f"c1z size:                                      {summary['size_bytes'] / 2**20:.1f} MiB")
    print(
        f"c1z writer peak RSS:                           {result['peak_rss_bytes'] / 2**30:.2f} GiB (goal <= 1.5)"
    )
    print(json.dumps(summary["counts"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
