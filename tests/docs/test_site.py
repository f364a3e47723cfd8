"""The documentation site builds in strict mode (a broken link, anchor or nav entry fails), the README
stays a front door that links into it, and the reference says what the code does."""

from __future__ import annotations

import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
README = PROJECT / "README.md"
README_MAX_LINES = 200
MARKDOWN_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def _build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    result = _build(PROJECT, target)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-5000:]}"
    return target


def _nav_pages() -> list[str]:
    def walk(items: list) -> list[str]:
        pages = []
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            pages.extend(walk(value) if isinstance(value, list) else [value])
        return pages

    config = yaml.load((PROJECT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    return walk(config["nav"])


def _page_html(site: Path, page: str) -> str:
    stem = page.removesuffix(".md")
    return (site / ("index.html" if stem == "index" else f"{stem}/index.html")).read_text()


def test_site_builds_strict_with_every_page_in_the_nav(site: Path) -> None:
    pages = _nav_pages()
    on_disk = sorted(str(path.relative_to(PROJECT / "docs")) for path in (PROJECT / "docs").rglob("*.md"))
    twice = sorted({page for page in pages if pages.count(page) > 1})
    assert not twice, f"mkdocs.yml's nav lists {twice} more than once: keep one entry each"
    assert sorted(pages) == on_disk, (
        f"mkdocs.yml's nav lacks {sorted(set(on_disk) - set(pages))} (add each page to the nav) "
        f"and lists {sorted(set(pages) - set(on_disk))}, which docs/ does not have"
    )
    for page in pages:
        assert "<h1" in _page_html(site, page), f"{page} was not built"


@pytest.mark.parametrize(
    ("broken", "complaint"),
    [
        ("[gone](no-such-page.md)", "no-such-page.md"),
        ("[gone](configuration.md#no-such-heading)", "no-such-heading"),
    ],
)
def test_strict_build_fails_on_a_broken_link(tmp_path: Path, broken: str, complaint: str) -> None:
    shutil.copy(PROJECT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(PROJECT / "docs", tmp_path / "docs")
    page = tmp_path / "docs" / "index.md"
    page.write_text(page.read_text() + f"\nSee {broken}.\n")
    result = _build(tmp_path, tmp_path / "site")
    assert result.returncode != 0 and complaint in result.stderr, result.stderr[-3000:]


def test_readme_is_a_front_door() -> None:
    lines = README.read_text().count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines; keep it to what a newcomer needs first (at most {README_MAX_LINES}) "
        "and put reference material into a page under docs/"
    )


def test_readme_links_resolve(site: Path) -> None:
    """GitHub renders README.md outside the site: its links into docs/ must name pages and anchors that exist."""
    readme = README.read_text()
    readme_anchors = {
        re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", readme, re.M)
    }
    nav = set(_nav_pages())
    problems = []
    for target in MARKDOWN_LINK.findall(readme):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        if not path:
            if anchor not in readme_anchors:
                problems.append(f"{target}: no such heading in README.md")
            continue
        if not (PROJECT / path).exists():
            problems.append(f"{target}: {path} does not exist")
        elif path.startswith("docs/") and path.endswith(".md"):
            page = path.removeprefix("docs/")
            if page not in nav:
                problems.append(f"{target}: {page} is not in mkdocs.yml's nav")
            elif anchor and f'id="{anchor}"' not in _page_html(site, page):
                problems.append(f"{target}: no heading #{anchor} on {page}")
    assert not problems, "README.md links: " + "; ".join(problems)


def test_param_table_lists_every_dag_param() -> None:
    """docs/triggering.md's table names every param of the ETL DAG's trigger form, and nothing else."""
    dag = runpy.run_path(str(PROJECT / "dags" / "haloitsm_to_c1.py"))["haloitsm_to_c1"]()
    page = (PROJECT / "docs" / "triggering.md").read_text()
    table = page[page.index("| param | default | meaning |") :].split("\n\n")[0]
    documented = re.findall(r"^\| `(\w+)` \|", table, re.M)
    assert sorted(documented) == sorted(dag.params), (
        f"documented {sorted(documented)}, DAG has {sorted(dag.params)}"
    )
