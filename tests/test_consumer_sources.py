"""Whose change is it? The worker ignores only its own app's echoes (another app's change of lead
status or stage is rescored like a person's), and erases a contact's local data only once HubSpot
confirms the contact is gone (issue 10, point 5)."""

from __future__ import annotations

import urllib.request

from connector.core import properties as hp
from tests.support.sandbox import activity, demo_request, hand_raise_candidates, portal_state, reset
from tests.test_consumer import batch_reads, consumer_for, drain, rows_for, synced


def echoes_of_a_write(ctx, sandbox, hooks) -> list[dict]:
    target = hand_raise_candidates(sandbox)[0]
    activity(sandbox, [demo_request(target)])
    hooks.deliver(ctx.store)
    drain(consumer_for(ctx))
    echoes = [p for p in hooks.payloads() if p.get("propertyName") == hp.LEAD_STATUS]
    assert echoes and all(p["changeSource"] == "INTEGRATION" for p in echoes)
    return echoes


def test_given_a_lead_status_change_by_another_app_when_consumed_then_the_contact_is_rescored(ctx, sandbox):
    hooks = synced(ctx, sandbox)
    echoes = echoes_of_a_write(ctx, sandbox, hooks)
    own_app = str(sandbox.portal.app_id)
    assert {str(p["sourceId"]) for p in echoes} == {own_app}
    other = [dict(p, eventId=p["eventId"] + 10_000, sourceId="4242") for p in echoes]
    reset(sandbox)
    assert hooks.enqueue(ctx.store, echoes + other).accepted == len(echoes) * 2
    results = drain(consumer_for(ctx))
    assert sum(r.ignored for r in results) == len(echoes)  # our own echoes only
    assert sum(r.contacts for r in results) == 1 and batch_reads(sandbox) == 1  # the other app's: rescored


def test_given_a_deletion_event_for_a_contact_hubspot_still_has_then_its_history_is_kept_and_it_is_rescored(
        ctx, sandbox):
    hooks = synced(ctx, sandbox)
    gone, still_there = list(portal_state(sandbox))[:2]
    req = urllib.request.Request(f"{sandbox.base_url}/crm/v3/objects/contacts/{gone}", method="DELETE",
                                 headers={"Authorization": "Bearer pat-sandbox"})
    urllib.request.urlopen(req).read()
    deletion = [p for p in hooks.payloads() if p["subscriptionType"] == "contact.deletion"]
    assert len(deletion) == 1
    # The same event for a contact HubSpot still has (stale, or restored since): a deletion the
    # portal does not confirm.
    stale = dict(deletion[0], eventId=deletion[0]["eventId"] + 10_000, objectId=int(still_there))
    before = rows_for(ctx.store, still_there)
    hooks.enqueue(ctx.store, deletion + [stale])
    results = drain(consumer_for(ctx))
    assert sum(r.forgotten for r in results) == 1 and sum(r.contacts for r in results) == 1
    assert rows_for(ctx.store, gone)["audit"] == 0
    assert rows_for(ctx.store, still_there)["audit"] == before["audit"] > 0
