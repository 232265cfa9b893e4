"""Decay of count-based engagement: HubSpot's rollups are counts without event dates.

The connector dates each increase of a count when it first sees it and lets every increase fade
with a half-life. Exponential decay is memoryless, so the sum of all dated increases, each weighted
by 0.5 ** (age / half_life), is carried exactly by one number, the decayed units as of the last
evaluation: advancing it by `dt` multiplies it by 0.5 ** (dt / half_life). No event list to store.
"""

from __future__ import annotations

from math import floor

# Stored units are rounded to 9 places so History stays small and round-trips through JSON
# exactly. Rounding is monotone, so it never makes decayed units grow. (floor(x + .5) is ~7x faster
# than round(x, 4), and this runs for every count of every contact.)
_SCALE = 1_000_000_000.0


def advance(previous: tuple[float, float] | None, elapsed: float, count: float,
            backlog_age: float, half_life: float) -> tuple[float, float]:
    """The new (count, decayed units) for a rollup now at `count`.

    previous: (count last seen, decayed units then), or None on first sight; elapsed: seconds since
    then. On first sight the whole count is one increase, dated `backlog_age` seconds ago (read from
    the rollup's date property; 0 when unknown). A rise is a new increase dated now. A fall (HubSpot
    recounted, or contacts merged) scales the units down with the count.
    """
    # Fading (units * 0.5 ** (elapsed / half_life)) and rounding are inlined: this runs for
    # every count of every contact. A negative elapsed (a clock going back) fades nothing.
    if count < 0:
        count = 0.0
    if previous is None:
        units = count * 0.5 ** (backlog_age / half_life) if backlog_age > 0 else count
        return count, floor(units * _SCALE + 0.5) / _SCALE
    seen, units = previous
    if elapsed > 0 and units > 0:
        units *= 0.5 ** (elapsed / half_life)
    if count > seen:
        units += count - seen
    elif count < seen:
        units = units * count / seen if seen > 0 else 0.0
    units = floor(units * _SCALE + 0.5) / _SCALE
    return count, units if units < count else count
