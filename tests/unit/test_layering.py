"""Which package may import which, read from the source with `ast` (every import statement, also the
ones inside functions): `halo_c1` is plain Python, the DAG files and the plugin reach it through the
glue in `halo_c1_airflow`, and extraction and delivery do not depend on provisioning or service mode."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT

INCLUDE = PROJECT / "include"


def imported_modules(source: Path, root: Path = INCLUDE) -> set[str]:
    """Every module `source` imports, as absolute names (relative imports resolved against its
    package under `root`), including `package.name` for each `from package import name`."""
    package = source.relative_to(root).with_suffix("").parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def importers(sources: list[Path], forbidden: str, root: Path = INCLUDE) -> dict[str, list[str]]:
    """The files among `sources` that import `forbidden` or anything inside it, with what they import."""
    hits = {}
    for source in sorted(sources):
        found = imported_modules(source, root)
        bad = sorted(m for m in found if m == forbidden or m.startswith(f"{forbidden}."))
        if bad:
            hits[str(source.relative_to(root))] = bad
    return hits


def test_the_scan_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    probe = tmp_path / "halo_c1" / "halo" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "def f():\n    from airflow.sdk import Variable\n\n\nfrom ..provision import lease\nimport airflow\n"
    )
    found = imported_modules(probe, tmp_path)
    assert {"airflow", "airflow.sdk", "halo_c1.provision", "halo_c1.provision.lease"} <= found
    assert importers([probe], "airflow", tmp_path) == {
        "halo_c1/halo/probe.py": ["airflow", "airflow.sdk", "airflow.sdk.Variable"]
    }


def test_the_domain_package_imports_no_airflow() -> None:
    assert importers(list((INCLUDE / "halo_c1").rglob("*.py")), "airflow") == {}


@pytest.mark.parametrize("lower", ["halo", "deliver"])
@pytest.mark.parametrize("upper", ["provision", "c1"])
def test_extraction_and_delivery_do_not_reach_up_into_provisioning_or_service_mode(lower, upper):
    """Extraction and delivery sit below provisioning and C1 service mode (which use them); what
    they share, like the lease, lives below all of them."""
    sources = list((INCLUDE / "halo_c1" / lower).rglob("*.py"))
    assert sources
    assert importers(sources, f"halo_c1.{upper}") == {}


@pytest.mark.parametrize("folder", ["dags", "plugins"])
def test_dag_files_and_the_plugin_import_the_domain_only_through_the_glue(folder: str) -> None:
    """`plugins/halo_c1_view/` (the reports web app) renders with `halo_c1.report` directly; the
    Airflow settings it needs come from `halo_c1_airflow` like everyone's."""
    sources = list((PROJECT / folder).glob("*.py"))
    assert sources
    assert importers(sources, "halo_c1", PROJECT / folder) == {}
