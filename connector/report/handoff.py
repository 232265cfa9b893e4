"""Handoff: how fast sales touched the MQLs (against the SLA) and what they said of them."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from connector.core.sla import Sla, elapsed


def sla_summary(clocks: Sequence[dict], sla: Sla | None, now_ms: int) -> dict:
    """`clocks`: sla_clocks rows (mql_at, first_touch_at in ms) of the MQLs in the window. Touched
    within the SLA: the first touch came before the first escalation was due (in business hours
    when the SLA has them). Still waiting inside the SLA: not counted either way yet."""
    if sla is None:
        return {"status": "no SLA configured: add an sla section to the scoring config (docs/scoring.md)"}
    limit = sla.escalations[0].after_seconds
    hours_kind = "business hours" if sla.hours is not None else "hours"
    out: dict = {"sla_hours": round(limit / 3600, 2), "counted_in": hours_kind, "mqls": len(clocks)}
    if not clocks:
        out["status"] = "no SLA clocks in the window yet (a clock starts when the connector makes a new MQL)"
        return out
    within = late = missed = waiting = 0
    to_touch: list[float] = []
    for c in clocks:
        start = c["mql_at"] / 1000
        if c["first_touch_at"] is not None:
            spent = elapsed(start, c["first_touch_at"] / 1000, sla)
            to_touch.append(spent / 3600)
            if spent <= limit:
                within += 1
            else:
                late += 1
        elif elapsed(start, now_ms / 1000, sla) > limit:
            missed += 1
        else:
            waiting += 1
    judged = within + late + missed
    out.update(touched_within_sla=within, touched_late=late, untouched_past_sla=missed, still_within_sla=waiting,
               share_within_sla=round(within / judged, 4) if judged else None,
               median_hours_to_first_touch=round(statistics.median(to_touch), 2) if to_touch else None)
    return out


def verdict_summary(verdicts: Sequence[dict]) -> dict:
    """Sales' verdicts decided in the window: accepted, rejected, and the rejection reasons."""
    if not verdicts:
        return {"status": "no verdicts yet: sales' lsc_handoff_result / lsc_rejection_reason, or the "
                          "statuses and stages the handoff section names, give them", "accepted": 0, "rejected": 0,
                "reasons": []}
    accepted = sum(1 for v in verdicts if v["result"] == "accepted")
    rejected = [v for v in verdicts if v["result"] == "rejected"]
    reasons: dict[str, int] = {}
    for v in rejected:
        key = v["reason"] or "unspecified"
        reasons[key] = reasons.get(key, 0) + 1
    return {"accepted": accepted, "rejected": len(rejected),
            "acceptance_rate": round(accepted / len(verdicts), 4),
            "reasons": [{"reason": k, "count": n, "share": round(n / len(rejected), 4)}
                        for k, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]}
