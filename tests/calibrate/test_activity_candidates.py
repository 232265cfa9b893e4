"""Activity candidates are valued point-in-time: only occurrences dated before the decision moment count."""

from __future__ import annotations

from connector.calibrate import activity as act
from connector.core.activity import Occurrence

DAY = 86_400.0
T = 1_780_000_000.0


def rules():
    return act.reading_rules({"rules": {"engagement": []}}).activities


def test_given_occurrences_around_the_decision_moment_then_only_those_before_it_count():
    meetings = [Occurrence(T - 10 * DAY, {"hs_meeting_outcome": "COMPLETED"}),
                Occurrence(T, {"hs_meeting_outcome": "COMPLETED"}),  # at the moment: not yet seen
                Occurrence(T + 30, {"hs_meeting_outcome": "COMPLETED"}),  # the live core's 60 s grace: not here
                Occurrence(T - 60 * DAY, {"hs_meeting_outcome": "COMPLETED"})]
    values = act.as_of(rules(), {"meetings": meetings}, T)
    assert values["activity:cand_completed_meeting_30d"] == "1"
    assert values["activity:cand_completed_meeting_90d"] == "2"
    assert values["activity:cand_connected_call_30d"] == "0"


def test_given_an_activity_only_after_the_moment_then_no_candidate_fires():
    later = {"marketing_events": [Occurrence(T + DAY, {"state": "ATTENDED"})]}
    assert set(act.as_of(rules(), later, T).values()) == {"0"}


def test_candidates_come_in_30_and_90_day_windows_one_family_per_activity():
    cands = act.candidates()
    assert [c.spec["activity"]["within_days"] for c in cands] == [30, 90] * len(act.KINDS)
    assert len({c.family for c in cands}) == len(act.KINDS)
    assert all(c.section == "engagement" for c in cands)
