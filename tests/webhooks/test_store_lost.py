"""A store that disappears or stops taking writes: the web process stops acknowledging (503, so
HubSpot keeps the delivery and retries) and /readyz fails, naming the store (issue 10, point 1)."""

from __future__ import annotations

import os

import pytest

from connector.settings import default_scoring_config
from connector.store import Store
from connector.web import create_app
from connector.webhooks.receiver import STORE_KEY
from tests.support.webapp import app_config
from tests.webhooks.test_receiver import delivery, event, post


@pytest.fixture
def app(tmp_path):
    app = create_app({**app_config(tmp_path), "scoring_config": default_scoring_config()})
    yield app
    app.extensions[STORE_KEY].dispose()


def remove_database(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def test_given_the_sqlite_file_is_deleted_then_deliveries_get_503_and_readyz_fails(app, tmp_path):
    client, store = app.test_client(), app.extensions[STORE_KEY]
    assert post(client, delivery(event(1))).status_code == 200
    assert client.get("/readyz").status_code == 200
    path = store.sqlite_path()
    remove_database(path)
    answer = post(client, delivery(event(2)))
    assert answer.status_code == 503
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "was deleted or replaced" in ready.json["problems"]["store"]
    assert path in ready.json["problems"]["store"]
    assert not os.path.exists(path)  # nothing acknowledged into a new, empty file


def test_given_the_sqlite_file_is_replaced_by_another_then_deliveries_get_503(app):
    client, store = app.test_client(), app.extensions[STORE_KEY]
    assert post(client, delivery(event(1))).status_code == 200
    path = store.sqlite_path()
    remove_database(path)
    other = Store(f"sqlite:///{path}")
    other.upgrade()  # e.g. a restore, or another process's migrate, at the same path
    other.dispose()
    assert post(client, delivery(event(2))).status_code == 503
    fresh = Store(f"sqlite:///{path}")
    assert fresh.count_queued() == 0  # the new file took nothing
    fresh.dispose()


def test_given_a_store_that_takes_no_writes_then_readyz_fails_naming_the_store(tmp_path):
    path = tmp_path / "state.db"
    Store(f"sqlite:///{path}").upgrade()
    readonly = f"sqlite:///file:{path}?mode=ro&uri=true"
    app = create_app({**app_config(tmp_path), "database_url": readonly, "scoring_config": default_scoring_config()})
    try:
        client = app.test_client()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "readonly" in ready.json["problems"]["store"].lower()
        assert post(client, delivery(event(3))).status_code == 503
    finally:
        app.extensions[STORE_KEY].dispose()
