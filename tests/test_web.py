"""The web process: GET /healthz and /readyz, and create_app (the webhook receiver it serves is
tests/webhooks/test_receiver.py's)."""

from __future__ import annotations

import sys
import types

import pytest

from connector.errors import ConfigError, Problem
from connector.web import create_app
from connector.webhooks.receiver import STORE_KEY
from tests.support.paths import SCORING
from tests.support.webapp import SECRET, app_config


@pytest.fixture
def overrides(tmp_path):
    return app_config(tmp_path)


@pytest.fixture
def client(overrides):
    app = create_app(overrides)
    yield app.test_client()
    app.extensions[STORE_KEY].dispose()


# -- health ------------------------------------------------------------------------------------------


def test_healthz_is_alive(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "alive"}


def _fake_rules(monkeypatch, load_rules) -> None:
    """A stand-in connector.core.rules_file so /readyz's two outcomes can be shown without the real rule set."""
    module = types.ModuleType("connector.core.rules_file")
    module.load_rules = load_rules
    monkeypatch.setitem(sys.modules, "connector.core.rules_file", module)


def test_readyz_when_store_answers_and_rules_load_then_200(client, monkeypatch):
    loaded = []
    _fake_rules(monkeypatch, loaded.append)
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json == {"status": "ready"}
    assert loaded and loaded[0].endswith("scoring.yaml")


def test_readyz_when_rules_do_not_load_then_503_with_reason(client, monkeypatch):
    def bad(path):
        raise ConfigError([Problem(path, "rules[0].points: must be a number")])

    _fake_rules(monkeypatch, bad)
    response = client.get("/readyz")
    assert response.status_code == 503
    scoring_config = client.application.extensions["connector.settings"].scoring_config
    assert response.json["problems"] == {"scoring_config": f"{scoring_config}: rules[0].points: must be a number"}


def test_readyz_when_rules_module_missing_then_503(client, monkeypatch):
    monkeypatch.setitem(sys.modules, "connector.core.rules_file", None)  # import raises ImportError
    response = client.get("/readyz")
    assert response.status_code == 503 and "cannot load connector.rules" in response.json["problems"]["scoring_config"]


# -- create_app ----------------------------------------------------------------------------------------


def test_create_app_without_client_secret_refuses_to_start(tmp_path):
    with pytest.raises(ConfigError, match="HUBSPOT_CLIENT_SECRET"):
        create_app({"database_url": f"sqlite:///{tmp_path / 'x.db'}"})


def test_create_app_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    app = create_app()
    assert app.extensions["connector.settings"].hubspot_client_secret == SECRET
    app.extensions[STORE_KEY].dispose()


def test_readyz_with_the_real_rules_and_default_config_then_200(overrides):
    app = create_app({**overrides, "scoring_config": SCORING})
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.json
    app.extensions[STORE_KEY].dispose()


def test_readyz_with_the_real_rules_and_a_missing_config_then_503_names_the_file(client):
    response = client.get("/readyz")  # the fixture's scoring_config does not exist
    assert response.status_code == 503
    assert "scoring.yaml" in response.json["problems"]["scoring_config"]
    assert "store" not in response.json["problems"]


def test_create_app_from_a_settings_instance(tmp_path):
    from connector.settings import Settings

    app = create_app(Settings(hubspot_client_secret=SECRET, database_url=f"sqlite:///{tmp_path / 's.db'}"))
    try:
        assert app.test_client().get("/healthz").status_code == 200
        assert app.extensions[STORE_KEY].count_queued() == 0
    finally:
        app.extensions[STORE_KEY].dispose()
