"""Points from outcomes: an L1 logistic regression, its strength chosen by cross-validation.

Why scikit-learn's liblinear L1 logistic regression: the L1 path gives sparse models directly, so
the rule budget is a choice of regularisation strength instead of a search over subsets, and
liblinear fits the ~15k x ~150 calibration matrix in well under a second (bench/calibrate.py).
Coefficients become integer points by one common scale; signs the rules' meaning fixes (a penalty
stays a penalty) are enforced by dropping a rule the data would flip and fitting again.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

# Penalty strengths tried, strongest first. Rules enter as C grows (the L1 path): the walk stops at
# the first C over the budget, so the slow, weak-penalty end is reached only by a large budget.
C_GRID = tuple(float(c) for c in np.logspace(-3, 1, 17))


@dataclass(frozen=True, slots=True)
class Fit:
    """Coefficients per feature (0: not used), the strength chosen, and its cross-validation."""

    coef: np.ndarray
    c: float
    cv_auc: float
    cv_sd: float
    folds: int
    path: tuple[tuple[float, int, float], ...]  # (C, rules used, CV AUC) for every C tried


def fit(x: np.ndarray, y: np.ndarray, signs: Sequence[int], budget: int, *, folds: int = 5,
        seed: int = 0) -> Fit:
    """The sparsest-enough, best cross-validated model with at most `budget` nonzero coefficients.

    `signs[j]`: +1 the coefficient must be >= 0, -1 must be <= 0, 0 free.
    """
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = x / scale
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(z, y))
    path = []
    best: tuple[float, float, float, np.ndarray] | None = None
    for c in C_GRID:
        coef = _signed_fit(z, y, c, signs)
        used = int(np.count_nonzero(coef))
        if used == 0:
            path.append((c, 0, 0.5))
            continue
        if used > budget:
            path.append((c, used, float("nan")))
            break
        aucs = []
        for train, test in splits:  # each fold selects its own rules: no peeking at its test part
            fold = _signed_fit(z[train], y[train], c, signs)
            aucs.append(roc_auc_score(y[test], z[test] @ fold))
        mean, sd = float(np.mean(aucs)), float(np.std(aucs))
        path.append((c, used, mean))
        if best is None or mean > best[1] + 1e-4:
            best = (c, mean, sd, coef)
    if best is None:  # even the strongest penalty keeps too many: keep the largest ones
        c = C_GRID[0]
        coef = _signed_fit(z, y, c, signs)
        order = np.argsort(-np.abs(coef))
        coef[order[budget:]] = 0.0
        best = (c, float("nan"), float("nan"), coef)
    c, mean, sd, coef = best
    return Fit(coef / scale, c, mean, sd, folds, tuple(path))


def _signed_fit(z: np.ndarray, y: np.ndarray, c: float, signs: Sequence[int]) -> np.ndarray:
    """L1 fit; a coefficient with the wrong sign is dropped (set to 0) and the rest refitted."""
    active = np.ones(z.shape[1], dtype=bool)
    sign = np.asarray(signs, dtype=float)
    coef = np.zeros(z.shape[1])
    for _ in range(z.shape[1] + 1):
        coef[:] = 0.0
        if not active.any():
            return coef
        # l1_ratio=1: the L1 penalty (scikit-learn >= 1.8). liblinear penalises the intercept too;
        # a large intercept_scaling makes that penalty negligible, else at strong penalties rules
        # are picked to stand in for the base rate instead of for what predicts conversion.
        model = LogisticRegression(l1_ratio=1.0, C=c, solver="liblinear", max_iter=500,
                                   intercept_scaling=100.0, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(z[:, active], y)
        coef[active] = model.coef_[0]
        wrong = (sign * coef) < 0
        if not wrong.any():
            return coef
        active &= ~wrong
    return coef


def integer_points(coef: np.ndarray, max_values: np.ndarray, families: Sequence[str],
                   top: float = 100.0) -> tuple[np.ndarray, float]:
    """Coefficients scaled so the best possible contact scores about `top`, rounded to integers.

    Within a family of options (one value of a property) only one rule can fire, so the family
    adds its largest positive contribution; thresholds (family ending ">=") can all fire, so they
    add up, as do rules of families of their own. Returns the points and the scale.
    """
    best: dict[str, float] = {}
    for j, family in enumerate(families):
        gain = max(0.0, float(coef[j] * max_values[j]))
        if family.endswith(">="):
            best[family] = best.get(family, 0.0) + gain
        else:
            best[family] = max(best.get(family, 0.0), gain)
    reach = sum(best.values())
    scale = top / reach if reach > 0 else 1.0
    return np.rint(coef * scale), scale
