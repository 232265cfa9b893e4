"""Pure: which active owner gets the next unowned MQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def next_owner(active: Sequence[str], counts: Mapping[str, tuple[int, int]],
               weights: Mapping[str, float]) -> str | None:
    """The owner with the fewest assignments per unit of weight; ties to the least recently
    assigned, then the lowest id. None when nobody is active."""
    if not active:
        return None

    def load(owner: str) -> tuple[float, int, str]:
        assigned, last_at = counts.get(owner, (0, 0))
        return assigned / weights.get(owner, 1.0), last_at, owner

    return min(active, key=load)
