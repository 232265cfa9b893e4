"""Activity rules survive a rebuilt store as the rollups do (issue 15: "the decay and the history work
for these as for the rollups, and survive a rebuilt store").

Twin portals (same seed, one fake clock for the sandboxes and the syncs), the packaged config's
activity rules (completed meeting, connected call, webinar attended) plus a per-unit activity count
(its decay is carried in History, hence in lsc_state): completed meetings and connected calls logged
through the sandbox's log-activity endpoint, webinars through its webinar integration, a full sync on
each. A half-life later, with the same new activity on both, one syncs with its store and the other
with an empty one: the same values, the same lsc_state, the same number of batch updates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connector.commands.setup import run_setup
from connector.core import properties as hp
from connector.core.rules_file import parse_rules
from connector.core.state import decode
from connector.core.values import parse_instant
from connector.gateway import Gateway
from connector.sandbox import Sandbox, SandboxConfig
from connector.settings import Settings
from connector.store import Store
from connector.sync import SyncJob
from tests.support.clock import FakeClock
from tests.support.paths import DEFAULT_CONFIG
from tests.support.sandbox import activity, portal_state, post_json, reset, writes

DAY = 86400.0
T0 = 1_795_000_000.0  # 2026-11-18
HALF_LIFE = 30 * DAY  # the packaged config's decay.half_life_days
# A per-unit activity rule: every meeting, 4 points a unit up to 12, fading with the half-life.
MEETINGS = {"name": "meetings_logged", "label": "Meetings logged", "per_unit": 4, "max": 12,
            "activity": {"kind": "meetings"}}
COMPLETED = "Had a completed meeting (90 days) +10"
CONNECTED = "Had a connected call (90 days) +8"
WEBINAR = "Attended a webinar (120 days) +12"


def rules_with_a_counted_activity():
    data = yaml.safe_load(Path(DEFAULT_CONFIG).read_text())
    data["rules"]["engagement"].append(MEETINGS)
    return parse_rules(data, "scoring.yaml")


def sync(gateway, store, rules, clock):
    return SyncJob(gateway, store, rules, overlap_s=300, clock=clock).run(full=True)


def empty_store(path: Path) -> Store:
    store = Store(Settings(database_url=f"sqlite:///{path}").sqlalchemy_url)
    store.upgrade()
    return store


def states(sandbox) -> dict[str, str | None]:
    contacts = sandbox.portal.store("contacts")
    return {str(i): contacts.records[str(i)].properties.get(hp.STATE) for i in contacts.order}


def meeting_units(sandbox, now: float) -> dict[str, float]:
    """Each contact's decayed units of the per-unit meetings rule, as its lsc_state holds them."""
    out = {}
    for cid, value in states(sandbox).items():
        history = decode(value, now=now)
        for name, _count, units in (history.rollups if history else ()):
            if name == MEETINGS["name"]:
                out[cid] = units
    return out


def completed_meeting_within(sandbox, contact_id: str, now: float, days: float) -> bool:
    """Whether the sandbox holds a completed meeting of the contact's within `days` before `now`."""
    meetings = sandbox.portal.store("meetings").records
    for eid in sandbox.portal.associations["meetings"].get(contact_id, ()):
        p = meetings[eid].properties
        at = parse_instant(p.get("hs_timestamp"))
        if p.get("hs_meeting_outcome") == "COMPLETED" and at is not None and 0 <= now - at <= days * DAY:
            return True
    return False


def log(sandbox, contact_id: str, kind: str, owner: str, at: float) -> None:
    post_json(sandbox, f"/_sandbox/contacts/{contact_id}/log-activity",
              {"type": kind, "ownerId": owner, "at": int(at * 1000)})


def attend(sandbox, contact_id: str) -> None:
    post_json(sandbox, f"/_sandbox/contacts/{contact_id}/marketing-event", {"state": "ATTENDED"})


@pytest.fixture
def twins(tmp_path):
    """(clock, rules, [(sandbox, gateway, store)] for "kept" and "lost"), set up alike."""
    clock = FakeClock(T0)
    rules = rules_with_a_counted_activity()
    made = []
    try:
        for name in ("kept", "lost"):
            sb = Sandbox(SandboxConfig(contacts=300, seed=11, tier="unlimited", clock=clock)).__enter__()
            made.append((sb, None, None))
            settings = Settings(hubspot_access_token="pat-sandbox", hubspot_api_base=sb.base_url,
                                database_url=f"sqlite:///{tmp_path / (name + '.db')}")
            gateway, store = Gateway.from_settings(settings), Store.from_settings(settings)
            store.upgrade()
            made[-1] = (sb, gateway, store)
            run_setup(gateway, store, rules, "pat-sandbox", dry_run=False)
        yield clock, rules, made
    finally:
        for sb, _, store in made:
            if store is not None:
                store.dispose()
            sb.__exit__(None, None, None)


def contacts_of(sandbox) -> tuple[list[str], list[str], str]:
    """(every contact id, those with a meeting rollup set, an active owner)."""
    contacts = sandbox.portal.store("contacts")
    ids = [str(i) for i in contacts.order]
    # A contact whose meeting rollups are empty has no meeting to read (connector/engagement/enrich.py).
    met = [c for c in ids if contacts.records[c].properties.get("hs_latest_meeting_activity")]
    return ids, met, sorted(sandbox.portal.active_owner_ids())[0]


def test_given_activity_rules_when_one_twin_loses_its_store_then_both_end_alike_and_counts_decay_alike(
        twins, tmp_path):
    clock, rules, made = twins
    (kept_sb, kept_gw, kept_store), (lost_sb, lost_gw, _) = made
    ids, met, _ = contacts_of(kept_sb)
    assert ids == contacts_of(lost_sb)[0] and met == contacts_of(lost_sb)[1] and len(met) >= 20
    meetings, calls, webinars = met[::2], ids[1::13], ids[2::11]
    for sb, _, _ in made:
        owner = contacts_of(sb)[2]
        for cid in meetings:  # 70 days ago: in the 90-day window now, out of it a half-life later
            log(sb, cid, "meeting", owner, T0 - 70 * DAY)
        for cid in calls:
            log(sb, cid, "call", owner, T0 - 5 * DAY)
        for cid in webinars:
            attend(sb, cid)
    for _, gateway, store in made:
        assert sync(gateway, store, rules, clock).written == 300
    first = portal_state(kept_sb)
    assert first == portal_state(lost_sb) and states(kept_sb) == states(lost_sb)
    assert all(COMPLETED in first[c][hp.REASONS] for c in meetings)
    assert all(CONNECTED in first[c][hp.REASONS] for c in calls)
    assert all(WEBINAR in first[c][hp.REASONS] for c in webinars)
    units_before = meeting_units(kept_sb, clock())
    assert set(units_before) == set(met) and all(u >= 1 for u in units_before.values())

    clock.advance(HALF_LIFE)
    booked, called, attended = ids[5::17], ids[6::19], ids[7::23]  # the same new activity on both
    for sb, _, _ in made:
        owner = contacts_of(sb)[2]
        activity(sb, [{"contactId": c, "type": "meeting_booked"} for c in booked])
        for cid in called:
            log(sb, cid, "call", owner, clock())
        for cid in attended:
            attend(sb, cid)
        reset(sb)
    kept = sync(kept_gw, kept_store, rules, clock)
    lost = sync(lost_gw, empty_store(tmp_path / "replacement.db"), rules, clock)

    assert kept.written > 0  # the decay, the windows and the new activity moved scores
    assert (lost.written, lost.rebuilt) == (kept.written, 300)
    assert writes(lost_sb) == writes(kept_sb)  # batch updates: none more on the lost-store side
    after = portal_state(kept_sb)
    assert after == portal_state(lost_sb) and states(kept_sb) == states(lost_sb)
    # The windows moved alike: the logged meetings are 100 days old now (only a seeded completed
    # meeting of the last 90 days still fires), the calls 35, the webinars 30.
    still = [c for c in meetings if completed_meeting_within(kept_sb, c, clock(), 90)]
    assert len(still) < len(meetings)
    assert [c for c in meetings if COMPLETED in (after[c][hp.REASONS] or "")] == still
    assert all(CONNECTED in after[c][hp.REASONS] for c in [*calls, *called])
    assert all(WEBINAR in after[c][hp.REASONS] for c in [*webinars, *attended])
    # The counted activity decayed through History alike: half its units after one half-life, and a
    # meeting booked since adds one whole unit.
    for sb in (kept_sb, lost_sb):
        units = meeting_units(sb, clock())
        assert set(units) == set(met) | set(booked)
        for cid in met:
            grown = 1.0 if cid in booked else 0.0
            assert units[cid] == pytest.approx(units_before[cid] / 2 + grown, abs=1e-6), cid
        assert all(units[c] == pytest.approx(1.0) for c in booked if c not in met)


# A logged meeting moves hs_latest_meeting_activity (a meetings marker): the kept store's cache
# reads it again, as an empty store does.
def test_given_a_meeting_logged_between_syncs_when_one_twin_loses_its_store_then_both_count_it(twins, tmp_path):
    clock, rules, made = twins
    (kept_sb, kept_gw, kept_store), (lost_sb, lost_gw, _) = made
    for _, gateway, store in made:
        sync(gateway, store, rules, clock)
    _, met, _ = contacts_of(kept_sb)
    clock.advance(DAY)
    for sb, _, _ in made:
        owner = contacts_of(sb)[2]
        for cid in met[:5]:
            log(sb, cid, "meeting", owner, clock() - 3600)
    sync(kept_gw, kept_store, rules, clock)
    sync(lost_gw, empty_store(tmp_path / "replacement.db"), rules, clock)
    lost = portal_state(lost_sb)
    assert all(COMPLETED in lost[c][hp.REASONS] for c in met[:5])  # the fresh read sees them
    assert portal_state(kept_sb) == lost
