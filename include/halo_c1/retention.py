"""Retention: delete snapshots older than a configured age or beyond a configured count.

Every snapshot holds the names and emails of every agent and end user, so the lake keeps them only
as long as they are useful:

    raw        raw/_manifests/snapshot=<id>.json, raw/entity=*/snapshot=<id>/        30 days
    curated    curated/*/snapshot=<id>/, c1z/snapshot=<id>/                          90 days
    reports    reports/snapshot=<id>/, reports/*/snapshot=<id>/ (dq_history, ...)    90 days

A snapshot's age is the time its data was taken (its id). Each zone may also keep at most the newest
N snapshots. The last delivered snapshot (what C1 has, and the deletion guard's baseline) is never
deleted in any zone, a raw end-user extraction stays while a raw snapshot that is kept reuses it
(`halo_c1.freshness`: with `end_user_refresh_hours`, hourly snapshots point at one), and a folder
holding another tenant's folder is refused before anything goes (`halo_c1.tenancy`). An entry named
`snapshot=<not a snapshot id>` (e.g. `snapshot=20261399T999999Z`, an impossible moment) has no age:
it is skipped, logged and listed in the result, and the pass goes on with the others. Delivery
manifests, the tenant record and provisioning audit rows hold no
snapshot data and are kept. A raw snapshot loses its manifest first, so a reader never takes a
half-deleted snapshot for a complete one. Configuration: Airflow variable `halo_c1_retention`
(JSON, see `RetentionPolicy.from_mapping`); the housekeeping DAG runs it daily.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from upath import UPath

from halo_c1.errors import PermanentError
from halo_c1.freshness import referenced_end_users
from halo_c1.lake import Lake, as_path, is_snapshot_id, snapshot_time
from halo_c1.tenancy import refuse_nested_tenants

log = logging.getLogger(__name__)

ZONES = ("raw", "curated", "reports")
DEFAULT_DAYS = {"raw": 30, "curated": 90, "reports": 90}
_SNAPSHOT_ENTRY = re.compile(r"^snapshot=(.*?)(\.json)?$")


class RetentionConfigError(PermanentError, ValueError):
    """The retention settings are not understood; the message names the bad key."""


@dataclass(frozen=True)
class ZoneRule:
    """How long one zone keeps snapshots: at most `days` old and (if set) only the newest `max_snapshots`."""

    days: int | None
    max_snapshots: int | None = None

    def expired(self, taken: datetime, rank: int, now: datetime) -> bool:
        """Whether the snapshot taken at `taken`, `rank`-th newest (0 = newest) in its zone, goes."""
        too_old = self.days is not None and now - taken > timedelta(days=self.days)
        too_many = self.max_snapshots is not None and rank >= self.max_snapshots
        return too_old or too_many


@dataclass(frozen=True)
class RetentionPolicy:
    """One rule per zone; defaults: raw 30 days, curated (and c1z) and reports 90 days, no count limit."""

    raw: ZoneRule = field(default_factory=lambda: ZoneRule(DEFAULT_DAYS["raw"]))
    curated: ZoneRule = field(default_factory=lambda: ZoneRule(DEFAULT_DAYS["curated"]))
    reports: ZoneRule = field(default_factory=lambda: ZoneRule(DEFAULT_DAYS["reports"]))

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any] | None) -> RetentionPolicy:
        """From `{"raw_days": 30, "curated_days": 90, "reports_days": 90, "<zone>_max_snapshots": n}`.

        A missing key keeps its default; `null` days means "no age limit". Unknown keys are refused,
        so a typo never silently keeps (or deletes) more than intended.
        """
        settings = dict(settings or {})
        known = {f"{zone}_{what}" for zone in ZONES for what in ("days", "max_snapshots")}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise RetentionConfigError(f"retention: unknown key(s) {unknown}; known: {sorted(known)}")
        rules = {}
        for zone in ZONES:
            days = _count(settings, f"{zone}_days", DEFAULT_DAYS[zone], minimum=1)
            rules[zone] = ZoneRule(days, _count(settings, f"{zone}_max_snapshots", None, minimum=1))
        return cls(**rules)

    def rule(self, zone: str) -> ZoneRule:
        return getattr(self, zone)

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def _count(settings: Mapping[str, Any], key: str, default: int | None, *, minimum: int) -> int | None:
    value = settings.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RetentionConfigError(
            f"retention: {key} must be a whole number >= {minimum} or null, got {value!r}"
        )
    return value


@dataclass(frozen=True)
class Deletion:
    """One snapshot of one zone that retention removes (or, in a dry run, would remove)."""

    zone: str
    snapshot_id: str
    paths: list[str]


@dataclass(frozen=True)
class Skipped:
    """A `snapshot=` entry retention left alone because its name is no snapshot id (it has no age)."""

    zone: str
    name: str
    paths: list[str]


@dataclass
class RetentionReport:
    """What a retention pass did: deletions, what it kept on purpose, what it could not judge (skipped),
    and whether it was a dry run."""

    dry_run: bool
    protected: list[str]
    deleted: list[Deletion] = field(default_factory=list)
    kept: dict[str, int] = field(default_factory=dict)
    kept_span: dict[str, list[str]] = field(default_factory=dict)  # per zone: [oldest, newest] kept
    skipped: list[Skipped] = field(default_factory=list)
    # Raw end-user extractions past their rule, kept because a kept snapshot reuses their end users.
    referenced: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        lines = [f"retention ({'dry run' if self.dry_run else 'applied'}); never deleted: {self.protected}"]
        for zone in ZONES:
            gone = [d.snapshot_id for d in self.deleted if d.zone == zone]
            span = self.kept_span.get(zone)
            kept = f"kept {self.kept.get(zone, 0)}" + (f" ({span[0]} … {span[1]})" if span else "")
            lines.append(f"  {zone:<8} {verb} {len(gone)} snapshot(s): {gone}; {kept}")
        if self.referenced:
            lines.append(f"  raw      kept end users still reused by newer snapshots: {self.referenced}")
        for skipped in self.skipped:
            lines.append(
                f"  {skipped.zone:<8} skipped {skipped.name}: not a snapshot id; see {skipped.paths}"
            )
        return lines


def _folders(root: UPath, depth: int) -> Iterator[UPath]:
    """Sub-folders of `root` exactly `depth` levels down (0 = root itself), none if it does not exist."""
    if depth == 0:
        yield root
        return
    if not root.exists():
        return
    for child in root.iterdir():
        if child.is_dir() and _SNAPSHOT_ENTRY.match(child.name) is None:
            yield from _folders(child, depth - 1)


def snapshot_entries(lake: Lake, zone: str) -> dict[str, list[UPath]]:
    """Every `snapshot=<id>` entry (folder or manifest) of a zone, by snapshot id."""
    base = lake.base
    if zone == "raw":
        parents = [*_folders(base / "raw", 1)]  # raw/_manifests and raw/entity=<e>
    elif zone == "curated":
        parents = [*_folders(base / "curated", 1), base / "c1z"]
    else:
        parents = [base / "reports", *_folders(base / "reports", 1)]
    found: dict[str, list[UPath]] = {}
    for parent in parents:
        if not parent.exists():
            continue
        for entry in parent.iterdir():
            match = _SNAPSHOT_ENTRY.match(entry.name)
            if match:
                found.setdefault(match.group(1), []).append(entry)
    return found


def protected_snapshots(lake: Lake) -> set[str]:
    """Snapshots retention never deletes: the last delivered one (C1's data and the guard's baseline)."""
    from halo_c1.deliver.manifest import last_delivery

    latest = last_delivery(lake)
    return {latest["snapshot_id"]} if latest else set()


def _raw_first(entries: list[UPath]) -> list[UPath]:
    """The raw manifest (or an end-user refresh's) first: without it the snapshot reads as
    incomplete, never as half there."""
    return sorted(entries, key=lambda p: (p.parent.name not in ("_manifests", "_end_users"), str(p)))


def _remove(path: UPath) -> None:
    path.fs.invalidate_cache()
    if path.exists():
        path.fs.rm(path.path, recursive=path.is_dir())


def apply_retention(
    lake: Lake,
    policy: RetentionPolicy | None = None,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> RetentionReport:
    """Delete (or, with `dry_run`, only list) the snapshots the policy lets go; return what happened."""
    policy = policy or RetentionPolicy()
    now = now or datetime.now(UTC)
    refuse_nested_tenants(lake.base)  # another tenant's folder inside this one is not ours to prune
    protected = protected_snapshots(lake)
    report = RetentionReport(dry_run=dry_run, protected=sorted(protected))
    for zone in ZONES:
        rule = policy.rule(zone)
        entries = snapshot_entries(lake, zone)
        for name in sorted(n for n in entries if not is_snapshot_id(n)):
            paths = [str(p) for p in entries.pop(name)]
            log.warning(
                "retention: %s entry snapshot=%s is not a snapshot id (e.g. an impossible date); skipped "
                "it, check and remove it by hand: %s",
                zone,
                name,
                paths,
            )
            report.skipped.append(Skipped(zone, f"snapshot={name}", paths))
        newest_first = sorted(entries, reverse=True)
        keep = {
            snapshot_id
            for rank, snapshot_id in enumerate(newest_first)
            if snapshot_id in protected or not rule.expired(snapshot_time(snapshot_id), rank, now)
        }
        if zone == "raw":
            report.referenced = sorted(referenced_end_users(lake, sorted(keep)) & set(entries) - keep)
            keep |= set(report.referenced)
        for snapshot_id in newest_first:
            if snapshot_id in keep:
                report.kept[zone] = report.kept.get(zone, 0) + 1
                newest = report.kept_span.get(zone, [snapshot_id, snapshot_id])[1]
                report.kept_span[zone] = [snapshot_id, newest]  # newest first: this one is the oldest yet
                continue
            paths = _raw_first(entries[snapshot_id]) if zone == "raw" else entries[snapshot_id]
            report.deleted.append(Deletion(zone, snapshot_id, [str(p) for p in paths]))
            if not dry_run:
                for path in paths:
                    _remove(path)
    if not dry_run and any(d.zone == "reports" for d in report.deleted):
        from halo_c1.report.index import write_reports_index

        write_reports_index(lake)
    for line in report.lines():
        log.info("%s", line)
    return report


def main(argv: list[str] | None = None) -> int:
    """`python -m halo_c1.retention <tenant lake folder URL> [--dry-run] [--raw-days N] ...`"""
    parser = argparse.ArgumentParser(prog="python -m halo_c1.retention", description=__doc__.splitlines()[0])
    parser.add_argument(
        "lake", help="the tenant's lake folder, e.g. file:///data/halo_c1/tenant=acme.haloitsm.com"
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    for zone in ZONES:
        parser.add_argument(f"--{zone}-days", type=_positive, default=DEFAULT_DAYS[zone], metavar="DAYS")
        parser.add_argument(f"--{zone}-max-snapshots", type=_positive, default=None, metavar="N")
    args = parser.parse_args(argv)
    settings = {f"{z}_{w}": getattr(args, f"{z}_{w}") for z in ZONES for w in ("days", "max_snapshots")}
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    lake = Lake(as_path(args.lake))
    problem = not_a_tenant_lake(lake.base)
    if problem:
        parser.exit(1, f"python -m halo_c1.retention: error: {problem}\n")
    apply_retention(lake, RetentionPolicy.from_mapping(settings), dry_run=args.dry_run)
    return 0


def _positive(text: str) -> int:
    """A whole number >= 1, for the command line (argparse names the option with the message)."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


LAKE_ZONES = ("raw", "curated", "reports", "c1z", "deliveries")


def not_a_tenant_lake(folder: UPath) -> str | None:
    """Why `folder` is not a tenant's lake folder (missing, or none of its zones), or None.

    A wrong path would otherwise report "would delete 0, kept 0" and look like a healthy lake; the
    lake's base folder (one level up) is named with the tenant folders it holds.
    """
    if not folder.exists():
        return f"{folder} does not exist; give the tenant's lake folder, e.g. .lake/halo_c1/tenant=<key>"
    if any((folder / zone).exists() for zone in LAKE_ZONES):
        return None
    tenants = sorted(child.name for child in folder.iterdir() if child.name.startswith("tenant="))
    hint = f"; it holds the tenant folders {tenants}: give one of them" if tenants else ""
    return f"{folder} is not a tenant's lake folder (none of {', '.join(LAKE_ZONES)} in it){hint}"


if __name__ == "__main__":
    raise SystemExit(main())
