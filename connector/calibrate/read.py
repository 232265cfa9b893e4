"""Read every contact with its property history, within HubSpot's limits, through the store's cache.

The list endpoint with `propertiesWithHistory` serves 50 contacts a call (docs/hubspot-facts.md,
"Limits"), so 20,000 contacts take 400 calls plus one search call for the total. Each page is saved
with its cursor in one transaction: an interrupted read resumes where it stopped, and a finished
read younger than `max_age_s` is reused without a call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connector.calibrate.timeline import Timeline, compact, from_compact, timeline
from connector.gateway import Gateway
from connector.store import Store


@dataclass(frozen=True)
class ReadResult:
    timelines: list[Timeline]
    calls: int
    from_cache: int  # records an earlier (or interrupted) read had saved
    resumed: bool
    read_at_ms: int  # when the read these records belong to started


CACHE_FORMAT = 2  # bump when what the cache holds changes: an older cache is then not reused


def read_key(properties: Sequence[str], with_history: Sequence[str]) -> str:
    asked = {"properties": sorted(set(properties)), "history": sorted(set(with_history)),
             "format": CACHE_FORMAT}
    return hashlib.sha256(json.dumps(asked).encode()).hexdigest()[:32]


def read_contacts(gateway: Gateway, store: Store, *, properties: Sequence[str],
                  with_history: Sequence[str], now_ms: int, max_age_s: float = 86_400.0,
                  refresh: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> ReadResult:
    """Every contact's Timeline of the `with_history` properties (list order, ascending id)."""
    key = read_key(properties, with_history)
    before = gateway.counters.snapshot()
    earlier = None if refresh else store.history_read(key)
    fresh_enough = earlier is not None and earlier.finished_at is not None and \
        now_ms - earlier.finished_at <= max_age_s * 1000
    if earlier is not None and fresh_enough:
        cached = [from_compact(r) for r in store.cached_history(key)]
        return ReadResult(cached, 0, len(cached), False, earlier.started_at)
    resumed = earlier is not None and earlier.finished_at is None
    if resumed:
        assert earlier is not None
        after, started_at, done = earlier.after, earlier.started_at, earlier.contacts
    else:
        after, started_at, done = None, now_ms, 0
        store.start_history_read(key, started_at)
    total = gateway.search_contacts(properties=["hs_object_id"], limit=1).total
    if progress:
        progress(done, total)
    while True:
        page, after = gateway.list_contacts_with_history(properties=properties,
                                                         with_history=with_history, after=after)
        store.save_history_page(key, [compact(timeline(r)) for r in page], after, None if after else now_ms)
        done += len(page)
        if progress:
            progress(done, max(total, done))
        if not after:
            break
    timelines = [from_compact(r) for r in store.cached_history(key)]
    calls = gateway.counters.since(before).requests
    return ReadResult(timelines, calls, earlier.contacts if resumed and earlier else 0, resumed,
                      started_at)
