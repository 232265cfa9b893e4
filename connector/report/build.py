"""The whole report as one JSON-able dict, from what the store and the spend file hold (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connector.core.rules import Policy
from connector.core.sla import Sla
from connector.core.values import format_instant
from connector.report import funnel as fn
from connector.report.bands import band_of, bands
from connector.report.calibration import calibration
from connector.report.facts import ContactFacts
from connector.report.handoff import sla_summary, verdict_summary
from connector.report.periods import Window, period_of
from connector.report.spend import Spend, costs

OUTCOME_STAGE = 3  # index in STAGES: opportunity or later counts as converted


@dataclass(frozen=True)
class Inputs:
    """Everything one report reads."""

    facts: Sequence[ContactFacts]  # at least those with a stage date or their creation in the window
    contacts: int  # how many the store holds
    last_seen: int | None  # when the store last saw one (ms)
    policy: Policy
    sla: Sla | None
    clocks: Sequence[dict]  # sla_clocks rows whose MQL moment is in the window
    verdicts: Sequence[dict]  # handoff_results decided in the window
    spend: Spend | None
    spend_status: str  # why there is no spend (missing file, or its errors), when spend is None
    shadow: dict | None  # connector.calibrate.shadow_compare.compare of the newest shadow config
    now_ms: int


def build_report(inputs: Inputs, window: Window) -> dict:
    all_reached = [f.reached_at for f in inputs.facts]
    # Only contacts with a stage in the window count in the funnel and its segments: drop the rest
    # once (on a 20,000-contact portal most contacts did nothing in a 12-week window).
    all_entered = fn.entered_in(all_reached, window)
    moved = [i for i, e in enumerate(all_entered) if e]
    facts = [inputs.facts[i] for i in moved]
    reached = [all_reached[i] for i in moved]
    entered = [all_entered[i] for i in moved]
    periods = fn.Periods(window)
    table = bands(inputs.policy)
    report: dict = {
        "window": {**_window(window), "periods": periods.keys},
        "contacts": inputs.contacts,
        "as_of": format_instant(inputs.last_seen / 1000) if inputs.last_seen else None,
    }
    if not inputs.contacts:
        report["status"] = ("no contacts in the store yet: run `connector sync --full` once (the report reads "
                            "what the sync and the webhook worker keep, never HubSpot)")
    report["funnel"] = {"total": fn.in_window(reached, entered), "by_period": fn.by_period(reached, periods)}
    report["score_bands"] = [{"label": b.label, "low": b.low, "high": b.high} for b in table]
    report["segments"] = {
        "grade": fn.by_segment(facts, reached, entered, lambda f: f.grade or "none"),
        "score_band": _in_band_order(fn.by_segment(facts, reached, entered, lambda f: band_of(f.score, table)),
                                     [b.label for b in table]),
        "path": fn.by_segment(facts, reached, entered, lambda f: f.path or "none"),
        "source": fn.by_segment(facts, reached, entered, lambda f: f.source or "unknown"),
    }
    report["mqls_by_path"] = fn.mqls_by_path(facts, reached, periods)
    report["handoff"] = {"sla": sla_summary(inputs.clocks, inputs.sla, inputs.now_ms),
                         "verdicts": verdict_summary(inputs.verdicts)}
    if inputs.spend is None:
        report["cost"] = {"status": inputs.spend_status}
    else:
        months = sorted({period_of(at, "month") for at in range(window.since, window.until, fn.DAY_MS)})
        report["cost"] = costs(inputs.spend, [(f.source, r[1], r[2]) for f, r in
                                              zip(inputs.facts, all_reached, strict=True)], months)
    scored = [(f.score, r[OUTCOME_STAGE] is not None) for f, r in zip(inputs.facts, all_reached, strict=True)
              if f.score is not None and window.contains(f.created_at)]
    report["calibration"] = {"population": "contacts created in the window, by their score now",
                             "converted_means": "reached opportunity or customer", **calibration(scored)}
    report["shadow"] = inputs.shadow if inputs.shadow is not None else {
        "status": "no shadow config has run (set SHADOW_SCORING_CONFIG to compare a candidate config live)"}
    return report


def _window(window: Window) -> dict:
    since, until = window.describe().split(" to ")
    return {"since": since, "until": until, "by": window.by}


def _in_band_order(rows: list[dict], order: list[str]) -> list[dict]:
    rank = {label: i for i, label in enumerate(order)}
    return sorted(rows, key=lambda r: rank.get(r["value"], len(order)))
