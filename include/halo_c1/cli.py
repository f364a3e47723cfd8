"""`halo-c1`: the project's command line (installed with the package; `python -m halo_c1` from a clone).

    halo-c1 history holders role:<id>:assigned [--at 2026-03-01] --lake s3://bucket/halo_c1
    halo-c1 history access agent:12 [--at ...]
    halo-c1 history changes --from 2026-02-01 --to 2026-03-01
    halo-c1 history evidence --at 2026-03-01 --out review-2026-03
    halo-c1 history verify review-2026-03
    halo-c1 history snapshots

Every history command reads the lake alone (`halo_c1.history`); `--lake` defaults to the environment's
`HALO_C1_LAKE_URL`, then `AIRFLOW_VAR_HALO_C1_LAKE_URL` (the DAG's own setting).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from halo_c1.history import (
    CHECKSUMS,
    PASSED,
    WHICH,
    Answer,
    History,
    HistoryError,
    open_tenant,
    parse_time,
    verify_evidence,
)

LAKE_ENV = ("HALO_C1_LAKE_URL", "AIRFLOW_VAR_HALO_C1_LAKE_URL")
FORMATS = ("table", "csv", "json")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return "; ".join(_cell(v) for v in value)
    return str(value)


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO) -> None:
    """An aligned plain-text table (cells wider than 60 characters are not padded beyond that)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [min(60, max([len(c)] + [len(r[i]) for r in cells])) for i, c in enumerate(columns)]
    for line in [list(columns), ["-" * w for w in widths], *cells]:
        out.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() + "\n")


def write_answer(answer: Answer, fmt: str, out: TextIO, err: TextIO) -> None:
    """The answer as a table (with the snapshot lines above it), CSV (snapshot ids as leading columns,
    the snapshot lines on stderr) or JSON."""
    if fmt == "json":
        json.dump(answer.as_json(), out, indent=2, default=str)
        out.write("\n")
        return
    if fmt == "csv":
        for line in answer.header_lines():
            err.write(f"{line}\n")
        roles = list(answer.snapshots)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([f"{r.replace(' ', '_')}_snapshot_id" for r in roles] + answer.columns)
        ids = [answer.snapshots[r].id for r in roles]
        writer.writerows(ids + [_cell(v) if isinstance(v, list) else v for v in row] for row in answer.rows)
        return
    for line in answer.header_lines():
        out.write(f"{line}\n")
    if answer.subject.get("counts"):
        out.write(
            "counts: " + ", ".join(f"{k} {v}" for k, v in sorted(answer.subject["counts"].items())) + "\n"
        )
    out.write(f"{len(answer.rows)} row(s)\n\n")
    if answer.rows:
        print_table(answer.columns, answer.rows, out)


def _history_parser(sub: Any) -> None:
    history = sub.add_parser("history", help="access history and user-access-review evidence from the lake")
    questions = history.add_subparsers(dest="question", required=True, metavar="QUESTION")

    def lake_options(parser: argparse.ArgumentParser) -> None:
        default = next((os.environ[name] for name in LAKE_ENV if os.environ.get(name)), None)
        parser.add_argument(
            "--lake",
            default=default,
            required=default is None,
            help="lake base URL or tenant folder (file path, file://, s3://, abfs://); "
            f"default ${LAKE_ENV[0]} or ${LAKE_ENV[1]}",
        )
        parser.add_argument("--tenant", help="the tenant folder when the lake base holds several")
        parser.add_argument(
            "--snapshots",
            dest="which",
            choices=WHICH,
            default=PASSED,
            help="which snapshots count: passed the quality gate (default), delivered to C1, or every curated one",
        )
        parser.add_argument("--format", choices=FORMATS, default="table")
        parser.add_argument("--threads", type=int, help="DuckDB threads (default: every core)")

    holders = questions.add_parser("holders", help="who held an entitlement at a time")
    holders.add_argument("entitlement", help="entitlement id, e.g. role:<id>:assigned or team:3:member")
    holders.add_argument("--at", help="time (ISO date or date-time, UTC if no zone; default now)")
    lake_options(holders)

    access = questions.add_parser("access", help="what one account held at a time, direct and inherited")
    access.add_argument("account", help="<type>:<id>, e.g. agent:12")
    access.add_argument("--at", help="time (default now)")
    lake_options(access)

    changes = questions.add_parser("changes", help="grants and accounts changed between two times")
    changes.add_argument("--from", dest="start", required=True, help="earlier time")
    changes.add_argument("--to", dest="end", help="later time (default now)")
    lake_options(changes)

    evidence = questions.add_parser(
        "evidence", help="write an evidence pack (CSV files + manifest) for a time"
    )
    evidence.add_argument("--at", help="time (default now)")
    evidence.add_argument("--out", required=True, type=Path, help="new or empty folder for the pack")
    lake_options(evidence)

    snapshots = questions.add_parser("snapshots", help="the snapshots that count, oldest first")
    lake_options(snapshots)

    verify = questions.add_parser("verify", help="check an evidence pack against its manifest")
    verify.add_argument("folder", type=Path)


def _run_history(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.question == "verify":
        problems = verify_evidence(args.folder)
        for problem in problems:
            err.write(f"FAILED {problem}\n")
        if not problems:
            out.write(f"OK: every file of {args.folder} matches its manifest and {CHECKSUMS}\n")
        return 1 if problems else 0
    history = History(open_tenant(args.lake, args.tenant), which=args.which, threads=args.threads)
    try:
        if args.question == "snapshots":
            refs = history.snapshots()
            answer = Answer(
                question=f"snapshots of {history.tenant.describe()} that count ({args.which})",
                snapshots={},
                columns=["snapshot_id", "taken_at", "quality_gate_passed", "delivered"],
                rows=[tuple(ref.as_record().values()) for ref in refs],
            )
        elif args.question == "holders":
            answer = history.holders(args.entitlement, parse_time(args.at))
        elif args.question == "access":
            answer = history.access(args.account, parse_time(args.at))
        elif args.question == "changes":
            answer = history.changes(parse_time(args.start), parse_time(args.end))
        else:
            manifest = history.evidence(parse_time(args.at), args.out)
            _write_evidence_summary(manifest, args, out)
            return 0
        write_answer(answer, args.format, out, err)
        return 0
    finally:
        history.close()


def _write_evidence_summary(manifest: dict[str, Any], args: argparse.Namespace, out: TextIO) -> None:
    if args.format == "json":
        json.dump(manifest, out, indent=2)
        out.write("\n")
        return
    out.write(
        f"evidence pack for {manifest['requested_at']} in {args.out}: snapshot {manifest['snapshot_id']} "
        f"(taken {manifest['taken_at']}), tenant {manifest['tenant']['folder']}\n"
    )
    print_table(
        ["file", "rows", "sha256"], [(n, f["rows"], f["sha256"]) for n, f in manifest["files"].items()], out
    )
    out.write(
        f"manifest.json sha256 {manifest['manifest_sha256']} (record it with the review)\n"
        f"check later: halo-c1 history verify {args.out}   or   (cd {args.out} && sha256sum -c {CHECKSUMS})\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="halo-c1", description="halo-c1 command line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _history_parser(sub)
    args = parser.parse_args(argv)
    try:
        return _run_history(args, sys.stdout, sys.stderr)
    except HistoryError as error:
        sys.stderr.write(f"halo-c1: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
