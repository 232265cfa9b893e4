"""Property-based invariants of evaluate() with the default config (hypothesis)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.core import properties as hp
from connector.core.evaluate import evaluate
from connector.core.model import LIFECYCLE_RANK, Contact, History
from connector.core.scoring import tally
from tests.support.scoring import NOW, default_rules, iso, ms

RULES = default_rules()
POLICY = RULES.policy
SALES_STATUSES = sorted(POLICY.sales_statuses)
STAGES = ["", "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
          "customer", "evangelist", "other", "98765432"]
STATUSES = ["", "NEW", "OPEN", "MQL", "NURTURE_Q3", *SALES_STATUSES]
COUNTS = ["hs_analytics_num_page_views", "hs_analytics_num_visits", "hs_email_open",
          "hs_email_click", "num_conversion_events"]
FAST = settings(max_examples=60, deadline=None)


def dates():
    offset = st.integers(min_value=-400 * 24, max_value=24).map(lambda h: NOW + timedelta(hours=h))
    return st.one_of(st.none(), offset.map(iso), offset.map(ms))


def count():
    return st.one_of(st.none(), st.just(""), st.integers(0, 300).map(str))


@st.composite
def contacts(draw, status=st.sampled_from(STATUSES), stage=st.sampled_from(STAGES)):
    props = {
        "jobtitle": draw(st.sampled_from(["VP Sales", "Student", "CEO", "Director of IT", "",
                                          "Marketing Manager", "Seeking new role"])),
        "industry": draw(st.sampled_from(["Computer Software", "Retail", "", None])),
        "numemployees": draw(st.sampled_from(["1-5", "25-50", "100-500", "1000+", ""])),
        "annualrevenue": draw(st.one_of(st.none(), st.integers(0, 10**8).map(str))),
        "email": draw(st.sampled_from(["a@acme.example", "b@gmail.com", "c@competitor-one.example",
                                       None])),
        "hs_analytics_last_url": draw(st.sampled_from(["https://x.example/pricing",
                                                       "https://x.example/careers", None])),
        "hs_analytics_last_visit_timestamp": draw(dates()),
        "recent_conversion_event_name": draw(st.sampled_from(
            ["Demo request", "Ebook download", "Webinar sign-up", None])),
        "recent_conversion_date": draw(dates()),
        "hs_email_optout": draw(st.sampled_from(["true", "false", None])),
        "hs_email_bounce": draw(count()),
        "engagements_last_meeting_booked": draw(dates()),
        "hs_lead_status": draw(status),
        "lifecyclestage": draw(stage),
        "hs_last_sales_activity_timestamp": draw(dates()),
    }
    for name in COUNTS:
        props[name] = draw(count())
    return Contact("1", props)


@st.composite
def histories(draw):
    """Empty, or the state after an evaluation some days earlier (as a real store would hold)."""
    if draw(st.booleans()):
        return History.empty()
    earlier = draw(contacts())
    days = draw(st.integers(1, 90))
    return evaluate(earlier, History.empty(), RULES, NOW - timedelta(days=days)).history


def sales_owned(props) -> bool:
    stage_rank = LIFECYCLE_RANK.get(props.get("lifecyclestage") or "")
    return (props.get("hs_lead_status") or "") in POLICY.sales_statuses or (
        stage_rank is not None and stage_rank >= LIFECYCLE_RANK[POLICY.sales_stage_from])


@FAST
@given(contacts(), histories())
def test_evaluate_is_deterministic(contact, history):
    assert evaluate(contact, history, RULES, NOW) == evaluate(contact, history, RULES, NOW)


@FAST
@given(contacts(), histories())
def test_lifecycle_never_moves_backwards_nor_touches_other_or_custom_stages(contact, history):
    changes = evaluate(contact, history, RULES, NOW).changes
    if hp.LIFECYCLE_STAGE in changes:
        current = contact.properties["lifecyclestage"] or ""
        assert current == "" or LIFECYCLE_RANK[current] < LIFECYCLE_RANK[changes[hp.LIFECYCLE_STAGE]]


@FAST
@given(contacts(), histories())
def test_sales_owned_contacts_keep_their_status_and_stage(contact, history):
    changes = evaluate(contact, history, RULES, NOW).changes
    if sales_owned(contact.properties):
        assert hp.LEAD_STATUS not in changes and hp.LIFECYCLE_STAGE not in changes


@FAST
@given(contacts(), histories(), st.sampled_from(COUNTS), st.integers(1, 50))
def test_more_positive_engagement_never_lowers_the_score(contact, history, name, more):
    before = evaluate(contact, history, RULES, NOW).score
    props = dict(contact.properties)
    props[name] = str(int(props[name] or 0) + more)
    after = evaluate(Contact("1", props), history, RULES, NOW).score
    assert after.total >= before.total and after.engagement >= before.engagement


@FAST
@given(contacts(), histories(), st.integers(1, 400))
def test_time_passing_never_raises_the_score(contact, history, days):
    now = evaluate(contact, history, RULES, NOW).score
    later = evaluate(contact, history, RULES, NOW + timedelta(days=days)).score
    assert later.total <= now.total and later.engagement <= now.engagement


def with_hand_raise(contact: Contact, how: str) -> Contact:
    props = dict(contact.properties)
    if how == "recent":
        props.update(recent_conversion_event_name="Contact Sales", recent_conversion_date=iso(NOW))
    elif how == "recent_ms":  # the same instant as HubSpot's other date form
        props.update(recent_conversion_event_name="Contact Sales", recent_conversion_date=ms(NOW))
    else:
        props.update(engagements_last_meeting_booked=ms(NOW - timedelta(days=1)))
    return Contact("1", props)


HAND_RAISES = st.sampled_from(["recent", "recent_ms", "meeting"])
HAND_RAISE_STATUSES = st.sampled_from(["", "NEW", "OPEN", "MQL", "NURTURE_Q3", *SALES_STATUSES])


@settings(max_examples=200, deadline=None)
@given(contacts(status=HAND_RAISE_STATUSES), histories(), HAND_RAISES)
def test_a_fresh_hand_raise_is_always_an_mql_unless_sales_owns_the_contact(contact, history, how):
    """Exactly: unless sales owns the contact, a hand-raise the connector has not already acted on
    (nor seen while the contact was not its to move) makes a contact with a qualify-from status, or
    MQL, an MQL (lead status MQL, path not "none"); a custom status is left alone (rule 5)."""
    contact = with_hand_raise(contact, how)
    props = contact.properties
    result = evaluate(contact, history, RULES, NOW)
    key = tally(contact, history, RULES, NOW.timestamp()).hand_raise_key
    assert key is not None
    status = props["hs_lead_status"]
    if sales_owned(props) or (status not in POLICY.qualify_from and status != POLICY.mql_status):
        assert hp.LEAD_STATUS not in result.changes
        assert result.decision.action == "leave"
    elif key != history.hand_raise_used:
        assert result.changes.get(hp.LEAD_STATUS, status) == POLICY.mql_status
        ours = status == POLICY.mql_status == history.status_written
        assert result.score.path in (("hand_raise", "manual", history.path) if ours
                                     else ("hand_raise", "manual"))
        assert result.score.path != "none"
        # Acted on: the same hand-raise never qualifies the contact a second time.
        assert result.history.hand_raise_used == key


@FAST
@given(contacts(status=HAND_RAISE_STATUSES), histories(), HAND_RAISES)
def test_a_non_mql_never_shows_a_qualification_path_unless_sales_owns_it(contact, history, how):
    contact = with_hand_raise(contact, how) if how != "meeting" else contact
    result = evaluate(contact, history, RULES, NOW)
    status = result.changes.get(hp.LEAD_STATUS, contact.properties["hs_lead_status"])
    if status != POLICY.mql_status and not sales_owned(contact.properties):
        assert result.score.path == "none"


@FAST
@given(contacts(), histories())
def test_once_written_a_second_run_writes_nothing(contact, history):
    first = evaluate(contact, history, RULES, NOW)
    shown = Contact("1", {**contact.properties, **first.changes})
    assert evaluate(shown, first.history, RULES, NOW).changes == {}


@FAST
@given(contacts(), histories())
def test_history_round_trips_and_reasons_fit_hubspot(contact, history):
    result = evaluate(contact, history, RULES, NOW)
    assert History.from_json(result.history.to_json()) == result.history
    assert len(result.changes.get(hp.REASONS, "")) <= 1000
    assert 0 <= result.score.total <= 100
