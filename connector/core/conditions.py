"""Rule conditions: one operator from the config compiled once into a fast test on a string value.

A test takes a set value already stripped and lower-cased (so every text comparison is case-blind:
marketers write "Software", HubSpot may hold "SOFTWARE"); `on_empty` is the precomputed answer
for an unset value, so blanks, most of a portal's values, cost no call. `compile_condition`
raises ValueError with a message fit for a config error when the argument is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from connector.core.values import parse_number

Test = Callable[[str], bool]

OPERATORS = ("equals", "in", "contains", "regex", "gte", "lte", "between", "exists",
             "email_domain_in")


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled operator: `matches(raw)` says whether a property value (as HubSpot sends it)
    meets it; `test` is the fast path for a normalised, non-empty value."""

    operator: str
    argument: object
    test: Test = field(compare=False, repr=False)
    on_empty: bool = False

    def matches(self, raw: str | None) -> bool:
        value = raw.strip().lower() if raw else ""
        return self.test(value) if value else self.on_empty


def compile_condition(operator: str, argument: object) -> Condition:
    """Compile `operator: argument` from the config; ValueError says what is wrong with it."""
    builder = _BUILDERS.get(operator)
    if builder is None:
        raise ValueError(f"unknown operator {operator!r} (expected one of: {', '.join(OPERATORS)})")
    return Condition(operator, argument, builder(argument), operator == "exists" and not argument)


def _text(value: object, what: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # YAML reads `true` as a bool; HubSpot sends "true"
    if isinstance(value, (str, int, float)):
        return str(value).strip().lower()
    raise ValueError(f"{what} must be text or a number, got {type(value).__name__}")


def _texts(value: object, what: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError(f"{what} must not be an empty list")
    return tuple(_text(item, what) for item in items)


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    return float(value)


def _equals(argument: object) -> Test:
    target = _text(argument, "equals")
    return target.__eq__


def _in(argument: object) -> Test:
    if not isinstance(argument, list):
        raise ValueError(f"in must be a list, got {type(argument).__name__}")
    targets = frozenset(_texts(argument, "in"))
    return targets.__contains__


def _contains(argument: object) -> Test:
    needles = _texts(argument, "contains")
    if any(not n for n in needles):
        raise ValueError("contains must not include empty text (it would match everything)")
    # One alternation of literal needles: a single C-level scan instead of a loop per needle.
    search = re.compile("|".join(re.escape(n) for n in needles)).search
    return lambda v: search(v) is not None


def _regex(argument: object) -> Test:
    if not isinstance(argument, str):
        raise ValueError(f"regex must be text, got {type(argument).__name__}")
    try:
        pattern = re.compile(argument, re.IGNORECASE)
    except re.error as e:
        raise ValueError(f"invalid regular expression {argument!r}: {e}") from None
    search = pattern.search
    return lambda v: search(v) is not None


def _bounds(low: float, high: float) -> Test:
    def test(v: str) -> bool:
        n = parse_number(v)
        return n is not None and low <= n <= high
    return test


def _gte(argument: object) -> Test:
    return _bounds(_number(argument, "gte"), float("inf"))


def _lte(argument: object) -> Test:
    return _bounds(float("-inf"), _number(argument, "lte"))


def _between(argument: object) -> Test:
    if not isinstance(argument, list) or len(argument) != 2:
        raise ValueError(f"between must be a list of two numbers [low, high], got {argument!r}")
    low, high = _number(argument[0], "between low"), _number(argument[1], "between high")
    if low > high:
        raise ValueError(f"between low {argument[0]} is greater than high {argument[1]}")
    return _bounds(low, high)


def _exists(argument: object) -> Test:
    if not isinstance(argument, bool):
        raise ValueError(f"exists must be true or false, got {argument!r}")
    return lambda v: argument  # a set value exists; `on_empty` answers for an unset one


def _email_domain_in(argument: object) -> Test:
    if not isinstance(argument, list):
        raise ValueError("email_domain_in must be a list of domains, "
                         f"got {type(argument).__name__}")
    domains = frozenset(d.lstrip("@") for d in _texts(argument, "email_domain_in"))

    def test(v: str) -> bool:
        _, at, domain = v.rpartition("@")
        if not at:
            return False
        while domain:  # "mail.acme.com" matches "acme.com": subdomains belong to the company
            if domain in domains:
                return True
            domain = domain.partition(".")[2]
        return False
    return test


_BUILDERS: dict[str, Callable[[object], Test]] = {
    "equals": _equals, "in": _in, "contains": _contains, "regex": _regex, "gte": _gte,
    "lte": _lte, "between": _between, "exists": _exists, "email_domain_in": _email_domain_in,
}
