"""halo-c1's version and the user agent it sends to C1 (gRPC and HTTPS)."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path


def _version() -> str:
    try:
        return metadata.version("halo-c1")
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[3] / "pyproject.toml"
        if pyproject.exists():
            return str(tomllib.loads(pyproject.read_text())["project"]["version"])
        return "0+unknown"


VERSION = _version()
USER_AGENT_PRODUCT = f"halo-c1/{VERSION}"
