"""Pure: the MQL -> first sales touch clock, in business hours if configured, and its escalations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from connector.core.values import parse_instant

# What counts as a sales touch on the contact (HubSpot's calculated rollups of logged calls,
# meetings, emails and notes; https://knowledge.hubspot.com/properties/hubspots-default-contact-properties).
TOUCH_PROPERTIES = ("hs_last_sales_activity_timestamp", "notes_last_contacted", "notes_last_updated")


@dataclass(frozen=True, slots=True)
class BusinessHours:
    timezone: str
    days: frozenset[int]  # 0 = Monday
    start_minute: int
    end_minute: int


@dataclass(frozen=True, slots=True)
class Escalation:
    after_seconds: float
    to_owner: str


@dataclass(frozen=True, slots=True)
class Sla:
    escalations: tuple[Escalation, ...]  # ascending by after_seconds; the first is the SLA itself
    hours: BusinessHours | None = None


def elapsed(start: float, end: float, sla: Sla) -> float:
    """Seconds from `start` to `end` that count: all of them, or those in business hours."""
    if end <= start:
        return 0.0
    hours = sla.hours
    if hours is None:
        return end - start
    tz = ZoneInfo(hours.timezone)
    t = datetime.fromtimestamp(start, tz)
    stop = datetime.fromtimestamp(end, tz)
    total = 0.0
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= stop:
        if day.weekday() in hours.days:
            # wall-clock opening hours of that local day (DST-safe: built from the local date)
            opens = day.replace(hour=hours.start_minute // 60, minute=hours.start_minute % 60)
            closes = day.replace(hour=hours.end_minute // 60, minute=hours.end_minute % 60)
            lo, hi = max(opens, t), min(closes, stop)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day = (day + timedelta(days=1, hours=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    return total


def touched_at(props: Mapping[str, str | None], since: float) -> float | None:
    """When sales touched the contact after `since` (the MQL moment), as far as its properties
    say: the earliest touch rollup that is later than `since`, else None."""
    times = [t for t in (parse_instant(props.get(n)) for n in TOUCH_PROPERTIES) if t is not None and t > since]
    return min(times) if times else None


def due(mql_at: float, now: float, sla: Sla, done: int) -> list[int]:
    """The escalation stages (indices) due at `now` and not yet done (`done` stages were)."""
    spent = elapsed(mql_at, now, sla)
    return [i for i, e in enumerate(sla.escalations) if i >= done and spent >= e.after_seconds]
