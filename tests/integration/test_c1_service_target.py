"""Service mode as the ETL's delivery target: nothing copied, the snapshot recorded, C1 asked to sync."""

from __future__ import annotations

import hashlib
import logging

import pytest

from halo_c1.c1.errors import C1AuthError, C1ConfigError
from halo_c1.c1.force_sync import force_sync, force_sync_url
from halo_c1.deliver.c1_service import C1ServiceTarget
from halo_c1.lake import as_path

pytestmark = pytest.mark.integration


def test_force_sync_posts_to_the_connector_with_a_bearer_token(fake_c1):
    settings = fake_c1.settings(app_id="app 1", connector_id="conn-9")

    force_sync(settings)

    assert fake_c1.tokens.force_syncs == [{"app_id": "app%201", "connector_id": "conn-9"}]
    assert force_sync_url(settings).endswith("/api/v1/apps/app%201/connectors/conn-9/force_sync")


def test_force_sync_needs_both_ids(fake_c1):
    with pytest.raises(C1ConfigError, match="app_id and connector_id"):
        force_sync(fake_c1.settings(app_id="a1"))


def test_force_sync_with_refused_credentials_is_an_auth_error(fake_c1):
    fake_c1.tokens.fail_status = 401
    with pytest.raises(C1AuthError):
        force_sync(fake_c1.settings(app_id="a1", connector_id="c1"))
    assert fake_c1.tokens.force_syncs == []


def test_target_stage_measures_the_c1z_and_commit_asks_c1_to_sync(fake_c1, tmp_path):
    c1z = tmp_path / "sync.c1z"
    c1z.write_bytes(b"C1ZF\x00" + b"x" * 1000)
    settings = fake_c1.settings(app_id="a1", connector_id="c1")
    target = C1ServiceTarget(settings.api_host, lambda: force_sync(settings))

    staged = target.stage(as_path(str(c1z)), "20261129T120000Z")
    assert fake_c1.tokens.force_syncs == []
    staged.commit()

    assert (staged.sha256, staged.size_bytes) == (hashlib.sha256(c1z.read_bytes()).hexdigest(), 1005)
    assert fake_c1.tokens.force_syncs == [{"app_id": "a1", "connector_id": "c1"}]
    assert target.describe().startswith(f"c1-service-mode://{settings.api_host}")


def test_a_failed_force_sync_is_logged_and_never_fails_the_delivery(fake_c1, tmp_path, caplog):
    c1z = tmp_path / "sync.c1z"
    c1z.write_bytes(b"C1ZF\x00")
    settings = fake_c1.settings(app_id="a1", connector_id="c1")
    fake_c1.tokens.fail_status = 401
    staged = C1ServiceTarget(settings.api_host, lambda: force_sync(settings)).stage(as_path(str(c1z)), "x")

    with caplog.at_level(logging.WARNING, logger="halo_c1.deliver.c1_service"):
        staged.commit()

    assert "Could not ask C1 to sync now" in caplog.text
    assert settings.credentials.client_id.value in caplog.text or "HTTP 401" in caplog.text
