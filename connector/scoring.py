"""Pure scoring: contact + history + rules + now -> fit, engagement, total, grade and reasons.

No IO, no clock, no globals. `now` and every date are float seconds since the epoch here;
`connector.evaluate.evaluate` (re-exported below) is the entry point that takes a datetime.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.decay import advance
from connector.model import Contact, History, Reason
from connector.rules import Rule, RuleSet
from connector.values import parse_instant, parse_number, round_half_up


@dataclass(frozen=True, slots=True)
class Tally:
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


def tally(contact: Contact, history: History, rules: RuleSet, now: float) -> Tally:
    """Score one contact. Count rules advance their decay state from `history` to `now`."""
    get = contact.properties.get
    dates: dict[str, float | None] = {}  # several rules read the same date: parse it once
    points: list[tuple[Rule, float]] = [(rule, rule.points) for rule in rules.fit_matcher.fired(get)]
    add = points.append

    for rule in rules.engagement_matcher.fired(get):
        window = rule.within_seconds
        if window is None or _recent(rule.date_property, window, get, dates, now):
            add((rule, rule.points))

    previous = {name: (count, units) for name, count, units in history.rollups}
    elapsed = now - history.at if history.at is not None else 0.0
    rollups = []
    for rule in rules.engagement:
        if rule.per_unit is None:
            continue
        count = parse_number(get(rule.properties[0])) or 0.0
        before = previous.get(rule.name)
        if before is None and count == 0:
            continue  # nothing to remember yet: keeps History small for the silent majority
        backlog_age = 0.0
        if before is None and rule.date_property:
            when = _date(rule.date_property, get, dates)
            backlog_age = now - when if when is not None else 0.0
        count, units = advance(before, elapsed, count, backlog_age,
                               rule.half_life_seconds or rules.half_life_seconds)
        rollups.append((rule.name, count, units))
        window = rule.within_seconds
        if units > 0 and (window is None or _recent(rule.date_property, window, get, dates, now)):
            add((rule, min(units * rule.per_unit, rule.max_points or float("inf"))))

    hand_raise = hand_raise_key = None
    raised = rules.hand_raise_matcher.fired(get)
    for rule in rules.hand_raise if raised else ():  # config order: the first rule listed wins
        if rule not in raised:
            continue
        if rule.within_seconds is not None and not _recent(rule.date_property, rule.within_seconds,
                                                           get, dates, now):
            continue
        hand_raise = rule.reason
        # The same form submission or meeting must not re-qualify a recycled contact: the key
        # changes only when the contact raises a hand again (another form, a newer date).
        value = next((get(p) for p in rule.properties if rule.condition.matches(get(p))), "")  # type: ignore[union-attr]
        stamp = get(rule.date_property) if rule.date_property else ""
        hand_raise_key = f"{rule.name}|{(value or '').strip().lower()}|{stamp or ''}"
        break

    reasons, caps, fit, engagement = _combine(points, rules)
    fit_i, engagement_i = round_half_up(fit), round_half_up(engagement)
    total = max(0, fit_i + engagement_i)
    if rules.total_cap is not None and total > rules.total_cap:
        cap = round_half_up(rules.total_cap)
        caps.append(Reason("cap:total", f"Total capped at {cap}", cap - total))
        total = cap
    reasons.sort(key=_rank)
    reasons += caps  # caps explain the sums: after the rules, in the order they apply
    if hand_raise is not None:
        reasons.insert(0, hand_raise)
    grade = _band("ABCDE", fit_i, rules.fit_bands) + _band("12345", engagement_i,
                                                           rules.engagement_bands)
    return Tally(fit_i, engagement_i, total, grade, tuple(reasons), hand_raise, hand_raise_key,
                 tuple(rollups))


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


def _combine(points: list[tuple[Rule, float]], rules: RuleSet
             ) -> tuple[list[Reason], list[Reason], float, float]:
    """Fit and engagement sums, with reasons per rule and, apart, group caps and score caps as
    reasons of their own, so the reasons add up to the score a marketer sees."""
    reasons = []
    caps = []
    sums = {"fit": 0.0, "engagement": 0.0}
    groups: dict[str, float] = {}
    for rule, value in points:
        sums[rule.section] += value
        if rule.group is not None:
            groups[rule.group] = groups.get(rule.group, 0.0) + value
        if rule.reason is not None:
            reasons.append(rule.reason)
        else:
            shown = round_half_up(value)
            if shown:
                reasons.append(Reason(rule.name, rule.label, shown))
    for name, value in groups.items():
        group = rules.groups[name]
        capped = value
        if group.max_points is not None and capped > group.max_points:
            capped = group.max_points
        if group.min_points is not None and capped < group.min_points:
            capped = group.min_points
        if capped != value:
            section = next(r.section for r, _ in points if r.group == name)
            sums[section] += capped - value
            caps.append(Reason(f"cap:{name}", f"{group.label} capped at {capped:g}",
                                  round_half_up(capped - value)))
    for section, cap in (("fit", rules.fit_cap), ("engagement", rules.engagement_cap)):
        if cap is not None and sums[section] > cap:
            caps.append(Reason(f"cap:{section}", f"{section.capitalize()} capped at {cap:g}",
                                  round_half_up(cap - sums[section])))
            sums[section] = cap
    return reasons, caps, sums["fit"], sums["engagement"]


def _rank(reason: Reason) -> tuple[int, str]:
    return -abs(reason.points), reason.rule


def _band(names: str, value: int, minimums: tuple[float, ...]) -> str:
    for name, minimum in zip(names, minimums):
        if value >= minimum:
            return name
    return names[len(minimums)]


def __getattr__(name: str):
    # `connector.scoring.evaluate` is the sync's entry point; it lives in connector.evaluate
    # (which imports this module), so it is re-exported lazily to avoid an import cycle.
    if name == "evaluate":
        from connector.evaluate import evaluate
        return evaluate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Tally", "tally", "evaluate"]
