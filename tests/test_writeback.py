"""Finishing the writes a dead process planned: newest plan wins, full batches, nothing twice."""

from __future__ import annotations

from connector.commands.setup import run_setup
from connector.core import properties as hp
from connector.store import PlannedWrite
from connector.store.outbox import _outbox_row
from connector.store.schema import outbox
from connector.writeback import RunCounts, WritePath
from tests.support.sandbox import portal_state, reset, writes


def _plan(store, kind: str, contact_id: str, score: str) -> PlannedWrite:
    run = store.start_run(kind, 1_000, None)
    w = PlannedWrite(contact_id, run.id, {hp.SCORE: score}, {hp.SCORE: None}, {"t": int(score)}, "test",
                     {"total": int(score), "fit": 0, "engagement": int(score), "grade": "C1"})
    # Straight into the outbox: checkpoint keeps one writer per contact now, but an outbox written
    # by an older version (or two dead processes racing before that rule) may hold two plans.
    with store.engine.begin() as conn:
        conn.execute(outbox.insert(), [_outbox_row(w, 1_000)])
    return w


def test_given_two_dead_runs_planned_one_contact_when_finished_then_only_the_newest_plan_is_written(ctx, sandbox):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    cid = next(iter(portal_state(sandbox)))
    _plan(ctx.store, "webhook", cid, "11")
    _plan(ctx.store, "webhook", cid, "22")
    reset(sandbox)
    WritePath(ctx.gateway, ctx.store, ctx.rules).finish_planned(RunCounts(), kinds=("webhook",))
    assert portal_state(sandbox)[cid][hp.SCORE] == "22"
    assert writes(sandbox) == 1
    assert ctx.store.count_planned() == 0
    assert [r["new_value"] for r in ctx.store.audit_for(cid)] == ["22"]


def test_given_250_unsent_plans_when_finished_then_they_go_in_3_full_batches(ctx, sandbox):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    ids = list(portal_state(sandbox))[:250]
    run = ctx.store.start_run("full", 1_000, None)
    planned = [PlannedWrite(cid, run.id, {hp.SCORE: "7"}, {hp.SCORE: None}, {}, "", {}) for cid in ids]
    ctx.store.checkpoint(run.id, ids[-1], {}, {}, planned, now=1_000)
    reset(sandbox)
    tally = RunCounts()
    WritePath(ctx.gateway, ctx.store, ctx.rules).finish_planned(tally, kinds=("full",))
    assert tally.written == 250 and writes(sandbox) == 3
    assert all(portal_state(sandbox)[cid][hp.SCORE] == "7" for cid in ids)


def test_given_plans_that_already_landed_when_finished_then_confirmed_without_writing(ctx, sandbox):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    cid = next(iter(portal_state(sandbox)))
    w = _plan(ctx.store, "full", cid, "33")
    ctx.gateway.batch_update_contacts([(cid, w.changes)])  # it landed, then the process died
    reset(sandbox)
    WritePath(ctx.gateway, ctx.store, ctx.rules).finish_planned(RunCounts(), kinds=("full",))
    assert writes(sandbox) == 0
    assert ctx.store.count_planned() == 0 and len(ctx.store.audit_for(cid)) == 1


def test_given_one_invalid_value_in_a_batch_when_written_then_only_it_fails_and_the_rest_land(ctx, sandbox):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    ids = list(portal_state(sandbox))[:10]
    run = ctx.store.start_run("full", 1_000, None)
    planned = [PlannedWrite(cid, run.id, {hp.SCORE: "5"}, {}, {}, "", {}) for cid in ids]
    planned[3] = PlannedWrite(ids[3], run.id, {hp.LEAD_STATUS: "NOT_AN_OPTION"}, {}, {}, "", {})
    ctx.store.checkpoint(run.id, ids[-1], {}, {}, planned, now=1_000)
    tally = RunCounts()
    WritePath(ctx.gateway, ctx.store, ctx.rules).write(planned, tally)  # HubSpot refuses the whole batch: 400
    assert (tally.written, tally.failed) == (9, 1)
    assert ctx.store.count_rows("write_failures") == 1 and ctx.store.count_planned() == 0
    assert all(portal_state(sandbox)[cid][hp.SCORE] == "5" for i, cid in enumerate(ids) if i != 3)


def test_given_a_person_changed_the_value_after_a_dead_run_planned_when_finished_then_the_plan_is_dropped(ctx, sandbox):
    from tests.support.sandbox import sales_update

    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    cid = next(cid for cid, v in portal_state(sandbox).items() if v[hp.LEAD_STATUS] in ("NEW", "OPEN"))
    before = portal_state(sandbox)[cid][hp.LEAD_STATUS]
    run = ctx.store.start_run("full", 1_000, None)
    plan = PlannedWrite(cid, run.id, {hp.LEAD_STATUS: hp.MQL_STATUS}, {hp.LEAD_STATUS: before}, {}, "", {})
    ctx.store.checkpoint(run.id, cid, {}, {}, [plan], now=1_000)
    sales_update(sandbox, cid, {hp.LEAD_STATUS: "IN_PROGRESS"})  # then the process died; sales worked the lead
    reset(sandbox)
    WritePath(ctx.gateway, ctx.store, ctx.rules).finish_planned(RunCounts(), kinds=("full",))
    assert portal_state(sandbox)[cid][hp.LEAD_STATUS] == "IN_PROGRESS"
    assert writes(sandbox) == 0 and ctx.store.count_planned() == 0
