"""HubSpot is the source of truth; the store is a cache that can be rebuilt (issue 10, point 1).

A sync on an empty (or lost, or misplaced) store reads the connector's state back from each
contact's lsc_state and decides exactly as it would have with the store: nothing is rewritten,
no qualification path is relabelled, no engagement is counted twice."""

from __future__ import annotations

import pytest

from connector.commands.setup import run_setup
from connector.core import properties as hp
from connector.core.model import History
from connector.core.state import decode
from connector.gateway import Gateway
from connector.sandbox import Sandbox, SandboxConfig
from connector.settings import Settings
from connector.store import Store
from connector.sync import SyncJob
from tests.support.clock import FakeClock
from tests.support.sandbox import activity, portal_state, reset, writes

DAY = 86400.0
T0 = 1_795_000_000.0  # 2026-11-18


def sync(gateway, store, rules, clock, full=True):
    return SyncJob(gateway, store, rules, overlap_s=300, clock=clock).run(full=full)


def empty_store(tmp_path, name: str) -> Store:
    store = Store(Settings(database_url=f"sqlite:///{tmp_path / name}").sqlalchemy_url)
    store.upgrade()
    return store


def test_given_a_synced_portal_when_the_store_is_replaced_by_an_empty_one_then_a_full_sync_writes_nothing(
        ctx, sandbox, tmp_path):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    clock = FakeClock(T0)
    first = sync(ctx.gateway, ctx.store, ctx.rules, clock)
    assert first.written == 400
    before = portal_state(sandbox)
    paths = {cid: v[hp.PATH] for cid, v in before.items()}
    assert set(paths.values()) >= {"score", "none"}

    # Same instant: with its own store the run would write nothing (decay over time moves some
    # rounded scores, alike with or without the store: the twin test below shows that case).
    fresh = empty_store(tmp_path, "empty.db")
    reset(sandbox)
    again = sync(ctx.gateway, fresh, ctx.rules, clock)
    assert (again.written, writes(sandbox)) == (0, 0)
    assert again.rebuilt == 400
    assert portal_state(sandbox) == before
    assert {cid: v[hp.PATH] for cid, v in portal_state(sandbox).items()} == paths
    # The rebuilt store now holds what HubSpot holds: the next run uses it, still writing nothing.
    assert fresh.count_rows("contact_state") == 400
    assert sync(ctx.gateway, fresh, ctx.rules, clock).written == 0


def test_given_decay_and_new_engagement_when_one_portal_keeps_its_store_and_its_twin_loses_it_then_both_end_alike(
        tmp_path):
    """Twin portals (same seed), synced alike; 20 days later, with the same new page views on
    both, one syncs with its store and the other with an empty one: the same values result."""
    rules = None
    twins = []
    for name in ("kept", "lost"):
        sb = Sandbox(SandboxConfig(contacts=300, seed=11, tier="unlimited")).__enter__()
        settings = Settings(hubspot_access_token="pat-sandbox", hubspot_api_base=sb.base_url,
                            database_url=f"sqlite:///{tmp_path / (name + '.db')}")
        from connector.core.rules_file import load_rules

        rules = rules or load_rules(settings.scoring_config)
        gateway = Gateway.from_settings(settings)
        store = Store.from_settings(settings)
        store.upgrade()
        run_setup(gateway, store, rules, "pat-sandbox", dry_run=False)
        twins.append((sb, gateway, store))
    try:
        clock = FakeClock(T0)
        for _, gateway, store in twins:
            sync(gateway, store, rules, clock)
        assert portal_state(twins[0][0]) == portal_state(twins[1][0])
        clock.advance(20 * DAY)
        views = [{"contactId": str(cid), "type": "page_view", "url": "https://example.com/pricing"}
                 for cid in range(1, 301, 7)]
        for sb, _, _ in twins:
            activity(sb, views)
        kept = sync(twins[0][1], twins[0][2], rules, clock)
        lost = sync(twins[1][1], empty_store(tmp_path, "replacement.db"), rules, clock)
        assert kept.written > 0  # decay and the new views moved some scores
        assert lost.written == kept.written and lost.rebuilt == 300
        assert portal_state(twins[0][0]) == portal_state(twins[1][0])
    finally:
        for sb, _, store in twins:
            store.dispose()
            sb.__exit__(None, None, None)


@pytest.mark.parametrize("value", [
    None, "", "not json", '{"v": 99, "s": "MQL"}', '["a list"]', '{"v":1,"h":5}', '{"v":1,"at":"x"}',
    '{"v":1,"n":"2"}', '{"v":1,"m":"x"}', '{"v":1,"at":Infinity}', '{"v":1,"at":NaN}', '{"v":1,"at":1e30}',
    '{"v":1,"r":[["views",1]]}', '{"v":1,"r":[["views","1",2]]}', '{"v":1,"p":"hacked"}', '{"v":1,"s":7}',
    '{"v":1,"at":' + str(T0 + 86400) + "}",  # from the future
    "[" * 100_000 + "]" * 100_000,
])
def test_given_no_or_an_unreadable_or_untrusted_state_then_the_store_starts_from_nothing(value):
    assert decode(value, now=T0) is None


def test_given_a_contact_with_a_poisoned_state_when_synced_on_an_empty_store_then_the_run_goes_on(
        ctx, sandbox, tmp_path):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    clock = FakeClock(T0)
    sync(ctx.gateway, ctx.store, ctx.rules, clock)
    victim = next(iter(portal_state(sandbox)))
    sandbox.portal.store("contacts").records[victim].properties[hp.STATE] = '{"v":1,"h":5,"at":"x"}'
    summary = sync(ctx.gateway, empty_store(tmp_path, "fresh.db"), ctx.rules, clock)
    assert summary.failed == 0 and summary.pulled == 400 and summary.rebuilt == 399
    assert summary.written == 1  # the victim, scored from nothing: its state is written anew


def test_given_a_history_then_its_state_text_round_trips():
    from connector.core.state import encode

    history = History(at=T0, rollups=(("views", 12.0, 7.5),), status_written="MQL", written_at=T0,
                      mql_at=T0, path="score", hand_raise_used="demo|demo request|2026-11-18T00:00:00.000Z")
    assert decode(encode(history)) == history
