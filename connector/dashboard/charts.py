"""The report dict as the dashboard's charts: one (name, title, svg, caption) per chart."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from connector.dashboard import svg

PATHS = ("hand_raise", "score", "manual", "none")


@dataclass(frozen=True)
class Chart:
    name: str  # stable id (data-chart), for tests and links
    title: str
    svg: Markup
    caption: str


def charts(report: dict) -> list[Chart]:
    by = report["window"]["by"]
    seg = report["segments"]
    total = report["funnel"]["total"]
    out = [Chart("funnel", "Funnel", svg.funnel("Funnel", total),
                 "Contacts that entered each stage in the period; arrows: how many of those went on (so far), and "
                 "the median days it took.")]
    out.append(_conversion("conversion-band", "Conversion by score band", seg["score_band"],
                           "By the contact's score now. The band just below the MQL line is where MQLs keep their "
                           "status (hysteresis)."))
    out.append(_conversion("conversion-grade", "Conversion by grade", seg["grade"],
                           "Grade = fit (A-C) x engagement (1-3), as the connector wrote it."))
    # A week is named by its Monday: "09-14" reads better on an axis than "2026-09-14".
    periods = [p["period"][5:] if by == "week" else p["period"] for p in report["mqls_by_path"]]
    paths = [p for p in PATHS if any(p in row["paths"] for row in report["mqls_by_path"])] or ["score"]
    out.append(Chart("mqls-by-path", f"New MQLs per {by} by path", svg.vbars(
        f"New MQLs per {by} by path", periods,
        [(p, [row["paths"].get(p, 0) for row in report["mqls_by_path"]]) for p in paths], _count, stacked=True),
        "hand_raise: asked for it (demo, contact sales, meeting); score: crossed the MQL threshold; manual: a person "
        "set the status."))
    steps = [(f"{s['label']} → {s['next']}", [s["median_days"]]) for s in total if "next" in s]
    out.append(Chart("velocity", "Velocity: median days between stages", svg.hbars(
        "Velocity: median days between stages", steps, ["median days"], _days),
        "Of the contacts that entered the first stage in the period and reached the next."))
    out.append(_cost(report["cost"]))
    cal = report["calibration"]
    cal_svg = (svg.calibration("Calibration", cal["deciles"]) if cal["deciles"] and not cal.get("status")
               else svg.empty("Calibration", cal.get("status") or "no scored contacts", 360))
    out.append(Chart("calibration", "Calibration: predicted vs actual conversion", cal_svg,
                     f"One point per score decile of the {cal['contacts']:,} contacts created in the period; "
                     "on the dashed line the score predicts what happens. Converted: reached opportunity or customer."))
    reasons = report["handoff"]["verdicts"]["reasons"]
    out.append(Chart("rejections", "Rejection reasons", svg.hbars(
        "Rejection reasons", [(r["reason"], [r["count"]]) for r in reasons], ["rejections"], _count)
        if reasons else svg.empty("Rejection reasons", report["handoff"]["verdicts"].get("status") or "no rejections"),
        "Why sales sent MQLs back, from their verdicts decided in the period."))
    return out


def _conversion(name: str, title: str, rows: list[dict], caption: str) -> Chart:
    cats = [r["value"] for r in rows]
    series = [("MQL → SQL", [r["stages"][1]["rate"] for r in rows]),
              ("SQL → opportunity", [r["stages"][2]["rate"] for r in rows])]
    return Chart(name, title, svg.vbars(title, cats, series, _pct), caption)


def _cost(cost: dict) -> Chart:
    title = "Cost per MQL and SQL by source"
    if "status" in cost:
        return Chart("cost", title, svg.empty(title, "no spend data"), cost["status"])
    rows = [(r["source"], [r["cost_per_mql"], r["cost_per_sql"]]) for r in cost["by_source"]]
    cur = cost["currency"]
    return Chart("cost", title, svg.hbars(title, rows, ["per MQL", "per SQL"], lambda v: f"{v:,.0f} {cur}"),
                 f"Spend from {cost['file']} over the calendar months the period touches, divided by the MQLs and "
                 "SQLs of that source in those months.")


def _count(v: float) -> str:
    return f"{v:,.0f}"


def _pct(v: float) -> str:
    return f"{v:.0%}"


def _days(v: float) -> str:
    return f"{v:,.1f} d"
