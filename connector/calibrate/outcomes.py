"""Each contact's decision moment and outcome, or the reason it cannot teach anything.

The decision moment is when the connector would have had to judge the lead: when it became an MQL,
or, for a contact that never did, a fixed age after it was created. The outcome is whether it
reached one of the outcome stages (default opportunity or customer) within the window after that
moment. A contact whose window has not closed yet is too young: its outcome is not known, and
counting it as "did not convert" would teach the model that new leads are bad.

Sales' verdicts teach sooner: an MQL sales rejected after its decision moment (the handoff result
property, or a lead status the config maps to a rejection) is a negative example at once, even
inside its window; should it still reach an outcome stage in the window, the outcome wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connector.calibrate.timeline import Timeline
from connector.core.handoff import REJECTED, UNSPECIFIED, Handoff
from connector.core.properties import HANDOFF_RESULT, LEAD_STATUS, REJECTION_REASON, REJECTION_REASONS
from connector.core.values import parse_instant

DAY = 86_400.0
MQL_STAGE = "marketingqualifiedlead"

# Why a contact is left out, as the report names it.
NO_CREATEDATE = "no create date"
OUTSIDE_RANGE = "decision outside the time range"
TOO_YOUNG = "too young: window not over"
CONVERTED_BEFORE = "reached the outcome before its decision moment"


@dataclass(frozen=True, slots=True)
class OutcomeRule:
    """What counts as a good outcome, and when a lead is judged."""

    stages: tuple[str, ...] = ("opportunity", "customer")
    window_days: float = 180.0
    decision_age_days: float = 30.0
    since: float | None = None  # decision moments from (epoch seconds) ...
    until: float | None = None  # ... up to; None: open


@dataclass(frozen=True, slots=True)
class Example:
    """A contact as a training example: judged at `decided_at`, converted or not."""

    timeline: Timeline
    decided_at: float
    kind: str  # "mql" | "age": where the decision moment came from
    converted: bool
    converted_at: float | None
    rejected: str | None = None  # the reason, when sales rejected this MQL after its decision moment


def stage_entered(t: Timeline, stage: str) -> float | None:
    """When the contact entered `stage`: HubSpot's calculated date-entered properties (their
    newest value), else the first lifecyclestage version with that value."""
    times = []
    for name in (f"hs_lifecyclestage_{stage}_date", f"hs_v2_date_entered_{stage}"):
        entry = t.versions.get(name)
        if entry and entry[1][-1]:
            at = parse_instant(entry[1][-1])
            if at is not None:
                times.append(at)
    if times:
        return min(times)
    return t.first_time("lifecyclestage", (stage,))


def rejection(t: Timeline, after: float, handoff: Handoff) -> str | None:
    """The reason of the first rejection by sales at or after `after` (None: not rejected): the
    handoff result property set to rejected (its reason as it stood then), or a lead status the
    config maps to a rejection reason."""
    found: list[tuple[float, str]] = []
    times, values = t.versions.get(HANDOFF_RESULT, ((), ()))
    at = next((a for a, v in zip(times, values, strict=True) if a >= after and v == REJECTED), None)
    if at is not None:
        # The reason is often picked a moment after the result: the first one set within a day.
        reasons = t.versions.get(REJECTION_REASON, ((), ()))
        reason = next((v for a, v in zip(*reasons, strict=True) if at - DAY <= a <= at + DAY and v), None)
        found.append((at, reason if reason in REJECTION_REASONS else UNSPECIFIED))
    times, values = t.versions.get(LEAD_STATUS, ((), ()))
    mapped = next(((a, handoff.rejected_statuses[v]) for a, v in zip(times, values, strict=True)
                   if a >= after and v is not None and v in handoff.rejected_statuses), None)
    if mapped is not None:
        found.append(mapped)
    return min(found)[1] if found else None


def judge(t: Timeline, rule: OutcomeRule, read_at: float, handoff: Handoff | None = None) -> Example | str:
    """The example this contact makes, or why it is left out (one of the constants above)."""
    if t.created_at is None:
        return NO_CREATEDATE
    mql_at = stage_entered(t, MQL_STAGE)
    if mql_at is not None:
        decided_at, kind = mql_at, "mql"
    else:
        decided_at, kind = t.created_at + rule.decision_age_days * DAY, "age"
    if (rule.since is not None and decided_at < rule.since) or \
            (rule.until is not None and decided_at > rule.until):
        return OUTSIDE_RANGE
    converted_at = _first(stage_entered(t, s) for s in rule.stages)
    if converted_at is not None and converted_at <= decided_at:
        return CONVERTED_BEFORE
    end = decided_at + rule.window_days * DAY
    rejected = rejection(t, decided_at, handoff) if handoff is not None and kind == "mql" else None
    if rejected is not None:
        converted = converted_at is not None and converted_at <= end
        return Example(t, decided_at, kind, converted, converted_at if converted else None, rejected)
    if end > read_at:
        # Still inside its window: a "no" is not known yet, and keeping only the early yeses
        # would make young leads look better than they are.
        return TOO_YOUNG
    converted = converted_at is not None and converted_at <= end
    return Example(t, decided_at, kind, converted, converted_at if converted else None)


def judge_all(timelines: Sequence[Timeline], rule: OutcomeRule, read_at: float,
              handoff: Handoff | None = None) -> tuple[list[Example], dict[str, int]]:
    """The examples, oldest decision first, and how many contacts were left out, by reason.
    `handoff`: read sales' rejections (None: outcomes from the stages alone)."""
    examples: list[Example] = []
    left_out: dict[str, int] = {}
    for t in timelines:
        verdict = judge(t, rule, read_at, handoff)
        if isinstance(verdict, str):
            left_out[verdict] = left_out.get(verdict, 0) + 1
        else:
            examples.append(verdict)
    examples.sort(key=lambda e: (e.decided_at, e.timeline.id))
    return examples, left_out


def _first(times) -> float | None:
    found = [t for t in times if t is not None]
    return min(found) if found else None
