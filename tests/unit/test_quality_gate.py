"""The quality gate: the good tenant passes; each expectation fails on a table built to break it.

Tables the transform cannot produce (it is correct by construction) are built by editing the
curated tables directly, with every field nullable so the bad values can be written at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pyarrow as pa
import pytest

from halo_c1.lake import Lake, read_json, read_parquet, write_parquet
from halo_c1.quality import QualityGateError, raise_for_errors, run_quality_gate
from halo_c1.transform import transform_snapshot
from tests.unit.raw_fixtures import PREVIOUS, ROLE_ADMIN, SNAPSHOT, good_raw, member, user, write_raw

Rows = list[dict]


@pytest.fixture
def lake(tmp_path) -> Lake:
    lake = Lake(str(tmp_path))
    write_raw(lake, SNAPSHOT, good_raw())
    transform_snapshot(lake, SNAPSHOT)
    return lake


def edit(lake: Lake, table: str, change: Callable[[Rows], Rows | None]) -> None:
    """Rewrite a curated table through `change` (which edits rows in place or returns new ones)."""
    path = lake.curated_file(table, SNAPSHOT)
    original = read_parquet(path)
    rows = original.to_pylist()
    rows = change(rows) or rows
    loose = pa.schema([f.with_nullable(True) for f in original.schema])
    write_parquet(path, pa.Table.from_pylist(rows, schema=loose))


def failed(result: dict) -> dict[tuple[str, str], dict]:
    return {(f["table"], f["name"]): f for f in result["failed"]}


def row(rows: Rows, **match: str) -> dict:
    return next(r for r in rows if all(r[k] == v for k, v in match.items()))


def test_gate_passes_good_tenant_with_its_access_findings_as_warnings(lake):
    result = run_quality_gate(lake, SNAPSHOT, data_docs=False)
    assert result["passed"] is True
    assert result["failed_errors"] == 0
    findings = {
        name: (f["severity"], f["unexpected_count"], f["examples"]) for (_, name), f in failed(result).items()
    }
    assert findings == {
        "agent_without_email": ("warning", 1, ["14"]),
        "disabled_agent_holding_role": ("warning", 1, ["13"]),
        "disabled_agent_in_team": ("warning", 1, ["13"]),
        "agents.unknown_fields": ("warning", 1, ["13 (lastlogindate)"]),  # "not a date": named, not failed
    }
    raise_for_errors(result)  # warnings never raise


def test_gate_warns_about_api_agents_holding_roles(tmp_path):
    lake = Lake(str(tmp_path))
    raw = good_raw()
    raw["agent_memberships"].append(member("14", "role", ROLE_ADMIN))
    write_raw(lake, SNAPSHOT, raw)
    transform_snapshot(lake, SNAPSHOT)
    result = run_quality_gate(lake, SNAPSHOT, data_docs=False)
    finding = failed(result)["resources", "api_agent_holding_role"]
    assert (finding["severity"], finding["unexpected_count"], finding["examples"]) == ("warning", 1, ["14"])
    assert result["passed"] is True


def _duplicate_agent(rows: Rows) -> Rows:
    return [*rows, dict(row(rows, resource_type_id="agent", resource_id="12"))]


def _dangling_grant(rows: Rows) -> Rows:
    extra = dict(rows[0], grant_id="team:99:member:agent:12", entitlement_id="team:99:member")
    return [*rows, dict(extra, resource_type_id="team", resource_id="99", principal_resource_id="12")]


def _grant_to_end_user(rows: Rows) -> Rows:
    grant = dict(row(rows, grant_id="team:3:member:agent:12"))
    grant.update(
        grant_id="team:3:member:user:100", principal_resource_type_id="user", principal_resource_id="100"
    )
    return [*rows, grant]


def _grant_to_missing_agent(rows: Rows) -> Rows:
    grant = dict(row(rows, grant_id="team:3:member:agent:12"))
    grant.update(grant_id="team:3:member:agent:77", principal_resource_id="77")
    return [*rows, grant]


def _orphan_team_parent(rows: Rows) -> None:
    row(rows, resource_type_id="team", resource_id="5").update(
        parent_resource_type_id="department", parent_resource_id="42"
    )


def _set(match: dict, **values) -> Callable[[Rows], None]:
    return lambda rows: row(rows, **match).update(values)


@pytest.mark.parametrize(
    ("table", "change", "expected"),
    [
        ("resources", _duplicate_agent, [("resources", "resource_key_unique")]),
        ("grants", _dangling_grant, [("grants", "entitlement_exists")]),
        ("grants", _grant_to_end_user, [("grants", "principal_type_grantable")]),
        ("grants", _grant_to_missing_agent, [("grants", "principal_exists")]),
        ("resources", _orphan_team_parent, [("resources", "parent_exists")]),
        (
            "resources",
            _set(
                {"resource_type_id": "team", "resource_id": "5"},
                parent_resource_type_id="role",
                parent_resource_id=ROLE_ADMIN,
            ),
            [("resources", "team_parent_is_department")],
        ),
        (
            "resources",
            _set({"resource_type_id": "agent", "resource_id": "12"}, display_name=None),
            [("resources", "display_name_not_null")],
        ),
        (
            "grants",
            _set({"grant_id": "team:3:member:agent:12"}, is_direct=None),
            [("grants", "is_direct_not_null")],
        ),
        (
            "entitlements",
            _set({"entitlement_id": "team:3:member"}, entitlement_id="team-3-member"),
            [("entitlements", "entitlement_id_format"), ("entitlements", "id_matches_columns")],
        ),
        (
            "grants",
            _set({"grant_id": "team:3:member:agent:12"}, grant_id="team:3:member:12"),
            [("grants", "grant_id_format"), ("grants", "id_matches_columns")],
        ),
        (
            "resources",
            _set({"resource_type_id": "role", "resource_id": ROLE_ADMIN}, resource_id="has space"),
            [("resources", "resource_id_format")],
        ),
        (
            "resources",
            _set({"resource_type_id": "agent", "resource_id": "12"}, status="ACTIVE"),
            [("resources", "status_in_set")],
        ),
        (
            "resources",
            _set({"resource_type_id": "agent", "resource_id": "12"}, account_type="ROBOT"),
            [("resources", "account_type_in_set")],
        ),
        (
            "resources",
            _set({"resource_type_id": "user", "resource_id": "100"}, account_type=None),
            [("resources", "account_type_matches_trait")],
        ),
        (
            "entitlements",
            _set({"entitlement_id": "team:3:member"}, grantable_to=["agent", "user"]),
            [("entitlements", "grantable_to_in_set")],
        ),
        (
            "entitlements",
            _set({"entitlement_id": "team:3:member"}, purpose="PERMISSION"),
            [("entitlements", "purpose_in_set")],
        ),
        (
            "entitlements",
            lambda rows: [r for r in rows if r["entitlement_id"] != "team:3:member"],
            [("grants", "entitlement_exists")],
        ),
        (
            "resources",
            lambda rows: [r for r in rows if (r["resource_type_id"], r["resource_id"]) != ("team", "4")],
            [("entitlements", "resource_exists")],
        ),
        (
            "grants",
            _set({"grant_id": "team:4:member:agent:13"}, source_role_ids=[]),
            [("grants", "has_origin")],
        ),
        (
            "resources",
            lambda rows: [r for r in rows if r["resource_type_id"] != "agent"],
            [("resources", "at_least_one_agent")],
        ),
        (
            "resource_types",
            lambda rows: rows[:-1],
            [("resource_types", "resource_types_are_the_model")],
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_gate_error_expectation_fails_on_bad_table(lake, table, change, expected):
    edit(lake, table, change)
    result = run_quality_gate(lake, SNAPSHOT, data_docs=False)
    errors = {key: f for key, f in failed(result).items() if f["severity"] == "error"}
    for key in expected:
        assert key in errors, f"{key} did not fail; failed errors: {sorted(errors)}"
        assert errors[key]["unexpected_count"] >= 1
    assert result["passed"] is False
    with pytest.raises(QualityGateError) as raised:
        raise_for_errors(result)
    for table_name, name in expected:
        assert f"{table_name}.{name}: " in str(raised.value)


def test_gate_warns_on_bad_email_and_unknown_source_role_without_failing(lake):
    edit(lake, "resources", _set({"resource_type_id": "agent", "resource_id": "13"}, email="bob-at-example"))
    edit(lake, "grants", _set({"grant_id": "team:4:member:agent:13"}, source_role_ids=["gone-role"]))
    result = run_quality_gate(lake, SNAPSHOT, data_docs=False)
    bad = failed(result)
    assert bad["resources", "email_syntax"]["severity"] == "warning"
    assert bad["grants", "source_roles_exist"]["severity"] == "warning"
    assert result["passed"] is True


def test_gate_warns_when_a_table_or_resource_type_emptied_since_previous(tmp_path):
    lake = Lake(str(tmp_path))
    write_raw(lake, PREVIOUS, good_raw())
    transform_snapshot(lake, PREVIOUS)
    raw = good_raw()
    raw["agent_memberships"] = []
    del raw["users"]
    write_raw(lake, SNAPSHOT, raw)
    transform_snapshot(lake, SNAPSHOT)
    assert "not_emptied_since_previous" not in {
        n for _, n in failed(run_quality_gate(lake, SNAPSHOT, data_docs=False))
    }
    result = run_quality_gate(lake, SNAPSHOT, previous_snapshot_id=PREVIOUS, data_docs=False)
    bad = failed(result)
    assert bad["grants", "not_emptied_since_previous"]["severity"] == "warning"
    kept = bad["resources", "resource_types_kept_since_previous"]
    assert (kept["severity"], kept["examples"]) == ("warning", ["user"])
    assert ("resources", "not_emptied_since_previous") not in bad
    assert result["passed"] is True


def test_gate_counts_rejected_rows_per_reason_with_share_based_severity(tmp_path):
    lake = Lake(str(tmp_path))
    raw = good_raw()
    raw["users"] += [user(str(200 + i), f"User {i}", emailaddress=f"u{i}@example.com") for i in range(150)]
    raw["users"].append(user("200", "Duplicate"))  # 1 of 154 rows: under 1%, a warning
    raw["agent_memberships"].append(member("12", "team", "404"))  # 1 of 10 rows: over 1%, an error
    raw["agents"].append({"agent_id": None, "name": "No id"})  # an agent without an id: always an error
    write_raw(lake, SNAPSHOT, raw)
    transform_snapshot(lake, SNAPSHOT)
    result = run_quality_gate(lake, SNAPSHOT, data_docs=False)
    bad = failed(result)
    assert (
        bad["rejected_rows", "users.duplicate_id"]["severity"],
        bad["rejected_rows", "users.duplicate_id"]["unexpected_count"],
    ) == ("warning", 1)
    assert bad["rejected_rows", "agent_memberships.unknown_team"]["severity"] == "error"
    assert bad["rejected_rows", "agents.missing_id"]["severity"] == "error"
    assert result["passed"] is False
    history = read_parquet(lake.dq_history_file(SNAPSHOT)).to_pylist()
    zero = next(r for r in history if r["expectation"] == "roles.missing_id")
    assert (zero["success"], zero["unexpected_count"]) == (True, 0)  # the series exists even at zero


def test_gate_writes_data_docs_result_json_history_and_index_across_snapshots(tmp_path):
    lake = Lake(str(tmp_path))
    for sid in (PREVIOUS, SNAPSHOT):
        write_raw(lake, sid, good_raw())
        transform_snapshot(lake, sid)
    first = run_quality_gate(lake, PREVIOUS)
    second = run_quality_gate(lake, SNAPSHOT, previous_snapshot_id=PREVIOUS)
    report_dir = lake.report_dir(SNAPSHOT)
    assert (report_dir / "data_docs" / "index.html").exists()
    assert list((report_dir / "data_docs" / "validations").rglob("*.html"))
    assert read_json(report_dir / "gate_result.json")["evaluated"] == second["evaluated"]
    history = read_parquet(lake.dq_history_file(SNAPSHOT))
    assert history.num_rows == second["evaluated"]
    assert set(history["severity"].to_pylist()) == {"error", "warning"}
    index = lake.reports_index().read_text()
    assert index.count("<tr data-snapshot=") == 2
    assert f'href="snapshot={PREVIOUS}/data_docs/index.html"' in index
    assert f'href="snapshot={SNAPSHOT}/data_docs/index.html"' in index
    assert second["report_index"] == str(lake.reports_index())
    assert first["docs_index"].endswith(f"snapshot={PREVIOUS}/data_docs/index.html")


def test_gate_reports_show_a_few_example_emails_never_a_dump(tmp_path):
    lake = Lake(str(tmp_path))
    raw = good_raw()
    raw["users"] += [
        user(str(500 + i), f"Bad {i}", emailaddress=f"person{i}-at-example.org") for i in range(40)
    ]
    write_raw(lake, SNAPSHOT, raw)
    transform_snapshot(lake, SNAPSHOT)
    result = run_quality_gate(lake, SNAPSHOT)
    assert failed(result)["resources", "email_syntax"]["unexpected_count"] == 40
    assert failed(result)["resources", "email_syntax"]["examples"] == []  # the result goes to XCom
    shown = set()
    for path in lake.base.joinpath("reports").rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json"):
            shown |= set(re.findall(r"person\d+-at-example\.org", path.read_text(errors="ignore")))
    assert 0 < len(shown) <= 3


def test_gx_sees_only_the_columns_each_expectation_reads(lake, monkeypatch):
    """GX copies the frame it validates for each column-map expectation, so the gate hands it one
    frame per column set (issue 15: the whole grants frame per expectation was 2.48 GiB at 1M users).
    A spy on the real GX run records each frame's columns against its expectations' columns."""
    from great_expectations.core.validation_definition import ValidationDefinition

    seen: list[tuple[set[str], set[str]]] = []
    run = ValidationDefinition.run

    def spy(self, **kwargs):
        needed = set()
        for expectation in self.suite.expectations:
            fields = expectation.configuration.kwargs
            needed |= {fields[key] for key in ("column", "column_A", "column_B") if fields.get(key)}
            needed |= set(fields.get("column_list") or ())
        seen.append((set(kwargs["batch_parameters"]["dataframe"].columns), needed))
        return run(self, **kwargs)

    write_raw(lake, PREVIOUS, good_raw())
    transform_snapshot(lake, PREVIOUS)
    monkeypatch.setattr(ValidationDefinition, "run", spy)
    result = run_quality_gate(lake, SNAPSHOT, previous_snapshot_id=PREVIOUS, data_docs=False)
    assert result["passed"] is True and result["evaluated"] > 20
    assert seen and all(columns == needed for columns, needed in seen)
    assert max(len(columns) for columns, _ in seen) <= 2  # the grants table has 15 columns
    assert any(not columns for columns, _ in seen)  # row-count checks get the rows and no column
