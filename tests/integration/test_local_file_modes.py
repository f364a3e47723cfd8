"""Local lake, c1z and delivered files hold personal data: owner-only, or group-readable by setting."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dev.halo_simulator import TenantSpec
from halo_c1.c1z.writer import write_c1z
from halo_c1.deliver import ObjectStorageTarget, deliver_snapshot
from halo_c1.guard import check_deletion_safety
from halo_c1.halo import HaloClient, extract_snapshot
from halo_c1.lake import GROUP_READABLE_ENV, Lake
from halo_c1.quality.gate import run_quality_gate
from halo_c1.transform import transform_snapshot
from tests.integration.conftest import halo_settings

pytestmark = pytest.mark.integration

SNAPSHOT = "20261127T050000Z"


def modes(root: Path) -> tuple[set[int], set[int]]:
    files = {stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*") if p.is_file()}
    folders = {stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")] if p.is_dir()}
    return files, folders


@pytest.mark.parametrize(
    ("group_readable", "file_mode", "folder_mode"), [(None, 0o600, 0o700), ("true", 0o640, 0o750)]
)
def test_every_stage_writes_local_files_with_the_configured_mode(
    start_simulator, tmp_path, monkeypatch, group_readable, file_mode, folder_mode
):
    if group_readable is None:
        monkeypatch.delenv(GROUP_READABLE_ENV, raising=False)
    else:
        monkeypatch.setenv(GROUP_READABLE_ENV, group_readable)
    previous_umask = os.umask(0o022)  # the usual host umask, which alone gives 0644 files
    try:
        _run_and_check(start_simulator, tmp_path, file_mode, folder_mode)
    finally:
        os.umask(previous_umask)


def _run_and_check(start_simulator, tmp_path: Path, file_mode: int, folder_mode: int) -> None:
    sim = start_simulator(tenant=TenantSpec(seed=5, agents=8, users=12, teams=2, roles=2, departments=2))
    lake_root, delivered = tmp_path / "lake", tmp_path / "out" / "c1" / "sync.c1z"
    lake = Lake(str(lake_root))
    with HaloClient(halo_settings(sim)) as client:
        extract_snapshot(client, lake, SNAPSHOT)
    transform_snapshot(lake, SNAPSHOT)
    run_quality_gate(lake, SNAPSHOT)
    write_c1z(lake, SNAPSHOT)
    check_deletion_safety(lake, SNAPSHOT, None)
    deliver_snapshot(lake, SNAPSHOT, ObjectStorageTarget(str(delivered)))

    files, folders = modes(lake_root)
    assert any(p.suffix == ".html" for p in lake_root.rglob("*")), "the Data Docs are part of the check"
    assert files == {file_mode}
    assert folders == {folder_mode}
    assert stat.S_IMODE(delivered.stat().st_mode) == file_mode
    assert {stat.S_IMODE(p.stat().st_mode) for p in (delivered.parent, delivered.parent.parent)} == {
        folder_mode
    }
