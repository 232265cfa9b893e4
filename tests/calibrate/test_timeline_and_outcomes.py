from __future__ import annotations

from connector.calibrate.outcomes import (
    CONVERTED_BEFORE,
    OUTSIDE_RANGE,
    TOO_YOUNG,
    Example,
    OutcomeRule,
    judge,
    judge_all,
)
from connector.calibrate.timeline import Timeline, compact, flat_share, from_compact, timeline

DAY = 86_400.0


def record(versions: dict[str, list[tuple[str, str]]], created: str = "2025-01-01T00:00:00.000Z") -> dict:
    """A contact as the list endpoint answers with propertiesWithHistory: newest version first."""
    return {"id": "7", "properties": {"createdate": created},
            "propertiesWithHistory": {name: [{"value": v, "timestamp": t, "sourceType": "API"}
                                             for t, v in sorted(vs, reverse=True)]
                                      for name, vs in versions.items()}}


def test_given_versions_newest_first_when_asked_as_of_an_instant_then_the_newest_at_or_before_it_is_the_value():
    t = timeline(record({"hs_email_click": [("2025-01-05T00:00:00.000Z", "1"), ("2025-02-01T00:00:00.000Z", "2"),
                                           ("2025-03-01T00:00:00.000Z", "5")]}))
    at = t.versions["hs_email_click"][0]
    assert at == tuple(sorted(at))  # kept ascending
    feb = timeline(record({}, "2025-02-01T00:00:00.000Z")).created_at
    assert t.as_of(feb - 1) == {"hs_email_click": "1"}
    assert t.as_of(feb) == {"hs_email_click": "2"}  # a version at the instant counts
    assert t.as_of(0) == {}  # before any version: not set yet
    assert t.latest() == {"hs_email_click": "5"}


def test_given_all_versions_at_one_instant_then_the_timeline_is_flat_and_a_later_version_makes_it_not():
    same = "2025-06-01T10:00:00.000Z"
    flat = timeline(record({"jobtitle": [(same, "CEO")], "hs_email_click": [(same, "9")]}))
    organic = timeline(record({"jobtitle": [(same, "CEO")], "hs_email_click": [("2025-07-01T10:00:00.000Z", "9")]}))
    assert flat.is_flat() and not organic.is_flat()
    assert flat_share([flat, organic, Timeline("x", None, {})]) == (1, 2)  # no history: not counted


def _t(created: float, stages: list[tuple[float, str]]) -> Timeline:
    return Timeline("1", created, {"lifecyclestage": (tuple(a for a, _ in stages), tuple(s for _, s in stages))})


def test_given_an_mql_then_it_is_judged_at_its_mql_date_and_converts_if_it_reaches_an_outcome_within_the_window():
    rule = OutcomeRule(window_days=90, decision_age_days=30)
    e = judge(_t(0, [(0, "lead"), (50 * DAY, "marketingqualifiedlead"), (100 * DAY, "opportunity")]), rule, 400 * DAY)
    assert isinstance(e, Example) and e.kind == "mql" and e.decided_at == 50 * DAY and e.converted
    late = judge(_t(0, [(0, "lead"), (50 * DAY, "marketingqualifiedlead"), (200 * DAY, "customer")]), rule,
                 400 * DAY)
    assert isinstance(late, Example) and not late.converted  # 150 days after: outside the window


def test_given_no_mql_then_it_is_judged_at_the_decision_age():
    e = judge(_t(10 * DAY, [(10 * DAY, "lead")]), OutcomeRule(decision_age_days=30, window_days=90), 400 * DAY)
    assert isinstance(e, Example) and e.kind == "age" and e.decided_at == 40 * DAY and not e.converted


def test_given_a_window_not_over_then_the_contact_is_too_young_even_if_it_already_converted():
    rule = OutcomeRule(window_days=90, decision_age_days=30)
    assert judge(_t(0, [(0, "lead")]), rule, 100 * DAY) == TOO_YOUNG
    # keeping early yeses but not the unknown noes would make young leads look better than they are
    assert judge(_t(0, [(0, "lead"), (35 * DAY, "opportunity")]), rule, 100 * DAY) == TOO_YOUNG


def test_given_an_outcome_before_the_decision_moment_or_a_decision_outside_the_range_then_it_is_left_out():
    rule = OutcomeRule(window_days=90, decision_age_days=30, since=100 * DAY)
    assert judge(_t(200 * DAY, [(200 * DAY, "lead"), (210 * DAY, "opportunity")]), rule, 900 * DAY) == CONVERTED_BEFORE
    assert judge(_t(0, [(0, "lead")]), rule, 900 * DAY) == OUTSIDE_RANGE
    examples, left_out = judge_all([_t(0, [(0, "lead")]), _t(500 * DAY, [(500 * DAY, "lead")])], rule, 900 * DAY)
    assert len(examples) == 1 and left_out == {OUTSIDE_RANGE: 1}


def test_given_the_calculated_stage_date_then_it_wins_over_the_lifecycle_versions():
    t = Timeline("1", 0.0, {"lifecyclestage": ((0.0,), ("opportunity",)),  # imported as opportunity
                            "hs_lifecyclestage_opportunity_date": ((0.0,), ("1970-03-02T00:00:00.000Z",))})
    e = judge(t, OutcomeRule(window_days=90, decision_age_days=30), 900 * DAY)
    assert isinstance(e, Example) and e.converted and e.converted_at == 60 * DAY


def test_given_a_timeline_when_cached_compactly_then_it_reads_back_the_same():
    t = timeline(record({"hs_email_click": [("2025-01-05T00:00:00.123Z", "1"), ("2025-02-01T00:00:00.000Z", "2")],
                         "jobtitle": [("2025-01-01T00:00:00.000Z", None)]}))
    import json

    back = from_compact(json.loads(json.dumps(compact(t))))
    assert back == t and back.as_of(t.versions["hs_email_click"][0][0]) == {"hs_email_click": "1",
                                                                           "jobtitle": None}
