"""Pure: does this evaluation carry an action the owner must hear of now, and what to tell them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from connector.core.evaluate import reasons_text
from connector.core.model import Evaluation, History
from connector.core.rules import Alerts
from connector.core.values import format_instant, parse_instant


@dataclass(frozen=True, slots=True)
class Action:
    key: str  # the same action always gives the same key (alerts are unique per contact and key)
    title: str
    body: str
    due_at: float  # epoch seconds


def hand_raise_action(evaluation: Evaluation, before: History, config: Alerts | None,
                      now: float) -> Action | None:
    """The hand-raise this evaluation saw, if it is news: not the one the connector already knew
    (`before.hand_raise_used`), and no older than `config.max_age_seconds` (so a first sync over
    months of old demo requests alerts nobody). An undated hand-raise counts as news only on a
    contact the connector has seen before."""
    key = evaluation.hand_raise_key
    if config is None or not config.hand_raise or key is None or key == before.hand_raise_used:
        return None
    when = parse_instant(key.rsplit("|", 1)[-1])
    if when is None:
        if before.at is None:
            return None
        when = now
    if now - when > config.max_age_seconds:
        return None
    score = evaluation.score
    reason = next((r for r in score.reasons if r.hand_raise), None)
    label = reason.label if reason is not None else "Raised a hand"
    body = (f"{label} ({format_instant(when)}).\n"
            f"Score {score.total}, grade {score.grade} (fit {score.fit}, engagement {score.engagement}).\n"
            f"Why:\n{reasons_text(score)}")
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return Action(f"hand_raise:{digest}", f"Hot lead: {label}", body, when + config.task_due_seconds)
