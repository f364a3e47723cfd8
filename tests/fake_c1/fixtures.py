"""pytest fixtures for the fake C1 (loaded from tests/conftest.py through `pytest_plugins`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_c1 import FakeC1, running_fake_c1


@pytest.fixture
def fake_c1(tmp_path_factory) -> Iterator[FakeC1]:
    """A fresh fake C1 (servers, CA, credentials) per test."""
    with running_fake_c1(tmp_path_factory.mktemp("fake_c1")) as fake:
        yield fake


@pytest.fixture
def fake_c1_env(fake_c1, monkeypatch) -> FakeC1:
    """The fake C1 plus AIRFLOW_CONN_CONDUCTORONE_DEFAULT pointing at it (provisioning off)."""
    monkeypatch.setenv("AIRFLOW_CONN_CONDUCTORONE_DEFAULT", fake_c1.connection())
    monkeypatch.delenv("BATON_C1_API_HOST", raising=False)
    return fake_c1
