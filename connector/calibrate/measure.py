"""How well a score ranks outcomes: AUC with its interval, lift by decile, conversion by group,
and the MQL threshold a stated target asks for. Pure numpy/scikit-learn on given arrays."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

WEEK = 7 * 86_400.0
MIN_MQLS = 20  # a conversion rate measured on fewer MQLs than this is noise, not a target met


def auc_with_interval(scores: np.ndarray, y: np.ndarray, z: float = 1.96) -> tuple[float, float, float]:
    """AUC and its 95 % interval by Hanley & McNeil's standard error (Radiology 143:29-36, 1982):
    deterministic and instant, close to DeLong's for AUCs away from 0 and 1."""
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if not pos or not neg:
        return float("nan"), float("nan"), float("nan")
    a = float(roc_auc_score(y, scores))
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = math.sqrt((a * (1 - a) + (pos - 1) * (q1 - a * a) + (neg - 1) * (q2 - a * a)) / (pos * neg))
    return a, max(0.0, a - z * se), min(1.0, a + z * se)


def lift_by_decile(scores: np.ndarray, y: np.ndarray) -> list[dict]:
    """Ten groups from the highest score down (ties broken by order, so groups are equal in
    size): contacts, conversions, rate and lift against the base rate."""
    order = np.argsort(-scores, kind="stable")
    base = float(y.mean()) if len(y) else 0.0
    out = []
    for d, part in enumerate(np.array_split(order, 10), start=1):
        rate = float(y[part].mean()) if len(part) else 0.0
        out.append({"decile": d, "contacts": int(len(part)), "converted": int(y[part].sum()),
                    "rate": rate, "lift": rate / base if base else 0.0,
                    "min_score": float(scores[part].min()) if len(part) else None})
    return out


def by_group(groups: Sequence[str], y: np.ndarray) -> list[dict]:
    """Conversion per group value (grade, qualification path ...), largest group first."""
    counts: dict[str, list[int]] = {}
    for g, label in zip(groups, y, strict=True):
        entry = counts.setdefault(g, [0, 0])
        entry[0] += 1
        entry[1] += int(label)
    return [{"group": g, "contacts": n, "converted": c, "rate": c / n}
            for g, (n, c) in sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0]))]


@dataclass(frozen=True, slots=True)
class Target:
    """What the MQL line must achieve: one of MQLs per week, a minimum conversion, best F1."""

    mqls_per_week: float | None = None
    min_conversion: float | None = None

    def describe(self) -> str:
        if self.mqls_per_week is not None:
            return f"at most {self.mqls_per_week:g} MQLs per week"
        if self.min_conversion is not None:
            return f"MQLs converting at {self.min_conversion:.1%} or better"
        return "best F1 (precision and recall balanced)"


def at_threshold(scores: np.ndarray, y: np.ndarray, qualified_anyway: np.ndarray, t: float,
                 weeks: float) -> dict:
    """What an MQL line at `t` gives: MQLs (by score or hand-raise), per week, conversion, recall."""
    mql = (scores >= t) | qualified_anyway
    n, hits, pos = int(mql.sum()), int((mql & (y == 1)).sum()), int(y.sum())
    precision = hits / n if n else 0.0
    recall = hits / pos if pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": t, "mqls": n, "mqls_per_week": n / weeks if weeks else float("nan"),
            "converted": hits, "conversion": precision, "recall": recall, "f1": f1,
            "base_rate": float(y.mean()) if len(y) else 0.0,
            "lift": precision / float(y.mean()) if len(y) and y.mean() else 0.0}


def choose_threshold(scores: np.ndarray, y: np.ndarray, qualified_anyway: np.ndarray,
                     weeks: float, target: Target) -> dict | None:
    """The threshold (an integer score) meeting `target` on these contacts, with what it gives;
    None when no threshold meets it (a rate needs MIN_MQLS MQLs behind it). For a weekly capacity,
    the lowest line within it; for a minimum conversion, the lowest line reaching it (the most MQLs
    at that quality); else the best F1."""
    candidates = [at_threshold(scores, y, qualified_anyway, float(t), weeks)
                  for t in range(1, int(max(scores.max(initial=0), 1)) + 2)]
    if target.mqls_per_week is not None:
        ok = [c for c in candidates if c["mqls_per_week"] <= target.mqls_per_week]
        return min(ok, key=lambda c: c["threshold"]) if ok else None
    enough = [c for c in candidates if c["mqls"] >= MIN_MQLS]
    if target.min_conversion is not None:
        ok = [c for c in enough if c["conversion"] >= target.min_conversion]
        return min(ok, key=lambda c: c["threshold"]) if ok else None
    return max(enough, key=lambda c: (c["f1"], -c["threshold"])) if enough else None


def weeks_between(times: Sequence[float]) -> float:
    """The span of decision moments, in weeks (at least one)."""
    if not len(times):
        return 1.0
    return max(1.0, (max(times) - min(times)) / WEEK)
