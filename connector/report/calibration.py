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

import numpy as np

MIN_CONTACTS = 20


def calibration(scored: Sequence[tuple[int, bool]]) -> dict:
    """`scored`: (score, converted) per contact."""
    n = len(scored)
    converted = sum(1 for _, y in scored if y)
    out: dict = {"contacts": n, "converted": converted, "deciles": []}
    if n < MIN_CONTACTS:
        out["status"] = f"too few scored contacts in the window ({n}; at least {MIN_CONTACTS})"
        return out
    scores = np.array([s for s, _ in scored], dtype=float)
    y = np.array([yy for _, yy in scored], dtype=float)
    fit = logistic_fit(scores, y)
    if fit is None:
        out["status"] = ("no prediction: every contact converted or none did" if converted in (0, n)
                         else "no prediction: the score does not separate converted from not")
        predicted = None
    else:
        intercept, slope = fit
        out["fit"] = {"intercept": round(intercept, 6), "per_point": round(slope, 6)}
        predicted = 1.0 / (1.0 + np.exp(-(intercept + slope * scores)))
    ordered = np.sort(scores)
    below = np.searchsorted(ordered, scores, side="left")  # contacts scoring strictly less
    decile = np.minimum((10 * below) // n, 9)
    for d in range(10):
        part = decile == d
        if not part.any():
            continue
        out["deciles"].append({
            "decile": d + 1, "min_score": int(scores[part].min()), "max_score": int(scores[part].max()),
            "contacts": int(part.sum()), "converted": int(y[part].sum()),
            "actual": round(float(y[part].mean()), 4),
            "predicted": None if predicted is None else round(float(predicted[part].mean()), 4)})
    return out


def logistic_fit(x: np.ndarray, y: np.ndarray, iterations: int = 50) -> tuple[float, float] | None:
    """(intercept, slope) of P(y=1) = 1/(1+exp(-(a+b*x))) by Newton's method; None when the
    data have no finite maximum (all one class, or perfectly separated)."""
    if y.min() == y.max():
        return None
    scale = float(x.std()) or 1.0
    centre = float(x.mean())
    z = (x - centre) / scale  # well-conditioned steps; undone below
    X = np.column_stack([np.ones_like(z), z])
    beta = np.zeros(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(X @ beta)))
        w = p * (1 - p)
        hessian = X.T @ (X * w[:, None])
        try:
            step = np.linalg.solve(hessian, X.T @ (y - p))
        except np.linalg.LinAlgError:
            return None
        beta = beta + step
        if not np.all(np.isfinite(beta)) or abs(beta[1]) > 50:
            return None  # separated: the slope runs off to infinity
        if float(np.max(np.abs(step))) < 1e-10:
            break
    slope = float(beta[1]) / scale
    intercept = float(beta[0]) - slope * centre
    return (intercept, slope) if math.isfinite(intercept) and math.isfinite(slope) else None
