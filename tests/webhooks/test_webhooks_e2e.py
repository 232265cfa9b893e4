"""End to end: sandbox activity -> signed HubSpot webhook over HTTP -> the Flask endpoint -> the store's
queue -> WebhookConsumer -> batch read, score, batch update in the sandbox. Real sandbox, real store
(SQLite and PostgreSQL), the web app on a loopback port (werkzeug), no mocks."""

from __future__ import annotations

import json
import threading
import time

import pytest
from werkzeug.serving import make_server

from connector.commands.setup import run_setup, webhook_subscriptions
from connector.consumer import WebhookConsumer
from connector.core import properties as hp
from connector.gateway import Gateway
from connector.sandbox import Sandbox, SandboxConfig
from connector.sync import SyncJob
from connector.web import create_app
from tests.support.consuming import consuming
from tests.support.sandbox import activity, demo_request, hand_raise_candidates, portal_state, sandbox_stats

SECRET = "e2e-client-secret"
WAIT_S = 15.0  # how long to wait for the MQLs (a wait, not a timing check: latency is measured in bench/)


@pytest.fixture
def endpoint(settings):
    """The webhook endpoint on a free loopback port; yields its public URL (what HubSpot signs)."""
    server = make_server("127.0.0.1", 0, None, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}/webhooks/hubspot"
    server.app = create_app(settings.with_overrides(hubspot_client_secret=SECRET, webhook_public_url=url))
    thread = threading.Thread(target=server.serve_forever, name="e2e-web", daemon=True)
    thread.start()
    yield url
    server.shutdown()
    thread.join(5)
    server.app.extensions["connector.store"].dispose()  # the app's own Store (its pooled connections)


def subscriptions_file(rules, path) -> str:
    """The subscriptions `connector setup` declares, as a HubSpot project's webhooks-hsmeta.json."""
    legacy, hub = [], []
    for line in webhook_subscriptions(rules):
        kind, _, prop = line.partition(":")
        entry = {"subscriptionType": kind, "active": True, **({"propertyName": prop} if prop else {})}
        (hub if kind == "contact.privacyDeletion" else legacy).append(entry)
    path.write_text(json.dumps({"subscriptions": {"legacyCrmObjects": legacy, "hubEvents": hub}}))
    return str(path)


@pytest.fixture
def hooked(endpoint, ctx, tmp_path):
    """A sandbox portal that sends signed webhooks to the endpoint, for the subscriptions setup declares."""
    config = SandboxConfig(contacts=400, seed=3, tier="unlimited", webhook_url=endpoint, client_secret=SECRET,
                           subscriptions=subscriptions_file(ctx.rules, tmp_path / "webhooks-hsmeta.json"))
    with Sandbox(config) as sb:
        yield sb


def test_given_the_web_endpoint_and_a_consumer_when_a_contact_asks_for_a_demo_then_it_becomes_an_mql_in_hubspot(
        settings, store, ctx, hooked):
    ctx.gateway = Gateway.from_settings(settings.with_overrides(hubspot_api_base=hooked.base_url))
    run_setup(ctx.gateway, store, ctx.rules, "pat-sandbox", dry_run=False)
    SyncJob(ctx.gateway, store, ctx.rules).run(full=True)
    assert hooked.webhooks.flush(10)  # the sync's own echoes are delivered too
    consumer = WebhookConsumer(ctx.gateway, store, ctx.rules, lease_ms=30_000)
    with consuming(consumer, "e2e-consumer"):
        targets = hand_raise_candidates(hooked)[:3]
        deadline = time.monotonic() + WAIT_S
        activity(hooked, [demo_request(cid) for cid in targets])
        while time.monotonic() < deadline:
            state = portal_state(hooked)
            if all(state[c][hp.LEAD_STATUS] == hp.MQL_STATUS for c in targets):
                break
            time.sleep(0.02)
    state = portal_state(hooked)
    assert [state[c][hp.LEAD_STATUS] for c in targets] == [hp.MQL_STATUS] * 3, f"not MQL after waiting {WAIT_S:.0f}s"
    assert all(state[c][hp.PATH] == "hand_raise" for c in targets)
    stats = sandbox_stats(hooked)
    assert stats["webhooks"]["sent"] > 0 and stats["webhooks"]["failed"] == 0
