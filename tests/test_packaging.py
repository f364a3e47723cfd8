"""`pip install .` gives any Airflow image the domain package and the `halo-c1` command: a wheel built
from pyproject.toml, installed with its dependency ranges (resolved against the lock file) into a clean
venv, imports `halo_c1` from site-packages with no PYTHONPATH and no project checkout on the path."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import PROJECT

UV = Path(sys.executable).parent / "uv"

pytestmark = pytest.mark.timeout(900)


def _run(*args: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=800
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def test_the_wheel_installs_halo_c1_into_a_clean_venv(tmp_path: Path) -> None:
    # sdist, then the wheel from it in a temporary directory: nothing is built inside the checkout.
    _run(UV, "build", "--out-dir", tmp_path / "dist", PROJECT, cwd=tmp_path)
    assert not (PROJECT / "build").exists()
    (wheel,) = (tmp_path / "dist").glob("halo_c1-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "halo_c1_airflow/stage.py" in names
    assert "halo_c1/c1z/proto/c1/connector/v2/grant.proto" in names
    assert "halo_c1/c1z/pb/c1/connector/v2/grant_pb2.py" in names
    assert "halo_c1/report/templates/report.html.j2" in names
    assert not [n for n in names if n.startswith(("tests/", "dags/", "dev/", "include/"))]

    venv = tmp_path / "venv"
    _run(UV, "venv", "--quiet", "--python", sys.executable, venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    # The ranges of pyproject.toml, resolved within the lock's pins (as an image's own pins would be).
    _run(
        UV,
        "pip",
        "install",
        "--quiet",
        "--python",
        python,
        "-c",
        PROJECT / "requirements.txt",
        f"halo_c1[s3,azure,alerts] @ {wheel.as_uri()}",
        cwd=tmp_path,
    )

    out = _run(
        python,
        "-c",
        "import halo_c1, halo_c1_airflow.stage, halo_c1_airflow.alerts, halo_c1.alerts, halo_c1.c1z.writer, halo_c1.deliver, halo_c1.quality.gate;"
        "from airflow.sdk import ObjectStoragePath; print(halo_c1.__file__)",
        cwd=tmp_path,
    )

    location = Path(out.strip().splitlines()[-1])
    assert location.is_relative_to(venv), location
    assert not location.is_relative_to(PROJECT)

    # The package installs the `halo-c1` command (its entry point in pyproject.toml).
    usage = _run(venv / "bin" / "halo-c1", "history", "holders", "--help", cwd=tmp_path)
    assert "usage: halo-c1 history holders" in usage and "--lake" in usage
