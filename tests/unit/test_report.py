"""The snapshot report, the change-log page, the index and offline Data Docs, rendered from a real gate run."""

from __future__ import annotations

import re

import pytest

from halo_c1.changelog import build_change_log
from halo_c1.lake import Lake, write_json
from halo_c1.quality import run_quality_gate
from halo_c1.report import write_reports_index, write_snapshot_report
from halo_c1.report.trends import trend_charts
from halo_c1.transform import transform_snapshot
from tests.unit.raw_fixtures import PREVIOUS, SNAPSHOT, agent, good_raw, member, write_raw

EVIL = '<img src=x onerror="alert(1)">Mallory'
EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:|//|file:)""", re.I)


@pytest.fixture
def lake(tmp_path) -> Lake:
    """Two snapshots: the second adds an agent with an HTML name holding a role and disables Jane."""
    lake = Lake(str(tmp_path))
    write_raw(lake, PREVIOUS, good_raw())
    transform_snapshot(lake, PREVIOUS)
    run_quality_gate(lake, PREVIOUS, data_docs=False)
    build_change_log(lake, PREVIOUS)
    write_json(lake.delivery_manifest(PREVIOUS), {"snapshot_id": PREVIOUS, "counts": {}})
    raw = good_raw()
    raw["agents"].append(agent("15", EVIL, email="m@example.com"))
    raw["agents"][1]["isdisabled"] = True  # Jane Doe (12)
    raw["agent_memberships"].append(member("15", "role", raw["roles"][0]["role_id"]))
    write_raw(lake, SNAPSHOT, raw)
    transform_snapshot(lake, SNAPSHOT)
    run_quality_gate(lake, SNAPSHOT, PREVIOUS, data_docs=False)
    build_change_log(lake, SNAPSHOT, mode="live")
    write_snapshot_report(lake, PREVIOUS)
    write_snapshot_report(lake, SNAPSHOT)
    write_reports_index(lake)
    return lake


def _page(lake: Lake, name: str) -> str:
    return (lake.report_dir(SNAPSHOT) / name).read_text()


def _cell_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_report_counts_each_failed_check_out_of_its_population(lake):
    text = _cell_text(_page(lake, "report.html"))

    # Agents 12..15 (the system agent is not one): one without an email, out of 4 agents, not 12 resources.
    assert "agent_without_email" in text and "1 of 4 agents (25.0%)" in text
    # Jane (12) and Bob (13) are disabled and both hold roles and teams.
    assert "2 of 2 disabled agents (100.0%)" in text
    assert "quality gate passed" in text
    # ...and agent 13's lastlogindate "not a date": delivered unknown, a warning naming the id.
    assert "0 error(s) and 4 warning(s) failed" in text
    assert re.search(r"warning resources agent_without_email .* 14", text)
    assert re.search(r"warning data_issues agents\.unknown_fields .* 13 \(lastlogindate\)", text)


def test_report_names_each_data_issue_by_id(lake):
    html = _page(lake, "report.html")
    table = html[html.index('id="data-issues"') :]
    row = '<td>agents</td><td class="id">13</td><td><code>lastlogindate</code></td>'
    assert row in table and "delivered as unknown" in table


def test_report_shows_the_change_log_highlights_and_counts(lake):
    html = _page(lake, "report.html")
    text = _cell_text(html)

    assert f"compared with {PREVIOUS}, the last snapshot delivered to C1 before {SNAPSHOT}" in text
    assert r'data-kind="grant_added"><b>1</b>' in html
    assert r'data-kind="resource_disabled"><b>1</b>' in html
    assert "HaloITSM Administrator" in text and "(15)" in text  # the new role holder
    assert "Jane Doe (12)" in text and "disabled since the last delivery" in text
    assert r'data-type="agent"><td>agent</td><td class="num">4</td>' in html
    changes = _cell_text(_page(lake, "changes.html"))
    assert "role:" in changes and ":assigned:agent:15" in changes


def test_pages_escape_every_haloitsm_value(lake):
    for html in (_page(lake, "report.html"), _page(lake, "changes.html"), lake.reports_index().read_text()):
        assert "<img" not in html
        assert 'onerror="alert' not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;Mallory" in _page(lake, "report.html")


def test_pages_load_nothing_from_anywhere(lake):
    for html in (_page(lake, "report.html"), _page(lake, "changes.html"), lake.reports_index().read_text()):
        assert "<script" not in html
        assert not EXTERNAL.search(html), EXTERNAL.search(html)
        assert "default-src 'none'" in html  # and the browser is told so


def test_index_names_failing_checks_and_links_each_report_and_change_log(lake):
    index = lake.reports_index().read_text()
    row = index[index.index(f'data-snapshot="{SNAPSHOT}"') :]
    row = row[: row.index("</tr>")]
    assert "resources.agent_without_email" in row and "resources.disabled_agent_holding_role" in row
    assert f'href="snapshot={SNAPSHOT}/report.html"' in row
    assert f'href="snapshot={SNAPSHOT}/changes.html"' in row
    assert "grant added 1" in row
    assert index.index(SNAPSHOT) < index.index(PREVIOUS)  # newest first


def test_trends_draw_one_point_per_snapshot(lake):
    resources, grants, checks = trend_charts(lake, SNAPSHOT)
    assert resources.snapshots == [PREVIOUS, SNAPSHOT]
    agents = next(s for s in resources.series if s.name == "agent")
    assert agents.values == [3, 4] and len(agents.points.split()) == 2
    assert grants.series[0].values[0] > 0 and len(grants.series[0].values) == 2
    assert checks.series[1].values == [0, 0]  # no error in either snapshot
    assert trend_charts(lake, PREVIOUS)[0].snapshots == [PREVIOUS]  # never a later snapshot


def test_report_refuses_a_snapshot_without_a_gate_result(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no gate result"):
        write_snapshot_report(Lake(str(tmp_path)), SNAPSHOT)


def test_data_docs_work_offline_and_call_warning_only_tables_passed(tmp_path):
    lake = Lake(str(tmp_path))
    write_raw(lake, SNAPSHOT, good_raw())
    transform_snapshot(lake, SNAPSHOT)
    result = run_quality_gate(lake, SNAPSHOT)
    assert result["passed"] and result["failed_warnings"] == 4  # 3 findings and one unreadable date

    pages = list((lake.report_dir(SNAPSHOT) / "data_docs").rglob("*.html"))
    assert len(pages) > 5
    for page in pages:
        html = page.read_text()
        assert not re.search(r"<(?:script|link|img)\b[^>]*(?:src|href)=[\"']https?://", html), page
        assert "halo-c1 gate verdict" in html
        assert not re.search(r"<script|\son[a-z]+=", html, re.I), page  # the viewer runs no script
    resources_page = next(p for p in pages if "validations/curated_resources/" in p.as_posix())
    html = resources_page.read_text()
    assert "Passed with 3 warning(s)" in html
    assert "</i> Failed" not in html
    # The index's tables, drawn at build time: a row per validated table and one per suite, linked.
    index = (lake.report_dir(SNAPSHOT) / "data_docs" / "index.html").read_text()
    validations, suites = re.findall(r"<tbody>(.*?)</tbody>", index, re.S)
    assert validations.count("<tr>") == suites.count("<tr>") >= 5
    assert re.search(
        r'<td><a href="validations/curated_resources/[^"]+\.html">Passed with 3 warning\(s\)</a>', index
    )
    assert '<td><a href="expectations/curated_grants.html">curated_grants</a></td>' in suites


def test_report_locations_are_plain_paths_locally_and_secret_free_urls_in_object_storage(tmp_path):
    from upath import UPath

    from halo_c1.report.publish import location

    assert location(UPath(f"file://{tmp_path}/reports/report.html")) == f"{tmp_path}/reports/report.html"
    assert location(f"{tmp_path}/r.html") == f"{tmp_path}/r.html"
    s3 = location("s3://key:secret@bucket/halo/reports/snapshot=x/report.html?X-Amz-Signature=abc")
    assert s3 == "s3://bucket/halo/reports/snapshot=x/report.html"


def test_publish_reports_returns_the_counts_for_the_summary_and_the_asset_event(lake):
    from halo_c1.report.publish import publish_reports, refresh_report

    published = publish_reports(lake, SNAPSHOT, mode="rederive")
    assert published["changes"]["grant_added"] == 1 and published["changes"]["resource_disabled"] == 1
    assert "re-derived" in published["changes_basis"] and PREVIOUS in published["changes_basis"]
    assert published["change_highlights"] == {
        "new_role_holders": 1,
        "disabled_agents_with_access": 2,
        "api_agents_gaining_roles": 0,
    }
    assert published["report"].endswith(f"snapshot={SNAPSHOT}/report.html")
    assert not published["report"].startswith("file:")
    assert refresh_report(lake, SNAPSHOT) == published["report"]
    assert refresh_report(lake, "20261127T000000Z") is None
