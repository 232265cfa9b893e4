"""A synced sandbox and the web app serving its dashboard on a free port."""

from __future__ import annotations

import socket
import threading

import pytest

from connector.commands.setup import run_setup
from connector.sync import SyncJob
from connector.web import create_app
from connector.webhooks.receiver import STORE_KEY

PASSWORD = "correct-horse-battery-staple"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def synced(ctx, sandbox):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    SyncJob(ctx.gateway, ctx.store, ctx.rules, overlap_s=300).run(full=True)
    return ctx


def dashboard_settings(ctx, tmp_path, password: str | None = PASSWORD):
    spend = tmp_path / "spend.csv"
    months = sorted({f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13)})
    spend.write_text("month,source,amount,currency\n" + "".join(
        f"{mo},{src},{1500 + 10 * i}.00,EUR\n" for i, mo in enumerate(months) for src in ("PAID_SEARCH", "OFFLINE")))
    return ctx.settings.with_overrides(dashboard_password=password, spend_file=str(spend))


@pytest.fixture
def served(synced, tmp_path):
    """(base URL, ctx) of a dashboard on the synced store."""
    from werkzeug.serving import make_server

    app = create_app(dashboard_settings(synced, tmp_path))
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", synced
    server.shutdown()
    thread.join(timeout=5)
    app.extensions[STORE_KEY].dispose()


@pytest.fixture
def apps():
    """create_app for a test; every app's store closed at the end (PostgreSQL connections too)."""
    made = []

    def make(settings):
        app = create_app(settings)
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions[STORE_KEY].dispose()
