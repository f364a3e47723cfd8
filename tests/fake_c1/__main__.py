"""Run the fake C1 by hand (for the manual `airflow standalone` check), with tasks queued up front.

    python -m tests.fake_c1 --dir .airflow/fake_c1 --sync-full 1 --hello 1 --grant team:3:member=12

Writes `<dir>/connection.json` (the `conductorone_default` connection as AIRFLOW_CONN_* JSON, with
the throw-away CA as `ca_bundle`) and, on Ctrl-C, SIGTERM or after `--duration`, `<dir>/report.json`:
every call received, the upload sizes and SHA-256, and each FinishTask.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import signal
import threading
from pathlib import Path

from google.protobuf import json_format

from tests.fake_c1 import running_fake_c1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--sync-full", type=int, default=0, help="how many sync_full tasks to queue")
    parser.add_argument("--hello", type=int, default=0)
    parser.add_argument("--unknown", type=int, default=0, help="how many action_invoke tasks to queue")
    parser.add_argument(
        "--grant", action="append", default=[], help="entitlement=agent, e.g. team:3:member=12"
    )
    parser.add_argument("--duration", type=float, default=3600)
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with running_fake_c1(args.dir) as c1:
        for _ in range(args.hello):
            c1.enqueue_hello()
        for _ in range(args.sync_full):
            c1.enqueue_sync_full()
        for _ in range(args.unknown):
            c1.enqueue_unknown()
        for grant in args.grant:
            entitlement, agent = grant.split("=")
            c1.enqueue_grant(entitlement, agent)
        (args.dir / "connection.json").write_text(c1.connection())
        print(
            f"fake C1: gRPC {c1.api_host}, token {c1.token_url}; connection in {args.dir / 'connection.json'}",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait(args.duration)
        baton = c1.baton
        report = {
            "calls": [{"method": call.method, "at": call.at} for call in baton.calls],
            "uploads": {
                k: {"bytes": len(v), "sha256": hashlib.sha256(v).hexdigest()}
                for k, v in baton.uploads.items()
            },
            "finished": {k: json_format.MessageToDict(v) for k, v in baton.finished.items()},
            "heartbeats": baton.heartbeats,
            "violations": baton.violations,
        }
        (args.dir / "report.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
