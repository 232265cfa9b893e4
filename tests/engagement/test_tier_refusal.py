"""A page-view rule needs HubSpot's event analytics (Enterprise): on a professional portal the sync
stops before any write with one line naming the tier; with `fallback: rollups` it scores the rollups."""

from __future__ import annotations

import pytest

from connector.commands.setup import run_setup
from connector.errors import ConfigError
from connector.gateway import Gateway
from connector.sandbox import Sandbox, SandboxConfig
from connector.sync import SyncJob
from tests.engagement.support import with_rule
from tests.support.sandbox import reset, writes

PRICING = {"name": "pricing_twice", "label": "Viewed /pricing twice in 14 days", "points": 10,
           "activity": {"kind": "page_views", "url_contains": "/pricing", "within_days": 14, "at_least": 2}}


def rules(activity_extra: dict | None = None):
    return with_rule(PRICING, activity_extra)


@pytest.fixture
def professional():
    with Sandbox(SandboxConfig(contacts=150, seed=5, tier="professional")) as sb:
        yield sb


def test_given_a_page_view_rule_on_professional_then_refused_naming_the_tier_and_nothing_written(store, professional):
    gateway = Gateway("pat-sandbox", professional.base_url, requests_per_10s=1000)
    run_setup(gateway, store, rules(), "pat-sandbox", dry_run=False)
    reset(professional)
    with pytest.raises(ConfigError) as e:
        SyncJob(gateway, store, rules()).run(full=True)
    lines = str(e.value).splitlines()
    assert len(lines) == 1
    assert "scoring.yaml: rules.engagement[0] 'pricing_twice'.activity" in lines[0]
    assert "professional" in lines[0] and "Enterprise" in lines[0]
    assert writes(professional) == 0


def test_given_the_rollup_fallback_on_professional_then_the_last_page_seen_is_scored(store, professional):
    gateway = Gateway("pat-sandbox", professional.base_url, requests_per_10s=1000)
    fallback = rules({"at_least": 1, "fallback": "rollups"})
    run_setup(gateway, store, fallback, "pat-sandbox", dry_run=False)
    summary = SyncJob(gateway, store, fallback).run(full=True)
    assert summary.written > 0
    state = {c.id: c.properties for c in professional.portal.stores["contacts"].records.values()}
    fired = [cid for cid, p in state.items() if "Viewed /pricing" in (p.get("lsc_reasons") or "")]
    assert fired and all("/pricing" in state[c]["hs_analytics_last_url"] for c in fired)
