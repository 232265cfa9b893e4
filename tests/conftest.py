"""Fixtures for the connector's tests: a sandbox portal, a real store (SQLite, and PostgreSQL when
DATABASE_TEST_URL is set, as CI does), settings and a connector context pointed at the sandbox, and
a fake clock. What is shared but not a fixture is in tests/support."""

from __future__ import annotations

import os

import pytest

from connector.context import Context
from connector.core.rules_file import load_rules
from connector.gateway import Gateway
from connector.sandbox import Sandbox, SandboxConfig
from connector.settings import Settings
from connector.store import Store
from connector.store.schema import metadata
from tests.support.clock import FakeClock
from tests.support.paths import SCORING

PG_URL = os.environ.get("DATABASE_TEST_URL")

_STORE_PARAMS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=_STORE_PARAMS)
def database_url(request, tmp_path) -> str:
    """A clean database: a new SQLite file, or the PostgreSQL test database with its tables dropped."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    if not PG_URL:
        pytest.skip("PostgreSQL tests need DATABASE_TEST_URL (CI sets it: postgresql://postgres@127.0.0.1:5432/test)")
    url = Settings(database_url=PG_URL).sqlalchemy_url
    store = Store(url)
    with store.engine.begin() as conn:
        metadata.drop_all(conn)
    store.dispose()
    return PG_URL


@pytest.fixture
def store(database_url):
    s = Store(Settings(database_url=database_url).sqlalchemy_url)
    s.upgrade()
    yield s
    s.dispose()


@pytest.fixture
def sandbox():
    """A fresh unlimited-tier portal with 400 contacts for each test (it starts in well under 1 s)."""
    with Sandbox(SandboxConfig(contacts=400, seed=3, tier="unlimited")) as sb:
        yield sb


@pytest.fixture
def settings(sandbox, database_url) -> Settings:
    return Settings(hubspot_access_token="pat-sandbox", hubspot_client_secret="test-secret",
                    hubspot_api_base=sandbox.base_url, database_url=database_url, scoring_config=SCORING,
                    hubspot_requests_per_10s=1000, hubspot_search_per_second=1000)


@pytest.fixture
def ctx(settings, store) -> Context:
    return Context(settings, load_rules(settings.scoring_config), store, Gateway.from_settings(settings))


@pytest.fixture
def clock() -> FakeClock:
    """A clock at tests.support.clock.T0 that moves only when the test advances it."""
    return FakeClock()


@pytest.fixture
def env(monkeypatch, sandbox, tmp_path):
    """The environment a person running the CLI against the sandbox would have: token, API base, a
    SQLite store in tmp_path and the default rules; nothing else of the developer's leaks in."""
    for var in ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_API_BASE", "DATABASE_URL", "SCORING_CONFIG", "HUBSPOT_CLIENT_SECRET",
                "WEBHOOK_PUBLIC_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-sandbox")
    monkeypatch.setenv("HUBSPOT_API_BASE", sandbox.base_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("SCORING_CONFIG", SCORING)
    return monkeypatch

