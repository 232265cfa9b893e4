"""Live against shadow: over contacts whose outcome became known since the shadow started, which
config ranked them better, and where the two disagreed (pure: rows from the store in)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from connector.calibrate.measure import auc_with_interval
from connector.shadow import OUTCOME_STAGES

MIN_OUTCOMES = 10  # fewer conversions than this: too early to say anything


def compare(rows: Sequence[Mapping]) -> dict:
    """Rows of `shadow_scores`. Contacts already at an outcome stage when first seen are left out:
    their outcome was known before either config judged them."""
    judged = [r for r in rows if (r["stage_at_start"] or "") not in OUTCOME_STAGES]
    y = np.array([r["outcome_at"] is not None for r in judged], dtype=int)
    out: dict = {"contacts": len(rows), "judged": len(judged), "converted": int(y.sum()),
                 "already_converted": len(rows) - len(judged)}
    if not judged or y.sum() < MIN_OUTCOMES or y.sum() == len(y):
        out["verdict"] = (f"too early: {int(y.sum())} of {len(judged):,} contacts reached an outcome "
                          f"stage since the shadow started (at least {MIN_OUTCOMES} are needed)")
        out["better"] = None
        return out
    for side in ("live", "shadow"):
        auc, low, high = auc_with_interval(np.array([r[f"{side}_total"] for r in judged], float), y)
        out[side] = {"auc": auc, "auc_low": low, "auc_high": high}
    better = "shadow" if out["shadow"]["auc"] > out["live"]["auc"] else "live"
    other = "live" if better == "shadow" else "shadow"
    clear = out[better]["auc_low"] > out[other]["auc"]
    out["better"] = better
    out["verdict"] = (f"the {better} config ranked the outcomes better (AUC {out[better]['auc']:.3f} "
                      f"against {out[other]['auc']:.3f})"
                      + ("" if clear else "; the difference is within the noise so far: wait for more outcomes"))
    cells = {}
    for live_mql in (True, False):
        for shadow_mql in (True, False):
            part = [r for r, label in zip(judged, y, strict=True)
                    if bool(r["live_mql"]) == live_mql and bool(r["shadow_mql"]) == shadow_mql]
            hits = sum(1 for r in part if r["outcome_at"] is not None)
            cells[f"live {'MQL' if live_mql else 'not'} / shadow {'MQL' if shadow_mql else 'not'}"] = {
                "contacts": len(part), "converted": hits, "rate": hits / len(part) if part else 0.0}
    out["agreement"] = cells
    return out


def as_text(result: dict, key: str, path: str | None) -> str:
    lines = [f"Shadow config {path or '(not set now)'} (key {key}): {result['contacts']:,} contacts scored, "
             f"{result['already_converted']:,} already at an outcome stage when first seen.",
             f"Judged {result['judged']:,}; {result['converted']:,} reached opportunity or later since."]
    if result.get("better"):
        for side in ("live", "shadow"):
            s = result[side]
            lines.append(f"  {side:<7} AUC {s['auc']:.3f} ({s['auc_low']:.3f}-{s['auc_high']:.3f})")
        lines.append("Where they disagree (contacts, converted):")
        for cell, v in result["agreement"].items():
            lines.append(f"  {cell:<28} {v['contacts']:>7,}  {v['converted']:>5,} ({v['rate']:.1%})")
    lines.append(f"Verdict: {result['verdict']}.")
    return "\n".join(lines) + "\n"
