"""Benchmark: a simulated day of the largest tenant, hourly, within HaloITSM's budget (issue 20 §1).

    PYTHONPATH=.:include .venv/bin/python bench/hourly_day.py        # 1% scale, 24 runs, cadence 24 h
    PYTHONPATH=.:include .venv/bin/python bench/hourly_day.py --scale 0.02 --hours 24 --hour-seconds 5 \\
        --cadence-hours 12

Time is compressed: one simulated hour lasts `--hour-seconds`. The tenant is the largest reported
one (1M end users, 20k agents) times `--scale`, and HaloITSM's budget (300 requests per rolling 5
minutes) is scaled the same way: `300 × scale` requests per 5 simulated minutes. So every listing
costs the same share of the budget, in simulated time, as at full size (a full end-user read is
~5.6 simulated hours whatever the scale; the budget has a floor of 2 requests per window).

Three processes, as in production: the HaloITSM simulator (enforcing the budget and logging every
request), the end-user refresh (the `haloitsm_end_users` DAG: every simulated hour it asks whether
end users are due and reads them if so, for hours), and the hourly ETL runs (the `haloitsm_to_c1`
DAG's stages: plan, extract, transform, guard, package, deliver; the quality gate is left out, it
does not touch HaloITSM). Both HaloITSM clients share the budget through the host's store
(`halo_c1.halo.budget`). End users are read once before the day starts (the day before).

Printed per hourly run: requests, when its access data was taken (simulated minutes into its hour)
and how old it was at delivery (simulated minutes), which end-user extraction it delivered and how
old those end users were at delivery (simulated hours),
the users in the delivered c1z (read back with the project's reader), and the run's wall time. Then
the refreshes, the simulator's totals (429s, the most requests in any window) and one line per goal.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale import simulator_process

FULL = {"users": 1_000_000, "agents": 20_000, "teams": 500, "roles": 100, "departments": 50}
MINIMUM = {"users": 100, "agents": 20, "teams": 5, "roles": 4, "departments": 3}
PAGE_CAP = 50  # as hosted HaloITSM caps pages
BUDGET_REQUESTS, BUDGET_WINDOW_S = 300, 300.0


def tenant_sizes(scale: float) -> dict[str, int]:
    return {key: max(MINIMUM[key], round(value * scale)) for key, value in FULL.items()}


def scaled_budget(scale: float, hour_s: float) -> tuple[int, float]:
    """(requests, window seconds): HaloITSM's 300 per 5 minutes, scaled with the tenant and the clock."""
    return max(2, round(BUDGET_REQUESTS * scale)), BUDGET_WINDOW_S * hour_s / 3600


def _simulator(sizes: dict[str, int], budget: tuple[int, float]) -> tuple[subprocess.Popen, dict[str, Any]]:
    return simulator_process(
        [
            "--port",
            "0",
            "--seed",
            "20",
            *(arg for key, value in sizes.items() for arg in (f"--{key}", str(value))),
            "--page-cap",
            str(PAGE_CAP),
            "--agent-envelope",
            "results",
            "--rate-limit",
            f"{budget[0]}/{budget[1]!r}",
        ]
    )


def _environment(payload: dict[str, Any]) -> Any:
    from halo_c1 import stages
    from halo_c1.deliver.objectstore import ObjectStorageTarget
    from halo_c1.guard import DEFAULT_MAX_DROP_RATIO
    from halo_c1.halo import HaloSettings
    from halo_c1.lake import Lake

    return stages.Environment(
        lake=Lake(payload["lake"]),
        halo_settings=lambda: HaloSettings(**payload["settings"]),
        delivery_target=lambda: ObjectStorageTarget(payload["target"]),
        max_drop_ratio=lambda value: value or DEFAULT_MAX_DROP_RATIO,
    )


def refresh_once(payload: dict[str, Any]) -> dict[str, Any]:
    """One run of the end-user refresh DAG's task: refreshed, or skipped with its reason."""
    from halo_c1 import stages
    from halo_c1.errors import StageSkipped

    started = datetime.now(UTC)
    try:
        result = stages.refresh_end_users(
            _environment(payload), interval=timedelta(seconds=payload["hour_s"])
        ).to_xcom()
    except StageSkipped as skipped:
        result = {"refreshed": False, "reason": str(skipped)}
    return {**result, "started_at": started.isoformat(), "finished_at": datetime.now(UTC).isoformat()}


def _refresher(payload: dict[str, Any], day_start: float, hours: int, out: str) -> None:
    """The end-user refresh DAG: one run per simulated hour (one at a time, so a long refresh makes
    the next runs start late, as with `max_active_runs=1`), each one line of JSON in `out`."""
    hour_s = payload["hour_s"]
    with open(out, "a") as log:
        for hour in range(hours):
            wait = day_start + hour * hour_s - time.time()
            if wait < 0 and hour > 0:
                continue  # a refresh outlasted this tick: Airflow would run it late and find it not due
            time.sleep(max(wait, 0))
            log.write(json.dumps({"hour": hour, **refresh_once(payload)}) + "\n")
            log.flush()


def warm_up() -> None:
    """Import what the stages import lazily, before the day: compressing time cannot shrink the few
    seconds of imports a fresh task process pays (a rounding error in a real hour, most of a
    compressed one)."""
    import halo_c1.transform  # ruff: ignore[unused-import]


def hourly_run(payload: dict[str, Any], hour: int, day_start: float) -> dict[str, Any]:
    """One scheduled ETL run through the stages; its facts for the table."""
    from halo_c1 import stages
    from halo_c1.c1z.reader import C1zReader
    from halo_c1.lake import read_json

    env = _environment(payload)
    hour_s = payload["hour_s"]
    started, cpu = time.time(), time.process_time()
    moment = datetime.now(UTC)
    plan = stages.plan(
        env,
        run_id=f"scheduled__hour{hour:02d}",
        run_type="scheduled",
        params={},
        interval=(moment - timedelta(seconds=hour_s), moment),
    )
    extracted = stages.extract(plan, env)
    stages.transform(plan, env)
    guarded = stages.guard(plan, env)
    packaged = stages.package(plan, env)
    delivered = stages.deliver(plan, env)
    delivered_at = datetime.fromisoformat(delivered.delivered_at)
    manifest = read_json(env.lake.raw_manifest(plan.snapshot_id))
    access_taken = min(
        datetime.fromisoformat(manifest["freshness"][e]["taken_at"]) for e in ("teams", "agents")
    )
    users = manifest["freshness"]["users"]
    with C1zReader.open(payload["target"]) as reader:
        counts = reader.counts()
    return {
        "hour": hour,
        "snapshot_id": plan.snapshot_id,
        "requests": extracted.requests,
        "responses_429": manifest["responses_429"],
        "access_taken_s": access_taken.timestamp() - day_start,
        "access_age_s": (delivered_at - access_taken).total_seconds(),
        "end_users_from": users["snapshot_id"],
        "end_users_age_s": (delivered_at - datetime.fromisoformat(users["taken_at"])).total_seconds(),
        "c1z_users": counts["resources_by_type"].get("user", 0),
        "c1z_agents": counts["resources_by_type"].get("agent", 0),
        "expected_users": manifest["counts"]["users"],
        "guard_passed": guarded.passed,
        "c1z_sha256": packaged.sha256,
        "wall_s": time.time() - started,
        "cpu_s": time.process_time() - cpu,
    }


def max_in_any_window(times: list[float], window_s: float) -> int:
    """The most requests that arrived within any rolling `window_s` (as the limiter counts them)."""
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window_s:
            start += 1
        most = max(most, end - start + 1)
    return most


def run_day(
    *,
    scale: float,
    hours: int,
    hour_s: float,
    cadence_hours: float,
    workdir: str,
    budget: tuple[int, float] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the simulated day; return the runs, the refreshes and the simulator's totals. `budget`
    (requests, window seconds) replaces the scaled one (`scaled_budget`)."""
    import httpx

    sizes = tenant_sizes(scale)
    budget = budget or scaled_budget(scale, hour_s)
    simulator, served = _simulator(sizes, budget)
    try:
        payload = {
            "lake": str(Path(workdir) / "lake"),
            "target": str(Path(workdir) / "c1" / "sync.c1z"),
            "hour_s": hour_s,
            "settings": {
                "base_url": served["base_url"],
                "client_id": served["client_id"],
                "client_secret": served["client_secret"],
                "page_size": PAGE_CAP,
                "rate_limit_requests": budget[0],
                "rate_limit_period_s": budget[1],
                "end_user_refresh_hours": cadence_hours * hour_s / 3600,
                "rate_limit_store": str(Path(workdir) / "budget"),
            },
        }
        warm_up()
        day_before = refresh_once(payload)
        if not day_before.get("refreshed"):
            raise RuntimeError(f"the first end-user read did not run: {day_before['reason']}")
        if progress:
            print(
                f"day before: end users read in {day_before['requests']} requests "
                f"({_sim_hours(day_before, hour_s)} simulated h)",
                flush=True,
            )
        day_start = time.time() + hour_s / 4
        refreshes_log = str(Path(workdir) / "refreshes.jsonl")
        context = multiprocessing.get_context("spawn")
        refresher = context.Process(target=_refresher, args=(payload, day_start, hours, refreshes_log))
        refresher.start()
        runs = []
        try:
            for hour in range(hours):
                time.sleep(max(0.0, day_start + hour * hour_s - time.time()))
                run = hourly_run(payload, hour, day_start)
                runs.append(run)
                if progress:
                    print(_run_line(run, hour_s), flush=True)
        finally:
            refresher.join(timeout=hours * hour_s + 600)
            if refresher.is_alive():
                refresher.terminate()
        log = httpx.get(f"{served['base_url']}/_sim/requests", timeout=30).json()
    finally:
        simulator.terminate()
        simulator.wait()
    with open(refreshes_log) as lines:
        refreshes = [json.loads(line) for line in lines]
    return {
        "scale": scale,
        "hours": hours,
        "hour_s": hour_s,
        "cadence_hours": cadence_hours,
        "sizes": sizes,
        "budget": {"requests": budget[0], "window_s": budget[1]},
        "day_before": day_before,
        "runs": runs,
        "refreshes": refreshes,
        "simulator": {
            "requests": len(log),
            "responses_429": sum(1 for r in log if r["status"] == 429),
            "max_in_window": max_in_any_window([r["at"] for r in log if r["status"] != 429], budget[1]),
        },
    }


def _sim_hours(record: dict[str, Any], hour_s: float) -> str:
    seconds = (
        datetime.fromisoformat(record["finished_at"]) - datetime.fromisoformat(record["started_at"])
    ).total_seconds()
    return f"{seconds / hour_s:.1f}"


def _run_line(run: dict[str, Any], hour_s: float) -> str:
    late = (run["access_taken_s"] - run["hour"] * hour_s) / hour_s * 60
    age = run["access_age_s"] / hour_s * 60
    return (
        f"  {run['hour']:>4}  {run['snapshot_id']}  {run['requests']:>8}  {late:>10.1f}  {age:>10.1f}  "
        f"{run['end_users_from']}  {run['end_users_age_s'] / hour_s:>12.2f}  {run['c1z_users']:>9,}  "
        f"{run['wall_s']:>6.1f}  {run['cpu_s']:>5.1f}"
    )


def goals(day: dict[str, Any]) -> list[str]:
    """One line per goal of issue 20 §1: met|missed (figure vs goal)."""
    runs, hour_s, cadence = day["runs"], day["hour_s"], day["cadence_hours"]
    stale = [r["hour"] for r in runs if r["access_age_s"] > hour_s]
    oldest_access = max(r["access_age_s"] for r in runs) / hour_s * 60
    oldest = max(r["end_users_age_s"] for r in runs) / hour_s
    incomplete = [r["hour"] for r in runs if r["c1z_users"] != r["expected_users"] or not r["c1z_users"]]
    sim = day["simulator"]
    budget = day["budget"]

    def line(name: str, ok: bool, detail: str) -> str:
        return f"goal {name}: {'met' if ok else 'missed'} ({detail})"

    return [
        line(
            "access data at most one interval old at delivery",
            not stale,
            f"oldest {oldest_access:.0f} min vs 60 min; {len(runs) - len(stale)} of {len(runs)} runs",
        ),
        line("end users within cadence", oldest <= cadence, f"oldest {oldest:.2f} h vs {cadence:g} h"),
        line("every c1z complete", not incomplete, f"{len(runs) - len(incomplete)} of {len(runs)} c1z files"),
        line("zero 429s", sim["responses_429"] == 0, f"{sim['responses_429']} vs 0"),
        line(
            "within budget",
            sim["max_in_window"] <= budget["requests"],
            f"at most {sim['max_in_window']} vs {budget['requests']} per {budget['window_s']:.3g} s window",
        ),
    ]


def print_day(day: dict[str, Any]) -> None:
    hour_s = day["hour_s"]
    print(
        f"\nper hourly run (simulated hour = {hour_s:g} s; end_user_refresh_hours = {day['cadence_hours']:g}; "
        "access data: taken so many simulated minutes into the run's hour, and its age at delivery in "
        "simulated minutes; end users: their extraction and age at delivery in simulated hours):"
    )
    print(
        f"  {'hour':>4}  {'snapshot':<16}  {'requests':>8}  {'taken +min':>10}  {'access age':>10}  "
        f"{'end users from':<16}  {'users age h':>12}  {'c1z users':>9}  {'wall s':>6}  {'cpu s':>5}"
    )
    for run in day["runs"]:
        print(_run_line(run, hour_s))
    print("end-user refreshes:")
    for refresh in day["refreshes"]:
        if refresh.get("refreshed"):
            print(
                f"  hour {refresh['hour']:>2}: refreshed {refresh['snapshot_id']}, {refresh['rows']:,} users, "
                f"{refresh['requests']} requests, {_sim_hours(refresh, hour_s)} simulated h; {refresh['reason']}"
            )
    skipped = [r["hour"] for r in day["refreshes"] if not r.get("refreshed")]
    print(f"  not due at hours {skipped}")
    sim, budget = day["simulator"], day["budget"]
    total = sum(r["requests"] for r in day["runs"])
    print(
        f"simulator: {sim['requests']} requests in the day (hourly runs {total}, refreshes "
        f"{sum(r.get('requests', 0) for r in day['refreshes'])}), {sim['responses_429']} answered 429, at most "
        f"{sim['max_in_window']} in any {budget['window_s']:.3g} s window (budget {budget['requests']})"
    )
    for line in goals(day):
        print(line)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01, help="share of 1M users / 20k agents")
    parser.add_argument("--hours", type=int, default=24, help="hourly runs in the simulated day")
    parser.add_argument("--hour-seconds", type=float, default=4.0, help="wall seconds per simulated hour")
    parser.add_argument("--cadence-hours", type=float, default=24.0, help="end_user_refresh_hours, simulated")
    parser.add_argument(
        "--budget", default=None, metavar="REQUESTS/SECONDS", help="instead of the scaled 300 per 5 minutes"
    )
    parser.add_argument("--workdir", default=None, help="where the lake goes (default: a temporary folder)")
    args = parser.parse_args(argv)
    sizes = tenant_sizes(args.scale)
    scaled = scaled_budget(args.scale, args.hour_seconds)
    if args.budget:
        requests, seconds = args.budget.split("/")
        budget = (int(requests), float(seconds))
    else:
        budget = scaled
    print(
        f"tenant: {sizes['users']:,} end users, {sizes['agents']:,} agents, {sizes['teams']} teams, "
        f"{sizes['roles']} roles; budget {budget[0]} requests per {budget[1]:.3g} s (scaled: "
        f"{scaled[0]} per {scaled[1]:.3g} s); "
        f"load {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="halo-c1-day-", dir=args.workdir) as workdir:
        day = run_day(
            scale=args.scale,
            hours=args.hours,
            hour_s=args.hour_seconds,
            cadence_hours=args.cadence_hours,
            workdir=workdir,
            budget=budget,
        )
    print_day(day)
    print(f"load at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (2 cores)")
    return day


if __name__ == "__main__":
    main()
