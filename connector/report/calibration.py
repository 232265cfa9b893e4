"""Calibration: by score decile, the conversion the score predicts against the conversion seen.

"Predicted" is what the score alone says: a logistic fit of converted-or-not on the score over the
same contacts (maximum likelihood, no penalty). "Actual" is the share that reached an outcome stage
(opportunity or customer). A score that ranks well shows actual rising with the deciles; points far
off the diagonal say where the score over- or under-promises.

Deciles keep equal scores together: a contact's decile is floor(10 * (contacts scoring below it) / n),
so with many equal scores some deciles are empty and left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MIN_CONTACTS = 20


def calibration(scored: Sequence[tuple[int, bool]]) -> dict:
    """`scored`: (score, converted) per contact."""
    n = len(scored)
    converted = sum(1 for _, y in scored if y)
    out: dict = {"contacts": n, "converted": converted, "deciles": []}
    if n < MIN_CONTACTS:
        out["status"] = f"too few scored contacts in the window ({n}; at least {MIN_CONTACTS})"
        return out
    # Scores are whole numbers, few distinct: everything below works on (score, contacts, converted).
    tally: dict[int, list[int]] = {}
    for score, y in scored:
        cell = tally.setdefault(score, [0, 0])
        cell[0] += 1
        cell[1] += bool(y)
    points = sorted((s, c[0], c[1]) for s, c in tally.items())
    fit = logistic_fit(points)
    if fit is None:
        out["status"] = ("no prediction: every contact converted or none did" if converted in (0, n)
                         else "no prediction: the score does not separate converted from not")
    else:
        out["fit"] = {"intercept": round(fit[0], 6), "per_point": round(fit[1], 6)}
    groups: dict[int, list[tuple[int, int, int]]] = {}
    below = 0  # contacts scoring strictly less
    for point in points:
        groups.setdefault(min(10 * below // n, 9), []).append(point)
        below += point[1]
    for d, part in sorted(groups.items()):
        contacts = sum(c for _, c, _ in part)
        hits = sum(h for _, _, h in part)
        predicted = None if fit is None else sum(c * _sigmoid(fit[0] + fit[1] * s) for s, c, _ in part) / contacts
        out["deciles"].append({
            "decile": d + 1, "min_score": part[0][0], "max_score": part[-1][0], "contacts": contacts,
            "converted": hits, "actual": round(hits / contacts, 4),
            "predicted": None if predicted is None else round(predicted, 4)})
    return out


def logistic_fit(points: Sequence[tuple[float, int, int]], iterations: int = 50) -> tuple[float, float] | None:
    """(intercept, slope) of P(converted) = 1/(1+exp(-(a+b*score))) by Newton's method, from
    (score, contacts, converted) cells; None when the data have no finite maximum (all one class,
    or perfectly separated)."""
    n = sum(c for _, c, _ in points)
    hits = sum(h for _, _, h in points)
    if hits in (0, n):
        return None
    centre = sum(x * c for x, c, _ in points) / n
    scale = math.sqrt(sum(c * (x - centre) ** 2 for x, c, _ in points) / n) or 1.0
    cells = [((x - centre) / scale, c, h) for x, c, h in points]  # well-conditioned steps; undone below
    a = b = 0.0
    for _ in range(iterations):
        ga = gb = haa = hab = hbb = 0.0
        for z, c, h in cells:
            p = _sigmoid(a + b * z)
            w = c * p * (1 - p)
            ga += h - c * p
            gb += (h - c * p) * z
            haa += w
            hab += w * z
            hbb += w * z * z
        det = haa * hbb - hab * hab
        if det <= 1e-12:
            return None
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a, b = a + da, b + db
        if not (math.isfinite(a) and math.isfinite(b)) or abs(b) > 50:
            return None  # separated: the slope runs off to infinity
        if max(abs(da), abs(db)) < 1e-10:
            break
    slope = b / scale
    return a - slope * centre, slope


def _sigmoid(t: float) -> float:
    if t >= 0:
        return 1.0 / (1.0 + math.exp(-t))
    e = math.exp(t)
    return e / (1.0 + e)
