"""Retention on a file lake and on an S3 lake (moto server): what goes, what stays, dry runs, settings.

The lake is filled with empty marker files at every place a snapshot leaves data (raw manifest and
entities, curated tables, c1z, report folder, dq_history), for snapshots of known ages, plus a delivery
record; the checks then read the store back independently of the code under test.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from upath import UPath

from halo_c1.errors import PermanentError
from halo_c1.lake import Lake, snapshot_id_for, write_json
from halo_c1.retention import RetentionConfigError, RetentionPolicy, apply_retention, main
from halo_c1.tenancy import TENANT_RECORD, NestedTenantError, TenantIdentity, tenant_lake

if TYPE_CHECKING:
    from tests.integration.s3_server import S3Server

pytest_plugins = ["tests.integration.s3_server"]
pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
AGES_DAYS = {"fresh": 1, "month": 31, "quarter": 91, "delivered": 200}
GATE = json.dumps({"passed": True, "failed": [], "failed_errors": 0, "failed_warnings": 0}).encode()
IDS = {name: snapshot_id_for(NOW - timedelta(days=days, minutes=7)) for name, days in AGES_DAYS.items()}


def _snapshot_files(snapshot_id: str) -> dict[str, list[str]]:
    """Where one snapshot leaves data, per retention zone (relative to the tenant folder)."""
    s = f"snapshot={snapshot_id}"
    return {
        "raw": [
            f"raw/_manifests/{s}.json",
            f"raw/entity=agents/{s}/part-0.parquet",
            f"raw/entity=teams/{s}/part-0.parquet",
        ],
        "curated": [
            f"curated/grants/{s}/part-0.parquet",
            f"curated/resources/{s}/part-0.parquet",
            f"c1z/{s}/sync.c1z",
        ],
        "reports": [
            f"reports/{s}/gate_result.json",
            f"reports/{s}/data_docs/index.html",
            f"reports/dq_history/{s}/part-0.parquet",
        ],
    }


def _fill(lake: Lake) -> None:
    for snapshot_id in IDS.values():
        for paths in _snapshot_files(snapshot_id).values():
            for relative in paths:
                target = lake.base / relative
                if target.protocol in ("", "file", "local"):
                    target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(GATE if relative.endswith("gate_result.json") else b"x")
    record = {"snapshot_id": IDS["delivered"], "counts": {"resources": {}, "grants": 0}}
    write_json(lake.latest_delivery(), record)
    write_json(lake.delivery_manifest(IDS["delivered"]), record)


def _present(lake: Lake, snapshot: str, zone: str) -> list[bool]:
    lake.base.fs.invalidate_cache()
    return [(lake.base / relative).exists() for relative in _snapshot_files(IDS[snapshot])[zone]]


def _check_defaults_applied(lake: Lake) -> None:
    report = apply_retention(lake, RetentionPolicy(), now=NOW)

    # 30 days raw, 90 days curated and reports; the delivered snapshot is kept everywhere.
    assert _present(lake, "fresh", "raw") == [True] * 3
    assert _present(lake, "month", "raw") == [False] * 3
    assert _present(lake, "month", "curated") == [True] * 3
    assert _present(lake, "month", "reports") == [True] * 3
    assert _present(lake, "quarter", "raw") == [False] * 3
    assert _present(lake, "quarter", "curated") == [False] * 3
    assert _present(lake, "quarter", "reports") == [False] * 3
    for zone in ("raw", "curated", "reports"):
        assert _present(lake, "delivered", zone) == [True] * 3
    assert lake.latest_delivery().exists()
    assert lake.delivery_manifest(IDS["delivered"]).exists()
    assert report.protected == [IDS["delivered"]]
    assert sorted((d.zone, d.snapshot_id) for d in report.deleted) == sorted(
        [
            ("raw", IDS["month"]),
            ("raw", IDS["quarter"]),
            ("curated", IDS["quarter"]),
            ("reports", IDS["quarter"]),
        ]
    )


def test_defaults_delete_old_snapshots_but_never_the_delivered_one_on_a_file_lake(tmp_path):
    lake = Lake(UPath(tmp_path / "tenant=acme"))
    _fill(lake)

    _check_defaults_applied(lake)

    # The reports index no longer lists (or links to) deleted reports.
    index = lake.reports_index().read_text()
    assert IDS["quarter"] not in index
    assert IDS["month"] in index


def test_defaults_on_an_s3_lake(s3_bucket: S3Server):
    lake = Lake(s3_bucket.path("halo/tenant=acme"))
    _fill(lake)

    _check_defaults_applied(lake)

    keys = s3_bucket.object_keys()
    assert not [k for k in keys if IDS["quarter"] in k]
    assert not [k for k in keys if IDS["month"] in k and "/raw/" in k]
    assert [k for k in keys if IDS["delivered"] in k and "/raw/" in k]


def test_a_tenant_nested_in_an_s3_lakes_zone_stops_its_retention_before_it_deletes(s3_bucket: S3Server):
    base = s3_bucket.path("halo")
    outer = tenant_lake(base, TenantIdentity.from_connection("https://acme.haloitsm.com", None), "acme")
    _fill(outer)
    nested = outer.base / "reports" / "globex"  # claimed before nesting was refused
    write_json(nested / TENANT_RECORD, {"host": "globex.haloitsm.com", "tenant": None})
    record = {"snapshot_id": IDS["quarter"], "counts": {"resources": {}, "grants": 0}}
    write_json(Lake(nested).delivery_manifest(IDS["quarter"]), record)
    (Lake(nested).c1z_file(IDS["quarter"])).write_bytes(b"globex c1z")
    before = s3_bucket.object_keys()

    with pytest.raises(NestedTenantError, match=r"holds another HaloITSM tenant's folder .*globex"):
        apply_retention(outer, now=NOW)

    assert s3_bucket.object_keys() == before
    with pytest.raises(NestedTenantError, match="lies inside"):
        tenant_lake(
            base, TenantIdentity.from_connection("https://globex.haloitsm.com", None), "acme/reports/globex"
        )


def test_a_dry_run_lists_and_deletes_nothing(tmp_path, caplog):
    lake = Lake(UPath(tmp_path))
    _fill(lake)
    before = sorted(p for p in tmp_path.rglob("*") if p.is_file())

    with caplog.at_level(logging.INFO, logger="halo_c1.retention"):
        report = apply_retention(lake, now=NOW, dry_run=True)

    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == before
    assert {(d.zone, d.snapshot_id) for d in report.deleted} >= {
        ("raw", IDS["month"]),
        ("curated", IDS["quarter"]),
    }
    manifest = f"raw/_manifests/snapshot={IDS['month']}.json"
    raw_paths = next(d.paths for d in report.deleted if d.zone == "raw" and d.snapshot_id == IDS["month"])
    assert raw_paths[0].endswith(manifest)  # the manifest goes first
    assert "retention (dry run)" in caplog.text
    line = next(line for line in caplog.text.splitlines() if "raw      would delete" in line)
    deleted, kept = line.split("; kept ")
    assert deleted.endswith(f"would delete 2 snapshot(s): ['{IDS['month']}', '{IDS['quarter']}']")
    assert kept.startswith("2 (") and IDS["fresh"] in kept and IDS["month"] not in kept  # the kept ones


def test_a_count_limit_keeps_only_the_newest_and_the_delivered(tmp_path):
    lake = Lake(UPath(tmp_path))
    _fill(lake)
    policy = RetentionPolicy.from_mapping({"curated_days": None, "curated_max_snapshots": 1})

    apply_retention(lake, policy, now=NOW)

    assert _present(lake, "fresh", "curated") == [True] * 3
    assert _present(lake, "month", "curated") == [False] * 3
    assert _present(lake, "quarter", "curated") == [False] * 3
    assert _present(lake, "delivered", "curated") == [True] * 3


def test_without_a_delivery_nothing_is_protected_and_a_lost_record_stops_retention(tmp_path):
    lake = Lake(UPath(tmp_path))
    _fill(lake)
    lake.latest_delivery().unlink()  # deliveries recorded, but the latest record is gone

    with pytest.raises(PermanentError, match=r"latest\.json is missing"):
        apply_retention(lake, now=NOW)
    assert _present(lake, "delivered", "raw") == [True] * 3  # nothing deleted while unsure

    lake.delivery_manifest(IDS["delivered"]).unlink()  # never delivered at all
    report = apply_retention(lake, now=NOW)

    assert report.protected == []
    assert _present(lake, "delivered", "raw") == [False] * 3


def test_an_impossible_snapshot_folder_is_skipped_and_reported_and_the_pass_goes_on(tmp_path, caplog):
    lake = Lake(UPath(tmp_path / "tenant=acme"))
    _fill(lake)
    impossible = "20261399T999999Z"
    planted = [lake.base / p for paths in _snapshot_files(impossible).values() for p in paths]
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(GATE if path.name == "gate_result.json" else b"x")

    with caplog.at_level(logging.WARNING, logger="halo_c1.retention"):
        report = apply_retention(lake, now=NOW)

    # The other snapshots were judged as usual, the impossible one left alone.
    assert _present(lake, "quarter", "curated") == [False] * 3
    assert _present(lake, "month", "raw") == [False] * 3
    assert _present(lake, "delivered", "raw") == [True] * 3
    assert all(path.exists() for path in planted)
    skipped = report.to_dict()["skipped"]
    assert sorted((s["zone"], s["name"]) for s in skipped) == [
        ("curated", f"snapshot={impossible}"),
        ("raw", f"snapshot={impossible}"),
        ("reports", f"snapshot={impossible}"),
    ]
    reported = [path for s in skipped for path in s["paths"]]
    assert all(any(str(p) == r or str(p).startswith(f"{r}/") for r in reported) for p in planted)
    assert f"raw entry snapshot={impossible} is not a snapshot id" in caplog.text
    assert impossible not in lake.reports_index().read_text()  # the index is rewritten without it


@pytest.mark.parametrize(
    ("snapshot_id", "problem"),
    [
        (None, "snapshot_id None is not a snapshot id"),
        ("lower", "is not a snapshot id like 20261127T050000Z"),
        ("list", "is not a snapshot id like 20261127T050000Z"),
        ("missing", "it has no snapshot_id"),
        ("20261399T999999Z", "'20261399T999999Z' is not a snapshot id"),
    ],
)
def test_a_latest_record_with_a_wrong_snapshot_id_stops_retention_before_it_deletes(
    tmp_path, snapshot_id, problem
):
    lake = Lake(UPath(tmp_path / "tenant=acme"))
    _fill(lake)
    record = json.loads(lake.latest_delivery().read_text())
    wrong = {"lower": IDS["delivered"].lower(), "list": [IDS["delivered"]]}.get(snapshot_id, snapshot_id)
    if snapshot_id == "missing":
        del record["snapshot_id"]
    else:
        record["snapshot_id"] = wrong
    lake.latest_delivery().write_text(json.dumps(record))
    before = sorted(p for p in tmp_path.rglob("*") if p.is_file())

    with pytest.raises(PermanentError, match=r"latest\.json is not a readable delivery record") as refused:
        apply_retention(lake, now=NOW)

    assert problem in str(refused.value)
    assert str(lake.latest_delivery().path) in str(refused.value)
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == before  # nothing deleted


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"raw_dayz": 3}, "unknown key"),
        ({"raw_days": 0}, "raw_days must be a whole number >= 1"),
        ({"curated_max_snapshots": "5"}, "curated_max_snapshots must be a whole number"),
        ({"reports_days": True}, "reports_days must be"),
    ],
)
def test_bad_settings_are_refused_by_name(settings, problem):
    with pytest.raises(RetentionConfigError, match=problem):
        RetentionPolicy.from_mapping(settings)


def test_the_command_line_lists_in_a_dry_run(tmp_path, capsys):
    lake = Lake(UPath(tmp_path))
    _fill(lake)
    before = sorted(p for p in tmp_path.rglob("*") if p.is_file())

    assert main([f"file://{tmp_path}", "--dry-run", "--raw-days", "400"]) == 0

    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == before
    assert json.loads(lake.latest_delivery().read_text())["snapshot_id"] == IDS["delivered"]


def test_the_command_line_refuses_a_path_that_is_not_a_tenant_lake(tmp_path, capsys):
    lake = Lake(UPath(tmp_path / "tenant=acme.haloitsm.com"))
    _fill(lake)

    with pytest.raises(SystemExit) as missing:
        main([f"file://{tmp_path}/nowhere", "--dry-run"])
    assert missing.value.code == 1
    assert f"{tmp_path}/nowhere does not exist" in capsys.readouterr().err

    with pytest.raises(SystemExit) as base:  # the lake's base folder, one level above the tenant's
        main([str(tmp_path), "--dry-run"])
    assert base.value.code == 1
    error = capsys.readouterr().err
    assert "is not a tenant's lake folder" in error and "['tenant=acme.haloitsm.com']" in error

    assert main([str(tmp_path / "tenant=acme.haloitsm.com"), "--dry-run"]) == 0


@pytest.mark.parametrize("option", ["--raw-days", "--reports-max-snapshots"])
def test_the_command_line_refuses_a_negative_count_with_a_usage_error(option, capsys):
    with pytest.raises(SystemExit) as refused:
        main(["file:///tmp/lake", option, "-3"])
    assert refused.value.code == 2
    assert f"argument {option}: expected a whole number >= 1, got '-3'" in capsys.readouterr().err
