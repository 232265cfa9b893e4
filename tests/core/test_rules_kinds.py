"""Every rule kind, table-driven: which values a rule fires on, and what it adds."""

from __future__ import annotations

import pytest

from connector.core.conditions import compile_condition
from connector.core.rules_file import parse_rules
from connector.core.scoring import tally
from tests.support.scoring import DAY, EMPTY, NOW, config, contact, iso, ms, with_rules

AT = NOW.timestamp()


@pytest.mark.parametrize("operator, argument, value, expected", [
    ("equals", "Computer Software", "computer software", True),
    ("equals", "Computer Software", " COMPUTER SOFTWARE ", True),
    ("equals", "Computer Software", "Software", False),
    ("equals", True, "true", True),           # YAML's bare true means HubSpot's "true"
    ("equals", 42, "42", True),
    ("in", ["100-500", "1000+"], "1000+", True),
    ("in", ["100-500", "1000+"], "25-50", False),
    ("contains", "/pricing", "https://x.example/PRICING?utm=1", True),
    ("contains", ["/pricing", "/plans"], "https://x.example/plans", True),
    ("contains", ["/pricing", "/plans"], "https://x.example/blog", False),
    ("regex", r"\b(vp|vice president)\b", "Senior VP, Sales", True),
    ("regex", r"\b(vp|vice president)\b", "MVP engineer", False),
    ("gte", 10, "10", True),
    ("gte", 10, "9.99", False),
    ("gte", 10, "ten", False),                # not a number: never matches
    ("lte", 5, "5.0", True),
    ("lte", 5, "6", False),
    ("between", [1000000, 9999999], "2500000", True),
    ("between", [1000000, 9999999], "10000000", False),
    ("exists", True, "anything", True),
    ("exists", True, "", False),
    ("exists", True, None, False),
    ("exists", False, None, True),
    ("exists", False, "   ", True),
    ("exists", False, "x", False),
    ("email_domain_in", ["gmail.com"], "Jo@GMail.com", True),
    ("email_domain_in", ["acme.com"], "jo@mail.acme.com", True),   # subdomains belong to acme
    ("email_domain_in", ["acme.com"], "jo@notacme.com", False),
    ("email_domain_in", ["acme.com"], "acme.com", False),          # not an email address
    ("email_domain_in", ["@acme.com"], "jo@acme.com", True),       # a leading @ is forgiven
])
def test_given_an_operator_when_matched_then_it_fires_on_the_right_values(operator, argument,
                                                                          value, expected):
    assert compile_condition(operator, argument).matches(value) is expected


@pytest.mark.parametrize("spec, props, expected_fit, expected_reason", [
    ({"property": "industry", "equals": "Retail", "points": 10}, {"industry": "RETAIL"}, 10,
     "Rule +10"),
    ({"property": "numemployees", "in": ["1000+"], "points": 15}, {"numemployees": "1000+"}, 15,
     "Rule +15"),
    ({"property": "jobtitle", "contains": "student", "points": -30}, {"jobtitle": "PhD Student"},
     -30, "Rule \u221230"),
    ({"property": "jobtitle", "regex": "^chief", "points": 25}, {"jobtitle": "Chief of Staff"}, 25,
     "Rule +25"),
    ({"property": "annualrevenue", "gte": 1e7, "points": 10}, {"annualrevenue": "12000000.0"}, 10,
     "Rule +10"),
    ({"property": "annualrevenue", "lte": 1e5, "points": -5}, {"annualrevenue": "0"}, -5,
     "Rule \u22125"),
    ({"property": "annualrevenue", "between": [1, 10], "points": 3}, {"annualrevenue": "11"}, 0,
     None),
    ({"property": "phone", "exists": True, "points": 4}, {"phone": "+49 30 1234"}, 4, "Rule +4"),
    ({"email_domain_in": ["rival.example"], "points": -50}, {"email": "a@rival.example"}, -50,
     "Rule \u221250"),
    ({"property": ["jobtitle", "industry"], "contains": "bank", "points": 7},
     {"jobtitle": "", "industry": "Banking"}, 7, "Rule +7"),
])
def test_given_a_fit_rule_when_scored_then_it_adds_its_points(spec, props, expected_fit,
                                                               expected_reason):
    rules = with_rules("fit", {"name": "rule", "label": "Rule", **spec})
    result = tally(contact(**props), EMPTY, rules, AT)
    assert result.fit == expected_fit
    assert [str(r) for r in result.reasons] == ([expected_reason] if expected_reason else [])


@pytest.mark.parametrize("count, expected", [("0", 0), ("3", 6), ("10", 20), ("500", 20),
                                             ("", 0), (None, 0), ("2.0", 4)])
def test_given_a_per_unit_rule_when_scored_then_points_per_unit_stop_at_the_cap(count, expected):
    rules = with_rules("engagement", {"name": "views", "label": "Page views",
                                      "property": "hs_analytics_num_page_views", "per_unit": 2,
                                      "max": 20})
    assert tally(contact(hs_analytics_num_page_views=count), EMPTY, rules, AT).engagement == expected


@pytest.mark.parametrize("last_visit, expected", [
    (iso(NOW - 2 * DAY), 20),            # within the 30-day window
    (ms(NOW - 29 * DAY), 20),            # ms-epoch dates count the same
    (iso(NOW - 31 * DAY), 0),            # too old
    (None, 0),                           # no date: the window cannot be proven
    ("not a date", 0),
])
def test_given_a_window_when_the_date_is_old_then_the_rule_does_not_count(last_visit, expected):
    rules = with_rules("engagement", {"name": "pricing", "label": "Visited the pricing page",
                                      "property": "hs_analytics_last_url", "contains": "/pricing",
                                      "points": 20, "within_days": 30,
                                      "date_property": "hs_analytics_last_visit_timestamp"})
    props = {"hs_analytics_last_url": "https://x.example/pricing",
             "hs_analytics_last_visit_timestamp": last_visit}
    assert tally(contact(**props), EMPTY, rules, AT).engagement == expected


@pytest.mark.parametrize("spec, props", [
    ({"property": "hs_email_optout", "equals": "true", "points": -15}, {"hs_email_optout": "true"}),
    ({"property": "hs_email_bounce", "gte": 1, "points": -15}, {"hs_email_bounce": "2"}),
    ({"property": "hs_analytics_last_url", "regex": r"/(careers|jobs)\b", "points": -15},
     {"hs_analytics_last_url": "https://x.example/careers/open-roles"}),
])
def test_given_a_negative_signal_when_it_holds_then_it_comes_off_the_total(spec, props):
    rules = with_rules("engagement", {"name": "neg", "label": "Negative", **spec},
                       {"name": "views", "label": "Views", "property": "hs_analytics_num_page_views",
                        "per_unit": 5, "max": 50})
    result = tally(contact(hs_analytics_num_page_views="6", **props), EMPTY, rules, AT)
    assert (result.engagement, result.total) == (15, 15)
    assert str(result.reasons[0]) == "Views +30" and str(result.reasons[1]) == "Negative \u221215"


@pytest.mark.parametrize("props, fired", [
    ({"recent_conversion_event_name": "Demo request"}, True),
    ({"recent_conversion_event_name": "CONTACT SALES form"}, True),
    ({"first_conversion_event_name": "Talk to sales"}, True),
    ({"recent_conversion_event_name": "Pricing request"}, True),
    ({"recent_conversion_event_name": "Free Trial"}, True),
    ({"recent_conversion_event_name": "Industrial webinar"}, False),   # "trial" inside a word
    ({"recent_conversion_event_name": "Ebook download"}, False),
    ({}, False),
])
def test_given_a_hand_raise_form_when_scored_then_it_is_reported_first(props, fired):
    rules = with_rules("hand_raise", {
        "name": "demo", "label": "Asked for a demo",
        "property": ["recent_conversion_event_name", "first_conversion_event_name"],
        "regex": r"\b(demo request|contact sales|talk to sales|pricing request|trial)\b"})
    result = tally(contact(**props), EMPTY, rules, AT)
    assert (result.hand_raise is not None) is fired
    if fired:
        assert str(result.reasons[0]) == "Asked for a demo (hand-raise: MQL whatever the score)"
        assert result.total == 0  # a hand-raise qualifies; it adds no points


@pytest.mark.parametrize("booked, fired", [(iso(NOW - 5 * DAY), True), (iso(NOW - 120 * DAY), False),
                                           (None, False)])
def test_given_a_meeting_booked_when_recent_then_it_is_a_hand_raise(booked, fired):
    rules = with_rules("hand_raise", {
        "name": "meeting", "label": "Booked a meeting", "property": "engagements_last_meeting_booked",
        "exists": True, "within_days": 90, "date_property": "engagements_last_meeting_booked"})
    result = tally(contact(engagements_last_meeting_booked=booked), EMPTY, rules, AT)
    assert (result.hand_raise is not None) is fired


def test_given_group_and_score_caps_when_exceeded_then_each_cut_is_a_reason():
    rules = with_rules(
        "fit",
        {"name": "vp", "label": "VP", "property": "jobtitle", "contains": "vp", "points": 20,
         "group": "title"},
        {"name": "director", "label": "Director", "property": "jobtitle", "contains": "director",
         "points": 15, "group": "title"},
        {"name": "big", "label": "Big company", "property": "numemployees", "equals": "1000+",
         "points": 30},
        groups={"title": {"max": 25, "label": "Title points"}},
        caps={"fit": 40, "total": 100},
    )
    result = tally(contact(jobtitle="VP and Director", numemployees="1000+"), EMPTY, rules, AT)
    assert result.fit == 40
    assert [str(r) for r in result.reasons] == [
        "Big company +30", "VP +20", "Director +15", "Title points capped at 25 \u221210",
        "Fit capped at 40 \u221215"]
    assert sum(r.points for r in result.reasons) == result.total


def test_given_a_group_floor_when_penalties_pile_up_then_they_stop_at_the_floor():
    rules = with_rules(
        "fit",
        {"name": "student", "label": "Student", "property": "jobtitle", "contains": "student",
         "points": -30, "group": "neg"},
        {"name": "gmail", "label": "Free email", "email_domain_in": ["gmail.com"], "points": -30,
         "group": "neg"},
        {"name": "vp", "label": "VP", "property": "industry", "exists": True, "points": 50},
        groups={"neg": {"min": -40}},
    )
    result = tally(contact(jobtitle="student", email="a@gmail.com", industry="x"), EMPTY, rules, AT)
    assert (result.fit, result.total) == (10, 10)


@pytest.mark.parametrize("points, total", [(-80, 0), (150, 100)])
def test_given_extreme_points_when_totalled_then_floor_0_and_total_cap_hold(points, total):
    rules = with_rules("fit", {"name": "x", "label": "X", "property": "jobtitle", "exists": True,
                               "points": points}, caps={"total": 100})
    assert tally(contact(jobtitle="x"), EMPTY, rules, AT).total == total


@pytest.mark.parametrize("fit, engagement, grade", [
    (25, 30, "A1"), (20, 20, "A1"), (25, 0, "A3"), (15, 12, "B2"), (19, 9, "B3"), (0, 30, "C1"),
    (-10, 0, "C3")])
def test_given_fit_and_engagement_when_graded_then_bands_combine(fit, engagement, grade):
    data = config(grade={"fit": [20, 10], "engagement": [20, 10]})
    data["rules"] = {
        "fit": [{"name": "f", "label": "F", "property": "jobtitle", "exists": True,
                 "points": fit or 1}],
        "engagement": [{"name": "v", "label": "V", "property": "hs_analytics_num_page_views",
                        "per_unit": 1, "max": 100}]}
    props = {"jobtitle": "x" if fit else "", "hs_analytics_num_page_views": str(engagement)}
    result = tally(contact(**props), EMPTY, parse_rules(data, "t.yaml"), AT)
    assert (result.fit, result.engagement, result.grade) == (fit, engagement, grade)


def test_given_a_rule_set_when_replaced_then_its_compiled_matchers_follow_the_new_rules():
    from dataclasses import replace
    rules = with_rules("fit", {"name": "x", "label": "X", "property": "jobtitle", "exists": True,
                               "points": 5})
    assert tally(contact(jobtitle="a"), EMPTY, replace(rules, fit=()), AT).fit == 0


HAND_RAISE_DATED = {
    "name": "demo", "label": "Asked for a demo", "property": "recent_conversion_event_name",
    "regex": r"\bdemo request\b", "within_days": 90, "date_property": "recent_conversion_date"}


@pytest.mark.parametrize("first, second, same", [
    (iso(NOW - 5 * DAY), ms(NOW - 5 * DAY), True),                 # one instant, two forms
    (iso(NOW - 5 * DAY), "2026-11-18T12:00:00Z", True),
    (iso(NOW - 5 * DAY), "2026-11-18T13:00:00+01:00", True),
    (iso(NOW - 5 * DAY), iso(NOW - 4 * DAY), False),               # a newer submission
    (ms(NOW - 5 * DAY), ms(NOW - 5 * DAY + DAY / 86400000), False),  # one millisecond later
])
def test_given_a_hand_raise_date_in_any_form_when_keyed_then_one_instant_is_one_key(first, second,
                                                                                    same):
    rules = with_rules("hand_raise", HAND_RAISE_DATED)
    keys = [tally(contact(recent_conversion_event_name="Demo request", recent_conversion_date=d),
                  EMPTY, rules, AT).hand_raise_key for d in (first, second)]
    assert None not in keys
    assert (keys[0] == keys[1]) is same


def test_given_a_used_hand_raise_when_hubspot_sends_its_date_as_ms_then_it_does_not_requalify():
    from dataclasses import replace

    from connector.core.evaluate import evaluate
    rules = with_rules("hand_raise", HAND_RAISE_DATED, policy={
        "mql_threshold": 40, "recycle": {"after_days": 30, "to_status": "OPEN"}})
    props = {"recent_conversion_event_name": "Demo request", "hs_lead_status": "NEW",
             "lifecyclestage": "lead", "recent_conversion_date": iso(NOW - 5 * DAY)}
    first = evaluate(contact(**props), EMPTY, rules, NOW)
    assert first.decision.action == "qualify"
    # Recycled since (the connector wrote OPEN); now HubSpot shows the same date as ms epoch.
    recycled = replace(first.history, status_written="OPEN", recycles=1, written_at=AT + 86400.0)
    again = {**props, **first.changes, "hs_lead_status": "OPEN",
             "recent_conversion_date": ms(NOW - 5 * DAY)}
    assert evaluate(contact(**again), recycled, rules, NOW + 2 * DAY).decision.action == "keep"
