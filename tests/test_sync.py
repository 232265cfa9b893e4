"""The main job end to end against the sandbox portal, with a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import pytest

from connector.commands.setup import run_setup
from connector.core import properties as hp
from connector.gateway import Gateway
from connector.sandbox import Sandbox, SandboxConfig
from connector.store import Store
from connector.sync import SyncJob
from tests.support.sandbox import DiesAfterWrites, calls, portal_state, reset, sales_update, writes


def _setup(ctx):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)



def run_sync(ctx, full=False, gateway=None, **kw):
    return SyncJob(gateway or ctx.gateway, ctx.store, ctx.rules, overlap_s=300, **kw).run(full=full)


def test_given_fresh_portal_when_full_sync_then_every_contact_scored_and_mqls_written(ctx, sandbox):
    _setup(ctx)
    summary = run_sync(ctx, full=True)
    state = portal_state(sandbox)
    assert summary.pulled == len(state) == 400
    assert all(v[hp.SCORE] is not None and v[hp.GRADE] for v in state.values())
    mqls = [cid for cid, v in state.items() if v[hp.LEAD_STATUS] == hp.MQL_STATUS]
    assert len(mqls) == summary.mql_new > 0
    assert all(state[c][hp.LIFECYCLE_STAGE] in ("marketingqualifiedlead",)
               or state[c][hp.LIFECYCLE_STAGE] not in ("subscriber", "lead")
               for c in mqls)
    assert sum(summary.by_path.values()) == summary.mql_new
    assert ctx.store.count_rows("outbox") == 0
    assert ctx.store.count_rows("audit") >= summary.written


def test_given_synced_portal_when_nothing_changes_then_next_sync_writes_nothing_and_the_one_after_makes_at_most_2_calls(
        ctx, sandbox):
    _setup(ctx)
    run_sync(ctx, full=True)
    reset(sandbox)
    second = run_sync(ctx)
    assert second.written == 0 and writes(sandbox) == 0
    reset(sandbox)
    third = run_sync(ctx)
    assert third.pulled == 0
    assert calls(sandbox) <= 2


def test_given_dry_run_when_sync_then_changes_are_planned_but_nothing_is_written_anywhere(ctx, sandbox):
    _setup(ctx)
    before = portal_state(sandbox)
    reset(sandbox)
    summary = run_sync(ctx, full=True, dry_run=True)
    assert summary.changed == 400 and len(summary.planned) == 400
    assert writes(sandbox) == 0
    assert portal_state(sandbox) == before
    assert ctx.store.count_rows("audit") == 0 and ctx.store.count_rows("contact_state") == 0


def test_given_a_person_changed_the_status_after_the_connector_when_sync_then_it_is_not_overwritten(ctx, sandbox):
    _setup(ctx)
    run_sync(ctx, full=True)
    mql = next(cid for cid, v in portal_state(sandbox).items() if v[hp.LEAD_STATUS] == hp.MQL_STATUS)
    sales_update(sandbox, mql, {hp.LEAD_STATUS: "OPEN"})
    run_sync(ctx)
    run_sync(ctx, full=True)
    assert portal_state(sandbox)[mql][hp.LEAD_STATUS] == "OPEN"


def test_given_new_engagement_when_incremental_sync_then_only_that_contact_is_read_and_rescored(ctx, sandbox):
    _setup(ctx)
    run_sync(ctx, full=True)
    run_sync(ctx)  # sees the echo of its own writes
    target = next(cid for cid, v in portal_state(sandbox).items() if v[hp.LEAD_STATUS] != hp.MQL_STATUS
                  and v[hp.LIFECYCLE_STAGE] in ("subscriber", "lead"))
    sandbox.portal.apply_activity([{"contactId": target, "type": "form_submission", "formName": "Demo request"}])
    # A change in the very millisecond a run starts belongs to the next run's window (the window
    # ends before its start, and the next one looks back from there): let a millisecond pass.
    time.sleep(0.005)
    summary = run_sync(ctx)
    assert summary.pulled == 1
    after = portal_state(sandbox)[target]
    assert after[hp.LEAD_STATUS] == hp.MQL_STATUS
    assert after[hp.PATH] == "hand_raise"


@pytest.mark.parametrize("die_after", [1, 3])
def test_given_run_killed_after_a_write_landed_when_rerun_then_state_equals_uninterrupted_and_audit_has_no_duplicates(
        ctx, sandbox, settings, tmp_path, die_after):
    _setup(ctx)
    dying = DiesAfterWrites("pat-sandbox", settings.hubspot_api_base, requests_per_10s=1000, search_per_second=1000,
                         die_after=die_after)
    with pytest.raises(SystemExit):
        SyncJob(dying, ctx.store, ctx.rules, writers=1).run(full=True)
    assert ctx.store.count_planned() > 0
    resumed = run_sync(ctx, full=True)
    assert resumed.recovered > 0
    assert ctx.store.count_rows("outbox") == 0

    # The same portal synced without interruption, into a store of its own.
    with Sandbox(SandboxConfig(contacts=400, seed=3, tier="unlimited")) as reference:
        ref_store = Store(f"sqlite:///{tmp_path / 'reference.db'}")
        ref_store.upgrade()
        ref_gateway = Gateway.from_settings(settings.with_overrides(hubspot_api_base=reference.base_url))
        run_setup(ref_gateway, ref_store, ctx.rules, "pat-sandbox", dry_run=False)
        SyncJob(ref_gateway, ref_store, ctx.rules).run(full=True)
        assert portal_state(sandbox) == portal_state(reference)
        assert ctx.store.count_rows("audit") == ref_store.count_rows("audit")
        ref_store.dispose()


class _NetworkDiesAfterWrites(DiesAfterWrites):
    """HubSpot becomes unreachable right after the n-th batch update landed (the run fails)."""

    def batch_update_contacts(self, updates):
        try:
            return super().batch_update_contacts(updates)
        except SystemExit:
            from connector.errors import UnreachableError

            raise UnreachableError("cannot reach HubSpot") from None


def test_given_a_run_failed_mid_way_when_sync_again_then_it_resumes_that_run_and_finishes(ctx, sandbox, settings):
    from connector.errors import UnreachableError

    _setup(ctx)
    failing = _NetworkDiesAfterWrites("pat-sandbox", settings.hubspot_api_base, requests_per_10s=1000,
                                      search_per_second=1000, die_after=2)
    with pytest.raises(UnreachableError):
        SyncJob(failing, ctx.store, ctx.rules, writers=1).run(full=True)
    failed_run = ctx.store.unfinished_run("full")
    assert failed_run is not None
    resumed = run_sync(ctx, full=True)
    assert resumed.run_id == failed_run.id
    assert ctx.store.count_planned() == 0
    assert all(v[hp.SCORE] is not None for v in portal_state(sandbox).values())
