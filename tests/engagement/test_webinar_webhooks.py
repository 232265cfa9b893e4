"""End to end: a webinar attended, one registered for only, and none: the sandbox's webinar integration
records the participation -> its contact properties move -> signed webhook -> queue -> WebhookConsumer ->
marketing-event participations read -> three contacts, three different scores and reasons in HubSpot."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from connector.commands.setup import run_setup
from connector.consumer import WebhookConsumer
from connector.core import properties as hp
from connector.core.rules_file import load_rules
from connector.gateway import Gateway
from connector.sandbox import Sandbox, SandboxConfig, marketing_events
from connector.sync import SyncJob
from tests.support.consuming import consuming
from tests.support.paths import SCORING
from tests.support.sandbox import portal_state, post_json
from tests.webhooks.test_webhooks_e2e import SECRET, endpoint, subscriptions_file  # noqa: F401 - a fixture

WAIT_S = 15.0  # a wait for the writes, not a timing check
WATCH = list(marketing_events.INTEGRATION_PROPERTIES)
WEBINAR_RULES = [
    {"name": "webinar_attended", "label": "Attended a webinar (30 days)", "points": 15,
     "activity": {"kind": "marketing_events", "state": "ATTENDED", "within_days": 30, "watch": WATCH}},
    {"name": "webinar_registered", "label": "Registered for a webinar (30 days)", "points": 4,
     "activity": {"kind": "marketing_events", "state": "REGISTERED", "within_days": 30, "watch": WATCH}},
]


@pytest.fixture
def webinar_rules(tmp_path):
    data = yaml.safe_load(Path(SCORING).read_text())
    # The default's own webinar rule watches nothing (read again each day): these watch the integration.
    data["rules"]["engagement"] = [r for r in data["rules"]["engagement"] if r["name"] != "webinar_attended"]
    data["rules"]["engagement"] += WEBINAR_RULES
    path = tmp_path / "scoring.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_rules(path)


@pytest.fixture
def hooked(endpoint, webinar_rules, tmp_path):  # noqa: F811 - the endpoint fixture
    config = SandboxConfig(contacts=400, seed=3, tier="professional", webhook_url=endpoint, client_secret=SECRET,
                           subscriptions=subscriptions_file(webinar_rules, tmp_path / "webhooks-hsmeta.json"))
    with Sandbox(config) as sb:
        yield sb


def same_score_without_webinars(sb: Sandbox, n: int) -> list[str]:
    """n contacts not yet qualified, with no webinar and the same score (so only the webinar tells them apart)."""
    state = portal_state(sb)
    webinars = marketing_events.of(sb.portal)
    by_score: dict[str, list[str]] = {}
    for cid, p in state.items():
        if p.get(hp.LIFECYCLE_STAGE) in ("subscriber", "lead") and not webinars.by_contact.get(cid) \
                and p.get(hp.LEAD_STATUS) != hp.MQL_STATUS and p.get(hp.SCORE):
            by_score.setdefault(p[hp.SCORE], []).append(cid)
    return max(by_score.values(), key=len)[:n]


def test_given_attended_registered_and_nothing_then_three_scores_and_reasons_through_webhooks(
        settings, store, ctx, webinar_rules, hooked):
    ctx.rules = webinar_rules
    ctx.gateway = Gateway.from_settings(settings.with_overrides(hubspot_api_base=hooked.base_url))
    run_setup(ctx.gateway, store, ctx.rules, "pat-sandbox", dry_run=False)
    SyncJob(ctx.gateway, store, ctx.rules).run(full=True)
    assert hooked.webhooks.flush(10)
    attended, registered, nothing = same_score_without_webinars(hooked, 3)
    before = portal_state(hooked)[nothing]
    consumer = WebhookConsumer(ctx.gateway, store, ctx.rules, lease_ms=30_000)
    with consuming(consumer, "webinar-consumer"):
        post_json(hooked, f"/_sandbox/contacts/{attended}/marketing-event", {"state": "ATTENDED"})
        post_json(hooked, f"/_sandbox/contacts/{registered}/marketing-event", {"state": "REGISTERED"})
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            state = portal_state(hooked)
            if "Attended a webinar" in (state[attended].get(hp.REASONS) or "") and \
                    "Registered for a webinar" in (state[registered].get(hp.REASONS) or ""):
                break
            time.sleep(0.05)
    state = portal_state(hooked)
    scores = [int(state[c][hp.SCORE]) for c in (attended, registered, nothing)]
    assert scores[0] > scores[1] > scores[2], scores
    assert "Attended a webinar (30 days) +15" in state[attended][hp.REASONS]
    assert "Registered for a webinar (30 days) +4" in state[registered][hp.REASONS]
    assert "webinar" not in (state[registered][hp.REASONS] or "").replace("Registered for a webinar", "")
    assert "webinar" not in (state[nothing][hp.REASONS] or "").lower()
    assert state[nothing][hp.SCORE] == before[hp.SCORE]
