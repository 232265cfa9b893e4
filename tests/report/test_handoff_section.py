"""The report's handoff section: SLA share and time to first touch, verdicts; empty ones say why."""

from __future__ import annotations

from connector.core.sla import Escalation, Sla
from connector.report.handoff import sla_summary, verdict_summary

H = 3_600_000
SLA = Sla((Escalation(4 * 3600, "owner-1"), Escalation(8 * 3600, "owner-2")))


def clock(mql_h: float, touch_h: float | None) -> dict:
    return {"mql_at": int(mql_h * H), "first_touch_at": None if touch_h is None else int(touch_h * H)}


def test_given_clocks_then_share_within_sla_counts_in_time_late_and_untouched_but_not_waiting():
    clocks = [clock(0, 1), clock(0, 3), clock(0, 6), clock(0, None), clock(99, None)]
    got = sla_summary(clocks, SLA, now_ms=100 * H)
    assert (got["touched_within_sla"], got["touched_late"], got["untouched_past_sla"], got["still_within_sla"]) == (
        2, 1, 1, 1)
    assert got["share_within_sla"] == round(2 / 4, 4)
    assert got["median_hours_to_first_touch"] == 3.0
    assert got["sla_hours"] == 4.0


def test_given_no_sla_or_no_clocks_or_no_verdicts_then_the_section_says_why():
    assert "no SLA configured" in sla_summary([], None, 0)["status"]
    assert "no SLA clocks" in sla_summary([], SLA, 0)["status"]
    assert "no verdicts yet" in verdict_summary([])["status"]


def test_given_verdicts_then_reasons_are_counted_most_first():
    rows = [{"result": "accepted", "reason": None}] + [{"result": "rejected", "reason": r}
                                                        for r in ("no_budget", "not_a_fit", "not_a_fit", None)]
    got = verdict_summary(rows)
    assert (got["accepted"], got["rejected"], got["acceptance_rate"]) == (1, 4, 0.2)
    assert [(r["reason"], r["count"]) for r in got["reasons"]] == [("not_a_fit", 2), ("no_budget", 1),
                                                                   ("unspecified", 1)]
