"""The writer record beside a delivered c1z, and what the guard and delivery do with it, on a local file,
on S3 (moto server) and on Azure Blob (Azurite): what the stages do, without Airflow.

Two lake folders deliver to one target: another tenant's folder is refused (naming the target and its
writer) until a takeover is confirmed; the same tenant from another lake is compared with the c1z the
target holds (decoded with the project's reader); a target that changes after the guard looked is never
replaced; a target filled before writer records existed is recognised as the lake's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from upath import UPath

from halo_c1 import model
from halo_c1.c1z.writer import write_c1z
from halo_c1.deliver import DeliveryConflictError, ObjectStorageTarget, deliver_snapshot, last_delivery
from halo_c1.deliver.errors import TargetTakeoverRequired
from halo_c1.deliver.writer import target_baseline
from halo_c1.guard import MassDeletionError, check_deletion_safety
from halo_c1.lake import Lake
from halo_c1.tenancy import TenantIdentity, tenant_lake
from tests.integration.test_delivery import deliver_c1z
from tests.unit.c1z_curated import SNAPSHOT, curated_rows, write_curated

if TYPE_CHECKING:
    from tests.integration.azurite_server import AzureBlobServer
    from tests.integration.s3_server import S3Server

pytest_plugins = ["tests.integration.s3_server", "tests.integration.azurite_server"]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:UPath '.*' filesystem not explicitly implemented"),
]

FIRST, SECOND, THIRD = SNAPSHOT, "20261128T050000Z", "20261129T050000Z"
ACME = TenantIdentity.from_connection("https://acme.haloitsm.com", "acme")
GLOBEX = TenantIdentity.from_connection("https://globex.haloitsm.com", "globex")


@dataclass
class Store:
    """Where the lakes and the target live, and how to read a stored object back independently."""

    name: str
    path: Callable[[str], UPath]
    secret: str | None

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()


@pytest.fixture(params=["file", "s3", "azure"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "file":
        yield Store("file", lambda key: UPath(tmp_path / key), None)
    elif request.param == "s3":
        s3: S3Server = request.getfixturevalue("s3_bucket")
        yield Store("s3", s3.path, s3.secret)
    else:
        azure: AzureBlobServer = request.getfixturevalue("azure_container")
        yield Store("azure", azure.path, "AccountKey")


def _packaged(lake: Lake, snapshot_id: str, drop_agents: int = 0) -> None:
    """A real snapshot (curated tables and its c1z); `drop_agents` of its 3 agents left out, with their grants."""
    rows = curated_rows()
    dropped = {row["resource_id"] for row in rows["resources"] if row["resource_type_id"] == model.AGENT}
    dropped = set(sorted(dropped)[:drop_agents])
    rows["resources"] = [
        row
        for row in rows["resources"]
        if not (row["resource_type_id"] == model.AGENT and row["resource_id"] in dropped)
    ]
    rows["grants"] = [row for row in rows["grants"] if row["principal_resource_id"] not in dropped]
    rows = {
        table: [{**row, "snapshot_id": snapshot_id} for row in table_rows]
        for table, table_rows in rows.items()
    }
    write_curated(lake, rows, snapshot_id)
    write_c1z(lake, snapshot_id)


def test_another_tenants_c1z_is_refused_naming_target_and_writer_until_taken_over(store: Store) -> None:
    acme = tenant_lake(store.path("lake"), ACME)
    target = store.path("c1/sync.c1z")
    _packaged(acme, FIRST)
    deliver_c1z(acme, FIRST, target)
    delivered, writer = store.read("c1/sync.c1z"), json.loads(store.read("c1/sync.c1z.writer.json"))
    assert writer["tenant"] == ACME.as_record()
    assert writer["lake"] == ObjectStorageTarget(acme.base).describe()
    assert writer["counts"]["resources"]["agent"] == 3
    globex = tenant_lake(store.path("lake"), GLOBEX)
    _packaged(globex, SECOND, drop_agents=1)

    with pytest.raises(TargetTakeoverRequired) as refused:
        deliver_c1z(globex, SECOND, target)

    message = str(refused.value)
    assert message.startswith(f"not replacing the delivery target {ObjectStorageTarget(target).describe()}:")
    assert f"written by lake folder {writer['lake']} of HaloITSM acme.haloitsm.com (tenant 'acme')" in message
    assert "it is another HaloITSM tenant's (acme.haloitsm.com (tenant 'acme'))" in message
    assert "takeover_delivery_target=true" in message
    if store.secret:
        assert store.secret not in message
    assert store.read("c1/sync.c1z") == delivered
    assert json.loads(store.read("c1/sync.c1z.writer.json")) == writer
    assert last_delivery(globex) is None

    deliver_c1z(globex, SECOND, target, takeover=True)

    assert store.read("c1/sync.c1z") == globex.c1z_file(SECOND).read_bytes()
    assert json.loads(store.read("c1/sync.c1z.writer.json"))["tenant"] == GLOBEX.as_record()
    assert last_delivery(globex)["guard"]["target"]["verdict"] == "taken over"


def test_the_same_tenant_from_a_new_lake_is_compared_with_the_c1z_at_the_target(store: Store) -> None:
    old = tenant_lake(store.path("old-lake"), ACME)
    target = ObjectStorageTarget(store.path("c1/sync.c1z"))
    _packaged(old, FIRST)
    deliver_c1z(old, FIRST, target)
    delivered = store.read("c1/sync.c1z")
    new = tenant_lake(store.path("new-lake"), ACME)
    _packaged(new, SECOND, drop_agents=1)  # one of 3 agents: more than the guard's 20 %

    check, held = target_baseline(target, new, last_delivery(new), SECOND)
    assert check.verdict == "compare"
    assert held is not None and held.counts == last_delivery(old)["counts"]
    with pytest.raises(MassDeletionError) as blocked:
        check_deletion_safety(new, SECOND, None, held=held, target=check.as_report())

    assert f"against the c1z at {target.describe()} (written by lake folder {old.base}" in str(blocked.value)
    assert "resource type 'agent': 3 → 2, 1 removed" in str(blocked.value)
    assert store.read("c1/sync.c1z") == delivered


def test_a_target_that_changed_after_the_guard_looked_is_not_replaced(tmp_path: Path) -> None:
    lake = tenant_lake(UPath(tmp_path / "lake"), ACME)
    target = ObjectStorageTarget(UPath(tmp_path / "c1" / "sync.c1z"))
    _packaged(lake, FIRST)
    deliver_c1z(lake, FIRST, target)
    _packaged(lake, SECOND)
    check, held = target_baseline(target, lake, last_delivery(lake), SECOND)
    check_deletion_safety(lake, SECOND, last_delivery(lake), held=held, target=check.as_report())
    other = tenant_lake(UPath(tmp_path / "other-lake"), GLOBEX)
    _packaged(other, THIRD)
    deliver_c1z(other, THIRD, target, takeover=True)  # another deployment, between the guard and delivery
    theirs = target.path.read_bytes()

    with pytest.raises(
        DeliveryConflictError, match=r"changed after the guard compared with it .* written by lake folder"
    ):
        deliver_snapshot(lake, SECOND, target)

    assert target.path.read_bytes() == theirs
    assert last_delivery(lake)["snapshot_id"] == FIRST


def test_a_target_delivered_before_writer_records_existed_is_the_lakes_own(tmp_path: Path) -> None:
    lake = tenant_lake(UPath(tmp_path / "lake"), ACME)
    target = ObjectStorageTarget(UPath(tmp_path / "c1" / "sync.c1z"))
    _packaged(lake, FIRST)
    deliver_c1z(lake, FIRST, target)
    target.writer_path.unlink()  # as an earlier version left it: the c1z and the lake's record only

    check, held = target_baseline(target, lake, last_delivery(lake), SECOND)

    assert (check.verdict, held) == ("ours", None)
    _packaged(lake, SECOND)
    deliver_c1z(lake, SECOND, target)
    assert json.loads(target.writer_path.read_text())["snapshot_id"] == SECOND


def test_a_target_nobody_recorded_that_is_no_c1z_is_refused(tmp_path: Path) -> None:
    lake = tenant_lake(UPath(tmp_path / "lake"), ACME)
    target = tmp_path / "c1" / "sync.c1z"
    target.parent.mkdir()
    target.write_bytes(b"an export someone put here by hand")
    _packaged(lake, FIRST)

    with pytest.raises(
        TargetTakeoverRequired, match=r"cannot be read as a c1z \(C1zFormatError: not a c1z file"
    ):
        target_baseline(ObjectStorageTarget(UPath(target)), lake, None, FIRST)

    assert target.read_bytes() == b"an export someone put here by hand"
