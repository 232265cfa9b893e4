"""The funnel: how many contacts entered each stage, how many of them went on to the next, and how
many days that took (the median), for a set of contacts in a window.

A contact counts at a stage in the window when it reached that stage in the window (its "became a"
date, or for a skipped stage the date of the later one: ContactFacts.reached). Conversion to the
next stage is of those contacts, and counts the next stage whenever it came (up to now).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

from connector.report.facts import STAGE_LABELS, STAGES, ContactFacts
from connector.report.periods import Window, period_of

DAY_MS = 86_400_000
Reached = tuple[int | None, ...]


def funnel(entered: Sequence[Sequence[Reached]]) -> list[dict]:
    """`entered[i]`: the contacts (their reached dates) that entered stage i. One row per stage:
    entered, and for all but the last: converted to the next, rate, median days."""
    rows = []
    for i, stage in enumerate(STAGES):
        row: dict = {"stage": stage, "label": STAGE_LABELS[stage], "entered": len(entered[i])}
        if i + 1 < len(STAGES):
            days = [(r[i + 1] - r[i]) / DAY_MS for r in entered[i]  # type: ignore[operator]
                    if r[i + 1] is not None]
            row.update(next=STAGE_LABELS[STAGES[i + 1]], converted=len(days), rate=rate(len(days), len(entered[i])),
                       median_days=round(statistics.median(days), 2) if days else None)
        rows.append(row)
    return rows


class Periods:
    """The period each instant falls in, computed once per day (a report touches ~100,000 dates)."""

    def __init__(self, window: Window):
        self.window = window
        self.keys = window.periods()
        self._by_day: dict[int, str] = {}

    def of(self, at: int | None) -> str | None:
        """The period of `at`, None outside the window."""
        if not self.window.contains(at):
            return None
        day = at // DAY_MS  # type: ignore[operator]
        key = self._by_day.get(day)
        if key is None:
            key = self._by_day[day] = period_of(day * DAY_MS, self.window.by)
        return key


def by_period(reached: Sequence[Reached], periods: Periods) -> list[dict]:
    """The funnel of each period of the window, oldest first."""
    buckets: dict[str, list[list[Reached]]] = {k: [[] for _ in STAGES] for k in periods.keys}
    for r in reached:
        for i, at in enumerate(r):
            key = periods.of(at)
            if key is not None:
                buckets[key][i].append(r)
    return [{"period": key, "stages": funnel(buckets[key])} for key in periods.keys]


def entered_in(reached: Sequence[Reached], window: Window) -> list[tuple[int, ...]]:
    """Per contact, the stages (indices) it entered in the window: worked out once per report."""
    since, until = window.since, window.until
    return [tuple(i for i, at in enumerate(r) if at is not None and since <= at < until) for r in reached]


def in_window(reached: Sequence[Reached], entered: Sequence[tuple[int, ...]]) -> list[dict]:
    """The funnel of the whole window (`entered`: from entered_in)."""
    stages: list[list[Reached]] = [[] for _ in STAGES]
    for r, indices in zip(reached, entered, strict=True):
        for i in indices:
            stages[i].append(r)
    return funnel(stages)


def by_segment(facts: Sequence[ContactFacts], reached: Sequence[Reached], entered: Sequence[tuple[int, ...]],
               segment: Callable[[ContactFacts], str]) -> list[dict]:
    """The window's funnel for each value of `segment` (grade, band, path, source); values with
    no contact in the window left out; most leads and MQLs first."""
    groups: dict[str, list[list[Reached]]] = {}
    for f, r, indices in zip(facts, reached, entered, strict=True):
        if not indices:
            continue
        key = segment(f)
        group = groups.get(key)
        if group is None:
            group = groups[key] = [[] for _ in STAGES]
        for i in indices:
            group[i].append(r)
    rows = [{"value": value, "stages": funnel(group)} for value, group in groups.items()]
    return sorted(rows, key=lambda r: (-r["stages"][0]["entered"] - r["stages"][1]["entered"], r["value"]))


def mqls_by_path(facts: Sequence[ContactFacts], reached: Sequence[Reached], periods: Periods) -> list[dict]:
    """New MQLs per period, split by qualification path."""
    counts: dict[str, dict[str, int]] = {key: {} for key in periods.keys}
    for f, r in zip(facts, reached, strict=True):
        key = periods.of(r[1])
        if key is not None:
            path = f.path or "none"
            counts[key][path] = counts[key].get(path, 0) + 1
    return [{"period": key, "paths": dict(sorted(paths.items())), "total": sum(paths.values())}
            for key, paths in counts.items()]


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
