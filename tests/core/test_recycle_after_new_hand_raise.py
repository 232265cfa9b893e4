"""A hand-raise dated after the contact became an MQL keeps it an MQL: found by the invariant
`test_once_written_a_second_run_writes_nothing` (a new meeting booked on a 30-day-old hand-raise
MQL was kept on the first run and recycled to OPEN on the second)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from connector.core.policy import decide
from tests.core.test_policy import AT, DAY, OURS, POLICY, scored


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_given_an_unworked_mql_when_it_raises_its_hand_again_then_it_is_not_recycled():
    key = f"demo|demo request|{iso(AT - DAY)}"  # a demo request a day ago; MQL for 40 days
    history = replace(OURS, hand_raise_used=key, path="hand_raise")
    decision = decide({"hs_lead_status": "MQL", "lifecyclestage": "marketingqualifiedlead"},
                      scored(20, hand_raise=True, key=key), history, POLICY, AT)
    assert (decision.action, decision.lead_status) == ("keep", None)
    assert "raised its hand again" in decision.why


def test_given_an_unworked_mql_whose_hand_raise_is_older_than_its_mql_date_then_it_is_recycled():
    key = f"demo|demo request|{iso(AT - 50 * DAY)}"  # the hand-raise that made it an MQL, 40 days ago
    history = replace(OURS, hand_raise_used=key, path="hand_raise")
    decision = decide({"hs_lead_status": "MQL", "lifecyclestage": "marketingqualifiedlead"},
                      scored(20, hand_raise=True, key=key), history, POLICY, AT)
    assert (decision.action, decision.lead_status) == ("recycle", "OPEN")
