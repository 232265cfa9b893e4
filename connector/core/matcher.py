"""Condition rules compiled per property, remembering which rules each distinct value meets.

Portals repeat values: industries, size bands, countries, form names, page URLs, common job
titles. Testing a value against every rule on its property once, then looking the answer up, turns
~25 regex and set tests per contact into ~15 dict lookups. The memo is mutable state in the scoring
core, as are the reason caches built on first use (`Rule.reasons`, `Group.reasons` in
connector/rules.py): each maps an input to the answer that would be computed anyway, so none of
them changes results, only speed. The memo is bounded: once full it stops adding, so a free-text
property cannot grow it without limit, and the values seen first (in a large base, the common ones)
stay remembered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connector.core.rules import Rule

MEMO_LIMIT = 20_000  # distinct values remembered per property (a few MB at most)


class Matcher:
    """Which of `rules` (condition rules, in config order) a contact's values meet."""

    __slots__ = ("_plan", "_dedupe")

    def __init__(self, rules: Sequence[Rule]):
        by_property: dict[str, list[Rule]] = {}
        for rule in rules:
            for name in rule.properties:
                by_property.setdefault(name, []).append(rule)
        # (property, its rules, memo of value -> rules met, whether only the email's domain matters)
        self._plan: tuple[tuple[str, tuple[Rule, ...], dict[str | None, tuple[Rule, ...]], bool], ...] = tuple(
            (name, tuple(on), {}, _only_domains(on))
            for name, on in by_property.items())
        # A rule on several properties (hand-raise on recent and first conversion) may fire twice.
        self._dedupe = any(len(rule.properties) > 1 for rule in rules)

    def fired(self, get: Callable[[str], str | None]) -> list[Rule]:
        """The rules met by the values `get(property)` returns, grouped by property."""
        out: list[Rule] = []
        for name, rules, memo, by_domain in self._plan:
            raw = get(name)
            if by_domain and raw:
                # Emails are unique; their domains repeat. Remember "@domain", test as is.
                at = raw.rfind("@")
                raw = raw[at:] if at >= 0 else ""
            hits = memo.get(raw)
            if hits is None:
                hits = _test(raw, rules)
                if len(memo) < MEMO_LIMIT:  # full: stop adding (clearing would thrash)
                    memo[raw] = hits
            if hits:
                out += hits
        return list(dict.fromkeys(out)) if self._dedupe and out else out


def _test(raw: str | None, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    value = raw.strip().lower() if raw else ""
    if value:
        return tuple(r for r in rules if r.condition.test(value))  # type: ignore[union-attr]
    return tuple(r for r in rules if r.condition.on_empty)  # type: ignore[union-attr]


def _only_domains(rules: list[Rule]) -> bool:
    return all(r.condition is not None and r.condition.operator == "email_domain_in" for r in rules)
