"""The sync's entry point: one contact -> score, decision, the property values to write, history.

Pure: the caller passes `now`. Only values that differ from HubSpot's current ones are returned,
compared as HubSpot would ("42" equals "42.0"; datetimes as instants), so a run that changes
nothing writes nothing, and decay alone causes no write until a rounded value moves.
"""

from __future__ import annotations

from datetime import datetime

from connector.core import properties as hp
from connector.core.model import Contact, Evaluation, History, Score
from connector.core.policy import decide, remember
from connector.core.rules import RuleSet
from connector.core.scoring import tally
from connector.core.values import format_instant, same_instant, same_number

REASONS_MAX = 1000  # characters; the textarea's value is capped so the write never fails


def evaluate(contact: Contact, history: History, rules: RuleSet, now: datetime) -> Evaluation:
    """Score and decide one contact as of `now` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("evaluate() needs a timezone-aware `now` "
                         "(e.g. datetime.now(timezone.utc))")
    at = now.timestamp()
    props = contact.properties
    result = tally(contact, history, rules, at)
    decision = decide(props, result, history, rules.policy, at)
    new_history = remember(props, decision, result, history, rules.policy, at)
    score = Score(result.fit, result.engagement, result.total, result.grade, result.reasons,
                  decision.path)
    return Evaluation(score, decision, _changes(props, score, decision, new_history, now),
                      new_history, result.hand_raise_key)


def reasons_text(score: Score) -> str:
    """The reasons as HubSpot shows them: one per line, biggest first, at most 1000 characters."""
    lines = [r.text for r in score.reasons]
    text = "\n".join(lines)
    if len(text) <= REASONS_MAX:
        return text
    kept: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        tail = f"\n… and {len(lines) - i} more"
        if size + len(line) + 1 + len(tail) > REASONS_MAX:
            return "\n".join(kept) + tail
        kept.append(line)
        size += len(line) + 1
    return text  # unreachable: the loop returns once the text is too long


def _iso(now: datetime) -> str:
    """`now` as format_instant writes it; a whole-millisecond UTC time takes a faster path."""
    if now.microsecond % 1000 or now.utcoffset():
        return format_instant(now.timestamp())
    return now.isoformat(timespec="milliseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def _changes(props, score: Score, decision, history: History, now: datetime) -> dict[str, str]:
    get = props.get
    changes: dict[str, str] = {}
    for name, value in ((hp.SCORE, score.total), (hp.FIT_SCORE, score.fit),
                        (hp.ENGAGEMENT_SCORE, score.engagement)):
        text = str(value)
        current = get(name)
        if current != text and (not current or not same_number(current, text)):
            changes[name] = text
    for name, text in ((hp.GRADE, score.grade), (hp.PATH, score.path),
                       (hp.REASONS, reasons_text(score))):
        if (get(name) or "").strip() != text:
            changes[name] = text
    if history.mql_at is not None:
        current = get(hp.MQL_DATE)
        wanted = format_instant(history.mql_at)
        if current != wanted and not same_instant(current, wanted):
            changes[hp.MQL_DATE] = wanted
    # Here lsc_last_scored comes only with a score property that really changes (so an unchanged
    # contact yields no changes at all); the sync adds it to every write it makes, status-only
    # ones too (connector/writeback.py), so in HubSpot it means "last written by the connector".
    if changes:
        changes[hp.LAST_SCORED] = _iso(now)
    if decision.lead_status is not None and get(hp.LEAD_STATUS) != decision.lead_status:
        changes[hp.LEAD_STATUS] = decision.lead_status
    if decision.lifecycle_stage is not None and get(hp.LIFECYCLE_STAGE) != decision.lifecycle_stage:
        changes[hp.LIFECYCLE_STAGE] = decision.lifecycle_stage
    return changes
