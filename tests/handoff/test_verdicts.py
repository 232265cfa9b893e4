"""Sales' accept/reject verdicts on MQLs: read from the contact, kept in the store, taught to calibrate."""

from __future__ import annotations

import pytest

from connector.calibrate.outcomes import OutcomeRule, judge
from connector.calibrate.read import read_contacts
from connector.calibrate.rejections import rejection_counts
from connector.commands.calibrate import wanted_properties
from connector.commands.setup import inspect_portal
from connector.core import properties as hp
from connector.core.handoff import Handoff, Verdict, verdict
from connector.core.rules_file import parse_rules
from connector.core.values import parse_instant
from connector.errors import ConfigError
from connector.sync import SyncJob
from tests.handoff.conftest import packaged_with
from tests.support.sandbox import sales_update

HANDOFF = Handoff({"UNQUALIFIED": "not_a_fit", "BAD_TIMING": "bad_timing"})
MQL = {hp.MQL_DATE: "2026-11-01T10:00:00.000Z"}


def test_given_the_result_property_then_it_wins_over_status_and_stage():
    rejected = {**MQL, hp.HANDOFF_RESULT: "rejected", hp.REJECTION_REASON: "no_budget",
                hp.LIFECYCLE_STAGE: "salesqualifiedlead"}
    assert verdict(rejected, HANDOFF) == Verdict("rejected", "no_budget", "property")
    accepted = {**MQL, hp.HANDOFF_RESULT: "accepted", hp.LEAD_STATUS: "UNQUALIFIED"}
    assert verdict(accepted, HANDOFF) == Verdict("accepted", None, "property")
    # a reason sales left empty, or one not in the list, is still a rejection
    assert verdict({hp.HANDOFF_RESULT: "rejected", hp.REJECTION_REASON: "???"}, HANDOFF) == \
        Verdict("rejected", "unspecified", "property")


def test_given_a_mapped_status_or_a_later_stage_then_a_verdict_only_for_an_mql():
    assert verdict({**MQL, hp.LEAD_STATUS: "BAD_TIMING"}, HANDOFF) == \
        Verdict("rejected", "bad_timing", "status:BAD_TIMING")
    assert verdict({**MQL, hp.LIFECYCLE_STAGE: "opportunity"}, HANDOFF) == \
        Verdict("accepted", None, "stage:opportunity")
    # marketing never handed this one over: an UNQUALIFIED status is no rejection of a handoff
    assert verdict({hp.LEAD_STATUS: "UNQUALIFIED"}, HANDOFF) is None
    assert verdict({**MQL, hp.LEAD_STATUS: "MQL"}, HANDOFF) is None  # not judged yet
    became = {"hs_lifecyclestage_marketingqualifiedlead_date": "2026-10-01T00:00:00.000Z",
              hp.LEAD_STATUS: "UNQUALIFIED"}
    assert verdict(became, HANDOFF) == Verdict("rejected", "not_a_fit", "status:UNQUALIFIED")


@pytest.mark.parametrize(("section", "where"), [
    ({"rejected_statuses": {"UNQUALIFIED": "too_pricey"}}, "handoff.rejected_statuses.UNQUALIFIED"),
    ({"rejected_statuses": {"MQL": "other"}}, "handoff.rejected_statuses.MQL"),
    ({"accepted_stages": ["lead"]}, "handoff.accepted_stages[0]"),
    ({"accepted": True}, "handoff.accepted"),
])
def test_given_a_bad_handoff_section_then_the_key_is_named(section, where):
    with pytest.raises(ConfigError) as exc:
        parse_rules({"version": 1, "handoff": section}, "s.yaml")
    assert any(where in str(p) for p in exc.value.problems), exc.value.problems


def test_given_a_mapped_status_the_portal_lacks_then_setup_stops_naming_it_before_any_write(tmp_path, sandbox):
    with pytest.raises(ConfigError) as exc:
        packaged_with(sandbox, tmp_path, handoff={"rejected_statuses": {"UNQUALIFED": "not_a_fit"}})
    assert [str(p) for p in exc.value.problems] == [
        "packaged+handoff: handoff.rejected_statuses: 'UNQUALIFED' is not an option of 'hs_lead_status'; "
        "did you mean 'UNQUALIFIED'?"]
    assert hp.SCORE not in sandbox.portal.store("contacts").definitions  # setup created nothing


def test_given_setup_then_the_verdict_properties_exist_and_a_portal_without_them_is_still_ready(tmp_path, sandbox):
    ctx = packaged_with(sandbox, tmp_path)
    definitions = ctx.gateway.list_contact_properties()
    assert definitions[hp.REJECTION_REASON]["options"][0]["value"] == "not_a_fit"
    assert [o["value"] for o in definitions[hp.HANDOFF_RESULT]["options"]] == ["accepted", "rejected"]
    without = {k: v for k, v in definitions.items() if k not in hp.SALES_PROPERTY_NAMES}
    state = inspect_portal(without)
    assert state.ready and {d["name"] for d in state.missing} == set(hp.SALES_PROPERTY_NAMES)


def test_given_verdicts_set_in_the_sandbox_then_the_store_keeps_them_and_calibrate_reads_them(tmp_path, sandbox):
    ctx = packaged_with(sandbox, tmp_path)
    SyncJob(ctx.gateway, ctx.store, ctx.rules).run(full=True)
    # the portal's history already holds verdicts: MQLs sales moved on (SQL and later) or
    # marked UNQUALIFIED / BAD_TIMING
    backlog = {v["contact_id"]: v for v in ctx.store.verdicts()}
    assert backlog and {v["source"].split(":")[0] for v in backlog.values()} <= {"status", "stage"}
    records = sandbox.portal.store("contacts").records
    now = sandbox.portal.now_ms() / 1000
    # MQLs the connector just made (their stage date is today): a 180-day window far from over
    mqls = sorted((cid for cid, r in records.items() if r.properties.get(hp.LEAD_STATUS) == "MQL"
                   and cid not in backlog and now - (parse_instant(r.properties.get(
                       "hs_lifecyclestage_marketingqualifiedlead_date")) or 0) < 86_400), key=int)
    assert len(mqls) >= 3
    rejected, unqualified, accepted = mqls[:3]
    sales_update(sandbox, rejected, {hp.HANDOFF_RESULT: "rejected", hp.REJECTION_REASON: "no_budget"})
    sales_update(sandbox, unqualified, {hp.LEAD_STATUS: "UNQUALIFIED"})
    sales_update(sandbox, accepted, {hp.LIFECYCLE_STAGE: "salesqualifiedlead"})

    SyncJob(ctx.gateway, ctx.store, ctx.rules).run()
    kept = {v["contact_id"]: v for v in ctx.store.verdicts()}
    assert set(kept) - set(backlog) == {rejected, unqualified, accepted}
    assert (kept[rejected]["result"], kept[rejected]["reason"], kept[rejected]["source"]) == \
        ("rejected", "no_budget", "property")
    assert (kept[unqualified]["result"], kept[unqualified]["reason"]) == ("rejected", "not_a_fit")
    assert (kept[accepted]["result"], kept[accepted]["reason"]) == ("accepted", None)
    props = records[rejected].properties
    assert kept[rejected]["grade"] == props[hp.GRADE] and kept[rejected]["rules"]  # the contact as judged
    first_seen = kept[rejected]["decided_at"]
    SyncJob(ctx.gateway, ctx.store, ctx.rules).run(full=True)  # seen again unchanged: kept as it was
    assert {v["contact_id"]: v["decided_at"] for v in ctx.store.verdicts()}[rejected] == first_seen

    # calibrate reads the verdicts with each contact's history: a rejected MQL is a negative
    # example at once, though its 180-day window is far from over
    definitions = ctx.gateway.list_contact_properties()
    options_outcome = OutcomeRule()
    plain, history = wanted_properties(ctx, definitions, _Options(options_outcome))
    assert {hp.HANDOFF_RESULT, hp.REJECTION_REASON, hp.LEAD_STATUS} <= set(history)
    read = read_contacts(ctx.gateway, ctx.store, properties=plain, with_history=history,
                         now_ms=int(sandbox.portal.now_ms()))
    timelines = {t.id: t for t in read.timelines}
    now = read.read_at_ms / 1000
    judged = {cid: judge(timelines[cid], options_outcome, now, ctx.rules.handoff)
              for cid in (rejected, unqualified, accepted)}
    assert judged[rejected].rejected == "no_budget" and not judged[rejected].converted
    assert judged[unqualified].rejected == "not_a_fit"
    assert judged[accepted] == "too young: window not over"  # accepted: its outcome is still to come
    assert judge(timelines[rejected], options_outcome, now) == "too young: window not over"  # without verdicts
    counts = rejection_counts([judged[rejected], judged[unqualified]], ctx.rules, True)
    assert counts["rejected"] == 2 and counts["by_reason"] == {"no_budget": 1, "not_a_fit": 1}
    assert sum(sum(v.values()) for v in counts["by_grade"].values()) == 2


class _Options:
    """The one field of calibrate's Options that wanted_properties reads."""

    def __init__(self, outcome: OutcomeRule, properties=None):
        self.outcome, self.properties = outcome, properties
