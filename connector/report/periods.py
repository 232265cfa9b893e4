"""The report's window and its periods: ISO weeks (Monday to Sunday, UTC) or calendar months."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from connector.errors import ConnectorError

BY = ("week", "month")
DEFAULT_PERIODS = 12  # without --since: the last 12 weeks or months


@dataclass(frozen=True, slots=True)
class Window:
    """[since, until) in ms, cut into periods of `by`."""

    since: int
    until: int
    by: str

    def contains(self, at: int | None) -> bool:
        return at is not None and self.since <= at < self.until

    def periods(self) -> list[str]:
        """Every period's key in the window, oldest first."""
        keys: list[str] = []
        day = _day(self.since)
        last = _day(self.until - 1)
        while day <= last:
            key = period_key(day, self.by)
            if not keys or keys[-1] != key:
                keys.append(key)
            day += timedelta(days=1)
        return keys

    def describe(self) -> str:
        return f"{_day(self.since).isoformat()} to {_day(self.until - 1).isoformat()}"


def period_key(day: date, by: str) -> str:
    """"2026-11" for a month; the Monday that starts the week ("2026-11-16") for a week."""
    if by == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return (day - timedelta(days=day.weekday())).isoformat()


def period_of(at_ms: int, by: str) -> str:
    return period_key(_day(at_ms), by)


def window(since: str | None, until: str | None, by: str, now_ms: int) -> Window:
    """The window from --since / --until (YYYY-MM-DD, both days included, UTC). Without --since:
    the last DEFAULT_PERIODS periods up to --until (default: today)."""
    if by not in BY:
        raise ConnectorError(f"--by must be week or month, got {by!r}")
    end = parse_day(until, "--until") if until else _day(now_ms)
    if since:
        start = parse_day(since, "--since")
    elif by == "month":
        month = end.year * 12 + end.month - 1 - (DEFAULT_PERIODS - 1)
        start = date(month // 12, month % 12 + 1, 1)
    else:
        start = end - timedelta(days=end.weekday() + 7 * (DEFAULT_PERIODS - 1))
    if start > end:
        raise ConnectorError(f"--since {start.isoformat()} is after --until {end.isoformat()}")
    return Window(_ms(start), _ms(end + timedelta(days=1)), by)


def parse_day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConnectorError(f"{flag} must be a day as YYYY-MM-DD, got {text!r}") from None


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def _ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
