"""Decay: each increase of a count fades with the half-life from when the connector first saw it."""

from __future__ import annotations

import pytest

from connector.core.decay import advance
from connector.core.evaluate import evaluate
from connector.core.model import Contact, History
from connector.core.scoring import tally
from tests.support.scoring import DAY, EMPTY, NOW, contact, iso, with_rules

HALF = 30 * 86400.0


@pytest.mark.parametrize("previous, elapsed, count, backlog_age, expected", [
    (None, 0, 10, 0, (10, 10.0)),                 # first sight, undated: all new
    (None, 0, 10, HALF, (10, 5.0)),               # first sight, dated one half-life ago
    (None, 0, 0, 0, (0, 0.0)),
    ((10, 8.0), HALF, 10, 0, (10, 4.0)),          # no change: fades by half per half-life
    ((10, 8.0), HALF, 14, 0, (14, 8.0)),          # 4 new units at full weight + 4 faded
    ((10, 8.0), 2 * HALF, 10, 0, (10, 2.0)),
    ((10, 8.0), 0, 5, 0, (5, 4.0)),               # HubSpot recounted lower: scale down
    ((10, 8.0), -HALF, 10, 0, (10, 8.0)),         # a clock going back fades nothing
    ((0, 0.0), HALF, 3, 0, (3, 3.0)),
])
def test_given_a_count_when_advanced_then_units_fade_per_increase(previous, elapsed, count,
                                                                  backlog_age, expected):
    assert advance(previous, elapsed, count, backlog_age, HALF) == expected


def views_rules():
    return with_rules("engagement", {"name": "views", "label": "Page views",
                                     "property": "hs_analytics_num_page_views", "per_unit": 1,
                                     "max": 100, "date_property": "hs_analytics_last_visit_timestamp"})


def test_given_a_backlog_when_first_seen_then_it_is_dated_by_the_date_property():
    rules = views_rules()
    old = contact(hs_analytics_num_page_views="40", hs_analytics_last_visit_timestamp=iso(NOW - 60 * DAY))
    fresh = contact(hs_analytics_num_page_views="40", hs_analytics_last_visit_timestamp=iso(NOW))
    assert tally(old, EMPTY, rules, NOW.timestamp()).engagement == 10   # two half-lives
    assert tally(fresh, EMPTY, rules, NOW.timestamp()).engagement == 40


def test_given_increases_over_time_when_scored_then_each_decays_from_its_own_date():
    rules = views_rules()
    first = evaluate(contact(hs_analytics_num_page_views="20"), EMPTY, rules, NOW)
    assert first.score.engagement == 20
    month = evaluate(contact(hs_analytics_num_page_views="30"), first.history, rules, NOW + 30 * DAY)
    assert month.score.engagement == 20  # 20 faded to 10, plus 10 new
    later = evaluate(contact(hs_analytics_num_page_views="30"), month.history, rules, NOW + 60 * DAY)
    assert later.score.engagement == 10
    assert [str(r) for r in later.score.reasons] == ["Page views +10"]


def test_given_decay_when_rounded_values_do_not_move_then_nothing_is_written():
    rules = views_rules()
    first = evaluate(contact(hs_analytics_num_page_views="100"), EMPTY, rules, NOW)
    shown = Contact("101", {"hs_analytics_num_page_views": "100", **first.changes})
    # An hour later 100 units have faded by ~0.1: every rounded value is unchanged.
    hour = evaluate(shown, first.history, rules, NOW + DAY / 24)
    assert hour.changes == {}
    assert hour.history.rollups[0][2] < first.history.rollups[0][2]  # decay still tracked


def test_given_history_when_round_tripped_through_json_then_it_is_equal():
    rules = views_rules()
    result = evaluate(contact(hs_analytics_num_page_views="7", hs_lead_status="NEW"), EMPTY, rules, NOW)
    import json
    assert History.from_json(json.loads(json.dumps(result.history.to_json()))) == result.history
    assert History.from_json({}) == History.empty()
    assert History.empty().to_json() == {}


def test_given_an_older_replay_when_evaluated_then_the_decay_clock_does_not_go_back():
    rules = views_rules()
    first = evaluate(contact(hs_analytics_num_page_views="20"), EMPTY, rules, NOW)
    replay = evaluate(contact(hs_analytics_num_page_views="20"), first.history, rules, NOW - DAY)
    assert replay.history.at == first.history.at
    assert replay.history.rollups == first.history.rollups  # nothing faded, nothing gained
