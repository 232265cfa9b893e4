"""Pure: does this evaluation carry an action the owner must hear of now, and what to tell them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from connector.core.evaluate import reasons_text
from connector.core.handoff import mql_moment
from connector.core.model import Evaluation, History
from connector.core.properties import LEAD_STATUS, LIFECYCLE_STAGE
from connector.core.rules import Alerts, RuleSet
from connector.core.values import format_instant, instant_text, parse_instant


@dataclass(frozen=True, slots=True)
class Action:
    key: str  # the same action always gives the same key (alerts are unique per contact and key)
    title: str
    body: str
    due_at: float  # epoch seconds


def _news(when: float | None, config: Alerts, now: float) -> bool:
    return when is not None and now - when <= config.max_age_seconds


def _body(evaluation: Evaluation, label: str, when: float) -> str:
    score = evaluation.score
    return (f"{label} ({format_instant(when)}).\n"
            f"Score {score.total}, grade {score.grade} (fit {score.fit}, engagement {score.engagement}).\n"
            f"Why:\n{reasons_text(score)}")


def _key(kind: str, raw: str) -> str:
    return f"{kind}:{hashlib.sha256(raw.encode()).hexdigest()[:40]}"


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
    if not _news(when, config, now):
        return None
    reason = next((r for r in evaluation.score.reasons if r.hand_raise), None)
    label = reason.label if reason is not None else "Raised a hand"
    return Action(_key("hand_raise", key), f"Hot lead: {label}", _body(evaluation, label, when),
                  when + config.task_due_seconds)


QUALIFIED = frozenset({"marketingqualifiedlead", "salesqualifiedlead", "opportunity"})


def qualified_lead_actions(evaluation: Evaluation, props: Mapping[str, str | None], rules: RuleSet,
                           now: float) -> list[Action]:
    """Alerts for `alerts.for_mqls` rules that fired for a contact already qualified (its lead
    status is the MQL status, or its stage is MQL, SQL or opportunity): one per rule and date (that
    very visit or form), only while the date is news and only for a date after the contact became
    an MQL."""
    config = rules.alerts
    if config is None or not config.for_mqls:
        return []
    qualified = (props.get(LEAD_STATUS) or "") == rules.policy.mql_status or \
        (props.get(LIFECYCLE_STAGE) or "") in QUALIFIED
    if not qualified:
        return []
    # "Again": a visit or a reply from before the contact became an MQL is one the MQL itself
    # (and its hand-raise alert) already stood for; the sync after a first one would else alert
    # on the very visits that qualified them. An MQL of unknown date: any recent date counts.
    since = mql_moment(props)
    fired = {r.rule: r for r in evaluation.score.reasons}
    by_name = {r.name: r for section in (rules.fit, rules.engagement) for r in section}
    out = []
    for name in config.for_mqls:
        rule = by_name.get(name)
        if name not in fired or rule is None or not rule.date_property:
            continue
        when = parse_instant(props.get(rule.date_property))
        if when is None or not _news(when, config, now) or (since is not None and when <= since):
            continue
        out.append(Action(_key("for_mql", f"{name}|{instant_text(props.get(rule.date_property))}"),
                          f"MQL active again: {rule.label}", _body(evaluation, rule.label, when),
                          when + config.task_due_seconds))
    return out
