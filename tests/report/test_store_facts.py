"""The sync keeps the report's facts in the store: written with each page, not in a dry run,
refilled by a full sync on a rebuilt store, erased with the contact; SQLite and PostgreSQL."""

from __future__ import annotations

from connector.commands.setup import run_setup
from connector.report.facts import STAGES, ContactFacts, stage_date_property
from connector.settings import Settings
from connector.store import Store
from connector.sync import SyncJob
from tests.support.sandbox import calls


def facts(cid: str, at: int, **kw) -> ContactFacts:
    base = {"created_at": 1, "entered": (1, None, None, None, None), "source": "OFFLINE", "grade": "A1",
            "score": 70, "path": "score", "owner_id": None}
    return ContactFacts(cid, **{**base, **kw}, updated_at=at)  # type: ignore[arg-type]


def test_given_facts_when_recorded_twice_then_the_later_reading_stands(store):
    store.record_facts([facts("1", 200, score=80)])
    store.record_facts([facts("1", 100, score=10), facts("2", 100)])
    got = {f.contact_id: f for f in store.all_facts()}
    assert (got["1"].score, got["1"].updated_at, got["2"].score) == (80, 200, 70)
    assert got["1"].entered == (1, None, None, None, None)


def test_given_facts_when_contact_deleted_or_merged_then_they_leave_the_report(store):
    store.record_facts([facts("1", 1), facts("2", 1), facts("3", 1)])
    store.forget_contacts(["1"])
    store.move_history(["2"], "3")
    assert [f.contact_id for f in store.all_facts()] == ["3"]


def test_given_reached_when_a_stage_was_skipped_then_the_later_date_counts():
    f = facts("1", 1, entered=(5, None, 9, None, 7))
    assert f.reached() == (5, 7, 9, 7, 7)  # its own date stands; a skipped stage takes the earliest later one


def test_given_a_sandbox_when_synced_then_each_contact_has_facts_and_a_dry_run_keeps_none(ctx, sandbox):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    SyncJob(ctx.gateway, ctx.store, ctx.rules, overlap_s=300, dry_run=True).run(full=True)
    assert ctx.store.all_facts() == []
    SyncJob(ctx.gateway, ctx.store, ctx.rules, overlap_s=300).run(full=True)
    kept = {f.contact_id: f for f in ctx.store.all_facts()}
    records = sandbox.portal.store("contacts").records
    assert set(kept) == set(records)
    for cid, f in kept.items():
        p = records[cid].properties
        assert f.source == p.get("hs_analytics_source")
        assert f.score == int(p["lsc_score"]) and f.grade == p["lsc_grade"]
        if p.get(stage_date_property(STAGES[3])):
            assert f.entered[3] is not None


def test_given_a_rebuilt_store_when_full_sync_then_facts_are_back_and_report_needs_no_call(ctx, sandbox, tmp_path):
    run_setup(ctx.gateway, ctx.store, ctx.rules, "pat-sandbox", dry_run=False)
    for _ in range(2):  # the second reads HubSpot's own MQL dates of the MQLs the first made
        SyncJob(ctx.gateway, ctx.store, ctx.rules, overlap_s=300).run(full=True)
    before = sorted(ctx.store.all_facts(), key=lambda f: f.contact_id)
    fresh = Store(Settings(database_url=f"sqlite:///{tmp_path / 'rebuilt.db'}").sqlalchemy_url)
    fresh.upgrade()
    SyncJob(ctx.gateway, fresh, ctx.rules, overlap_s=300).run(full=True)
    after = sorted(fresh.all_facts(), key=lambda f: f.contact_id)
    strip = [(f.contact_id, f.created_at, f.entered, f.source, f.grade, f.path) for f in before]
    assert [(f.contact_id, f.created_at, f.entered, f.source, f.grade, f.path) for f in after] == strip
    n = calls(sandbox)
    from connector.commands.report import load_report
    from connector.report.periods import window

    report = load_report(fresh, ctx.rules, window(None, None, "month", 1_900_000_000_000), None)
    assert report["contacts"] == 400 and calls(sandbox) == n
