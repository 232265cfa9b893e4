"""evaluate(): the property values to write are only those that differ, in HubSpot's formats."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connector.core import properties as hp
from connector.core.evaluate import REASONS_MAX, evaluate, reasons_text
from connector.core.model import Contact, History, Reason, Score
from tests.support.scoring import DAY, EMPTY, NOW, contact, default_rules, iso, rules

VP = {"jobtitle": "VP Sales", "hs_analytics_num_page_views": "5", "hs_lead_status": "NEW",
      "lifecyclestage": "lead"}


def test_given_a_new_contact_when_evaluated_then_every_score_property_is_written():
    result = evaluate(contact(**VP), EMPTY, rules(), NOW)
    assert result.changes == {
        hp.SCORE: "30", hp.FIT_SCORE: "20", hp.ENGAGEMENT_SCORE: "10", hp.GRADE: "A2",
        hp.REASONS: "VP title +20\nPage views +10", hp.PATH: "none",
        hp.LAST_SCORED: "2026-11-23T12:00:00.000Z"}


@pytest.mark.parametrize("shown", [
    {hp.SCORE: "30", hp.FIT_SCORE: "20", hp.ENGAGEMENT_SCORE: "10"},
    {hp.SCORE: "30.0", hp.FIT_SCORE: "20.00", hp.ENGAGEMENT_SCORE: "1e1"},   # same numbers
])
def test_given_hubspot_shows_the_same_values_when_evaluated_then_nothing_is_written(shown):
    props = {**VP, **shown, hp.GRADE: "A2", hp.REASONS: "VP title +20\nPage views +10",
             hp.PATH: "none", hp.LAST_SCORED: "2026-11-01T00:00:00.000Z"}
    assert evaluate(contact(**props), EMPTY, rules(), NOW).changes == {}


def test_given_one_score_change_when_evaluated_then_last_scored_moves_with_it():
    props = {**VP, hp.SCORE: "30", hp.FIT_SCORE: "20", hp.ENGAGEMENT_SCORE: "10", hp.GRADE: "A2",
             hp.REASONS: "VP title +20\nPage views +10", hp.PATH: "none",
             "hs_analytics_num_page_views": "6"}
    assert evaluate(contact(**props), EMPTY, rules(), NOW).changes == {
        hp.SCORE: "32", hp.ENGAGEMENT_SCORE: "12", hp.REASONS: "VP title +20\nPage views +12",
        hp.LAST_SCORED: "2026-11-23T12:00:00.000Z"}


@pytest.mark.parametrize("shown_date", ["2026-11-23T12:00:00.000Z", "1795435200000",
                                        "2026-11-23T12:00:00Z", "2026-11-23T12:00:00+00:00"])
def test_given_the_mql_date_in_any_format_when_unchanged_then_it_is_not_rewritten(shown_date):
    first = evaluate(contact(**VP, recent_conversion_event_name="Demo request"), EMPTY, rules(), NOW)
    assert first.changes[hp.MQL_DATE] == "2026-11-23T12:00:00.000Z"
    assert first.changes[hp.LEAD_STATUS] == "MQL"
    shown = Contact("101", {**VP, **first.changes, hp.MQL_DATE: shown_date,
                            "recent_conversion_event_name": "Demo request"})
    assert evaluate(shown, first.history, rules(), NOW + DAY).changes == {}


def test_given_many_reasons_when_rendered_then_the_text_stays_under_1000_chars():
    many = tuple(Reason(f"r{i}", f"A long and descriptive rule label number {i}", 50 - i)
                 for i in range(40))
    text = reasons_text(Score(0, 0, 0, "C3", many))
    assert len(text) <= REASONS_MAX
    assert text.startswith("A long and descriptive rule label number 0 +50\n")
    assert text.endswith(" more") and "\u2026 and " in text


def test_given_a_naive_now_when_evaluated_then_it_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(contact(**VP), EMPTY, rules(), datetime(2026, 11, 23))


def test_given_the_default_config_when_a_strong_lead_is_evaluated_then_it_is_an_a_grade_mql():
    props = {"jobtitle": "VP Marketing", "industry": "Computer Software", "numemployees": "100-500",
             "annualrevenue": "25000000", "email": "jo@acme.example", "country": "Germany",
             "hs_analytics_num_page_views": "30", "hs_analytics_num_visits": "6",
             "hs_analytics_last_url": "https://acme.example/pricing",
             "hs_analytics_last_visit_timestamp": iso(NOW - 3 * DAY), "hs_lead_status": "NEW",
             "lifecyclestage": "lead"}
    result = evaluate(contact(**props), EMPTY, default_rules(), NOW)
    assert (result.score.fit, result.score.grade, result.score.path) == (50, "A2", "score")
    assert result.changes[hp.LEAD_STATUS] == "MQL"
    assert result.changes[hp.LIFECYCLE_STAGE] == "marketingqualifiedlead"
    # Equal weights rank by rule name: pricing_page before vp_title.
    assert result.changes[hp.REASONS].splitlines()[:2] == ["Visited the pricing page +20",
                                                          "VP or head of department +20"]


def test_given_the_default_config_when_a_keen_student_is_evaluated_then_it_is_not_an_mql():
    props = {"jobtitle": "Student", "email": "kim@gmail.com",
             "hs_analytics_num_page_views": "200", "hs_analytics_num_visits": "40",
             "hs_analytics_last_url": "https://acme.example/pricing",
             "hs_analytics_last_visit_timestamp": iso(NOW), "hs_email_open": "30",
             "hs_email_click": "10", "num_conversion_events": "5", "hs_lead_status": "NEW"}
    result = evaluate(contact(**props), EMPTY, default_rules(), NOW)
    assert result.score.fit == -40 and result.decision.action == "keep"
    assert "Student \u221230" in result.changes[hp.REASONS]


@pytest.mark.parametrize("now, expected", [
    (NOW, "2026-11-23T12:00:00.000Z"),
    (NOW.astimezone(timezone(timedelta(hours=2))), "2026-11-23T12:00:00.000Z"),
    (NOW.replace(microsecond=123_600), "2026-11-23T12:00:00.124Z"),
])
def test_given_any_aware_now_when_written_then_last_scored_is_utc_ms_z(now, expected):
    assert evaluate(contact(**VP), EMPTY, rules(), now).changes[hp.LAST_SCORED] == expected


@pytest.mark.parametrize("stored, expected", [
    # the last total ("t") older versions stored is ignored: nothing reads it
    ({"at": 1.0, "t": 42, "n": 1}, History(at=1.0, recycles=1)),
    ({"t": 0}, History()),
    # an old hand-raise key kept the date as HubSpot sent it: normalised to one instant
    ({"h": "demo|demo request|1795435200000"},
     History(hand_raise_used="demo|demo request|2026-11-23T12:00:00.000Z")),
    ({"h": "demo|demo request|2026-11-23T12:00:00Z"},
     History(hand_raise_used="demo|demo request|2026-11-23T12:00:00.000Z")),
    ({"h": "demo|demo request|"}, History(hand_raise_used="demo|demo request|")),
    ({"h": "demo|a|b|not a date"}, History(hand_raise_used="demo|a|b|not a date")),
])
def test_given_a_history_stored_by_an_older_version_when_read_then_it_loads(stored, expected):
    history = History.from_json(stored)
    assert history == expected
    assert "t" not in history.to_json()
    assert History.from_json(history.to_json()) == history


@pytest.mark.parametrize("module, name", [
    ("connector.core.model", "PATHS"),        # hubspot_properties.PATH_OPTIONS is the one list
    ("connector.core.decay", "fade"),         # inlined in advance()
    ("connector.core.scoring", "evaluate"),   # the entry point is connector.core.evaluate.evaluate
])
def test_given_the_scoring_core_when_imported_then_dead_code_is_gone(module, name):
    import importlib
    assert not hasattr(importlib.import_module(module), name)


@pytest.mark.parametrize("cls, name", [(History, "total"), (Score, "hand_raise")])
def test_given_the_model_when_inspected_then_unused_fields_are_gone(cls, name):
    assert not hasattr(cls, name)
