"""The lake and c1z delivery on abfs:// against a real Azure Blob server (Azurite).

C1's second documented external data source is an Azure Blob container, so the same guarantees as
on S3 are checked here: that an interrupted or corrupted upload leaves the previous blob intact with
no temporary blob behind (the lake's own round trips on Azure are in `test_lake_object_storage.py`).
The last tests go through Airflow's `ObjectStoragePath` with an Azure connection (microsoft-azure
provider), as the DAG does.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import fsspec
import pytest
from adlfs import AzureBlobFileSystem

from halo_c1.c1z.writer import sync_id_for
from halo_c1.deliver import DeliveryError, last_delivery
from halo_c1.guard import MassDeletionError, check_deletion_safety
from halo_c1.lake import Lake, read_json
from tests.integration import test_delivery as s3_cases
from tests.integration.test_delivery import deliver_c1z

if TYPE_CHECKING:
    from tests.integration.azurite_server import AzureBlobServer

pytest_plugins = ["tests.integration.azurite_server"]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:UPath '.*' filesystem not explicitly implemented"),
]

FIRST, SECOND = s3_cases.FIRST, s3_cases.SECOND
CHUNK = s3_cases.CHUNK


class CorruptingBlobFileSystem(AzureBlobFileSystem):
    """Azure Blob storage that silently stores one flipped bit per write: a corrupting upload path."""

    protocol = ("corruptabfs",)

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        handle = super()._open(path, mode, **kwargs)
        return s3_cases._CorruptingWriter(handle) if "w" in mode else handle


fsspec.register_implementation("corruptabfs", CorruptingBlobFileSystem, clobber=True)


def _lake(az: AzureBlobServer) -> Lake:
    return Lake(f"abfs://{az.container}/halo", **az.storage_options)


def test_deliver_to_azure_uploads_verified_bytes_and_records_the_manifest(
    azure_container: AzureBlobServer,
) -> None:
    lake = _lake(azure_container)
    # Larger than the 8 MiB upload block, so the blob is committed from several staged blocks.
    content = s3_cases._packaged(lake, FIRST, s3_cases._c1z_bytes("first", 9 * 1024 * 1024 + 17))
    target = azure_container.path("c1/sync.c1z")

    manifest = deliver_c1z(lake, FIRST, target)

    stored = azure_container.blob("c1/sync.c1z")
    assert stored == content
    assert hashlib.sha256(stored).hexdigest() == manifest["sha256"] == hashlib.sha256(content).hexdigest()
    assert manifest["target"] == f"abfs://{azure_container.container}/c1/sync.c1z"
    assert manifest["c1z_sync_id"] == sync_id_for(FIRST)
    assert [name for name in azure_container.blob_names() if name.startswith("c1/")] == [
        "c1/sync.c1z",
        "c1/sync.c1z.writer.json",
    ]
    writer = json.loads(azure_container.blob("c1/sync.c1z.writer.json"))
    assert (writer["snapshot_id"], writer["sha256"]) == (FIRST, manifest["sha256"])
    assert "AccountKey" not in json.dumps(writer)
    assert read_json(lake.latest_delivery()) == manifest
    latest_text = azure_container.blob("halo/deliveries/latest.json").decode()
    assert "AccountKey" not in latest_text


def test_redelivery_to_azure_replaces_the_blob_and_the_guard_compares_with_it(
    azure_container: AzureBlobServer,
) -> None:
    lake = _lake(azure_container)
    target = azure_container.path("c1/sync.c1z")
    s3_cases._packaged(lake, FIRST, b"first c1z")
    deliver_c1z(lake, FIRST, target)
    second = s3_cases._packaged(lake, SECOND, b"second c1z, a bit longer")

    deliver_c1z(lake, SECOND, target)

    assert azure_container.blob("c1/sync.c1z") == second
    assert last_delivery(lake)["snapshot_id"] == SECOND
    s3_cases._packaged(lake, "20261128T050000Z", b"third", per_type={**s3_cases.COUNTS, "user": 3})
    with pytest.raises(MassDeletionError, match=r"resource type 'user': 6 → 3, 3 removed \(-50.0%\)"):
        check_deletion_safety(lake, "20261128T050000Z", last_delivery(lake))


def test_interrupted_delivery_to_azure_keeps_the_previous_blob(
    tmp_path, azure_container: AzureBlobServer
) -> None:
    lake = Lake(f"failread://{tmp_path}/lake")
    target = azure_container.path("c1/sync.c1z")
    previous = b"the last good c1z"
    target.write_bytes(previous)
    s3_cases._packaged(lake, FIRST, b"delivered before")
    deliver_c1z(lake, FIRST, azure_container.path("elsewhere/sync.c1z"))
    latest_before = lake.latest_delivery().read_bytes()
    s3_cases._packaged(lake, SECOND, s3_cases._c1z_bytes("second", 10 * CHUNK))

    with pytest.raises(DeliveryError) as caught:  # the blob there is no c1z: taken over on purpose
        deliver_c1z(lake, SECOND, target, chunk_size=CHUNK, takeover=True)

    message = str(caught.value)
    assert f"abfs://{azure_container.container}/c1/sync.c1z" in message
    assert "connection to the lake reset by peer" in message
    assert "AccountKey" not in message
    assert azure_container.blob("c1/sync.c1z") == previous
    assert [name for name in azure_container.blob_names() if name.startswith("c1/")] == ["c1/sync.c1z"]
    assert lake.latest_delivery().read_bytes() == latest_before
    assert not lake.delivery_manifest(SECOND).exists()


def test_corrupted_upload_to_azure_keeps_the_previous_blob(
    tmp_path, azure_container: AzureBlobServer
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    s3_cases._packaged(lake, FIRST, s3_cases._c1z_bytes("new", 3 * CHUNK))
    previous = b"the last good c1z"
    azure_container.path("c1/sync.c1z").write_bytes(previous)
    target = fsspec.filesystem("corruptabfs", **azure_container.storage_options)
    corrupting = s3_cases.UPath(
        f"corruptabfs://{azure_container.container}/c1/sync.c1z", **azure_container.storage_options
    )
    assert isinstance(corrupting.fs, type(target))

    with pytest.raises(DeliveryError, match=r"stored SHA-256 \w+ differs"):
        deliver_c1z(lake, FIRST, corrupting, chunk_size=CHUNK, takeover=True)

    assert azure_container.blob("c1/sync.c1z") == previous
    assert [name for name in azure_container.blob_names() if name.startswith("c1/")] == ["c1/sync.c1z"]
    assert last_delivery(lake) is None


def test_airflow_connection_drives_the_lake_and_delivery_on_azure(
    monkeypatch: pytest.MonkeyPatch, azure_container: AzureBlobServer
) -> None:
    """What the DAG does: variables name abfs:// URLs, an `adls` connection carries the credentials."""
    from halo_c1_airflow.settings import lake as airflow_lake
    from halo_c1_airflow.targets import delivery_target

    container = azure_container.container
    halo = {"conn_type": "http", "host": "https://acme.haloitsm.com", "login": "id", "password": "unused"}
    monkeypatch.setenv("AIRFLOW_CONN_HALOITSM_DEFAULT", json.dumps(halo))
    monkeypatch.setenv("AIRFLOW_CONN_HALO_C1_AZURE_TEST", azure_container.airflow_connection)
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"abfs://{container}/lake")
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_LAKE_CONN_ID", "halo_c1_azure_test")
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", f"abfs://{container}/c1/sync.c1z")
    monkeypatch.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_CONN_ID", "halo_c1_azure_test")
    # The lake folder is per HaloITSM tenant; `lake_prefix` names it.
    monkeypatch.setenv(
        "AIRFLOW_CONN_HALOITSM_DEFAULT",
        '{"conn_type": "http", "host": "https://acme.example.com", "login": "id", "password": "pw",'
        ' "extra": {"lake_prefix": "acme"}}',
    )

    lake, target = airflow_lake(), delivery_target()
    content = s3_cases._packaged(lake, FIRST, s3_cases._c1z_bytes("via-airflow", 100_003))
    manifest = deliver_c1z(lake, FIRST, target)

    assert azure_container.blob("c1/sync.c1z") == content
    # ObjectStoragePath keeps the connection id (a name, not a credential) in the URL.
    assert manifest["target"] == f"abfs://halo_c1_azure_test@{container}/c1/sync.c1z"
    assert "AccountKey" not in lake.latest_delivery().read_text()
    # The lake is this tenant's folder under the lake URL.
    names = azure_container.blob_names()
    assert any(n.startswith("lake/") and n.endswith(f"/deliveries/snapshot={FIRST}.json") for n in names)
    assert any(n.startswith("lake/") and n.endswith(f"/c1z/snapshot={FIRST}/sync.c1z") for n in names)
