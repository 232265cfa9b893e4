"""Property history -> a contact's values as of an instant.

HubSpot has no "value as of T" query: `propertiesWithHistory` returns every version of a property,
newest first, each with `value` and `timestamp` (docs/hubspot-facts.md, "Property history"). A
contact as it looked at T is, property by property, the newest version at or before T.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from connector.core.values import parse_instant


@dataclass(frozen=True, slots=True)
class Timeline:
    """One contact's history: per property, version times (ascending, epoch seconds) and values."""

    id: str
    created_at: float | None
    versions: Mapping[str, tuple[tuple[float, ...], tuple[str | None, ...]]]

    def as_of(self, at: float) -> dict[str, str | None]:
        """Every property's value at `at` (a property not set yet is absent)."""
        out: dict[str, str | None] = {}
        for name, (times, values) in self.versions.items():
            i = bisect.bisect_right(times, at)
            if i:
                out[name] = values[i - 1]
        return out

    def latest(self) -> dict[str, str | None]:
        """Today's values: the newest version of each property."""
        return {name: values[-1] for name, (_, values) in self.versions.items() if values}

    def first_time(self, name: str, wanted: Iterable[str]) -> float | None:
        """When `name` first took one of the `wanted` values (None: never)."""
        entry = self.versions.get(name)
        if entry is None:
            return None
        wanted = set(wanted)
        for at, value in zip(*entry, strict=True):
            if value in wanted:
                return at
        return None

    def is_flat(self) -> bool:
        """All versions at one instant (to the second): the signature of an import, which brings
        today's values without the dates they were reached."""
        seen: set[int] = set()
        for times, _ in self.versions.values():
            seen.update(int(t) for t in times)
            if len(seen) > 1:
                return False
        return True


def timeline(record: Mapping) -> Timeline:
    """A Timeline from one contact as the list or batch read returns it with history."""
    versions: dict[str, tuple[tuple[float, ...], tuple[str | None, ...]]] = {}
    instants: dict[str, float | None] = {}  # many versions share a moment (a form sets several)
    for name, entries in (record.get("propertiesWithHistory") or {}).items():
        pairs = []
        for entry in entries or ():
            stamp = entry.get("timestamp")
            at = instants.get(stamp, 0.0)
            if at == 0.0:
                at = instants[stamp] = parse_instant(stamp)
            if at is not None:
                pairs.append((at, entry.get("value")))
        if pairs:
            pairs.sort(key=lambda p: p[0])  # HubSpot sends newest first; bisect wants ascending
            versions[name] = (tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))
    props = record.get("properties") or {}
    created = parse_instant(props.get("createdate")) or parse_instant(record.get("createdAt"))
    return Timeline(str(record.get("id")), created, versions)


def compact(t: Timeline) -> dict:
    """A Timeline as small JSON (times in ms): what the store caches, parsed once."""
    return {"id": t.id, "c": None if t.created_at is None else round(t.created_at * 1000),
            "v": {n: [[round(x * 1000) for x in times], list(values)]
                  for n, (times, values) in t.versions.items()}}


def from_compact(data: Mapping) -> Timeline:
    created = data.get("c")
    return Timeline(str(data["id"]), None if created is None else created / 1000.0,
                    {n: (tuple(x / 1000.0 for x in times), tuple(values))
                     for n, (times, values) in data["v"].items()})


def flat_share(timelines: Iterable[Timeline]) -> tuple[int, int]:
    """(contacts whose history is flat, contacts with any history)."""
    flat = total = 0
    for t in timelines:
        if t.versions:
            total += 1
            flat += t.is_flat()
    return flat, total
