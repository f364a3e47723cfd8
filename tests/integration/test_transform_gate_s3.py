"""Transform and quality gate on an s3:// lake (a real S3-compatible server): GX builds Data Docs
locally and the gate copies them into the bucket, next to the gate JSON, dq_history and the index."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from halo_c1.changelog import build_change_log
from halo_c1.lake import Lake, read_json, read_parquet, write_json
from halo_c1.quality import run_quality_gate
from halo_c1.report import write_snapshot_report
from halo_c1.transform import transform_snapshot
from tests.unit.raw_fixtures import PREVIOUS, SNAPSHOT, good_raw, write_raw

if TYPE_CHECKING:
    from tests.integration.s3_server import S3Server

pytest_plugins = ["tests.integration.s3_server"]
pytestmark = pytest.mark.integration


def test_transform_and_gate_write_curated_tables_and_reports_to_s3(s3_bucket: S3Server) -> None:
    lake = Lake(f"s3://{s3_bucket.bucket}/halo", **s3_bucket.storage_options)
    for sid in (PREVIOUS, SNAPSHOT):
        write_raw(lake, sid, good_raw())
        transform_snapshot(lake, sid)
        result = run_quality_gate(lake, sid, data_docs=sid == SNAPSHOT)
        assert result["passed"] is True

    keys = s3_bucket.object_keys()
    assert f"halo/curated/grants/snapshot={SNAPSHOT}/part-0.parquet" in keys
    assert f"halo/reports/snapshot={SNAPSHOT}/data_docs/index.html" in keys
    assert any(k.startswith(f"halo/reports/snapshot={SNAPSHOT}/data_docs/validations/") for k in keys)
    assert not any(k.startswith(f"halo/reports/snapshot={PREVIOUS}/data_docs/") for k in keys)
    assert read_parquet(lake.curated_file("grants", SNAPSHOT)).num_rows == 7
    assert read_json(lake.report_dir(SNAPSHOT) / "gate_result.json")["passed"] is True
    assert read_parquet(lake.dq_history_file(SNAPSHOT)).num_rows == result["evaluated"]
    assert lake.reports_index().read_text().count("<tr data-snapshot=") == 2

    write_json(lake.delivery_manifest(PREVIOUS), {"snapshot_id": PREVIOUS, "counts": {}})
    assert build_change_log(lake, SNAPSHOT)["previous_snapshot_id"] == PREVIOUS
    write_snapshot_report(lake, SNAPSHOT)
    keys = s3_bucket.object_keys()
    assert f"halo/curated/access_changes/snapshot={SNAPSHOT}/part-0.parquet" in keys
    assert "quality gate passed" in (lake.report_dir(SNAPSHOT) / "report.html").read_text()
    assert not any("/.tmp-" in k for k in keys)
