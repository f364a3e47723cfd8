"""Stored XSS: markup planted in every HaloITSM text field never reaches a report's HTML unescaped."""

from __future__ import annotations

import html

import pytest

from dev.halo_simulator import TenantSpec
from dev.halo_simulator.tenant import build_tenant
from halo_c1.halo import HaloClient, extract_snapshot
from halo_c1.lake import Lake
from halo_c1.quality.gate import run_quality_gate
from halo_c1.report import write_snapshot_report
from halo_c1.transform import transform_snapshot
from tests.integration.conftest import halo_settings

pytestmark = pytest.mark.integration

SNAPSHOT = "20261127T050000Z"
PAYLOADS = ('<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "<b onmouseover='alert(2)'>")
TEXT_FIELDS = {
    "agents": ("name", "firstname", "surname", "email", "ad"),
    "users": ("name", "firstname", "surname", "emailaddress", "login"),
    "teams": ("name", "department_name"),
    "roles": ("name",),
}


def _hostile_tenant():
    """Every text field of every row starts with one of the payloads (the emails fail the email check,
    so GX shows them as sampled unexpected values: the path of the original report)."""
    tenant = build_tenant(TenantSpec(seed=6, agents=9, users=15, teams=3, roles=2, departments=2))
    for entity, fields in TEXT_FIELDS.items():
        for index, row in enumerate(getattr(tenant, entity)):
            for field in fields:
                row[field] = f"{PAYLOADS[index % len(PAYLOADS)]}{field}"
    for agent in tenant.agents:
        for membership in agent.get("departments", []):
            membership["department_name"] = f"{PAYLOADS[0]}department"
    return tenant


def test_markup_from_halo_reaches_no_report_unescaped(start_simulator, tmp_path):
    sim = start_simulator(tenant=_hostile_tenant())
    lake = Lake(str(tmp_path / "lake"))
    with HaloClient(halo_settings(sim)) as client:
        extract_snapshot(client, lake, SNAPSHOT)
    transform_snapshot(lake, SNAPSHOT)
    run_quality_gate(lake, SNAPSHOT)
    written = write_snapshot_report(lake, SNAPSHOT)

    pages = sorted((tmp_path / "lake").rglob("*.htm*"))
    assert {str(p) for p in pages} >= set(written.values()), "the snapshot report pages are scanned too"
    shown = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for payload in PAYLOADS:
            assert payload not in text, f"{page.relative_to(tmp_path)} holds {payload!r} unescaped"
            shown += text.count(html.escape(payload, quote=True))
    assert shown, "the planted values do reach the reports (escaped), so this test can see a leak"
