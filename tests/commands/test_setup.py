"""`connector setup` is idempotent, keeps every hs_lead_status option, and its dry run changes nothing."""

from __future__ import annotations

from connector.commands.setup import run_setup, webhook_subscriptions
from connector.core import properties as hp
from tests.support.sandbox import sandbox_stats


def _lead_status_values(ctx):
    return [o["value"] for o in ctx.gateway.get_property(hp.LEAD_STATUS)["options"]]


def test_given_fresh_portal_when_setup_then_group_properties_and_mql_option_exist_and_old_options_kept(ctx):
    before = _lead_status_values(ctx)
    report = run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    assert not report.warnings
    after = _lead_status_values(ctx)
    assert after == before + [hp.MQL_STATUS]
    for name in hp.CONNECTOR_PROPERTY_NAMES:
        assert ctx.gateway.get_property(name)["groupName"] == hp.GROUP_NAME


def test_given_setup_done_when_setup_again_then_nothing_is_created(ctx, sandbox):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    report = run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    assert [d for d in report.done if "schema" not in d] == []
    assert _lead_status_values(ctx).count(hp.MQL_STATUS) == 1


def test_given_custom_option_added_by_admin_when_setup_then_it_survives(ctx):
    prop = ctx.gateway.get_property(hp.LEAD_STATUS)
    options = prop["options"] + [{"label": "Partner", "value": "PARTNER", "displayOrder": 99, "hidden": False}]
    ctx.gateway.update_property(hp.LEAD_STATUS, {"options": options})
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    values = _lead_status_values(ctx)
    assert "PARTNER" in values and hp.MQL_STATUS in values


def test_given_dry_run_when_setup_then_it_reports_the_plan_and_writes_nothing(ctx, sandbox):
    report = run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=True)
    assert any("would create" in d for d in report.done)
    requests = sandbox_stats(sandbox)["requests"]
    assert not any(k.startswith(("POST /crm/v3/properties", "PATCH")) for k in requests)
    assert hp.MQL_STATUS not in _lead_status_values(ctx)


def test_subscriptions_cover_object_events_and_every_property_the_rules_read(ctx):
    subs = webhook_subscriptions(ctx.rules)
    assert {"contact.creation", "contact.deletion", "contact.privacyDeletion", "contact.merge",
            "contact.restore"} <= set(subs)
    assert "contact.propertyChange:recent_conversion_event_name" in subs
    assert not any(s.endswith(hp.SCORE) for s in subs)
