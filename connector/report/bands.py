"""Score bands a marketer can read, drawn from the policy's own lines: the MQL threshold T and its
hysteresis H. With T=60, H=10: 0-24, 25-49, 50-59 (an MQL keeps its status here), 60-79, 80+."""

from __future__ import annotations

import math
from dataclasses import dataclass

from connector.core.rules import Policy

UNSCORED = "unscored"


@dataclass(frozen=True, slots=True)
class Band:
    label: str
    low: int  # inclusive
    high: int | None  # exclusive; None: no upper end


def bands(policy: Policy) -> list[Band]:
    threshold = math.ceil(policy.mql_threshold)
    hold = max(0, math.ceil(policy.mql_threshold - policy.hysteresis))
    half = hold // 2
    edges = [0, half, hold, threshold, threshold + 20]
    out = []
    for low, high in zip(edges, edges[1:] + [None], strict=True):
        if high is not None and high <= low:
            continue  # a zero hysteresis or threshold leaves no room for that band
        label = f"{low}+" if high is None else f"{low}-{high - 1}"
        if low == hold and high == threshold:
            label += " (MQLs held)"
        elif low >= threshold:
            label += " (MQL line)" if high is not None else ""
        out.append(Band(label, low, high))
    return out


def band_of(score: int | None, table: list[Band]) -> str:
    if score is None:
        return UNSCORED
    for band in table:
        if score >= band.low and (band.high is None or score < band.high):
            return band.label
    return table[0].label  # a negative score: below every band
