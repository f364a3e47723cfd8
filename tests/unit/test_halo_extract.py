"""Extraction into the raw zone, on httpx.MockTransport: rows, memberships, restarts, all-or-nothing."""

import json

import httpx
import pytest

from halo_c1.halo import (
    HaloClient,
    HaloPagingError,
    HaloResponseError,
    HaloSettings,
    extract_snapshot,
)
from halo_c1.halo import extract as extract_module
from halo_c1.halo.extract import StagedTable, agent_row, membership_row, role_row, team_row, user_row
from halo_c1.lake import Lake, read_json, read_parquet

SNAPSHOT = "20261127T050000Z"
SECRET = "s3cr3t-value-never-shown"

TEAMS = [{"id": 1, "name": "1st Line", "department_id": 7.0, "department_name": "IT", "inactive": False}]
ROLES = [{"id": "r-admin", "name": "Admin"}]


def departments_of(agent_id):
    """Agent 6 holds department 7 only through the admin role, and department 9 that no team names."""
    if agent_id == 6:
        return [
            {"department_id": 7, "department_name": "IT", "role_id": "r-admin"},
            {"department_id": 9, "department_name": "Legal", "role_id": ""},
        ]
    return [{"department_id": 7, "department_name": "IT", "role_id": None}]


def agent(agent_id, *, inline=True):
    row = {"id": agent_id, "name": f"Agent {agent_id}", "email": f"a{agent_id}@x", "password": "hunter2"}
    if inline:
        row["teams"] = [{"team_id": 1, "team_name": "1st Line", "role_id": "r-admin" if agent_id % 2 else ""}]
        row["departments"] = departments_of(agent_id)
        row["roles"] = [{"id": "r-admin", "name": "Admin"}]
    return row


class FakeHalo:
    """A tiny Halo: agents paged 2 at a time; `glitches` makes the first N agent page-2 reads duplicate a row."""

    def __init__(self, *, inline=True, glitches=0, users=5):
        self.agents = [agent(i, inline=inline) for i in range(2, 7)]
        self.users = [{"id": i, "name": f"U{i}", "inactive": i == 0} for i in range(users)]
        self.glitches = glitches
        self.paths: list[str] = []

    def __call__(self, request):
        path, params = request.url.path, request.url.params
        self.paths.append(path)
        if path == "/auth/token":
            return httpx.Response(200, json={"access_token": "tok-abcdef"})
        if path == "/api/Team":
            return httpx.Response(200, json=TEAMS)
        if path == "/api/Team/1":
            members = [{"agent_id": a["id"], "team_id": 1, "role_id": None} for a in self.agents]
            return httpx.Response(200, json={**TEAMS[0], "agents": members})
        if path == "/api/Roles":
            return httpx.Response(200, json=ROLES)
        if path == "/api/Agent":
            return self.page(self.agents, params, "results", glitch="role" not in params)
        if path.startswith("/api/Agent/") and params.get("includedetails") == "true":
            agent_id = int(path.rsplit("/", 1)[1])
            return httpx.Response(200, json={**agent(agent_id), "departments": departments_of(agent_id)})
        if path == "/api/Users":
            return self.page(self.users, params, "users")
        return httpx.Response(404, json={"Message": "no such thing"})

    def page(self, rows, params, key, glitch=False):
        page_no = int(params["page_no"])
        chunk = rows[(page_no - 1) * 2 : page_no * 2]
        if glitch and page_no == 2 and self.glitches:
            self.glitches -= 1
            chunk = [rows[1], *chunk[1:]]
        return httpx.Response(
            200, json={"page_no": page_no, "page_size": 2, "record_count": len(rows), key: chunk}
        )


def run(tmp_path, fake, snapshot=SNAPSHOT, **overrides):
    settings = HaloSettings(base_url="https://acme.example", client_id="c", client_secret=SECRET, **overrides)
    lake = Lake(tmp_path)
    with HaloClient(settings, transport=httpx.MockTransport(fake)) as client:
        return lake, extract_snapshot(client, lake, snapshot)


def table(lake, entity):
    return read_parquet(lake.raw_file(entity, SNAPSHOT)).to_pylist()


def test_extract_writes_every_entity_and_the_manifest_last(tmp_path):
    fake = FakeHalo()
    lake, summary = run(tmp_path, fake)
    assert [r["agent_id"] for r in table(lake, "agents")] == ["2", "3", "4", "5", "6"]
    assert [r["team_id"] for r in table(lake, "teams")] == ["1"]
    assert table(lake, "teams")[0]["department_id"] == "7"
    assert [r["role_id"] for r in table(lake, "roles")] == ["r-admin"]
    assert len(table(lake, "users")) == 5
    assert summary["counts"] == {"agents": 5, "agent_memberships": 16, "teams": 1, "roles": 1, "users": 5}
    assert summary["membership_sources"] == {
        "team": "agent list",
        "department": "agent list",
        "role": "agent list",
    }
    assert summary["distinct_department_ids"] == 2
    assert summary["requests"] == len(fake.paths) == 1 + 2 + 3 + 3
    assert read_json(lake.raw_manifest(SNAPSHOT)) == json.loads(json.dumps(summary))
    assert len(table(lake, "request_log")) == summary["requests"]
    assert SECRET not in json.dumps(summary)


def test_memberships_record_inheritance_and_source(tmp_path):
    lake, _ = run(tmp_path, FakeHalo())
    rows = {(r["agent_id"], r["kind"]): r for r in table(lake, "agent_memberships")}
    assert rows["3", "team"]["via_role_id"] == "r-admin"
    assert rows["2", "team"]["via_role_id"] is None  # "" means direct
    assert rows["2", "department"]["target_id"] == "7"
    assert rows["2", "role"]["target_id"] == "r-admin"
    assert {r["source"] for r in rows.values()} == {"GET /api/Agent"}


def test_memberships_fall_back_to_one_request_per_group(tmp_path):
    fake = FakeHalo(inline=False)
    lake, summary = run(tmp_path, fake)
    memberships = table(lake, "agent_memberships")
    assert {(r["kind"], r["target_id"], r["source"]) for r in memberships} == {
        ("team", "1", "GET /api/Team/1?includeagents=true"),
        ("role", "r-admin", "GET /api/Agent?role=r-admin"),
        *(("department", "7", f"GET /api/Agent/{i}?includedetails=true") for i in range(2, 7)),
        ("department", "9", "GET /api/Agent/6?includedetails=true"),
    }
    assert len(memberships) == 16
    assert summary["membership_sources"] == {
        "team": "per group",
        "role": "per group",
        "department": "per agent",
    }
    # 1 team + 3 pages for the role + one detail per agent for departments.
    assert summary["membership_fallback_requests"] == 1 + 3 + 5
    assert fake.paths.count("/api/Team/1") == 1


def test_per_agent_departments_keep_role_inheritance_and_agent_only_departments(tmp_path):
    inline, _ = run(tmp_path / "inline", FakeHalo())
    per_group, _ = run(tmp_path / "per_group", FakeHalo(inline=False))

    def departments(lake):
        rows = table(lake, "agent_memberships")
        return sorted(
            (r["agent_id"], r["target_id"], r["via_role_id"]) for r in rows if r["kind"] == "department"
        )

    assert departments(per_group) == departments(inline)
    assert ("6", "7", "r-admin") in departments(per_group)
    assert ("6", "9", None) in departments(per_group)


def test_listing_that_changes_while_read_is_restarted_from_page_one(tmp_path):
    lake, summary = run(tmp_path, FakeHalo(glitches=1))
    assert summary["listing_restarts"] == 1
    assert [r["agent_id"] for r in table(lake, "agents")] == ["2", "3", "4", "5", "6"]
    assert summary["counts"]["agent_memberships"] == 16


def test_persistent_anomaly_fails_without_a_manifest_and_keeps_the_earlier_snapshot(tmp_path):
    lake, first = run(tmp_path, FakeHalo())
    before = {e: lake.raw_file(e, SNAPSHOT).read_bytes() for e in first["files"]}
    with pytest.raises(
        HaloPagingError, match=r"agents: listing still inconsistent after 2 restart\(s\).*id 3"
    ):
        run(tmp_path, FakeHalo(glitches=99), snapshot="20261128T050000Z")
    assert not lake.has_raw("20261128T050000Z")
    assert lake.has_raw(SNAPSHOT)
    assert {e: lake.raw_file(e, SNAPSHOT).read_bytes() for e in first["files"]} == before
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_failed_first_run_writes_nothing(tmp_path):
    fake = FakeHalo()
    fake.users = None  # /api/Users will blow up in the handler
    with pytest.raises(TypeError):
        run(tmp_path, fake)
    assert not Lake(tmp_path).has_raw(SNAPSHOT)
    assert not [p for p in tmp_path.rglob("*.parquet")]


def test_404_on_a_listing_is_a_clear_failure(tmp_path):
    class NoRoles(FakeHalo):
        def __call__(self, request):
            if request.url.path == "/api/Roles":
                return httpx.Response(404, json={"Message": "Roles not found"})
            return super().__call__(request)

    with pytest.raises(HaloResponseError, match="GET /api/Roles failed with HTTP 404: Roles not found"):
        run(tmp_path, NoRoles())


def test_users_can_be_switched_off(tmp_path):
    settings = HaloSettings(base_url="https://acme.example", client_id="c", client_secret=SECRET)
    fake = FakeHalo()
    with HaloClient(settings, transport=httpx.MockTransport(fake)) as client:
        summary = extract_snapshot(client, Lake(tmp_path), SNAPSHOT, include_end_users=False)
    assert summary["counts"]["users"] == 0
    assert "/api/Users" not in fake.paths
    assert read_parquet(Lake(tmp_path).raw_file("users", SNAPSHOT)).num_rows == 0


def test_row_builders_normalise_ids_and_strip_secrets():
    row = agent_row(
        {"id": 12.0, "name": "A", "isdisabled": "true", "password": "pw", "nested": {"api_key": "k"}}
    )
    assert row["agent_id"] == "12"
    assert row["isdisabled"] is True
    assert json.loads(row["raw_json"]) == {"id": 12.0, "name": "A", "isdisabled": "true", "nested": {}}
    odd = user_row({"id": {"weird": 1}, "name": 5})
    assert odd["user_id"] is None
    assert odd["name"] == "5"
    assert odd["raw_json"] == '{"id": {"weird": 1}, "name": 5}'
    broken = membership_row("12", "team", 42, "GET /api/Agent")
    assert (broken["target_id"], broken["raw_json"]) == (None, "42")


def test_a_team_deleted_between_list_and_detail_has_no_members_and_the_run_goes_on(tmp_path, caplog):
    class TeamVanishes(FakeHalo):
        def __call__(self, request):
            if request.url.path == "/api/Team/1":
                self.paths.append(request.url.path)
                return httpx.Response(404, json={"Message": "Team not found"})
            return super().__call__(request)

    caplog.set_level("WARNING")
    lake, _ = run(tmp_path, TeamVanishes(inline=False))

    assert lake.has_raw(SNAPSHOT)
    assert [m for m in table(lake, "agent_memberships") if m["kind"] == "team"] == []
    assert "team 1 was deleted during the extraction" in caplog.text


@pytest.mark.parametrize("value", ["yes", "no", 1, 0, 2, 1.0, "enabled", "", {"x": 1}])
def test_a_flag_that_is_not_a_boolean_is_recorded_never_guessed(value):
    row = agent_row({"id": 12, "name": "A", "isdisabled": value})
    assert row["isdisabled"] is None
    assert row["invalid_fields"] == [f"isdisabled={value!r}"]
    assert user_row({"id": 3, "inactive": value, "isserviceaccount": False})["invalid_fields"] == [
        f"inactive={value!r}"
    ]


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("TRUE", True), (None, None)])
def test_booleans_and_absent_flags_parse(value, expected):
    row = agent_row({"id": 12, "isdisabled": value})
    assert (row["isdisabled"], row["invalid_fields"]) == (expected, None)


@pytest.mark.parametrize(
    ("build", "row", "column", "named"),
    [
        (agent_row, {"id": True}, "agent_id", "id=True"),
        (agent_row, {"id": 12.5}, "agent_id", "id=12.5"),
        (user_row, {"id": {"v": 3}}, "user_id", "id={'v': 3}"),
        (team_row, {"id": 3, "department_id": [2]}, "department_id", "department_id=[2]"),
        (role_row, {"id": "r", "name": {"en": "x"}}, "name", "name=<object>"),
        (agent_row, {"id": 12, "email": ["a@b.c"]}, "email", "email=<list>"),  # its type only: personal data
        (user_row, {"id": 3, "emailaddress": {"a": "jane@x.io"}}, "emailaddress", "emailaddress=<object>"),
    ],
)
def test_a_value_that_cannot_be_read_is_null_and_named_per_field_class(build, row, column, named):
    built = build(row)
    assert built[column] is None
    assert built["invalid_fields"] == [named]
    assert "jane@x.io" not in named and "a@b.c" not in named


def test_a_membership_role_id_that_cannot_be_read_is_named_and_the_row_kept():
    row = membership_row("12", "team", {"team_id": 3, "team_name": ["x"], "role_id": {"g": 1}}, "src")
    assert (row["agent_id"], row["target_id"], row["via_role_id"]) == ("12", "3", None)
    assert row["invalid_fields"] == ["team_name=<list>", "role_id={'g': 1}"]


def _user(user_id: int) -> dict:
    return user_row({"id": user_id, "name": f"User {user_id}", "inactive": False})


def test_staged_table_writes_pages_as_few_large_row_groups(tmp_path, monkeypatch):
    """One row group per 50-row API page made raw files 8x larger and 11x slower to read."""
    import pyarrow.parquet as pq

    monkeypatch.setattr(extract_module, "ROW_GROUP_ROWS", 120)
    table = StagedTable("users", Lake(str(tmp_path)), "20261127T050000Z")
    for page in range(5):
        table.write([_user(page * 50 + i) for i in range(50)])
    assert not table.path.exists()  # nothing visible before commit
    table.commit()
    with table.path.open("rb") as handle:
        metadata = pq.ParquetFile(handle).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [150, 100]
    ids = read_parquet(table.path, columns=["user_id"])["user_id"].to_pylist()
    assert ids == [str(i) for i in range(250)]


def test_staged_table_reset_and_discard_drop_buffered_rows(tmp_path):
    table = StagedTable("users", Lake(str(tmp_path)), "20261127T050000Z")
    table.write([_user(1), _user(2)])
    table.reset()  # a restarted listing: what was buffered is not written
    table.write([_user(3)])
    table.commit()
    assert read_parquet(table.path, columns=["user_id"])["user_id"].to_pylist() == ["3"]
    assert table.rows == 1

    other = StagedTable("agents", Lake(str(tmp_path)), "20261127T050000Z")
    other.write([agent_row({"id": 5, "name": "A"})])
    other.discard()
    assert not other.path.exists()
    assert not list(other.path.parent.iterdir())
