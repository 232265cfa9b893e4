"""The report's numbers computed again from a sandbox portal's raw contacts, without the report's
code: its own date parsing, periods, funnel, bands, costs and a scikit-learn logistic fit. The
definitions are the ones docs/dashboard.md states."""

from __future__ import annotations

import csv
import math
import statistics
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sklearn.linear_model import LogisticRegression

STAGES = ["lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"]
LABELS = ["Lead", "MQL", "SQL", "Opportunity", "Customer"]


def ms(text):
    if not text:
        return None
    if text.isdigit():
        return int(text)
    return int(round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000))


def contacts_of(sandbox) -> list[dict]:
    """Each contact as plain values read straight from the sandbox portal's memory."""
    store = sandbox.portal.store("contacts")
    out = []
    for cid in store.order:
        p = store.records[str(cid)].properties
        dates = [ms(p.get(f"hs_lifecyclestage_{s}_date")) for s in STAGES]
        if dates[1] is None:
            dates[1] = ms(p.get("lsc_mql_date"))
        reached = []
        for i in range(5):
            later = [d for d in dates[i:] if d is not None]
            reached.append(dates[i] if dates[i] is not None else (min(later) if later else None))
        score = p.get("lsc_score")
        out.append({"id": str(cid), "reached": reached, "created": ms(p.get("createdate")),
                    "grade": p.get("lsc_grade") or "none", "score": int(score) if score not in (None, "") else None,
                    "path": p.get("lsc_qualification_path") or "none", "source": p.get("hs_analytics_source") or None})
    return out


def key_of(at, by):
    day = datetime.fromtimestamp(at / 1000, UTC).date()
    return day.strftime("%Y-%m") if by == "month" else (day - timedelta(days=day.weekday())).isoformat()


def bounds(since: date, until: date):
    start = int(datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp() * 1000)
    end_day = until + timedelta(days=1)
    return start, int(datetime(end_day.year, end_day.month, end_day.day, tzinfo=UTC).timestamp() * 1000)


def stages(rows, inside) -> list[dict]:
    out = []
    for i in range(5):
        entered = [r for r in rows if r["reached"][i] is not None and inside(r["reached"][i])]
        row = {"stage": STAGES[i], "label": LABELS[i], "entered": len(entered)}
        if i < 4:
            moved = [r for r in entered if r["reached"][i + 1] is not None]
            days = [(r["reached"][i + 1] - r["reached"][i]) / 86_400_000 for r in moved]
            row.update(next=LABELS[i + 1], converted=len(moved),
                       rate=round(len(moved) / len(entered), 4) if entered else None,
                       median_days=round(statistics.median(days), 2) if days else None)
        out.append(row)
    return out


def band_label(score, threshold, hysteresis):
    if score is None:
        return "unscored"
    hold = math.ceil(threshold - hysteresis)
    edges = [0, hold // 2, hold, math.ceil(threshold), math.ceil(threshold) + 20]
    for low, high in zip(edges, edges[1:] + [None], strict=True):
        if score >= low and (high is None or score < high):
            if high is None:
                return f"{low}+"
            suffix = " (MQLs held)" if low == hold else " (MQL line)" if low >= threshold else ""
            return f"{low}-{high - 1}{suffix}"
    return f"0-{hold // 2 - 1}"


def expected(contacts, since: date, until: date, by: str, threshold: float, hysteresis: float,
             spend_path: str) -> dict:
    start, end = bounds(since, until)

    def inside(at):
        return start <= at < end

    periods = sorted({key_of(start + d * 86_400_000, by) for d in range((end - start) // 86_400_000)})
    out: dict = {"contacts": len(contacts), "periods": periods, "total": stages(contacts, inside)}
    out["by_period"] = {k: stages(contacts, lambda at, k=k: inside(at) and key_of(at, by) == k) for k in periods}
    segments = {"grade": lambda c: c["grade"], "path": lambda c: c["path"],
                "source": lambda c: c["source"] or "unknown",
                "score_band": lambda c: band_label(c["score"], threshold, hysteresis)}
    out["segments"] = {}
    for name, seg in segments.items():
        values = {seg(c) for c in contacts}
        per = {v: stages([c for c in contacts if seg(c) == v], inside) for v in values}
        out["segments"][name] = {v: s for v, s in per.items() if any(x["entered"] for x in s)}
    mqls: dict = {k: {} for k in periods}
    for c in contacts:
        at = c["reached"][1]
        if at is not None and inside(at):
            mqls[key_of(at, by)][c["path"]] = mqls[key_of(at, by)].get(c["path"], 0) + 1
    out["mqls_by_path"] = mqls
    out["cost"] = _cost(contacts, start, end, spend_path)
    out["calibration"] = _calibration([c for c in contacts if c["score"] is not None and c["created"] is not None
                                       and inside(c["created"])])
    return out


def _cost(contacts, start, end, spend_path):
    months = sorted({key_of(at, "month") for at in range(start, end, 86_400_000)})
    with open(spend_path, newline="") as f:
        rows = [r for r in csv.DictReader(line for line in f if not line.startswith("#"))]
    out = {}
    for r in rows:
        if r["month"] not in months:
            continue
        amount = float(r["amount"])
        mqls = sum(1 for c in contacts if c["source"] == r["source"] and c["reached"][1] is not None
                   and key_of(c["reached"][1], "month") == r["month"])
        sqls = sum(1 for c in contacts if c["source"] == r["source"] and c["reached"][2] is not None
                   and key_of(c["reached"][2], "month") == r["month"])
        out[(r["month"], r["source"])] = {"spend": amount, "mqls": mqls, "sqls": sqls,
                                          "cost_per_mql": round(amount / mqls, 2) if mqls else None,
                                          "cost_per_sql": round(amount / sqls, 2) if sqls else None}
    return out


def _calibration(contacts):
    scores = np.array([c["score"] for c in contacts], float)
    y = np.array([c["reached"][3] is not None for c in contacts], int)
    model = LogisticRegression(C=np.inf, tol=1e-12, max_iter=100_000).fit(scores.reshape(-1, 1), y)
    predicted = model.predict_proba(scores.reshape(-1, 1))[:, 1]
    n = len(contacts)
    deciles = {}
    for i, s in enumerate(scores):
        d = min(9, (10 * int((scores < s).sum())) // n)
        deciles.setdefault(d + 1, []).append(i)
    return {"contacts": n, "converted": int(y.sum()), "deciles": {
        d: {"contacts": len(ix), "converted": int(y[ix].sum()), "actual": round(float(y[ix].mean()), 4),
            "predicted": round(float(predicted[ix].mean()), 4), "min_score": int(scores[ix].min()),
            "max_score": int(scores[ix].max())} for d, ix in deciles.items()}}
