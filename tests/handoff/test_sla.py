"""The MQL -> first sales touch clock: business hours, escalation once per stage, a touch stops it."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime
from zoneinfo import ZoneInfo

from connector.commands.explain import explain_contact
from connector.core.rules_file import parse_rules
from connector.core.sla import BusinessHours, Escalation, Sla, due, elapsed, touched_at
from connector.handoff.sla import escalate
from connector.sync import SyncJob
from tests.handoff.conftest import packaged_with
from tests.support.sandbox import activity, demo_request, hand_raise_candidates

BERLIN = ZoneInfo("Europe/Berlin")
H = 3600.0


def at(*args) -> float:
    return datetime(*args, tzinfo=BERLIN).timestamp()


def test_given_business_hours_then_only_opening_hours_count_and_weekends_do_not():
    sla = Sla((Escalation(4 * H, "m"),), BusinessHours("Europe/Berlin", frozenset(range(5)), 9 * 60, 17 * 60))
    assert elapsed(at(2026, 11, 27, 16), at(2026, 11, 30, 12), sla) == 4 * H  # Fri 16:00 -> Mon 12:00
    assert elapsed(at(2026, 11, 28, 10), at(2026, 11, 29, 20), sla) == 0  # a weekend
    assert elapsed(at(2026, 11, 30, 7), at(2026, 11, 30, 8), sla) == 0  # before opening
    assert elapsed(at(2026, 3, 27, 16), at(2026, 3, 30, 10), sla) == 2 * H  # across the DST change
    assert elapsed(0, 10 * H, Sla((Escalation(H, "m"),))) == 10 * H  # no business hours: all of it


def test_given_touch_rollups_then_the_first_touch_after_the_mql_moment_counts():
    props = {"notes_last_contacted": "2026-11-30T10:00:00.000Z", "hs_last_sales_activity_timestamp":
             "2026-11-30T09:00:00.000Z", "notes_last_updated": "2026-11-01T09:00:00.000Z"}
    mql = datetime(2026, 11, 30, 8, tzinfo=ZoneInfo("UTC")).timestamp()
    assert touched_at(props, mql) == mql + H
    assert touched_at(props, mql + 5 * H) is None


def test_given_a_running_clock_then_each_stage_escalates_once_to_its_person(store):
    sla = Sla((Escalation(4 * H, "manager"), Escalation(24 * H, "director")))
    rules = parse_rules({"version": 1, "sla": {"escalate": [{"after_hours": 4, "to": "manager"},
                                                            {"after_hours": 24, "to": "director"}]}}, "s.yaml")
    assert rules.sla == sla
    t0 = 1_790_000_000.0
    store.start_clocks([("101", int(t0 * 1000), "owner-1")])
    store.start_clocks([("101", int((t0 + 60) * 1000), "owner-1")])  # running already: kept
    assert due(t0, t0 + 3 * H, sla, 0) == []
    channels = ("task",)
    assert escalate(store, rules, channels, t0 + 3 * H) == 0
    assert escalate(store, rules, channels, t0 + 4 * H) == 1
    assert escalate(store, rules, channels, t0 + 5 * H) == 0  # once per stage
    assert escalate(store, rules, channels, t0 + 25 * H) == 1
    assert escalate(store, rules, channels, t0 + 99 * H) == 0
    owners = [d.owner_id for d in store.claim_deliveries(int((t0 + 100 * H) * 1000))]
    assert owners == ["manager", "director"]
    assert store.clock_of("101")["stages_done"] == 2


def test_given_a_new_mql_when_sales_logs_a_call_then_the_clock_stops_and_explain_shows_the_time(tmp_path, sandbox):
    ctx = packaged_with(sandbox, tmp_path, sla={"escalate": [{"after_hours": 4, "to": sandbox.portal.owners[0]["id"]}]})
    rules, store = ctx.rules, ctx.store
    first = SyncJob(ctx.gateway, store, rules).run(full=True)
    assert first.mql_new > 0 and store.running_clocks() == []  # the install's backlog MQLs start no clock
    [cid] = hand_raise_candidates(sandbox)[:1]
    activity(sandbox, [demo_request(cid)])
    SyncJob(ctx.gateway, store, rules).run(full=True)
    clock = store.clock_of(cid)
    assert clock is not None and clock["first_touch_at"] is None
    assert explain_contact(ctx.gateway, store, rules, cid)["sla"]["waiting_hours"] >= 0
    req = urllib.request.Request(f"{sandbox.base_url}/_sandbox/contacts/{cid}/log-activity",
                                 data=json.dumps({"type": "call", "ownerId": sandbox.portal.owners[0]["id"]}).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
    SyncJob(ctx.gateway, store, rules).run(full=True)
    stopped = store.clock_of(cid)
    assert stopped["first_touch_at"] is not None and stopped["first_touch_at"] >= clock["mql_at"]
    shown = explain_contact(ctx.gateway, store, rules, cid)["sla"]
    assert shown["hours_to_first_touch"] >= 0 and "waiting_hours" not in shown
    later = clock["mql_at"] / 1000 + 10 * H
    # the first sync's backlog MQLs (old contacts seen for the first time) started no clock, and the
    # one sales called is stopped: nobody is told
    assert escalate(store, rules, ("task",), later) == 0
