"""The webhook queue consumer against the sandbox portal, with a real store (SQLite and PostgreSQL).

Events are the sandbox's own: what its portal publishes on each change is turned into HubSpot's
payloads by the sandbox's webhook code (for the subscriptions `connector setup` declares), parsed by
the web endpoint's parser and enqueued exactly as `POST /webhooks/hubspot` does. Only the HTTP hop
is left out here (tests/webhooks/test_webhooks_e2e.py covers it).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import Counter

import pytest
import sqlalchemy as sa

from connector.commands.setup import run_setup, webhook_subscriptions
from connector.consumer import WebhookConsumer
from connector.core import properties as hp
from connector.gateway import Gateway
from connector.sandbox.webhooks import Subscription, WebhookSender
from connector.store import EnqueueResult, Store
from connector.store.schema import audit, contact_state, outbox, score_history, webhook_events, write_failures
from connector.sync import SyncJob
from connector.webhooks.events import parse_delivery
from connector.writeback import RunCounts, WritePath
from tests.support.clock import FakeClock
from tests.support.sandbox import (
    DiesAfterWrites,
    activity,
    demo_request,
    hand_raise_candidates,
    portal_state,
    post_json,
    reset,
    sandbox_stats,
    writes,
)

BATCH_READ = "POST /crm/v3/objects/contacts/batch/read"
LEASE_MS = 30_000


# -- helpers ------------------------------------------------------------------------------------


def production_subscriptions(rules) -> list[Subscription]:
    """The subscriptions `connector setup` prints for these rules, as the sandbox's sender takes them."""
    subs = []
    for i, line in enumerate(webhook_subscriptions(rules)):
        kind, _, prop = line.partition(":")
        subs.append(Subscription(3000 + i, kind, prop or None))
    return subs


class Hooks:
    """What the sandbox portal publishes, queued as the web endpoint would queue it."""

    def __init__(self, sandbox, rules):
        self.portal = sandbox.portal
        self.sender = WebhookSender("http://127.0.0.1:9/unused", "test-secret", portal_id=self.portal.portal_id,
                                    app_id=self.portal.app_id, subscriptions=production_subscriptions(rules))
        self._lock = threading.Lock()
        self._pending: list[dict] = []
        self.published: list[dict] = []  # every change event, for per-contact write counts
        self.portal.publish = self._publish

    def _publish(self, events: list[dict]) -> None:
        with self._lock:
            self._pending.extend(events)
            self.published.extend(events)

    def payloads(self) -> list[dict]:
        """HubSpot's payloads (eventIds assigned) for everything published since the last call."""
        with self._lock:
            events, self._pending = self._pending, []
        return self.sender.payloads_for(events)

    def discard(self) -> None:
        self.payloads()

    @staticmethod
    def enqueue(store: Store, payloads: list[dict]) -> EnqueueResult:
        delivery = parse_delivery(json.dumps(payloads).encode())
        return store.enqueue_events([e.to_queue_row() for e in delivery.events])

    def deliver(self, store: Store) -> tuple[list[dict], EnqueueResult]:
        payloads = self.payloads()
        return payloads, self.enqueue(store, payloads)

    def connector_writes(self) -> Counter:
        """Per contact: how many of the connector's writes HubSpot applied. Every write carries a
        new lsc_last_scored, so each applied write publishes exactly one change of it."""
        with self._lock:
            return Counter(str(e["objectId"]) for e in self.published
                           if e["type"] == "propertyChange" and e.get("propertyName") == hp.LAST_SCORED
                           and e.get("changeSource") == "INTEGRATION")


def clock_in(seconds: float = 0.0) -> FakeClock:
    """A fake clock standing `seconds` after the real now (lease expiry without waiting 30 s)."""
    return FakeClock(time.time() + seconds)


def batch_reads(sandbox) -> int:
    return sandbox_stats(sandbox)["requests"].get(BATCH_READ, 0)


def rows_for(store: Store, contact_id: str) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)
                                     .where(t.c.contact_id == contact_id)).scalar_one()
                for t in (contact_state, outbox, audit, score_history, write_failures)}


def audit_count(store: Store, contact_id: str, prop: str = hp.LEAD_STATUS) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(audit).where(
            audit.c.contact_id == contact_id, audit.c.property == prop)).scalar_one()


def queue_status(store: Store) -> Counter:
    with store.engine.connect() as conn:
        return Counter(dict(conn.execute(sa.select(webhook_events.c.status, sa.func.count())
                                         .group_by(webhook_events.c.status)).all()))


def drain(consumer: WebhookConsumer, rounds: int = 20) -> list:
    results = []
    for _ in range(rounds):
        result = consumer.run_once()
        if not result.events:
            return results
        results.append(result)
    raise AssertionError(f"queue not drained after {rounds} batches")


def synced(ctx, sandbox) -> Hooks:
    """Setup and a first full sync (the portal scored), then start capturing webhooks."""
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    SyncJob(ctx.gateway, ctx.store, ctx.rules, overlap_s=300).run(full=True)
    hooks = Hooks(sandbox, ctx.rules)
    reset(sandbox)
    return hooks


def consumer_for(ctx, gateway: Gateway | None = None, **kw) -> WebhookConsumer:
    return WebhookConsumer(gateway or ctx.gateway, ctx.store, ctx.rules, lease_ms=LEASE_MS, **kw)


# -- tests --------------------------------------------------------------------------------------


def test_given_a_contact_made_a_demo_request_when_its_events_are_consumed_then_it_is_an_mql_in_hubspot(ctx, sandbox):
    hooks = synced(ctx, sandbox)
    target = hand_raise_candidates(sandbox)[0]
    activity(sandbox, [demo_request(target)])
    payloads, queued = hooks.deliver(ctx.store)
    assert queued.accepted == len(payloads) >= 1
    assert {p["objectId"] for p in payloads} == {int(target)}

    results = drain(consumer_for(ctx))
    after = portal_state(sandbox)[target]
    assert after[hp.LEAD_STATUS] == hp.MQL_STATUS
    assert after[hp.PATH] == "hand_raise"
    assert sum(r.written for r in results) == 1
    assert writes(sandbox) == 1 and batch_reads(sandbox) == 1
    assert audit_count(ctx.store, target) == 1
    assert queue_status(ctx.store) == Counter(done=len(payloads))


def test_given_events_redelivered_with_a_higher_attempt_number_when_consumed_then_queued_once_and_written_once(
        ctx, sandbox):
    hooks = synced(ctx, sandbox)
    target = hand_raise_candidates(sandbox)[0]
    activity(sandbox, [demo_request(target)])
    payloads, first = hooks.deliver(ctx.store)
    retry = [{**p, "attemptNumber": p["attemptNumber"] + 1} for p in payloads]
    again = hooks.enqueue(ctx.store, retry)  # a retry while the first delivery is still queued
    assert (first.accepted, again.accepted, again.duplicates) == (len(payloads), 0, len(payloads))
    drain(consumer_for(ctx))
    late = hooks.enqueue(ctx.store, [{**p, "attemptNumber": p["attemptNumber"] + 2} for p in payloads])
    assert late.accepted == 0  # a retry after the events were handled
    assert drain(consumer_for(ctx)) == []
    assert writes(sandbox) == 1
    assert hooks.connector_writes()[target] == 1
    assert audit_count(ctx.store, target) == 1
    assert ctx.store.count_rows("webhook_events") == len(payloads)


def test_given_ten_events_for_one_contact_when_consumed_then_one_batch_read_and_at_most_one_write(ctx, sandbox):
    hooks = synced(ctx, sandbox)
    target = hand_raise_candidates(sandbox)[0]
    pages = [{"contactId": target, "type": "page_view", "url": f"https://example.com/pricing?{i}"} for i in range(4)]
    activity(sandbox, [*pages, demo_request(target), {"contactId": target, "type": "email_open"}])
    payloads = [p for p in hooks.payloads()][:10]
    assert len(payloads) == 10 and {p["objectId"] for p in payloads} == {int(target)}
    assert hooks.enqueue(ctx.store, payloads).accepted == 10

    results = drain(consumer_for(ctx))
    assert [(r.events, r.contacts) for r in results] == [(10, 1)]
    assert batch_reads(sandbox) == 1
    assert writes(sandbox) <= 1 and hooks.connector_writes()[target] <= 1
    assert portal_state(sandbox)[target][hp.LEAD_STATUS] == hp.MQL_STATUS


@pytest.mark.parametrize("how", ["deletion", "privacyDeletion"])
def test_given_a_scored_contact_is_deleted_when_its_event_is_consumed_then_the_store_keeps_nothing_about_it(
        ctx, sandbox, how):
    hooks = synced(ctx, sandbox)
    state = portal_state(sandbox)
    target = next(cid for cid, v in state.items() if v[hp.LEAD_STATUS] == hp.MQL_STATUS)
    bystander = next(cid for cid, v in state.items() if v[hp.LEAD_STATUS] == hp.MQL_STATUS and cid != target)
    before = rows_for(ctx.store, target)
    assert before["contact_state"] == 1 and before["audit"] > 0 and before["score_history"] > 0
    kept = rows_for(ctx.store, bystander)
    if how == "deletion":
        req = urllib.request.Request(f"{sandbox.base_url}/crm/v3/objects/contacts/{target}", method="DELETE",
                                     headers={"Authorization": "Bearer pat-sandbox"})
        urllib.request.urlopen(req).read()
    else:
        post_json(sandbox, f"/_sandbox/contacts/{target}/privacy-delete", {})
    payloads, _ = hooks.deliver(ctx.store)
    kinds = {p["subscriptionType"] for p in payloads}
    assert ("contact.privacyDeletion" in kinds) == (how == "privacyDeletion") and "contact.deletion" in kinds

    results = drain(consumer_for(ctx))
    assert sum(r.forgotten for r in results) == 1
    assert rows_for(ctx.store, target) == dict.fromkeys(before, 0)
    assert rows_for(ctx.store, bystander) == kept
    # A deletion: one read, HubSpot must confirm the contact is gone before its local data is
    # erased. A privacy deletion (GDPR) is erased without asking.
    assert batch_reads(sandbox) == (1 if how == "deletion" else 0) and writes(sandbox) == 0


def _merge_and_check(ctx, sandbox, hooks, survivor: str, merged: str) -> None:
    before_s, before_m = rows_for(ctx.store, survivor), rows_for(ctx.store, merged)
    assert before_s["audit"] > 0 and before_m["audit"] > 0 and before_m["score_history"] > 0
    reset(sandbox)
    post_json(sandbox, "/crm/v3/objects/contacts/merge", {"primaryObjectId": survivor, "objectIdToMerge": merged})
    payloads, _ = hooks.deliver(ctx.store)
    assert any(p["subscriptionType"] == "contact.merge" for p in payloads)

    results = drain(consumer_for(ctx))
    assert sum(r.merged for r in results) == 1 and sum(r.contacts for r in results) == 1
    assert batch_reads(sandbox) == 1  # the survivor, re-read once (never the merged-away id)
    after_s, after_m = rows_for(ctx.store, survivor), rows_for(ctx.store, merged)
    assert after_m == dict.fromkeys(after_m, 0)
    assert after_s["audit"] >= before_s["audit"] + before_m["audit"]
    assert after_s["score_history"] >= before_s["score_history"] + before_m["score_history"]
    assert after_s["contact_state"] == 1
    # Rescored: planning the survivor again from HubSpot's current values finds nothing to change.
    path = WritePath(ctx.gateway, ctx.store, ctx.rules)
    contacts = ctx.gateway.batch_read_contacts([survivor], path.properties)
    path.enrich(contacts)
    planned, _ = path.plan(contacts, 0, RunCounts())
    assert planned == []


def test_given_two_contacts_scored_by_different_runs_when_merged_then_the_survivor_has_both_histories_and_is_rescored(
        ctx, sandbox):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    hooks = Hooks(sandbox, ctx.rules)
    survivor, merged = hand_raise_candidates(sandbox)[:2]
    for cid in (survivor, merged):  # each scored (and made an MQL) by a webhook batch of its own
        activity(sandbox, [demo_request(cid)])
        hooks.deliver(ctx.store)
        drain(consumer_for(ctx))
    hooks.discard()
    _merge_and_check(ctx, sandbox, hooks, survivor, merged)


def test_given_two_contacts_scored_by_the_same_sync_when_merged_then_the_survivor_has_both_histories_and_is_rescored(
        ctx, sandbox):
    hooks = synced(ctx, sandbox)
    survivor, merged = hand_raise_candidates(sandbox)[:2]
    _merge_and_check(ctx, sandbox, hooks, survivor, merged)


def test_given_echoes_of_the_connectors_own_writes_when_consumed_then_nothing_is_read(ctx, sandbox):
    hooks = synced(ctx, sandbox)
    target = hand_raise_candidates(sandbox)[0]
    activity(sandbox, [demo_request(target)])
    hooks.deliver(ctx.store)
    drain(consumer_for(ctx))
    echoes = hooks.payloads()  # what HubSpot sends back about that write
    assert echoes and all(p["changeSource"] == "INTEGRATION" for p in echoes)
    assert {p["propertyName"] for p in echoes} >= {hp.LEAD_STATUS}
    reset(sandbox)
    assert hooks.enqueue(ctx.store, echoes).accepted == len(echoes)

    results = drain(consumer_for(ctx))
    assert sum(r.ignored for r in results) == len(echoes) and sum(r.contacts for r in results) == 0
    assert sum(sandbox_stats(sandbox)["requests"].values()) == 0
    assert queue_status(ctx.store) == Counter(done=ctx.store.count_rows("webhook_events"))


def _crash_setup(ctx, sandbox, settings, *, read_s: float):
    """Set up (no sync: every contact needs a write), queue one event per contact, then a worker
    takes them all and dies right after its 2nd batch update of 100 landed."""
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    hooks = Hooks(sandbox, ctx.rules)
    ids = [str(i) for i in sandbox.portal.store("contacts").order]
    activity(sandbox, [{"contactId": cid, "type": "email_open"} for cid in ids])
    payloads = [p for p in hooks.payloads() if p.get("propertyName") == "hs_email_open"]
    assert sorted(str(p["objectId"]) for p in payloads) == sorted(ids)
    assert hooks.enqueue(ctx.store, payloads).accepted == len(ids) == 400
    reset(sandbox)
    clock = clock_in()
    dying = DiesAfterWrites("pat-sandbox", settings.hubspot_api_base, requests_per_10s=1000, search_per_second=1000,
                             die_after=2, clock=clock, read_s=read_s)
    with pytest.raises(SystemExit):
        consumer_for(ctx, dying, clock=clock, worker_id="dead:1").run_once()
    assert writes(sandbox) == 2
    assert queue_status(ctx.store) == Counter(taken=400)
    assert ctx.store.count_planned() == 100  # the 2nd batch landed but is unconfirmed
    return hooks, ids, clock


def _assert_recovered(ctx, sandbox, hooks, ids):
    assert queue_status(ctx.store) == Counter(done=400)
    assert ctx.store.count_planned() == 0
    per_contact = hooks.connector_writes()
    assert set(per_contact) == set(ids), "every contact rescored and written"
    assert max(per_contact.values()) == 1, f"written twice: {sorted(c for c, n in per_contact.items() if n > 1)[:10]}"
    assert writes(sandbox) == 4  # 400 contacts, 100 per batch update, none twice
    with ctx.store.engine.connect() as conn:
        audited = Counter(r[0] for r in conn.execute(
            sa.select(audit.c.contact_id).where(audit.c.property == hp.LAST_SCORED)))
    assert audited == Counter(dict.fromkeys(ids, 1))


def test_given_a_worker_killed_mid_batch_when_another_takes_over_after_the_lease_then_nothing_is_lost_or_written_twice(
        ctx, sandbox, settings):
    hooks, ids, clock = _crash_setup(ctx, sandbox, settings, read_s=0.0)
    # Within the lease the events stay the dead worker's: nothing is taken, nothing written.
    assert consumer_for(ctx, worker_id="live:2").run_once().events == 0
    assert writes(sandbox) == 2
    later = consumer_for(ctx, clock=clock_in(LEASE_MS / 1000 + 1), worker_id="live:2")
    results = drain(later)
    assert sum(r.events for r in results) == 400
    _assert_recovered(ctx, sandbox, hooks, ids)


def test_given_a_slow_batch_killed_mid_way_when_taken_over_right_after_the_lease_then_nothing_is_written_twice(
        ctx, sandbox, settings):
    # Each batch read takes 6 s: the 2nd batch is planned 12 s after the events were taken.
    hooks, ids, clock = _crash_setup(ctx, sandbox, settings, read_s=6.0)
    later = consumer_for(ctx, clock=clock_in(LEASE_MS / 1000 + 1), worker_id="live:2")
    drain(later)
    # Once the dead worker's outbox rows are older than a lease too, a further batch finishes them.
    drain(consumer_for(ctx, clock=clock_in(2 * LEASE_MS / 1000), worker_id="live:3"))
    _assert_recovered(ctx, sandbox, hooks, ids)
