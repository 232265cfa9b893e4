"""The main job end to end against the sandbox portal, with a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest

from connector.commands.setup import run_setup
from connector.context import Context
from connector.core import properties as hp
from connector.core.rules_file import load_rules
from connector.gateway import Gateway
from connector.list_path import FirstListPage
from connector.sandbox import Sandbox, SandboxConfig
from connector.settings import Settings
from connector.store import Store
from connector.sync import SyncJob, _Checkpoint, _Frontier, list_share
from tests.support.paths import SCORING
from tests.support.rules import without_activity
from tests.support.sandbox import DiesAfterWrites, calls, portal_state, reset, sales_update, sandbox_stats, writes


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


# -- a full pass through both budgets -------------------------------------------------------------

# Budgets where list pages get a share of the window in a run that writes every contact
# (list_share: (1000 - 5 x 200 x 10 / 100) / 2 = 450 per 10 s). With the tests' usual 1,000
# searches a second, search alone would read a portal before the window could serve its writes,
# and list pages would get none.
BOTH_PATHS = {"requests_per_10s": 1000, "search_per_second": 5}


class _TakesTurns(Gateway):
    """A gateway whose two readers of a full pass interleave: the search reader's first page waits
    for the list reader's first, and the list reader's later pages wait for the search's first."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.listed, self.searched = threading.Event(), threading.Event()

    def search_contacts(self, **kw):
        self.listed.wait(5)
        try:
            return super().search_contacts(**kw)
        finally:
            self.searched.set()

    def list_contacts(self, **kw):
        if kw.get("after"):
            self.searched.wait(5)
        try:
            return super().list_contacts(**kw)
        finally:
            self.listed.set()


def test_given_both_readers_take_turns_when_full_sync_then_each_reads_its_end_and_every_contact_is_read_once(
        ctx, sandbox, settings):
    _setup(ctx)
    gateway = _TakesTurns("pat-sandbox", settings.hubspot_api_base, **BOTH_PATHS)
    summary = run_sync(ctx, full=True, gateway=gateway)
    assert summary.reads["list"] >= 100 and summary.reads["search"] >= 200  # first pages: 100 up, 200 down
    assert summary.reads["list"] + summary.reads["search"] == summary.pulled == 400  # nobody read twice
    assert summary.written == 400 and len(portal_state(sandbox)) == 400
    assert f"reads=search:{summary.reads['search']}/{summary.calls['search']},list:{summary.reads['list']}/" \
           f"{summary.calls['list']} write_calls=4" in summary.line()


@contextmanager
def _set_up_portal(store, *, contacts: int):
    """A portal of its own size (the fixture's 400 are read in too few pages), set up, with a
    context on the test's store: yields (sandbox, context)."""
    with Sandbox(SandboxConfig(contacts=contacts, seed=3, tier="unlimited")) as sb:
        settings = Settings(hubspot_access_token="pat-sandbox", hubspot_api_base=sb.base_url, scoring_config=SCORING,
                            hubspot_requests_per_10s=1000, hubspot_search_per_second=1000)
        ctx = Context(settings, load_rules(SCORING), store, Gateway.from_settings(settings))
        _setup(ctx)
        yield sb, ctx


class _DiesOnThirdListPage(_TakesTurns):
    """List page 1 (100 lowest ids), then search page 1 (200 highest), then list page 2; the
    process dies asking for list page 3, while the search reader waits to read its second."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.list_pages = 0

    def search_contacts(self, **kw):
        if self.searched.is_set():
            time.sleep(1)  # past the death: this page is never handed over
        return super().search_contacts(**kw)

    def list_contacts(self, **kw):
        self.list_pages += 1
        if self.list_pages == 3:
            raise SystemExit("killed")
        return super().list_contacts(**kw)


def test_given_a_full_pass_killed_mid_way_when_rerun_then_it_resumes_from_both_ends_and_reads_only_the_rest(
        store):
    with _set_up_portal(store, contacts=1000) as (sb, ctx):
        # Without activity rules each page is committed once planned (with them, after its group's
        # activity read: tests/engagement/test_grouped_reads.py).
        ctx.rules = without_activity(ctx.rules)
        dying = _DiesOnThirdListPage("pat-sandbox", sb.base_url, **BOTH_PATHS)
        with pytest.raises(SystemExit):
            SyncJob(dying, store, ctx.rules).run(full=True)
        killed = store.unfinished_run("full")
        assert killed is not None and _Checkpoint.decode(killed.checkpoint_id).list_after  # both ends kept
        resumed = run_sync(ctx, full=True)
        assert resumed.run_id == killed.id
        assert resumed.pulled == 1000 - 400  # list pages 1 and 2 and search page 1 are not read again
        assert store.count_rows("outbox") == 0
        assert all(v[hp.SCORE] is not None for v in portal_state(sb).values())


class _CountsListStarts(Gateway):
    """Counts the list pages asked for from the lowest id (no `after` token)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.list_starts = 0

    def list_contacts(self, **kw):
        if kw.get("after") is None:
            self.list_starts += 1
        return super().list_contacts(**kw)


def _now_ms() -> int:
    return int(time.time() * 1000)


@pytest.mark.parametrize("same_properties", [True, False])
def test_given_a_list_page_asked_for_early_when_a_fresh_full_pass_runs_then_it_is_used_if_it_read_the_same_properties(
        ctx, sandbox, settings, same_properties):
    _setup(ctx)
    gateway = _CountsListStarts("pat-sandbox", settings.hubspot_api_base, **BOTH_PATHS)
    reads = SyncJob(gateway, ctx.store, ctx.rules, dry_run=True).path.properties
    asked = reads if same_properties else [*reads, "jobtitle_of_another_config"]
    reset(sandbox)
    early = FirstListPage(gateway, asked, _now_ms)
    summary = SyncJob(gateway, ctx.store, ctx.rules, dry_run=True, first_list_page=early).run(full=True)
    assert summary.pulled == summary.reads["list"] + summary.reads["search"] == 400  # all, none twice
    assert gateway.list_starts == (1 if same_properties else 2)  # other properties: read again
    listed = sandbox_stats(sandbox)["requests"]["GET /crm/v3/objects/contacts"]
    assert summary.calls["list"] == listed  # the early page is one of the pass's calls


def test_given_a_killed_pass_kept_its_list_token_when_resumed_with_a_page_asked_for_early_then_that_page_is_not_used(
        store):
    with _set_up_portal(store, contacts=1000) as (sb, ctx):
        ctx.rules = without_activity(ctx.rules)
        with pytest.raises(SystemExit):
            SyncJob(_DiesOnThirdListPage("pat-sandbox", sb.base_url, **BOTH_PATHS), store, ctx.rules).run(full=True)
        gateway = _CountsListStarts("pat-sandbox", sb.base_url, **BOTH_PATHS)
        early = FirstListPage(gateway, SyncJob(gateway, store, ctx.rules).path.properties, _now_ms)
        resumed = SyncJob(gateway, store, ctx.rules, first_list_page=early).run(full=True)
        assert resumed.pulled == 1000 - 400  # the rest only: the lowest ids are not read into it again
        assert gateway.list_starts == 1  # the early page, read for nothing
        assert all(v[hp.SCORE] is not None for v in portal_state(sb).values())


def test_given_a_full_run_an_older_version_left_when_rerun_then_search_resumes_after_its_one_id(ctx, sandbox):
    _setup(ctx)
    now = int(time.time() * 1000)
    old = ctx.store.start_run("full", now, None)
    ctx.store.checkpoint(old.id, "250", {}, {}, [], now)
    summary = run_sync(ctx, full=True)
    above = [cid for cid in portal_state(sandbox) if int(cid) > 250]
    assert summary.run_id == old.id
    assert summary.pulled == len(above) > 0 and summary.reads == {"search": len(above)}


@pytest.mark.parametrize(("checkpoint", "text"), [
    (_Checkpoint(), ":"),
    (_Checkpoint(high=19_801, list_after="296"), "19801:296"),
    (_Checkpoint(high=None, list_after="NTI1Cg=="), ":NTI1Cg=="),  # a token may hold '=' and ':'
    (_Checkpoint(high=19_801, list_done=True, low=9_870), "19801=9870"),
    (_Checkpoint(high=5, list_done=True), "5="),
])
def test_given_a_full_pass_checkpoint_when_encoded_then_it_decodes_to_the_same(checkpoint, text):
    assert checkpoint.encode() == text
    assert _Checkpoint.decode(text) == checkpoint


def test_given_a_list_token_too_long_for_the_column_when_encoded_then_the_list_starts_again_on_resume():
    text = _Checkpoint(high=123_456_789_012, list_after="x" * 40).encode()
    assert text == "123456789012:" and _Checkpoint.decode(text) == _Checkpoint(high=123_456_789_012)
    assert _Checkpoint.decode("250") is None  # one id: an older version's ascending search


@pytest.mark.parametrize(("window_max", "search_per_s", "written", "share"), [
    (190, 5, 0.0, 190),  # read-only: list pages may take the whole window
    (190, 5, 1.0, 45),  # professional, every contact written: the 13.8 s bound's rate for 20,000
    (100, 5, 1.0, 0),  # starter, every contact written: search's writes alone fill the window
    (100, 5, 0.1, 81),  # a nightly pass writing one contact in ten
])
def test_given_the_limits_and_the_share_written_when_splitting_the_window_then_list_pages_get_what_writes_leave(
        window_max, search_per_s, written, share):
    assert list_share(window_max, 10.0, search_per_s, written) == share


def _contacts(*ids):
    return [{"id": str(i)} for i in ids]


def test_given_pages_from_both_ends_when_they_cross_then_each_id_is_kept_once_and_none_is_missed():
    frontier = _Frontier(None, None, low_known=True)
    stop = threading.Event()
    assert frontier.from_bottom(_contacts(1, 2, 4)) == (_contacts(1, 2, 4), False)
    assert frontier.from_top(_contacts(20, 17, 15), stop) == (_contacts(20, 17, 15), False)
    assert frontier.from_top(_contacts(12, 9, 8), stop) == (_contacts(12, 9, 8), False)
    # The list page reaches past the search's lowest id: it keeps what lies between, and the pass is complete.
    assert frontier.from_bottom(_contacts(5, 7, 8, 9)) == (_contacts(5, 7), True)
    assert frontier.from_top(_contacts(6, 5, 3), stop) == ([], True)


def test_given_list_pages_out_of_id_order_when_taken_then_the_pass_stops_instead_of_missing_contacts():
    from connector.errors import HubSpotError

    frontier = _Frontier(None, None, low_known=True)
    frontier.from_bottom(_contacts(1, 2, 3))
    with pytest.raises(HubSpotError, match="out of id order"):
        frontier.from_bottom(_contacts(7, 5, 9))


class _RefusesOldTokens(_DiesOnThirdListPage):
    """After the kill, HubSpot no longer takes the list token the killed pass kept (400, once: the
    same text handed out afresh by a new listing is taken)."""

    def __init__(self, *a, refused: str, **kw):
        super().__init__(*a, **kw)
        self.refused, self.list_pages = refused, -100  # never dies

    def list_contacts(self, **kw):
        if kw.get("after") == self.refused and self.refused is not None:
            from connector.errors import ValidationError

            self.refused = None
            raise ValidationError("HubSpot answered 400 to GET /crm/v3/objects/contacts: invalid after")
        return Gateway.list_contacts(self, **kw)


def test_given_the_kept_list_token_is_refused_when_resumed_then_the_list_path_starts_again_and_the_pass_completes(
        store):
    with _set_up_portal(store, contacts=1000) as (sb, ctx):
        with pytest.raises(SystemExit):
            SyncJob(_DiesOnThirdListPage("pat-sandbox", sb.base_url, **BOTH_PATHS),
                    store, ctx.rules).run(full=True)
        kept = _Checkpoint.decode(store.unfinished_run("full").checkpoint_id).list_after
        refusing = _RefusesOldTokens("pat-sandbox", sb.base_url, **BOTH_PATHS,
                                     refused=kept)
        refusing.listed.set()
        refusing.searched.set()
        resumed = run_sync(ctx, full=True, gateway=refusing)
        assert resumed.failed == 0 and store.count_rows("outbox") == 0
        assert 1000 - 400 <= resumed.pulled <= 1000  # the list's first 200 may be read again, nothing is missed
        assert all(v[hp.SCORE] is not None for v in portal_state(sb).values())
