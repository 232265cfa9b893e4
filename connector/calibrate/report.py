"""The calibration report: text for people, JSON for tools (the same numbers)."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any


def as_json(result, extra: dict[str, Any]) -> dict[str, Any]:
    data = asdict(result)
    data.pop("config", None)
    return {**extra, **_finite(data)}


def as_text(result, extra: dict[str, Any]) -> str:
    c, s = result.counts, result.split
    cur, cand = result.compare["current"], result.compare["candidate"]
    out = []
    if not result.point_in_time:
        out += ["!! NOT A POINT-IN-TIME BACKTEST: the portal's history is flat (imported). Today's",
                "!! values stood in for each contact's values when it was judged; the numbers",
                "!! below flatter the model.", ""]
    out += [f"Read {c['contacts']:,} contacts ({extra.get('calls', 0)} HubSpot calls, "
            f"{extra.get('cached', 0):,} from the local cache).",
            f"Outcome: reached {c['outcome']} after the decision moment "
            "(the MQL date, or a fixed age after creation).",
            f"Judged: {c['examples']:,} contacts, {c['converted']:,} converted "
            f"({c['converted'] / c['examples']:.1%})."]
    for why, n in sorted(c["left_out"].items(), key=lambda kv: -kv[1]):
        out.append(f"Left out: {n:,} {why}.")
    out += _rejections(c.get("rejections") or {})
    out += ["", f"Split by time: trained on {s['train']:,} decisions {_day(s['train_from'])}.."
            f"{_day(s['train_to'])} ({s['train_converted']} converted), tested on the "
            f"{s['holdout']:,} newer {_day(s['holdout_from'])}..{_day(s['holdout_to'])} "
            f"({s['holdout_converted']} converted).",
            f"Cross-validation on the training part ({result.cv['folds']} folds): AUC "
            f"{result.cv['auc']:.3f} ± {result.cv['sd']:.3f}.", "",
            "On the holdout              current            candidate",
            f"  AUC (95% CI)         {_auc(cur)}   {_auc(cand)}"]
    for label, key in (("MQL threshold", "threshold"), ("MQLs per week", "mqls_per_week"),
                       ("MQL conversion", "conversion"), ("lift over base", "lift"),
                       ("conversions caught", "recall")):
        a, b = cur["at_threshold"][key], cand["at_threshold"][key]
        out.append(f"  {label:<20} {_num(key, a):>18} {_num(key, b):>20}")
    out += ["", f"Threshold target: {result.threshold['target']}; on the training part it gave "
            f"{result.threshold['train']['mqls_per_week']:.1f} MQLs a week converting at "
            f"{result.threshold['train']['conversion']:.1%}.", "",
            "Lift by decile (holdout; decile 1 = highest scores): current | candidate"]
    for a, b in zip(cur["lift"], cand["lift"], strict=True):
        out.append(f"  {a['decile']:>2}  {a['rate']:6.1%} x{a['lift']:4.1f}  |  "
                   f"{b['rate']:6.1%} x{b['lift']:4.1f}")
    for title, key in (("Conversion by grade", "grades"), ("Conversion by path", "paths")):
        for label, side in (("current", cur), ("candidate", cand)):
            groups = ", ".join(f"{g['group']} {g['rate']:.1%} of {g['contacts']:,}"
                               for g in side[key][:12])
            out.append(f"{title} ({label}): {groups}")
    out += ["", f"Candidate rules ({len(result.rules)}):"]
    for r in sorted(result.rules, key=lambda r: -abs(r["points"])):
        unit = "/unit" if r["per_unit"] else ""
        origin = "current" if r["current"] else "new"
        out.append(f"  {r['points']:+4d}{unit:<5} {r['section']:<10} {r['name']:<40} "
                   f"{origin}: {r['why']}")
    if result.skipped_properties:
        out.append("Properties not used: " + "; ".join(
            f"{n} ({why})" for n, why in sorted(result.skipped_properties.items())))
    out += [""] + result.notes
    if extra.get("written"):
        out.append(f"Candidate config written to {extra['written']}" +
                   (" and applied (SCORING_CONFIG now points to it)." if extra.get("applied")
                    else ". The live config is unchanged; --apply makes it live."))
    return "\n".join(line for line in out) .rstrip() + "\n"


def _rejections(r: dict) -> list[str]:
    """Sales' rejections among the judged MQLs: reasons, and the rules and grades they fall on."""
    if not r.get("rejected"):
        return ["Sales' verdicts: no judged MQL was rejected by sales (MQL handoff result, or a "
                "lead status mapped in the config's handoff section)."]

    def counts(c: dict) -> str:
        return ", ".join(f"{reason} {n}" for reason, n in c.items())

    out = [f"Rejected by sales: {r['rejected']:,} MQLs, each a negative example at once "
           f"({r['converted_anyway']} converted all the same and count as converted): "
           f"{counts(r['by_reason'])}."]
    for title, key in (("by rule that had fired", "by_rule"), ("by grade", "by_grade"),
                       ("by original source", "by_source")):
        top = list(r[key].items())[:8]
        out.append(f"  Rejections {title}: " + "; ".join(f"{k}: {counts(v)}" for k, v in top))
    return out


def _auc(side: dict) -> str:
    return f"{side['auc']:.3f} ({side['auc_low']:.3f}-{side['auc_high']:.3f})"


def _num(key: str, value: float) -> str:
    if key in ("conversion", "recall"):
        return f"{value:.1%}"
    if key == "lift":
        return f"x{value:.2f}"
    return f"{value:.1f}" if key == "mqls_per_week" else f"{value:g}"


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d")


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
