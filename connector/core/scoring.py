"""Pure scoring: contact + history + rules + now -> fit, engagement, total, grade and reasons.

No IO, no clock, no globals. `now` and every date are float seconds since the epoch here;
`connector.core.evaluate.evaluate` is the entry point that takes a datetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import floor
from operator import attrgetter

from connector.core.decay import advance
from connector.core.model import Contact, History, Reason
from connector.core.rules import RuleSet
from connector.core.values import instant_text, parse_instant, parse_number, round_half_up

_RANK = attrgetter("rank")


@dataclass(frozen=True, slots=True)
class ScoreCard:
    """The scoring result before the policy: rounded scores, ranked reasons, the hand-raise that
    fired (with a key identifying that very submission or meeting) and the new rollup state."""

    fit: int
    engagement: int
    total: int
    grade: str
    reasons: tuple[Reason, ...]
    hand_raise: Reason | None
    hand_raise_key: str | None
    rollups: tuple[tuple[str, float, float], ...]


def tally(contact: Contact, history: History, rules: RuleSet, now: float) -> ScoreCard:
    """Score one contact. Count rules advance their decay state from `history` to `now`.

    One pass, written for speed (it runs for every contact of every sync): sums per score and per
    group are kept as the rules fire; caps apply after, each as a reason of its own so the reasons
    add up to what a marketer sees.
    """
    get = contact.properties.get
    dates: dict[str, float | None] = {}  # several rules read the same date: parse it once
    reasons: list[Reason] = []
    groups: dict[str, float] = {}
    fit = engagement = 0.0

    for rule in rules.fit_matcher.fired(get):
        fit += rule.points
        reasons.append(rule.reason)  # type: ignore[arg-type]
        if rule.group is not None:
            groups[rule.group] = groups.get(rule.group, 0.0) + rule.points

    for rule in rules.engagement_matcher.fired(get):
        window = rule.within_seconds
        if window is None or _recent(rule.date_property, window, get, dates, now):
            engagement += rule.points
            reasons.append(rule.reason)  # type: ignore[arg-type]
            if rule.group is not None:
                groups[rule.group] = groups.get(rule.group, 0.0) + rule.points

    previous = {name: (count, units) for name, count, units in history.rollups} \
        if history.rollups else {}
    elapsed = now - history.at if history.at is not None else 0.0
    half_life = rules.half_life_seconds
    rollups = []
    for rule in rules.counters:
        count = parse_number(get(rule.property)) or 0.0
        before = previous.get(rule.name)
        if before is None:
            if count == 0:
                continue  # nothing to remember yet: keeps History small for the silent majority
            when = _date(rule.date_property, get, dates) if rule.date_property else None
            backlog_age = now - when if when is not None else 0.0
        else:
            backlog_age = 0.0
        count, units = advance(before, elapsed, count, backlog_age,
                               rule.half_life_seconds or half_life)
        rollups.append((rule.name, count, units))
        window = rule.within_seconds
        if units > 0 and (window is None or _recent(rule.date_property, window, get, dates, now)):
            value = units * rule.per_unit  # type: ignore[operator]
            if value > rule.max_points:  # type: ignore[operator]
                value = rule.max_points  # type: ignore[assignment]
            engagement += value
            shown = floor(value + 0.5)  # round_half_up, inlined: this loop is hot
            if shown:
                reason = rule.reasons.get(shown)
                if reason is None:
                    reason = rule.reasons[shown] = Reason(rule.name, rule.label, shown)
                reasons.append(reason)
            if rule.group is not None:
                groups[rule.group] = groups.get(rule.group, 0.0) + value

    caps: list[Reason] = []
    for name, value in groups.items():
        group = rules.groups[name]
        if group.max_points is not None and value > group.max_points:
            capped = group.max_points
        elif group.min_points is not None and value < group.min_points:
            capped = group.min_points
        else:
            continue
        if group.section == "fit":
            fit += capped - value
        else:
            engagement += capped - value
        key = (capped, round_half_up(capped - value))
        reason = group.reasons.get(key)
        if reason is None:
            reason = group.reasons[key] = Reason(f"cap:{name}",
                                                 f"{group.label} capped at {capped:g}", key[1])
        caps.append(reason)
    if rules.fit_cap is not None and fit > rules.fit_cap:
        caps.append(Reason("cap:fit", f"Fit capped at {rules.fit_cap:g}",
                           round_half_up(rules.fit_cap - fit)))
        fit = rules.fit_cap
    if rules.engagement_cap is not None and engagement > rules.engagement_cap:
        caps.append(Reason("cap:engagement", f"Engagement capped at {rules.engagement_cap:g}",
                           round_half_up(rules.engagement_cap - engagement)))
        engagement = rules.engagement_cap

    fit_i, engagement_i = round_half_up(fit), round_half_up(engagement)
    total = fit_i + engagement_i
    if total < 0:
        total = 0
    elif rules.total_cap is not None and total > rules.total_cap:
        cap = round_half_up(rules.total_cap)
        caps.append(Reason("cap:total", f"Total capped at {cap}", cap - total))
        total = cap
    reasons.sort(key=_RANK)
    reasons += caps  # caps explain the sums: after the rules, in the order they apply

    hand_raise, hand_raise_key = _hand_raise(rules, get, dates, now)
    if hand_raise is not None:
        reasons.insert(0, hand_raise)
    grade = _band("ABCDE", fit_i, rules.fit_bands) + _band("12345", engagement_i,
                                                           rules.engagement_bands)
    return ScoreCard(fit_i, engagement_i, total, grade, tuple(reasons), hand_raise, hand_raise_key,
                 tuple(rollups))


def _hand_raise(rules: RuleSet, get, dates: dict[str, float | None],
                now: float) -> tuple[Reason | None, str | None]:
    """The first hand-raise rule (in config order) that fired, and a key naming that very form
    submission or meeting: a recycled contact is not re-qualified by the same old one."""
    raised = rules.hand_raise_matcher.fired(get)
    if not raised:
        return None, None
    for rule in rules.hand_raise:
        if rule not in raised:
            continue
        if rule.within_seconds is not None and not _recent(rule.date_property, rule.within_seconds,
                                                           get, dates, now):
            continue
        matches = rule.condition.matches  # type: ignore[union-attr]
        value = next((get(p) for p in rule.properties if matches(get(p))), "") or ""
        # The date as an instant, not as written: HubSpot sends the same one as ISO or ms epoch.
        # Without a date_property the key is the value alone: a repeat of the same form counts once.
        stamp = instant_text(get(rule.date_property)) if rule.date_property else ""
        return rule.reason, f"{rule.name}|{value.strip().lower()}|{stamp}"
    return None, None


def _date(name: str, get, dates: dict[str, float | None]) -> float | None:
    try:
        return dates[name]
    except KeyError:
        when = dates[name] = parse_instant(get(name))
        return when


def _recent(name: str | None, window: float, get, dates: dict[str, float | None],
            now: float) -> bool:
    when = _date(name, get, dates)  # type: ignore[arg-type]
    return when is not None and now - when <= window


def _band(names: str, value: int, minimums: tuple[float, ...]) -> str:
    for name, minimum in zip(names, minimums, strict=False):
        if value >= minimum:
            return name
    return names[len(minimums)]


__all__ = ["ScoreCard", "tally"]
