"""The web process: `create_app()` builds the Flask app (connector.serve serves it: waitress).

It composes the edges the web process serves: the webhook receiver (connector.webhooks), the
health endpoints GET /healthz and /readyz below, and the read-only dashboard (connector.dashboard).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify

from connector.dashboard import dashboard
from connector.errors import ConfigError, StoreError
from connector.settings import Settings
from connector.store import Store
from connector.webhooks.receiver import (
    SCHEMA_READY_KEY,
    SETTINGS_KEY,
    STORE_FILE_KEY,
    STORE_KEY,
    app_store,
    webhooks,
)

log = logging.getLogger("connector.web")

health = Blueprint("health", __name__)


def create_app(test_config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the app and its one Store. `test_config`: a Settings, or a dict whose lowercase keys
    override the settings' defaults (validated like environment values; the environment itself is
    not read) and whose UPPERCASE keys go to `app.config` (e.g. CLOCK: a callable returning
    seconds). Without it, settings come from the environment."""
    settings, config = _settings(test_config)
    _configure_logging(settings)
    app = Flask(__name__)
    app.config.update(CLOCK=time.time)
    app.config.update(config)
    app.extensions[SETTINGS_KEY] = settings
    # HubSpot times out a delivery after a few seconds: better a fast 503 (it retries) than a
    # request that waits 30 s for SQLite's writer lock.
    store = Store.from_settings(settings, busy_timeout_s=2.0)
    app.extensions[STORE_KEY] = store
    app.extensions[SCHEMA_READY_KEY] = _try_upgrade(store)
    if app.extensions[SCHEMA_READY_KEY]:
        app.extensions[STORE_FILE_KEY] = store.file_identity()
    app.register_blueprint(webhooks)
    app.register_blueprint(health)
    app.register_blueprint(dashboard)  # off (404) unless DASHBOARD_PASSWORD is set
    return app


def _settings(test_config: Settings | Mapping[str, Any] | None) -> tuple[Settings, dict[str, Any]]:
    require = ("hubspot_client_secret",)
    if isinstance(test_config, Settings):
        if not test_config.hubspot_client_secret:
            raise ConfigError("HUBSPOT_CLIENT_SECRET is required to verify webhooks but not set")
        return test_config, {}
    overrides = dict(test_config or {})
    config = {k: v for k, v in overrides.items() if k.isupper()}
    if test_config is None:
        return Settings.from_env(require=require), config
    # Validate overrides exactly as environment values would be (and never read os.environ).
    env = {k.upper(): str(v) for k, v in overrides.items() if not k.isupper() and v is not None}
    return Settings.from_env(env, require=require), config


def _configure_logging(settings: Settings) -> None:
    """Under a WSGI server nothing configures Python logging, so the per-delivery lines would vanish:
    give the root logger a stderr handler at LOG_LEVEL, unless someone (CLI, pytest) already did."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=settings.log_level.upper(),
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _try_upgrade(store: Store) -> bool:
    """Create the schema if needed. A store that is down now must not stop the app from starting:
    requests answer 503 (HubSpot retries) and /readyz says why until it is back."""
    try:
        store.upgrade()
        return True
    except StoreError as exc:
        log.warning("store not ready at start: %s", exc)
        return False


# -- health -------------------------------------------------------------------------------------


@health.get("/healthz")
def healthz():
    """Alive: the process answers. Says nothing about the database (that is /readyz)."""
    return jsonify(status="alive"), 200


@health.get("/readyz")
def readyz():
    """Ready: the store is the one this process opened and takes a write, and the scoring config
    loads. 503 with the reasons otherwise (a read-only or full disk fails the write)."""
    settings: Settings = current_app.extensions[SETTINGS_KEY]
    problems: dict[str, str] = {}
    try:
        app_store().check_writable()
    except StoreError as exc:
        problems["store"] = str(exc)
    try:
        from connector.core.rules_file import load_rules  # lazily: rules are another module's business

        load_rules(settings.scoring_config)
    except ImportError as exc:
        problems["scoring_config"] = f"cannot load connector.rules: {exc}"
    except ConfigError as exc:
        problems["scoring_config"] = str(exc)
    if problems:
        return jsonify(status="not ready", problems=problems), 503
    return jsonify(status="ready"), 200
