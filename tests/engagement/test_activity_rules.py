"""Activity rules in the scoring config: validated, counted within their window, scored and explained."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.core.activity import Occurrence, counted, from_rollups, signals
from connector.core.evaluate import evaluate
from connector.core.model import Contact, History
from connector.core.portal_check import check_rules_against_portal
from connector.core.rules_file import parse_rules
from connector.errors import ConfigError

NOW = datetime(2026, 3, 1, tzinfo=UTC)
T = NOW.timestamp()
DAY = 86400.0


def config(*rules: dict) -> dict:
    return {"rules": {"fit": [{"name": "any", "label": "Has email", "property": "email", "exists": True,
                               "points": 1}],
                      "engagement": list(rules)},
            "policy": {"mql_threshold": 20, "hysteresis": 5}}


WEBINAR = {"name": "webinar_attended", "label": "Attended a webinar (30 days)", "points": 15,
           "activity": {"kind": "marketing_events", "state": "ATTENDED", "within_days": 30}}
DISCOVERY = {"name": "discovery_call", "label": "Completed discovery meeting", "points": 20,
             "activity": {"kind": "meetings", "where": {"hs_meeting_outcome": "COMPLETED"}, "within_days": 90}}
PRICING = {"name": "pricing_twice", "label": "Viewed /pricing twice in 14 days", "points": 10,
           "activity": {"kind": "page_views", "url_contains": "/pricing", "within_days": 14, "at_least": 2}}
ROI = {"name": "roi_form", "label": "ROI calculator", "per_unit": 4, "max": 12,
       "activity": {"kind": "form_submissions", "form": "ROI calculator", "within_days": 60}}


def test_given_activity_rules_then_they_compile_to_synthetic_keys_and_read_their_markers():
    rules = parse_rules(config(WEBINAR, DISCOVERY, PRICING, ROI), "scoring.yaml")
    assert [a.key for a in rules.activities] == ["activity:webinar_attended", "activity:discovery_call",
                                                 "activity:pricing_twice", "activity:roi_form"]
    assert "hs_latest_meeting_activity" in rules.contact_properties
    assert "recent_conversion_date" in rules.contact_properties and "email" in rules.contact_properties
    assert not any(p.startswith("activity:") for p in rules.contact_properties)


@pytest.mark.parametrize(("activity", "where", "says"), [
    ({"kind": "webinars"}, "activity.kind", "must be one of"),
    ({"kind": "marketing_events", "state": "WATCHED"}, "activity.state", "REGISTERED"),
    ({"kind": "page_views", "within_days": 7}, "activity", "url_contains"),
    ({"kind": "form_submissions"}, "activity.form", "is required"),
    ({"kind": "meetings", "at_least": 0}, "activity.at_least", ">= 1"),
    ({"kind": "calls", "form": "x"}, "activity.form", "unknown key"),
])
def test_given_a_bad_activity_then_the_error_names_file_rule_and_key(activity, where, says):
    with pytest.raises(ConfigError) as e:
        parse_rules(config({"name": "r", "label": "R", "points": 5, "activity": activity}), "scoring.yaml")
    text = str(e.value)
    assert f"scoring.yaml: rules.engagement[0] 'r'.{where}" in text and says in text


def test_given_an_activity_rule_with_a_property_then_refused():
    with pytest.raises(ConfigError, match=r"'r'\.property: an activity rule"):
        parse_rules(config({"name": "r", "label": "R", "points": 5, "property": "email",
                            "activity": {"kind": "notes"}}), "scoring.yaml")


def test_given_occurrences_then_only_those_in_the_window_and_matching_count():
    rules = parse_rules(config(DISCOVERY, PRICING), "s.yaml")
    meetings = [Occurrence(T - 10 * DAY, {"hs_meeting_outcome": "COMPLETED"}),
                Occurrence(T - 100 * DAY, {"hs_meeting_outcome": "COMPLETED"}),
                Occurrence(T - 5 * DAY, {"hs_meeting_outcome": "NO_SHOW"})]
    views = [Occurrence(T - DAY, {"url": "https://x.com/pricing"}), Occurrence(T - 20 * DAY, {"url": "https://x.com/pricing"}),
             Occurrence(T - 2 * DAY, {"url": "https://x.com/blog"})]
    assert signals(rules.activities, {"meetings": meetings, "page_views": views}, T) == {
        "activity:discovery_call": "1", "activity:pricing_twice": "1"}


def test_given_a_form_named_by_name_then_its_id_matches_too():
    rules = parse_rules(config(ROI), "s.yaml")
    subs = [Occurrence(T - DAY, {"form_id": "abc-123"}), Occurrence(T - 2 * DAY, {"form_id": "other"})]
    assert counted(rules.activities[0], subs, T, {"roi calculator": "abc-123"}) == 1


def test_given_webinar_attended_registered_or_nothing_then_three_scores_and_reasons():
    rules = parse_rules(config(WEBINAR, {**WEBINAR, "name": "webinar_registered", "label": "Registered for a webinar",
                                         "points": 4,
                                         "activity": {**WEBINAR["activity"], "state": "REGISTERED"}}), "s.yaml")
    seen = {}
    for who, state in (("attended", "ATTENDED"), ("registered", "REGISTERED"), ("nothing", None)):
        events = [Occurrence(T - 3 * DAY, {"state": state})] if state else []
        props = {"email": "a@b.com", **signals(rules.activities, {"marketing_events": events}, T)}
        result = evaluate(Contact("1", props), History.empty(), rules, NOW)
        seen[who] = (result.score.total, [str(r) for r in result.score.reasons])
    assert seen["attended"] == (16, ["Attended a webinar (30 days) +15", "Has email +1"])
    assert seen["registered"] == (5, ["Registered for a webinar +4", "Has email +1"])
    assert seen["nothing"] == (1, ["Has email +1"])


def test_given_a_per_unit_activity_then_it_decays_through_history():
    rules = parse_rules(config(ROI), "s.yaml")
    props = {"email": "a@b.com", "activity:roi_form": "2"}
    first = evaluate(Contact("1", props), History.empty(), rules, NOW)
    assert first.score.engagement == 8
    later = evaluate(Contact("1", props), first.history, rules, datetime.fromtimestamp(T + 30 * DAY, UTC))
    assert later.score.engagement == 4  # half the units after one half-life (30 days by default)


def test_given_page_views_without_event_analytics_then_the_rollup_fallback_says_what_it_can():
    rules = parse_rules(config({**PRICING, "activity": {**PRICING["activity"], "at_least": 1, "fallback": "rollups"}}),
                        "s.yaml")
    activity = rules.activities[0]
    assert activity.fallback
    recent = {"hs_analytics_last_url": "https://x.com/pricing", "hs_analytics_last_timestamp": "2026-02-27T00:00:00Z"}
    assert from_rollups(activity, recent, T) == 1
    assert from_rollups(activity, {**recent, "hs_analytics_last_url": "https://x.com/blog"}, T) == 0


def test_given_portal_without_a_watched_property_then_the_portal_check_names_it():
    rules = parse_rules(config({**WEBINAR, "activity": {**WEBINAR["activity"], "watch": ["webinar_attendances"]}}),
                        "s.yaml")
    definitions = {p: {"name": p, "type": "string"} for p in rules.contact_properties if p != "webinar_attendances"}
    problems = [str(p) for p in check_rules_against_portal(rules, definitions)]
    assert any("'webinar_attended'.activity.watch" in p and "webinar_attendances" in p for p in problems)
