"""One writer per contact across the sync and the webhook worker (issue 10, point 4): the same
change is never planned and written twice, and a later read never loses to an earlier write."""

from __future__ import annotations

import threading
import time

from connector.core import properties as hp
from connector.gateway import Gateway
from connector.store import PlannedWrite
from connector.sync import SyncJob
from tests.support.clock import FakeClock
from tests.support.sandbox import activity, demo_request, hand_raise_candidates, portal_state
from tests.test_consumer import LEASE_MS, audit_count, consumer_for, queue_status, synced


def plan(run_id: int, cid: str, read_at: int) -> PlannedWrite:
    return PlannedWrite(cid, run_id, {hp.SCORE: "9"}, {hp.SCORE: None}, {}, "", {}, planned_at=read_at,
                        read_at=read_at)


def test_given_a_contact_planned_by_one_run_when_another_plans_it_then_the_second_is_refused(store):
    a, b = store.start_run("full", 1_000, None), store.start_run("webhook", 1_000, None)
    assert store.checkpoint(a.id, "1", {}, {}, [plan(a.id, "1", 1_000), plan(a.id, "2", 1_000)], 1_000) == set()
    assert store.checkpoint(b.id, "3", {}, {}, [plan(b.id, "1", 1_100), plan(b.id, "3", 1_100)], 1_100) == {"1"}
    assert sorted((p.contact_id, p.run_id) for p in store.planned_writes()) == [
        ("1", a.id), ("2", a.id), ("3", b.id)]


def test_given_a_contact_written_after_a_read_when_that_read_is_planned_then_it_is_refused(store):
    a, b = store.start_run("webhook", 1_000, None), store.start_run("full", 1_000, None)
    store.checkpoint(a.id, "1", {}, {}, [plan(a.id, "1", 1_000)], 1_000)
    store.confirm_writes(store.planned_writes(), 2_000)  # run a's write landed at 2,000
    assert store.checkpoint(b.id, "1", {}, {}, [plan(b.id, "1", 1_500)], 2_100) == {"1"}  # read before it
    assert store.checkpoint(b.id, "1", {}, {}, [plan(b.id, "1", 2_500)], 2_600) == set()  # read after it


def test_given_a_lagging_read_that_misses_another_runs_write_then_its_plan_is_refused(store):
    """HubSpot's search lags writes: a page read after run a's write may still show the values from
    before it. Its lsc_last_scored is not the one run a wrote: the plan is refused."""
    a, b = store.start_run("webhook", 1_000, None), store.start_run("full", 1_000, None)
    written = PlannedWrite("1", a.id, {hp.LAST_SCORED: "2026-12-01T10:00:00.000Z", hp.SCORE: "50"},
                           {hp.LAST_SCORED: "2026-11-30T09:00:00.000Z", hp.SCORE: "10"}, {}, "", {}, planned_at=1_000)
    store.checkpoint(a.id, "1", {}, {}, [written], 1_000)
    store.confirm_writes(store.planned_writes(), 2_000)

    def seen(last_scored: str) -> PlannedWrite:
        return PlannedWrite("1", b.id, {hp.LAST_SCORED: "2026-12-01T10:05:00.000Z", hp.SCORE: "12"},
                            {hp.LAST_SCORED: last_scored, hp.SCORE: "10"}, {}, "", {}, planned_at=3_000, read_at=3_000)

    assert store.checkpoint(b.id, "1", {}, {}, [seen("2026-11-30T09:00:00.000Z")], 3_000) == {"1"}  # stale
    assert store.checkpoint(b.id, "1", {}, {}, [seen("1796119200000")], 3_000) == set()  # shows a's write (ms form)


def test_given_an_unchanged_contact_read_before_another_runs_write_then_its_history_is_not_saved(store):
    a, b = store.start_run("webhook", 1_000, None), store.start_run("full", 1_000, None)
    store.checkpoint(a.id, "1", {}, {}, [PlannedWrite("1", a.id, {hp.SCORE: "9"}, {hp.SCORE: None},
                                                      {"p": "hand_raise"}, "", {}, planned_at=1_000)], 1_000)
    store.confirm_writes(store.planned_writes(), 2_000)
    store.checkpoint(b.id, "2", {}, {"1": {"p": "none"}, "2": {"p": "none"}}, [], 2_500, read_at=1_500)
    assert store.get_histories(["1", "2"]) == {"1": {"p": "hand_raise"}, "2": {"p": "none"}}


class HeldWrites(Gateway):
    """A gateway whose batch updates wait until the test lets them go (a write in flight)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.planned = threading.Event()
        self.go = threading.Event()

    def batch_update_contacts(self, updates):
        self.planned.set()
        assert self.go.wait(30), "the test never released the write"
        return super().batch_update_contacts(updates)


def held_gateway(settings) -> HeldWrites:
    return HeldWrites.from_settings(settings)


def test_given_the_sync_holds_a_contact_when_its_webhook_arrives_then_the_worker_waits_and_writes_nothing_twice(
        ctx, sandbox, settings):
    hooks = synced(ctx, sandbox)
    target = hand_raise_candidates(sandbox)[0]
    activity(sandbox, [demo_request(target)])
    gateway = held_gateway(settings)
    sync = threading.Thread(target=lambda: SyncJob(gateway, ctx.store, ctx.rules, writers=1).run(full=True))
    sync.start()
    try:
        assert gateway.planned.wait(30)  # the sync planned the contact's MQL, its write is in flight
        hooks.deliver(ctx.store)
        clock = FakeClock(time.time())  # the same time line as the sync's real clock
        worker = consumer_for(ctx, clock=clock)
        first = worker.run_once()
        assert (first.deferred, first.written) == (first.events, 0)
    finally:
        gateway.go.set()
        sync.join(60)
    assert portal_state(sandbox)[target][hp.LEAD_STATUS] == hp.MQL_STATUS
    clock.advance(LEASE_MS / 1000)  # past the deferral: the worker reads the contact again
    again = worker.run_once()
    assert again.events == first.events and again.written == 0  # the sync's write is what it sees
    assert audit_count(ctx.store, target) == 1
    assert queue_status(ctx.store)["done"] >= first.events


def test_given_the_worker_holds_a_contact_when_the_sync_reads_it_then_the_sync_leaves_it_alone(
        ctx, sandbox, settings):
    hooks = synced(ctx, sandbox)
    target = hand_raise_candidates(sandbox)[0]
    activity(sandbox, [demo_request(target)])
    hooks.deliver(ctx.store)
    gateway = held_gateway(settings)
    worker = consumer_for(ctx, gateway=gateway)
    consumed = threading.Thread(target=worker.run_once)
    consumed.start()
    try:
        assert gateway.planned.wait(30)  # the worker planned the MQL, its write is in flight
        summary = SyncJob(ctx.gateway, ctx.store, ctx.rules).run(full=True)
        assert summary.held == 1 and summary.written == 0 and summary.mql_new == 0
    finally:
        gateway.go.set()
        consumed.join(60)
    assert portal_state(sandbox)[target][hp.LEAD_STATUS] == hp.MQL_STATUS
    assert audit_count(ctx.store, target) == 1
