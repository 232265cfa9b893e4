"""The status policy, one row per branch: what it writes to hs_lead_status / lifecyclestage, why."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connector.core.model import History, Reason
from connector.core.policy import SETTLE_SECONDS, decide, remember
from connector.core.scoring import ScoreCard
from tests.support.scoring import NOW, rules

AT = NOW.timestamp()
DAY = 86400.0
POLICY = rules().policy  # threshold 40, fit minimum 10, hysteresis 10, recycle <25 after 30 days
HAND = Reason("demo", "Asked for a demo", 0, hand_raise=True)


def scored(total: int, fit: int = 20, hand_raise: bool = False, key: str = "demo|demo request|") -> ScoreCard:
    return ScoreCard(fit, total - fit, total, "A1", (HAND,) if hand_raise else (),
                 HAND if hand_raise else None, key if hand_raise else None, ())


OURS = History(status_written="MQL", stage_written="marketingqualifiedlead", written_at=AT - 40 * DAY,
               mql_at=AT - 40 * DAY, path="score")

# (name, status, stage, tally, history, props, action, lead_status, lifecycle_stage, path, why part)
CASES = [
    ("qualifies by score", "NEW", "lead", scored(45), History(), {},
     "qualify", "MQL", "marketingqualifiedlead", "score", "MQL by score: total 45 >= 40 and fit 20 >= 10"),
    ("qualifies from empty status and stage", "", "", scored(45), History(), {},
     "qualify", "MQL", "marketingqualifiedlead", "score", "MQL by score"),
    ("fit gate stops a keen student", "NEW", "lead", scored(80, fit=-30), History(), {},
     "keep", None, None, "none", "fit -30 < fit minimum 10"),
    ("below threshold", "OPEN", "subscriber", scored(39), History(), {},
     "keep", None, None, "none", "total 39 < threshold 40"),
    ("hand-raise whatever the score", "NEW", "subscriber", scored(0, fit=0, hand_raise=True),
     History(), {}, "qualify", "MQL", "marketingqualifiedlead", "hand_raise",
     "MQL by hand-raise: Asked for a demo"),
    ("lifecycle already MQL: status only", "NEW", "marketingqualifiedlead", scored(45), History(), {},
     "qualify", "MQL", None, "score", "MQL by score"),
    ("lifecycle 'other' never touched", "NEW", "other", scored(45), History(), {},
     "qualify", "MQL", None, "score", "Lifecycle stage other is not a default stage: left alone"),
    ("custom lifecycle never touched", "NEW", "1234567", scored(45), History(), {},
     "qualify", "MQL", None, "score", "Lifecycle stage 1234567 is not a default stage"),
    ("sales status left alone", "IN_PROGRESS", "lead", scored(90, hand_raise=True), History(), {},
     "leave", None, None, "none", "Sales owns the contact (lead status IN_PROGRESS)"),
    ("unqualified left alone", "UNQUALIFIED", "lead", scored(90), OURS, {},
     "leave", None, None, "score", "Sales owns the contact (lead status UNQUALIFIED)"),
    ("SQL stage left alone", "", "salesqualifiedlead", scored(90), History(), {},
     "leave", None, None, "none", "Sales owns the contact (lifecycle stage salesqualifiedlead)"),
    ("customer left alone", "NEW", "customer", scored(90, hand_raise=True), History(), {},
     "leave", None, None, "none", "(lifecycle stage customer)"),
    ("person reset our MQL to NEW", "NEW", "marketingqualifiedlead", scored(90), OURS, {},
     "leave", None, None, "none", "A person set the lead status to NEW after the connector wrote MQL"),
    ("person made an MQL by hand", "MQL", "lead", scored(5), History(), {},
     "leave", None, None, "manual", "A person or workflow made the contact an MQL"),
    ("person set MQL after our recycle", "MQL", "marketingqualifiedlead", scored(5),
     replace(OURS, status_written="OPEN"), {}, "leave", None, None, "manual", "A person set"),
    ("just written: HubSpot may lag", "NEW", "lead", scored(90),
     replace(OURS, written_at=AT - SETTLE_SECONDS / 2), {}, "keep", None, None, "score", "Waiting"),
    ("person moved lifecycle back: status still ours", "OPEN", "lead", scored(90),
     replace(OURS, status_written="OPEN"), {}, "qualify", "MQL", None, "score",
     "Lifecycle stage lead was set by a person: left alone"),
    ("custom status not ours to move", "NURTURE_Q3", "lead", scored(90), History(), {},
     "leave", None, None, "none", "Lead status NURTURE_Q3 is not one the connector qualifies from"),
    ("our MQL still qualifies", "MQL", "marketingqualifiedlead", scored(45), OURS, {},
     "keep", None, None, "score", "Still an MQL: total 45 >= 40"),
    ("hysteresis holds a border MQL", "MQL", "marketingqualifiedlead", scored(32), OURS, {},
     "keep", None, None, "score", "within the hysteresis band"),
    ("a hand-raise MQL in the band is explained as a hand-raise", "MQL", "marketingqualifiedlead", scored(32),
     replace(OURS, path="hand_raise"), {}, "keep", None, None, "hand_raise",
     "Still an MQL by hand-raise: raising a hand makes an MQL at any score (total 32"),
    ("recycled when unworked and decayed", "MQL", "marketingqualifiedlead", scored(20), OURS, {},
     "recycle", "OPEN", None, "none", "The lifecycle stage stays"),
    ("not recycled too soon", "MQL", "marketingqualifiedlead", scored(20),
     replace(OURS, mql_at=AT - 10 * DAY), {}, "keep", None, None, "score", "after 30 days unworked"),
    ("not recycled when sales worked it", "MQL", "marketingqualifiedlead", scored(20), OURS,
     {"hs_last_sales_activity_timestamp": "2026-11-01T00:00:00.000Z"}, "keep", None, None, "score",
     "sales worked it (hs_last_sales_activity_timestamp)"),
    ("not recycled between band and recycle threshold", "MQL", "marketingqualifiedlead", scored(27),
     OURS, {}, "keep", None, None, "score", "not below the recycle threshold 25"),
    ("recycle counter stops loops", "MQL", "marketingqualifiedlead", scored(20),
     replace(OURS, recycles=2), {}, "keep", None, None, "score", "already recycled 2 times (max 2)"),
    ("recycled contact requalifies on a new score", "OPEN", "marketingqualifiedlead", scored(50),
     replace(OURS, status_written="OPEN", recycles=1), {}, "qualify", "MQL", None, "score",
     "MQL by score"),
    ("a used hand-raise does not requalify", "OPEN", "marketingqualifiedlead",
     scored(5, hand_raise=True), replace(OURS, status_written="OPEN", hand_raise_used="demo|demo request|"),
     {}, "keep", None, None, "none", "the hand-raise was already acted on"),
    ("a new hand-raise requalifies", "OPEN", "marketingqualifiedlead",
     scored(5, hand_raise=True, key="demo|demo request|2026-11-20"),
     replace(OURS, status_written="OPEN", hand_raise_used="demo|demo request|"), {}, "qualify", "MQL",
     None, "hand_raise", "MQL by hand-raise"),
    # A stale search read inside the settle window: any mismatch with what the connector wrote,
    # an empty value too, means "wait"; it never costs a hand-raise MQL its path nor re-qualifies.
    ("settling: a stale empty status keeps a hand-raise MQL's path", "", "",
     scored(5, hand_raise=True), replace(OURS, written_at=AT - 60, mql_at=AT - 60, path="hand_raise",
                                         hand_raise_used="demo|demo request|"), {},
     "keep", None, None, "hand_raise", "Waiting"),
    ("settling: a stale empty status does not re-qualify a score MQL", "", "marketingqualifiedlead",
     scored(90),
     replace(OURS, written_at=AT - 60, mql_at=AT - 60), {}, "keep", None, None, "score", "Waiting"),
    ("settling: a stale empty stage is waited for too", "MQL", "", scored(90),
     replace(OURS, written_at=AT - 60, mql_at=AT - 60), {}, "keep", None, None, "score", "Waiting"),
    ("settled: an emptied status hands the contact back", "", "marketingqualifiedlead", scored(90),
     OURS, {}, "qualify", "MQL", None, "score", "MQL by score"),
    # After a person's change, a fresh hand-raise on a qualify-from status qualifies again.
    ("a fresh hand-raise requalifies after a person's OPEN", "OPEN", "marketingqualifiedlead",
     scored(5, hand_raise=True, key="demo|demo request|2026-11-20T00:00:00.000Z"),
     replace(OURS, hand_raise_used="demo|demo request|"), {}, "qualify", "MQL", None, "hand_raise",
     "MQL by hand-raise"),
    ("a fresh hand-raise requalifies after a person's NEW", "NEW", "lead",
     scored(5, hand_raise=True, key="demo|demo request|2026-11-20T00:00:00.000Z"), OURS, {},
     "qualify", "MQL", None, "hand_raise", "Lifecycle stage lead was set by a person"),
    ("the used hand-raise after a person's OPEN: respected, not an MQL", "OPEN",
     "marketingqualifiedlead", scored(5, hand_raise=True),
     replace(OURS, hand_raise_used="demo|demo request|"), {}, "leave", None, None, "none",
     "A person set the lead status to OPEN"),
    ("a fresh hand-raise on a person's custom status: left alone", "NURTURE_Q3", "lead",
     scored(5, hand_raise=True), OURS, {}, "leave", None, None, "none", "A person set"),
    ("a custom status the connector never wrote is not an MQL", "NURTURE_Q3", "lead", scored(5),
     replace(History(), path="manual"), {}, "leave", None, None, "none",
     "Lead status NURTURE_Q3 is not one the connector qualifies from"),
]


@pytest.mark.parametrize("name, status, stage, tally, history, props, action, lead_status, "
                         "lifecycle_stage, path, why", CASES, ids=[c[0] for c in CASES])
def test_given_a_status_and_score_when_decided_then_the_policy_branch_applies(
        name, status, stage, tally, history, props, action, lead_status, lifecycle_stage, path, why):
    decision = decide({"hs_lead_status": status, "lifecyclestage": stage, **props}, tally, history,
                      POLICY, AT)
    assert (decision.action, decision.lead_status, decision.lifecycle_stage, decision.path) == \
        (action, lead_status, lifecycle_stage, path)
    assert why in decision.why


def test_given_owner_means_sales_when_an_owner_is_set_then_the_contact_is_left_alone():
    policy = replace(POLICY, owner_means_sales=True)
    decision = decide({"hs_lead_status": "NEW", "hubspot_owner_id": "77"}, scored(90), History(),
                      policy, AT)
    assert (decision.action, decision.why) == ("leave", "Sales owns the contact (it has an owner).")


def test_given_a_custom_sales_status_list_when_configured_then_it_is_respected():
    policy = replace(POLICY, sales_statuses=frozenset({"WORKING"}))
    assert decide({"hs_lead_status": "WORKING"}, scored(90), History(), policy, AT).action == "leave"


def test_given_recycling_off_when_an_mql_decays_then_it_stays():
    decision = decide({"hs_lead_status": "MQL"}, scored(0), OURS, replace(POLICY, recycle=None), AT)
    assert (decision.action, decision.lead_status) == ("keep", None)
    assert "recycling is off" in decision.why


def test_given_a_fresh_hand_raise_mql_below_the_score_line_then_the_reason_says_hand_raise_not_no_longer():
    fresh = replace(OURS, path="hand_raise", written_at=AT - 2 * DAY, mql_at=AT - 2 * DAY)
    decision = decide({"hs_lead_status": "MQL", "lifecyclestage": "marketingqualifiedlead"}, scored(8, fit=8),
                      fresh, POLICY, AT)
    assert (decision.action, decision.path) == ("keep", "hand_raise")
    assert "became one by hand-raise" in decision.why and "no longer qualifies" not in decision.why


def test_given_a_decision_when_remembered_then_history_records_writes_and_counters():
    qualified = decide({"hs_lead_status": "NEW"}, scored(5, hand_raise=True), History(), POLICY, AT)
    state = remember({"hs_lead_status": "NEW"}, qualified, scored(5, hand_raise=True), History(),
                     POLICY, AT)
    assert (state.status_written, state.stage_written, state.mql_at, state.path,
            state.hand_raise_used) == ("MQL", "marketingqualifiedlead", AT, "hand_raise",
                                       "demo|demo request|")
    recycled = decide({"hs_lead_status": "MQL"}, scored(3), OURS, POLICY, AT)
    after = remember({"hs_lead_status": "MQL"}, recycled, scored(3), OURS, POLICY, AT)
    assert (after.status_written, after.stage_written, after.recycles, after.path, after.written_at) \
        == ("OPEN", "marketingqualifiedlead", 1, "none", AT)


def test_given_a_stale_read_while_settling_when_remembered_then_mql_date_and_path_stay():
    history = replace(OURS, written_at=AT - 60, mql_at=AT - 60, path="hand_raise",
                      hand_raise_used="demo|demo request|")
    for props, tally in (({"hs_lead_status": "", "lifecyclestage": ""}, scored(90)),
                         ({"hs_lead_status": "", "lifecyclestage": ""}, scored(5, hand_raise=True))):
        decision = decide(props, tally, history, POLICY, AT)
        after = remember(props, decision, tally, history, POLICY, AT)
        assert (after.mql_at, after.path, after.status_written, after.written_at) == \
            (AT - 60, "hand_raise", "MQL", AT - 60)


@pytest.mark.parametrize("status, stage, history", [
    ("NURTURE_Q3", "lead", History()),                      # a custom status: not ours to move
    ("NURTURE_Q3", "lead", OURS),                           # a person's custom status
    ("IN_PROGRESS", "lead", History()),                     # sales owns it
    ("NEW", "salesqualifiedlead", History()),               # sales owns it (stage)
])
def test_given_a_hand_raise_seen_while_left_alone_when_later_handed_back_then_it_is_used(
        status, stage, history):
    hand = scored(5, hand_raise=True, key="demo|demo request|2026-11-01T00:00:00.000Z")
    props = {"hs_lead_status": status, "lifecyclestage": stage}
    left = decide(props, hand, history, POLICY, AT)
    assert left.action == "leave"
    state = remember(props, left, hand, history, POLICY, AT)
    assert state.hand_raise_used == "demo|demo request|2026-11-01T00:00:00.000Z"
    # Later a person sets NEW: the old hand-raise does not qualify; a newer one does.
    later = {"hs_lead_status": "NEW", "lifecyclestage": "lead"}
    assert decide(later, hand, state, POLICY, AT + DAY).action != "qualify"
    newer = scored(5, hand_raise=True, key="demo|demo request|2026-11-22T00:00:00.000Z")
    assert decide(later, newer, state, POLICY, AT + DAY).action == "qualify"
