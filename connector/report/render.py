"""The report dict as text for a terminal, or as CSV rows (one number per row) for a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator


def as_text(report: dict) -> str:
    w = report["window"]
    out = [f"Report {w['since']} to {w['until']} by {w['by']}: {report['contacts']:,} contacts in the store"
           + (f", last seen {report['as_of']}" if report.get("as_of") else "")]
    if report.get("status"):
        out.append(f"  {report['status']}")
    out += ["", "Funnel (contacts entering each stage in the window; conversion = of those, how many went on):"]
    out += _funnel_lines(report["funnel"]["total"], "  ")
    out += ["", f"Per {w['by']}:  " + "  ".join(f"{s['label']:>9}" for s in report["funnel"]["total"])]
    for p in report["funnel"]["by_period"]:
        out.append(f"  {p['period']:<10} " + "  ".join(f"{s['entered']:>9,}" for s in p["stages"]))
    for name, title in (("grade", "grade"), ("score_band", "score band (score now)"), ("path", "qualification path"),
                        ("source", "original source")):
        out += ["", f"By {title}: MQLs, MQL->SQL, SQL->opportunity, opportunity->customer"]
        for row in report["segments"][name]:
            s = row["stages"]
            out.append(f"  {row['value']:<24} {s[1]['entered']:>7,} MQLs  " + "  ".join(
                f"{_pct(s[i]['rate']):>6}" for i in (1, 2, 3)))
    out += ["", f"New MQLs per {w['by']} by path:"]
    for p in report["mqls_by_path"]:
        out.append(f"  {p['period']:<10} {p['total']:>6,}  " + ", ".join(f"{k} {v:,}" for k, v in p["paths"].items()))
    out += ["", "Handoff:"] + _handoff_lines(report["handoff"])
    out += ["", "Cost per MQL and SQL:"] + _cost_lines(report["cost"])
    out += ["", "Calibration (predicted vs actual conversion by score decile):"] + _calibration_lines(
        report["calibration"])
    shadow = report["shadow"]
    out += ["", "Live vs shadow: " + (shadow.get("verdict") or shadow.get("status") or "")]
    return "\n".join(out) + "\n"


def _funnel_lines(stages: list[dict], pad: str) -> list[str]:
    lines = []
    for s in stages:
        line = f"{pad}{s['label']:<12} {s['entered']:>8,}"
        if "next" in s:
            days = f", median {s['median_days']:g} days" if s["median_days"] is not None else ""
            line += f"   -> {s['next']}: {s['converted']:,} ({_pct(s['rate'])}){days}"
        lines.append(line)
    return lines


def _handoff_lines(h: dict) -> list[str]:
    sla, v = h["sla"], h["verdicts"]
    lines = []
    if "share_within_sla" in sla:
        lines.append(f"  SLA {sla['sla_hours']:g} {sla['counted_in']}: {_pct(sla['share_within_sla'])} of MQLs touched "
                     f"within it ({sla['touched_within_sla']} in time, {sla['touched_late']} late, "
                     f"{sla['untouched_past_sla']} untouched past it, {sla['still_within_sla']} still within); median "
                     f"time to first touch {_num(sla['median_hours_to_first_touch'])} h")
    else:
        lines.append(f"  SLA: {sla['status']}")
    if v.get("status"):
        lines.append(f"  Verdicts: {v['status']}")
    else:
        lines.append(f"  Verdicts: {v['accepted']} accepted, {v['rejected']} rejected "
                     f"({_pct(v['acceptance_rate'])} accepted)")
        lines += [f"    {r['reason']:<24} {r['count']:>5}  {_pct(r['share'])}" for r in v["reasons"]]
    return lines


def _cost_lines(cost: dict) -> list[str]:
    if "status" in cost:
        return [f"  {cost['status']}"]
    cur = cost["currency"]
    lines = [f"  from {cost['file']} ({cur}), months {', '.join(cost['months'])}"]
    for r in cost["by_source"] + [{**cost["total"], "source": "all sources"}]:
        lines.append(f"  {r['source']:<20} spend {r['spend']:>12,.2f}  {r['mqls']:>5} MQLs {_money(r['cost_per_mql'])}"
                     f"  {r['sqls']:>5} SQLs {_money(r['cost_per_sql'])}")
    return lines


def _calibration_lines(c: dict) -> list[str]:
    lines = [f"  {c['contacts']:,} contacts ({c['population']}), {c['converted']:,} {c['converted_means']}"]
    if c.get("status"):
        lines.append(f"  {c['status']}")
    for d in c["deciles"]:
        lines.append(f"  decile {d['decile']:>2}  score {d['min_score']:>3}-{d['max_score']:<3} {d['contacts']:>7,}  "
                     f"predicted {_pct(d['predicted']):>6}  actual {_pct(d['actual']):>6}")
    return lines


def as_csv(report: dict) -> str:
    """section,group,item,metric,value: every number of the report, one per row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["section", "group", "item", "metric", "value"])
    writer.writerows(_rows(report))
    return buf.getvalue()


def _rows(r: dict) -> Iterator[tuple]:
    yield from _stage_rows("funnel", "window", r["funnel"]["total"])
    for p in r["funnel"]["by_period"]:
        yield from _stage_rows("funnel", p["period"], p["stages"])
    for name, rows in r["segments"].items():
        for row in rows:
            yield from _stage_rows(f"by_{name}", row["value"], row["stages"])
    for p in r["mqls_by_path"]:
        for path, n in p["paths"].items():
            yield ("mqls_by_path", p["period"], path, "mqls", n)
    for key, value in r["handoff"]["sla"].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield ("sla", "window", "", key, value)
    v = r["handoff"]["verdicts"]
    yield ("verdicts", "window", "", "accepted", v["accepted"])
    yield ("verdicts", "window", "", "rejected", v["rejected"])
    for reason in v["reasons"]:
        yield ("rejection_reasons", "window", reason["reason"], "count", reason["count"])
    cost = r["cost"]
    for row in cost.get("by_month_and_source", []):
        for metric in ("spend", "mqls", "sqls", "cost_per_mql", "cost_per_sql"):
            yield ("cost", row["month"], row["source"], metric, _blank(row[metric]))
    for d in r["calibration"]["deciles"]:
        for metric in ("min_score", "max_score", "contacts", "converted", "predicted", "actual"):
            yield ("calibration", f"decile {d['decile']}", "", metric, _blank(d[metric]))


def _stage_rows(section: str, group: str, stages: list[dict]) -> Iterator[tuple]:
    for s in stages:
        yield (section, group, s["label"], "entered", s["entered"])
        if "next" in s:
            yield (section, group, s["label"], f"to_{s['next']}", s["converted"])
            yield (section, group, s["label"], f"rate_to_{s['next']}", _blank(s["rate"]))
            yield (section, group, s["label"], f"median_days_to_{s['next']}", _blank(s["median_days"]))


def _blank(value):
    return "" if value is None else value


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _money(value: float | None) -> str:
    return f"{'-':>10} each" if value is None else f"{value:>10,.2f} each"
