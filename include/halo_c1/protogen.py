"""Committed generated protobuf code: check it is fresh, regenerate it, and the command line both
codegen modules share (`halo_c1.c1z.codegen`, `halo_c1.c1.codegen`; each only knows how to run protoc).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def run_protoc(
    out_root: Path,
    proto_root: Path,
    sources: list[str],
    *,
    includes: tuple[Path, ...] = (),
    grpc: bool = False,
) -> None:
    """protoc (grpcio-tools) on `sources` (relative to `proto_root`) into `out_root`: `_pb2.py` and
    `.pyi`, plus `_pb2_grpc.py` with `grpc`; the well-known types are always on the include path."""
    from importlib import resources

    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    out_root.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        *(f"-I{root}" for root in (proto_root, *includes, well_known)),
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        *([f"--grpc_python_out={out_root}"] if grpc else []),
        *sources,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed for {sources}")


def mark_packages(out_root: Path, doc: str) -> list[Path]:
    """Make every folder of generated code a package (`__init__.py` holding `doc`); all files written."""
    for folder in {out_root, *(p.parent for p in out_root.rglob("*.py*"))}:
        while folder != out_root.parent:
            (folder / "__init__.py").write_text(doc)
            folder = folder.parent
    return sorted(path for path in out_root.rglob("*") if path.is_file())


class StaleGeneratedCode(Exception):
    """The committed generated code does not match what the .proto files produce."""


def _tree(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@dataclass(frozen=True)
class GeneratedCode:
    """The code `generate(out_root)` writes, committed at `pb_root`; `module` regenerates it."""

    pb_root: Path
    generate: Callable[[Path], list[Path]]
    module: str

    def _fresh(self, tmp: str) -> Path:
        fresh_root = Path(tmp) / "pb"
        self.generate(fresh_root)
        return fresh_root

    def stale_files(self, committed_root: Path | None = None) -> list[str]:
        """Names of generated files that are missing, extra or different in `committed_root`."""
        with tempfile.TemporaryDirectory() as tmp:
            fresh = _tree(self._fresh(tmp))
        committed = _tree(committed_root or self.pb_root)
        return sorted(n for n in fresh.keys() | committed.keys() if fresh.get(n) != committed.get(n))

    def check(self, committed_root: Path | None = None) -> None:
        root = committed_root or self.pb_root
        stale = self.stale_files(root)
        if stale:
            raise StaleGeneratedCode(
                f"generated code in {root} is stale ({', '.join(stale)}); regenerate with: python -m {self.module}"
            )

    def regenerate(self, committed_root: Path | None = None) -> list[Path]:
        """Replace the committed code with a fresh generation."""
        root = committed_root or self.pb_root
        with tempfile.TemporaryDirectory() as tmp:
            fresh_root = self._fresh(tmp)
            if root.exists():
                shutil.rmtree(root)
            shutil.copytree(fresh_root, root)
        return sorted(path for path in root.rglob("*") if path.is_file())

    def main(self, argv: list[str] | None, doc: str | None) -> int:
        parser = argparse.ArgumentParser(description=(doc or "").partition("\n")[0])
        parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
        args = parser.parse_args(argv)
        if args.check:
            try:
                self.check()
            except StaleGeneratedCode as exc:
                print(exc, file=sys.stderr)
                return 1
            print(f"{self.pb_root} is up to date")
            return 0
        written = self.regenerate()
        print(f"wrote {len(written)} files under {self.pb_root}")
        return 0
