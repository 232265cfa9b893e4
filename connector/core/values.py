"""HubSpot property values as strings: parse them, format them, and compare them as HubSpot would.

HubSpot sends every value as a string: numbers "12" or "12.0", datetimes as ISO 8601
("2026-11-20T10:00:00.000Z") or as milliseconds since the epoch ("1763632800000"), booleans
"true"/"false", and "" or None when unset. Instants are handled as float seconds since the epoch.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

_UTC = UTC


def parse_number(value: str | None) -> float | None:
    """The number in `value`, or None when it is unset or not a finite number."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_instant(value: str | None) -> float | None:
    """Seconds since the epoch for an ISO 8601 or ms-epoch string; None when unparseable."""
    if not value:
        return None
    if value.isdigit():
        return int(value) / 1000.0
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:  # HubSpot's dates are UTC; a bare date means midnight UTC
        parsed = parsed.replace(tzinfo=_UTC)
    return parsed.timestamp()


def format_instant(seconds: float) -> str:
    """ISO 8601 UTC with milliseconds and Z: the form HubSpot returns, so re-reads compare equal."""
    millis = round_half_up(seconds * 1000)
    whole = datetime.fromtimestamp(millis // 1000, _UTC).replace(microsecond=millis % 1000 * 1000)
    return whole.isoformat(timespec="milliseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def instant_text(value: str | None) -> str:
    """`value` as format_instant writes it when it is an instant (ISO 8601 or ms epoch, so both
    forms of the same instant give the same text), else stripped as is ("" when unset)."""
    when = parse_instant(value)
    if when is not None:
        try:
            return format_instant(when)
        except (OverflowError, OSError, ValueError):  # beyond what datetime can show
            pass
    return (value or "").strip()


def round_half_up(value: float) -> int:
    """Round .5 away from zero's left side (up), unlike Python's banker's rounding: 2.5 -> 3."""
    return math.floor(value + 0.5)


def same_number(current: str | None, wanted: str) -> bool:
    """True when HubSpot's `current` value is the number `wanted` ("42" equals "42.0")."""
    a, b = parse_number(current), parse_number(wanted)
    return a is not None and a == b


def same_instant(current: str | None, wanted: str) -> bool:
    """True when `current` names the same millisecond as `wanted`, whatever its format."""
    a, b = parse_instant(current), parse_instant(wanted)
    return a is not None and b is not None and round_half_up(a * 1000) == round_half_up(b * 1000)
