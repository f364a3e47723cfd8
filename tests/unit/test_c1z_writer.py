"""c1z writer: a hand-built curated snapshot round-trips through the reader with the SDK's layout."""

from __future__ import annotations

import hashlib
import re
import string

import pytest
import zstandard
from google.protobuf import any_pb2

from halo_c1.c1z.pb.c1.connector.v2 import (
    annotation_grant_pb2,
    annotation_resource_tree_pb2,
    annotation_trait_pb2,
    resource_pb2,
)
from halo_c1.c1z.reader import C1zReader
from halo_c1.c1z.writer import sync_id_for, write_c1z
from halo_c1.lake import Lake
from tests.unit.c1z_curated import LAST_LOGIN, ROLE_GUID, SNAPSHOT, curated_rows, write_curated

# shared/spec/c1z-and-c1.md §A2, typed from the spec (not imported from the writer), in creation order.
SPEC_DDL = [
    ("table", "v1_resource_types", "CREATE TABLE v1_resource_types (id integer primary key, external_id text "
     "not null, data blob not null, sync_id text not null, discovered_at datetime not null)"),
    ("index", "idx_resource_types_external_sync_v1", "CREATE UNIQUE INDEX idx_resource_types_external_sync_v1 "
     "on v1_resource_types (external_id, sync_id)"),
    ("table", "v1_resources", "CREATE TABLE v1_resources (id integer primary key, resource_type_id text not "
     "null, external_id text not null, parent_resource_type_id text, parent_resource_id text, data blob not "
     "null, sync_id text not null, discovered_at datetime not null)"),
    ("index", "idx_resources_resource_type_id_v1", "CREATE INDEX idx_resources_resource_type_id_v1 on "
     "v1_resources (resource_type_id)"),
    ("index", "idx_resources_external_sync_v1", "CREATE INDEX idx_resources_external_sync_v1 on v1_resources "
     "(parent_resource_type_id, parent_resource_id)"),
    ("index", "idx_resources_parent_resource_id_v1", "CREATE UNIQUE INDEX idx_resources_parent_resource_id_v1 "
     "on v1_resources (external_id, sync_id)"),
    ("table", "v1_entitlements", "CREATE TABLE v1_entitlements (id integer primary key, resource_type_id text "
     "not null, resource_id text not null, external_id text not null, data blob not null, sync_id text not "
     "null, discovered_at datetime not null)"),
    ("index", "idx_entitlements_resource_id_v1", "CREATE INDEX idx_entitlements_resource_id_v1 on "
     "v1_entitlements (resource_type_id, resource_id)"),
    ("index", "idx_entitlements_external_sync_v1", "CREATE UNIQUE INDEX idx_entitlements_external_sync_v1 on "
     "v1_entitlements (external_id, sync_id)"),
    ("table", "v1_sync_runs", "CREATE TABLE v1_sync_runs (id integer primary key, sync_id text not null, "
     "started_at datetime not null, ended_at datetime, sync_token text not null, sync_type text not null "
     "default 'full', parent_sync_id text not null default '', linked_sync_id text not null default '', "
     "supports_diff integer not null default 0, grants_backfilled integer not null default 0, stats text, "
     "ingest_invariant_generation text not null default '', ingest_invariant_coverage text not null default "
     "'', ingest_invariant_mode text not null default '')"),
    ("index", "idx_sync_runs_sync_id_v1", "CREATE UNIQUE INDEX idx_sync_runs_sync_id_v1 on v1_sync_runs "
     "(sync_id)"),
    ("table", "v1_grants", "CREATE TABLE v1_grants (id integer primary key, resource_type_id text not null, "
     "resource_id text not null, entitlement_id text not null, principal_resource_type_id text not null, "
     "principal_resource_id text not null, external_id text not null, expansion blob, -- Serialized "
     "GrantExpandable proto; NULL if grant is not expandable.\n needs_expansion integer not null default 0, "
     "-- 1 if grant should be processed during expansion.\n data blob not null, sync_id text not null, "
     "discovered_at datetime not null)"),
    ("index", "idx_grants_resource_type_id_resource_id_v1", "CREATE INDEX "
     "idx_grants_resource_type_id_resource_id_v1 on v1_grants (resource_type_id, resource_id)"),
    ("index", "idx_grants_principal_id_v1", "CREATE INDEX idx_grants_principal_id_v1 on v1_grants "
     "(principal_resource_type_id, principal_resource_id)"),
    ("index", "idx_grants_entitlement_id_principal_id_v1", "CREATE INDEX "
     "idx_grants_entitlement_id_principal_id_v1 on v1_grants (entitlement_id, principal_resource_type_id, "
     "principal_resource_id)"),
    ("index", "idx_grants_external_sync_v1", "CREATE UNIQUE INDEX idx_grants_external_sync_v1 on v1_grants "
     "(external_id, sync_id)"),
    ("index", "idx_grants_entitlement_sync_grant_v1", "CREATE INDEX idx_grants_entitlement_sync_grant_v1 on "
     "v1_grants (entitlement_id, sync_id, id)"),
    ("index", "idx_grants_sync_expansion_v1", "CREATE INDEX idx_grants_sync_expansion_v1 on v1_grants "
     "(sync_id) where expansion is not null"),
    ("index", "idx_grants_sync_needs_expansion_v1", "CREATE INDEX idx_grants_sync_needs_expansion_v1 on "
     "v1_grants (sync_id) where needs_expansion = 1"),
    ("table", "v1_assets", "CREATE TABLE v1_assets (id integer primary key, external_id text not null, "
     "content_type text not null, data blob not null, sync_id text not null, discovered_at datetime not null)"),
    ("index", "idx_assets_external_sync_v1", "CREATE UNIQUE INDEX idx_assets_external_sync_v1 on v1_assets "
     "(external_id, sync_id)"),
    ("table", "v1_connector_sessions", "CREATE TABLE v1_connector_sessions (id integer primary key, sync_id "
     "text NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL)"),
    ("index", "idx_session_store_sync_key_v1", "CREATE UNIQUE INDEX idx_session_store_sync_key_v1 on "
     "v1_connector_sessions (sync_id, key)"),
]  # fmt: skip

DISCOVERED_AT = "2026-11-27 05:00:00"
TYPE_URL = "type.googleapis.com/c1.connector.v2."


def normalized(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


@pytest.fixture
def lake(tmp_path) -> Lake:
    lake = Lake(str(tmp_path / "lake"))
    write_curated(lake, curated_rows())
    return lake


@pytest.fixture
def written(lake):
    summary = write_c1z(lake, SNAPSHOT)
    with C1zReader.open(summary["path"]) as c1z:
        tables = {table: list(c1z.rows(table)) for table in ("v1_resource_types", "v1_resources")}
        tables |= {table: list(c1z.rows(table)) for table in ("v1_entitlements", "v1_grants")}
        yield summary, c1z, tables


def unpack(annotation: any_pb2.Any, message_type):
    message = message_type()
    assert annotation.Unpack(message), annotation.type_url
    return message


def by_external_id(rows: list[dict]) -> dict[str, dict]:
    keys = [row["external_id"] for row in rows]
    assert len(keys) == len(set(keys)), "an external id appears twice"
    return {row["external_id"]: row for row in rows}


def test_c1z_file_is_magic_then_one_checksummed_zstd_frame_with_content_size(lake):
    summary = write_c1z(lake, SNAPSHOT)
    payload = lake.c1z_file(SNAPSHOT).read_bytes()
    assert payload[:5] == b"C1ZF\x00"
    frame = zstandard.get_frame_parameters(payload[5:])
    assert frame.has_checksum
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    database = decompressor.decompress(payload[5:])
    assert decompressor.eof and decompressor.unused_data == b""
    assert frame.content_size == len(database)
    assert database[:16] == b"SQLite format 3\x00"
    assert database[18:20] == b"\x01\x01"  # rollback journal (delete mode), not WAL
    assert summary["size_bytes"] == len(payload)
    assert summary["sha256"] == hashlib.sha256(payload).hexdigest()
    assert summary["path"] == str(lake.c1z_file(SNAPSHOT))
    assert [p.name for p in lake.c1z_file(SNAPSHOT).parent.iterdir()] == ["sync.c1z"]


def test_c1z_schema_is_the_sdk_ddl_in_creation_order(written):
    _, c1z, _ = written
    actual = [(kind, name, normalized(sql)) for kind, name, sql in c1z.schema()]
    assert actual == [(kind, name, normalized(sql)) for kind, name, sql in SPEC_DDL]


def test_c1z_has_exactly_one_finished_full_sync_with_a_ksuid(written):
    summary, c1z, _ = written
    (run,) = c1z.sync_runs()
    assert len(run["sync_id"]) == 27
    assert set(run["sync_id"]) <= set(string.ascii_letters + string.digits)
    assert run["sync_id"] == summary["sync_id"] == sync_id_for(SNAPSHOT)
    assert run["started_at"] == run["ended_at"] == DISCOVERED_AT
    assert (run["sync_type"], run["sync_token"], run["parent_sync_id"], run["linked_sync_id"]) == (
        "full",
        "",
        "",
        "",
    )
    assert (run["supports_diff"], run["grants_backfilled"], run["stats"]) == (0, 1, None)
    assert c1z.finished_full_sync()["sync_id"] == run["sync_id"]


def test_c1z_sync_id_is_stable_per_snapshot_and_differs_between_snapshots():
    assert sync_id_for(SNAPSHOT) == sync_id_for(SNAPSHOT)
    assert sync_id_for(SNAPSHOT) != sync_id_for("20261128T050000Z")


def test_c1z_every_curated_row_is_present_once_with_its_key(written):
    summary, c1z, tables = written
    rows = curated_rows()
    assert set(by_external_id(tables["v1_resource_types"])) == {"agent", "user", "team", "department", "role"}
    assert set(by_external_id(tables["v1_resources"])) == {
        "agent:12", "agent:13", "agent:14", "user:100", "user:101", "team:3", "team:4",
        "department:7", "department:8", f"role:{ROLE_GUID}", "role:2",
    }  # fmt: skip
    assert set(by_external_id(tables["v1_entitlements"])) == {
        r["entitlement_id"] for r in rows["entitlements"]
    }
    assert set(by_external_id(tables["v1_grants"])) == {
        "team:3:member:agent:12", "team:3:member:agent:13", "team:4:member:agent:12",
        "department:7:member:agent:12", "department:8:member:agent:14",
        f"role:{ROLE_GUID}:assigned:agent:12", f"role:{ROLE_GUID}:assigned:agent:13",
        "role:2:assigned:agent:12", "role:2:assigned:agent:14",
    }  # fmt: skip
    for table_rows in tables.values():
        for row in table_rows:
            assert row["sync_id"] == summary["sync_id"]
            assert row["discovered_at"] == DISCOVERED_AT
            # data is exactly the deterministic serialisation of what it parses to
            assert row["message"].SerializeToString(deterministic=True) == row["data"]
    assert summary["counts"] == {
        "v1_resource_types": 5, "v1_resources": 11, "v1_entitlements": 6, "v1_grants": 9, "v1_sync_runs": 1,
    }  # fmt: skip
    assert summary["resources_by_type"] == {"agent": 3, "department": 2, "role": 2, "team": 2, "user": 2}
    assert c1z.counts()["resources_by_type"] == summary["resources_by_type"]
    assert c1z.counts()["grants_by_resource_type"] == {"department": 2, "role": 4, "team": 3}


def test_c1z_resource_types_carry_trait_and_department_announces_team_children(written):
    types = by_external_id(written[2]["v1_resource_types"])
    trait = resource_pb2.ResourceType
    assert [types[t]["message"].traits[:] for t in ("agent", "user", "team", "department", "role")] == [
        [trait.TRAIT_USER], [trait.TRAIT_USER], [trait.TRAIT_GROUP], [trait.TRAIT_GROUP], [trait.TRAIT_ROLE],
    ]  # fmt: skip
    assert types["role"]["message"].display_name == "Agent Role"
    (child,) = types["department"]["message"].annotations
    assert child.type_url == TYPE_URL + "ChildResourceType"
    assert unpack(child, annotation_resource_tree_pb2.ChildResourceType).resource_type_id == "team"
    assert not types["team"]["message"].annotations


def test_c1z_users_carry_user_trait_and_mirror_status_on_the_resource(written):
    resources = by_external_id(written[2]["v1_resources"])
    user_trait = annotation_trait_pb2.UserTrait
    enabled, disabled = (
        resource_pb2.Status.RESOURCE_STATUS_ENABLED,
        resource_pb2.Status.RESOURCE_STATUS_DISABLED,
    )

    zoe = resources["agent:12"]
    assert (zoe["resource_type_id"], zoe["parent_resource_type_id"], zoe["parent_resource_id"]) == (
        "agent",
        None,
        None,
    )
    message = zoe["message"]
    assert (message.id.resource_type, message.id.resource) == ("agent", "12")
    assert message.display_name == "Zoë Ångström-Łukasiewicz"
    assert message.status.status == enabled
    (annotation,) = message.annotations
    assert annotation.type_url == TYPE_URL + "UserTrait"
    trait = unpack(annotation, user_trait)
    assert [(e.address, e.is_primary) for e in trait.emails] == [("Zoe.Angstrom@Example.com", True)]
    assert trait.status.status == user_trait.Status.STATUS_ENABLED
    assert trait.account_type == user_trait.ACCOUNT_TYPE_HUMAN
    assert trait.login == "zoe"
    assert trait.last_login.ToDatetime(tzinfo=LAST_LOGIN.tzinfo) == LAST_LOGIN
    assert (trait.structured_name.given_name, trait.structured_name.family_name) == (
        "Zoë",
        "Ångström-Łukasiewicz",
    )

    former = resources["agent:13"]["message"]
    former_trait = unpack(former.annotations[0], user_trait)
    assert former.status.status == disabled
    assert former_trait.status.status == user_trait.Status.STATUS_DISABLED
    assert not former_trait.emails and not former_trait.HasField("last_login")

    api = unpack(resources["agent:14"]["message"].annotations[0], user_trait)
    assert api.account_type == user_trait.ACCOUNT_TYPE_SERVICE
    assert not api.HasField("structured_name")

    service = resources["user:101"]["message"]
    service_trait = unpack(service.annotations[0], user_trait)
    assert service.status.status == disabled
    assert service_trait.account_type == user_trait.ACCOUNT_TYPE_SERVICE
    assert resources["user:100"]["message"].display_name == "Ünal Şahin"


def test_c1z_teams_have_their_department_as_parent_and_groups_roles_their_traits(written):
    resources = by_external_id(written[2]["v1_resources"])
    team = resources["team:4"]
    assert (team["parent_resource_type_id"], team["parent_resource_id"]) == ("department", "8")
    parent = team["message"].parent_resource_id
    assert (parent.resource_type, parent.resource) == ("department", "8")
    assert team["message"].display_name == "Netzwerk & Sicherheit 🔒"
    assert team["message"].status.status == resource_pb2.Status.RESOURCE_STATUS_DISABLED
    assert resources["team:3"]["message"].description == "First line"
    assert [a.type_url for a in team["message"].annotations] == [TYPE_URL + "GroupTrait"]
    assert [a.type_url for a in resources["department:7"]["message"].annotations] == [TYPE_URL + "GroupTrait"]
    role = resources[f"role:{ROLE_GUID}"]
    assert [a.type_url for a in role["message"].annotations] == [TYPE_URL + "RoleTrait"]
    assert role["message"].id.resource == ROLE_GUID
    assert not resources["department:7"]["message"].HasField("parent_resource_id")


def test_c1z_entitlements_are_assignments_grantable_to_agents_embedding_their_resource(written):
    tables = written[2]
    resources = by_external_id(tables["v1_resources"])
    types = by_external_id(tables["v1_resource_types"])
    for row in tables["v1_entitlements"]:
        message = row["message"]
        assert row["external_id"] == message.id
        assert (row["resource_type_id"], row["resource_id"]) == (
            message.resource.id.resource_type,
            message.resource.id.resource,
        )
        key = f"{row['resource_type_id']}:{row['resource_id']}"
        assert message.resource.SerializeToString(deterministic=True) == resources[key]["data"]
        assert message.purpose == message.PURPOSE_VALUE_ASSIGNMENT
        assert [t.SerializeToString(deterministic=True) for t in message.grantable_to] == [
            types["agent"]["data"]
        ]
    team = by_external_id(tables["v1_entitlements"])["team:3:member"]["message"]
    assert (team.slug, team.display_name, team.description) == (
        "member",
        "Service Desk Team Member",
        "Member of Service Desk Team Member",
    )


def test_c1z_grants_embed_entitlement_and_principal_and_agree_with_their_columns(written):
    tables = written[2]
    resources = by_external_id(tables["v1_resources"])
    entitlements = by_external_id(tables["v1_entitlements"])
    for row in tables["v1_grants"]:
        grant = row["message"]
        assert row["external_id"] == grant.id
        assert row["entitlement_id"] == grant.entitlement.id
        assert (row["resource_type_id"], row["resource_id"]) == (
            grant.entitlement.resource.id.resource_type, grant.entitlement.resource.id.resource,
        )  # fmt: skip
        assert (row["principal_resource_type_id"], row["principal_resource_id"]) == (
            grant.principal.id.resource_type, grant.principal.id.resource,
        )  # fmt: skip
        assert (
            grant.entitlement.SerializeToString(deterministic=True)
            == entitlements[grant.entitlement.id]["data"]
        )
        principal_key = f"{row['principal_resource_type_id']}:{row['principal_resource_id']}"
        assert grant.principal.SerializeToString(deterministic=True) == resources[principal_key]["data"]
        assert (row["expansion"], row["needs_expansion"]) == (None, 0)


def sources(grant) -> dict[str, bool]:
    return {key: value.is_direct for key, value in grant.sources.sources.items()}


def test_c1z_grant_sources_mark_direct_and_role_inherited_membership(written):
    grants = {row["external_id"]: row["message"] for row in written[2]["v1_grants"]}

    direct = grants["team:3:member:agent:12"]
    assert sources(direct) == {"team:3:member": True}
    assert not direct.annotations

    both = grants["team:4:member:agent:12"]
    assert sources(both) == {
        "team:4:member": True,
        "role:2:assigned": False,
        f"role:{ROLE_GUID}:assigned": False,
    }
    assert not both.annotations

    inherited = grants["team:3:member:agent:13"]
    assert sources(inherited) == {f"role:{ROLE_GUID}:assigned": False}
    (immutable,) = inherited.annotations
    assert immutable.type_url == TYPE_URL + "GrantImmutable"
    assert unpack(immutable, annotation_grant_pb2.GrantImmutable).source_id == f"role:{ROLE_GUID}:assigned"

    assert grants["department:8:member:agent:14"].annotations[0].type_url == TYPE_URL + "GrantImmutable"


def test_c1z_same_snapshot_gives_a_byte_identical_file(lake, tmp_path):
    first = write_c1z(lake, SNAPSHOT, tmp_path / "first.c1z")
    second = write_c1z(lake, SNAPSHOT, tmp_path / "second.c1z", batch_rows=2)
    assert (tmp_path / "first.c1z").read_bytes() == (tmp_path / "second.c1z").read_bytes()
    assert first["sha256"] == second["sha256"]


def test_c1z_small_batches_give_the_same_rows(lake, tmp_path):
    summary = write_c1z(lake, SNAPSHOT, tmp_path / "batched.c1z", batch_rows=1)
    with C1zReader.open(summary["path"]) as c1z:
        load_order = sorted(
            curated_rows()["grants"],
            key=lambda row: tuple(
                row[key]
                for key in (
                    "resource_type_id",
                    "resource_id",
                    "principal_resource_type_id",
                    "principal_resource_id",
                )
            ),
        )
        assert [row["external_id"] for row in c1z.rows("v1_grants")] == [
            row["grant_id"] for row in load_order
        ]


def test_c1z_both_grant_encoders_write_the_same_bytes_for_a_valid_snapshot(lake, tmp_path, monkeypatch):
    """The vectorised grant path and the row-by-row path (taken when a batch breaks a check) must
    encode valid grants identically; here the row path is forced for every batch."""
    from halo_c1.c1z import writer

    vectorised = write_c1z(lake, SNAPSHOT, tmp_path / "vectorised.c1z", batch_rows=3)
    row_batches = []
    by_row = writer._SyncBuilder._add_grants_by_row

    def counted(self, columns):
        row_batches.append(len(columns["grant_id"]))
        return by_row(self, columns)

    monkeypatch.setattr(writer._SyncBuilder, "grant_rows", lambda self, batch: None)
    monkeypatch.setattr(writer._SyncBuilder, "_add_grants_by_row", counted)
    row_by_row = write_c1z(lake, SNAPSHOT, tmp_path / "row_by_row.c1z", batch_rows=3)

    assert sum(row_batches) == vectorised["counts"]["v1_grants"] > 0
    assert (tmp_path / "row_by_row.c1z").read_bytes() == (tmp_path / "vectorised.c1z").read_bytes()
    assert row_by_row["sha256"] == vectorised["sha256"]


def test_c1z_both_resource_encoders_write_the_same_bytes_for_a_valid_snapshot(lake, tmp_path, monkeypatch):
    """User resources go through the Arrow encoder; forcing the row path must give the same file."""
    from halo_c1.c1z import writer

    taken = []
    arrow_path = writer._SyncBuilder._add_user_resources

    def counted(self, batch):
        done = arrow_path(self, batch)
        taken.append((batch.num_rows, done))
        return done

    monkeypatch.setattr(writer._SyncBuilder, "_add_user_resources", counted)
    vectorised = write_c1z(lake, SNAPSHOT, tmp_path / "vectorised.c1z", batch_rows=3)
    assert taken and all(done for _, done in taken)
    monkeypatch.setattr(writer._SyncBuilder, "_add_user_resources", lambda self, batch: False)
    row_by_row = write_c1z(lake, SNAPSHOT, tmp_path / "row_by_row.c1z", batch_rows=3)
    assert (tmp_path / "row_by_row.c1z").read_bytes() == (tmp_path / "vectorised.c1z").read_bytes()
    assert row_by_row["counts"] == vectorised["counts"]


EDGE_USERS = [
    # (status, account type, email, login, given, family, last login µs, display name, description, parent)
    ("ENABLED", "HUMAN", "a@example.com", "a", "Ann", "Lee", 1_764_000_000_123_456, "Ann Lee", "desk", None),
    ("DISABLED", "SERVICE", None, None, None, None, None, "svc", None, None),
    ("ENABLED", "HUMAN", "", "", "", "Only-Family", 0, "", "", None),
    ("DISABLED", "HUMAN", "ü@ß.example", "łogin", "Zoë", "", -1_500_000, "Zoë", None, ("team", "7")),
    ("ENABLED", "SERVICE", "x" * 300, "y" * 200, "g" * 150, None, 1, "n" * 1024, "d" * 2048, None),
]


@pytest.mark.parametrize("row", EDGE_USERS, ids=range(len(EDGE_USERS)))
def test_user_resources_in_arrow_are_the_message_bytes(row):
    import pyarrow as pa

    from halo_c1.c1z import messages

    status, account, email, login, given, family, last_login, name, description, parent = row
    expected = messages.serialize(
        messages.resource(
            type_id="agent",
            resource_id="12",
            display_name=name,
            description=description,
            parent=parent,
            status=status,
            trait=messages.user_trait(
                status=status,
                account_type=account,
                email=email,
                login=login,
                given_name=given,
                family_name=family,
                last_login_us=last_login,
            ),
        )
    )
    columns = {
        "resource_type_id": pa.array(["agent"]),
        "resource_id": pa.array(["12"]),
        "display_name": pa.array([name], pa.string()),
        "description": pa.array([description], pa.string()),
        "parent_resource_type_id": pa.array([parent and parent[0]], pa.string()),
        "parent_resource_id": pa.array([parent and parent[1]], pa.string()),
        "status": pa.array([status]),
        "account_type": pa.array([account]),
        "email": pa.array([email], pa.string()),
        "login": pa.array([login], pa.string()),
        "given_name": pa.array([given], pa.string()),
        "family_name": pa.array([family], pa.string()),
        "last_login": pa.array([last_login], pa.int64()),
    }
    assert messages.user_resource_bytes_array(columns).to_pylist() == [expected]


def test_user_resources_in_arrow_refuse_an_unknown_status():
    import pyarrow as pa

    from halo_c1.c1z import messages

    columns = {name: pa.array([None], pa.string()) for name in ("display_name", "description", "email")}
    columns |= {name: pa.array([None], pa.string()) for name in ("login", "given_name", "family_name")}
    columns |= {
        name: pa.array([None], pa.string()) for name in ("parent_resource_type_id", "parent_resource_id")
    }
    columns |= {
        "resource_type_id": pa.array(["agent"]),
        "resource_id": pa.array(["12"]),
        "status": pa.array(["MAYBE"]),
        "account_type": pa.array(["HUMAN"]),
        "last_login": pa.array([None], pa.int64()),
    }
    assert messages.user_resource_bytes_array(columns) is None


def test_varint_array_matches_the_scalar_encoder():
    import numpy as np

    from halo_c1.c1z import messages

    values = [0, 1, 127, 128, 300, 2**31, 2**63 - 1, -1, -(2**63)]
    assert messages.varint_array(np.array(values, np.int64)).to_pylist() == [
        messages._varint(v & (2**64 - 1)) for v in values
    ]


@pytest.mark.parametrize("order", ["reversed", "by principal"])
def test_c1z_does_not_depend_on_the_grant_files_row_order(lake, tmp_path, order):
    """The writer loads grants in GRANT_LOAD_ORDER whatever order the curated file has."""
    import pyarrow.parquet as pq

    from halo_c1.lake import write_parquet

    in_order = write_c1z(lake, SNAPSHOT, tmp_path / "in_order.c1z", batch_rows=2)
    path = lake.curated_file("grants", SNAPSHOT)
    grants = pq.read_table(path.path)
    if order == "reversed":
        grants = grants.take(list(reversed(range(grants.num_rows))))
    else:
        grants = grants.sort_by([("principal_resource_id", "descending"), ("grant_id", "ascending")])
    assert grants.column("grant_id").to_pylist() != pq.read_table(path.path).column("grant_id").to_pylist()
    write_parquet(path, grants)
    reordered = write_c1z(lake, SNAPSHOT, tmp_path / "reordered.c1z", batch_rows=2)
    assert (tmp_path / "reordered.c1z").read_bytes() == (tmp_path / "in_order.c1z").read_bytes()
    assert reordered["sha256"] == in_order["sha256"]
