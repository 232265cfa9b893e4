"""Benchmark: does `connector calibrate` learn what really drives buying? Against the hidden truth.

    .venv/bin/python bench/calibrate.py [--contacts 20000] [--seed 7] [--buyers standard|custom]
                                        [--tier professional] [--budget 30] [--rerun]

Starts the sandbox (a separate process) and runs `connector calibrate --json` against it as a user
would (a subprocess), twice, each on its own empty store: with the activity candidates (completed
meeting, connected call, webinar attended, email reply; valued point-in-time from the occurrences
dated before each decision moment) and with `--no-activity` (property candidates only). For each it
prints the wall time, the HubSpot calls (the activity reads apart) beside the read's bound from the
tier's rate limit, and calibrate's own holdout AUC (time split: train on the older 75 % of decisions,
test on the newest 25 %). Then reads today's contacts, their activity (as the sync's enricher puts it on
each contact: `activity:<rule>` keys, so activity rules are not left at 0) and `/_sandbox/truth`, and
among the contacts that are not customers yet measures how well each of these ranks who will become a
customer (truth's `became_customer`, which no learner here sees; and the rank correlation with the
truth's `propensity`):
  - the default config and both candidate configs, scored by the engine on today's values;
  - an oracle per variant: a logistic regression fitted directly on the truth, with the same candidate
    features, its AUC from 5-fold out-of-fold predictions (the bar the candidate must reach);
  - the truth's own propensity (the ceiling);
  - the naive learner per variant: the same learner (learn.fit, same budget) trained on today's values
    with today's stage (opportunity or later) as the label, i.e. without rebuilding the past;
and the MQL precision at each config's threshold against the base rate.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # noqa: E402

from bench._harness import (  # noqa: E402
    ROOT,
    connector_env,
    machine,
    read_portal,
    run_connector,
    sandbox_process,
    stats,
)
from connector.calibrate import activity as act  # noqa: E402
from connector.calibrate import candidates as cands  # noqa: E402
from connector.calibrate import learn  # noqa: E402
from connector.calibrate.activity import reading_rules  # noqa: E402
from connector.calibrate.features import features_of, matrix  # noqa: E402
from connector.calibrate.outcomes import Example  # noqa: E402
from connector.calibrate.pipeline import _sign as sign_of  # noqa: E402  (the learner's own sign rule)
from connector.calibrate.timeline import Timeline  # noqa: E402
from connector.core.activity import signals  # noqa: E402
from connector.core.model import Contact, History  # noqa: E402
from connector.core.rules_file import load_rules  # noqa: E402
from connector.core.scoring import tally  # noqa: E402
from connector.engagement.enrich import read_history as read_activity  # noqa: E402
from connector.gateway import Gateway  # noqa: E402

DEFAULT = ROOT / "connector" / "defaults" / "scoring.yaml"
TIER_PER_10S = {"free": 100, "starter": 100, "professional": 190, "enterprise": 190}
CUSTOMER = ("customer", "evangelist")
SOLD = ("opportunity", "customer", "evangelist")


def get(base: str, path: str):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer pat-sandbox"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def scores(rules, contacts: dict[str, dict], ids: list[str], now: float) -> tuple[np.ndarray, np.ndarray]:
    total, hand = np.zeros(len(ids)), np.zeros(len(ids), dtype=bool)
    for i, cid in enumerate(ids):
        card = tally(Contact(cid, contacts[cid]), History.empty(), rules, now)
        total[i], hand[i] = card.total, card.hand_raise is not None
    return total, hand


ACTIVITY_PATHS = ("/crm/v4/associations", "/crm/v3/objects/{objectType}", "/marketing/")
VARIANTS = (("with activity", ()), ("without activity", ("--no-activity",)))


def activity_calls(by_path: dict[str, int]) -> int:
    """The calls that read activity: associations, engagement batch reads, marketing events."""
    return sum(n for k, n in by_path.items() if k.split()[1].startswith(ACTIVITY_PATHS))


def since(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in after.items() if n - before.get(k, 0)}


def run_calibrate(base: str, work: str, label: str, flags: tuple[str, ...], args) -> dict:
    """`connector calibrate --json` on its own empty store (both variants read the portal alike), timed
    and counted by the sandbox."""
    tag = label.replace(" ", "-")
    out = os.path.join(work, f"candidate-{tag}.yaml")
    env = connector_env(base, os.path.join(work, f"state-{tag}.db"))
    before = stats(base)["requests"]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    took, done = run_connector(env, "calibrate", "--json", "--out", out, "--max-rules", str(args.budget), *flags)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    by_path = since(stats(base)["requests"], before)
    report = json.loads(done.stdout)
    calls, activity = sum(by_path.values()), activity_calls(by_path)
    pages = math.ceil(args.contacts / 50)
    floor_calls = pages + 3  # token check, property definitions, one search for the total
    per_10s = TIER_PER_10S.get(args.tier)
    bound = f"{floor_calls / per_10s * 10:.1f} s" if per_10s else "no rate limit"
    print(f"calibrate {label}: {took:.1f} s wall, {calls} HubSpot calls (sandbox count; connector says "
          f"{report['calls']}), of which {activity} read activity; the read's bound: {floor_calls} calls = "
          f"ceil({args.contacts}/50) list pages with history + 3, at {per_10s or '-'} per 10 s >= {bound}; "
          f"connector CPU {cpu.ru_utime - cpu_before.ru_utime + cpu.ru_stime - cpu_before.ru_stime:.1f} s",
          flush=True)
    if activity:
        print("  activity reads: " + ", ".join(f"{k} {n}" for k, n in sorted(by_path.items())
                                               if k.split()[1].startswith(ACTIVITY_PATHS)))
    h, compare = report["split"], report["compare"]
    print(f"  split by time: train {h['train']} ({h['train_converted']} converted), holdout {h['holdout']} "
          f"({h['holdout_converted']} converted); left out: {report['counts']['left_out']}")
    print(f"  holdout AUC (vs observed outcomes, newest 25 %): current {compare['current']['auc']:.3f}, "
          f"candidate {compare['candidate']['auc']:.3f} [{compare['candidate']['auc_low']:.3f}, "
          f"{compare['candidate']['auc_high']:.3f}]; CV on train {report['cv']['auc']:.3f}")
    current = yaml.safe_load(DEFAULT.read_text())
    activity_rules = {r.rule for r in reading_rules(current).activities}
    learned = [r for r in report["rules"] if r["name"] in activity_rules]
    print("  activity rules in the candidate: " + (", ".join(f"{r['name']} {r['points']:+d}" for r in learned)
                                                  or "none"))
    return {"label": label, "out": out, "env": env, "report": report, "calls": calls, "activity_calls": activity,
            "wall": took}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--buyers", default="standard")
    ap.add_argument("--tier", default="professional")
    ap.add_argument("--budget", type=int, default=30)
    ap.add_argument("--rerun", action="store_true", help="also rerun calibrate on the cached read")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    work = tempfile.mkdtemp(prefix="bench-calibrate-")
    extra = ["--buyers", args.buyers] if args.buyers != "standard" else []
    with sandbox_process("--contacts", str(args.contacts), "--seed", str(args.seed), "--tier", args.tier,
                         *extra) as base:
        runs = [run_calibrate(base, work, label, flags, args) for label, flags in VARIANTS]
        if args.rerun:
            again, done2 = run_connector(runs[0]["env"], "calibrate", "--json", "--out", runs[0]["out"] + ".2")
            print(f"calibrate rerun (cached read; activity read again): {again:.1f} s wall, "
                  f"{json.loads(done2.stdout)['calls']} calls")

        definitions = {d["name"]: d for d in get(base, "/crm/v3/properties/contacts")["results"]}
        names = [n for n in definitions if cands.eligible(n, definitions[n]) is None]
        default_rules = load_rules(DEFAULT)
        configs = [("default config", default_rules), *((f"candidate {r['label']}", load_rules(r["out"]))
                                                        for r in runs)]
        needed = sorted(set(names).union(*(rules.contact_properties for _, rules in configs))
                        | {"lifecyclestage", "email"})
        contacts, _ = read_portal(base, needed, deadline_s=600)  # after calibrate: not in its counts
        truth = get(base, "/_sandbox/truth")["contacts"]
        now = time.time()
        current = yaml.safe_load(DEFAULT.read_text())
        # Today's activity, as the sync's enricher puts it on each contact before scoring
        # (activity:<rule> keys, connector/engagement/enrich.py): the current config's activity rules
        # and every activity candidate, so each config is scored with what it counts (not in the counts).
        reading = reading_rules(current)
        occurrences = read_activity(Gateway("pat-sandbox", base, requests_per_10s=180), reading,
                                    {c: {"email": contacts[c].get("email") or ""} for c in contacts}, now)
    for c, props in contacts.items():
        props.update(signals(reading.activities, occurrences.get(c, {}), now))
    ids = sorted((c for c in contacts if (contacts[c].get("lifecyclestage") or "") not in CUSTOMER), key=int)
    y = np.array([truth[c]["became_customer"] for c in ids], dtype=int)
    propensity = np.array([truth[c]["propensity"] for c in ids], dtype=float)
    print(f"evaluation: {len(ids)} contacts not customers yet, {int(y.sum())} will become customers "
          f"(base rate {y.mean():.2%}); every config scored with today's activity counts")
    print("  activity today (share of those contacts a rule fires for, and how many of them become customers):")
    for a in reading.activities:
        on = np.array([(contacts[c].get(a.key) or "0") != "0" for c in ids])
        rate = f"{y[on].mean():.1%} (lift {y[on].mean() / y.mean():.2f})" if on.any() else "-"
        print(f"    {a.rule:<28} {on.mean():6.1%}  {rate}")
    rows = {}
    for label, rules in configs:
        total, hand = scores(rules, contacts, ids, now)
        rows[label] = roc_auc_score(y, total)
        rho = spearmanr(total, propensity).statistic
        t = rules.policy.mql_threshold
        fit_ok = np.array([tally(Contact(c, contacts[c]), History.empty(), rules, now).fit
                           >= rules.policy.fit_minimum for c in ids])
        mql = ((total >= t) & fit_ok) | hand
        prec = y[mql].mean() if mql.any() else 0.0
        print(f"  {label:<29} AUC vs truth {rows[label]:.3f}, Spearman vs propensity {rho:.3f}; MQLs at "
              f"threshold {t:g}: {int(mql.sum())}, {prec:.1%} become customers = lift {prec / y.mean():.2f}")

    every = sorted(contacts, key=int)
    index = {c: i for i, c in enumerate(every)}
    values = {n: [contacts[c].get(n) for c in contacts] for n in names}
    properties, _ = cands.propose(definitions, names, values)
    examples = [Example(Timeline(c, None, {}), now, "today", False, None) for c in every]
    sold = np.array([(contacts[c].get("lifecyclestage") or "") in SOLD for c in every], dtype=int)
    print(f"  truth's own propensity AUC {roc_auc_score(y, propensity):.3f}")
    for label, candidates in (("with activity", [*properties, *act.candidates()]), ("without activity", properties)):
        features = features_of(current, candidates)
        x_all = matrix(current, features, examples, lambda e: contacts[e.timeline.id])
        x = x_all[[index[c] for c in ids]]
        scale = x.std(axis=0)
        scale[scale == 0] = 1
        oracle = cross_val_predict(LogisticRegression(C=1.0, max_iter=2000), x / scale, y,
                                   cv=StratifiedKFold(5, shuffle=True, random_state=0), method="decision_function")
        oracle_auc = roc_auc_score(y, oracle)
        naive = learn.fit(x_all, sold, [sign_of(f) for f in features], args.budget)
        cand = rows[f"candidate {label}"]
        print(f"  {label}: oracle (LR fitted on the truth, same {len(features)} features, out-of-fold) AUC "
              f"{oracle_auc:.3f}; naive learner (today's values, label = stage today) AUC "
              f"{roc_auc_score(y, x @ naive.coef):.3f}; candidate - oracle {cand - oracle_auc:+.3f}, "
              f"candidate - default {cand - rows['default config']:+.3f}")
    gap = rows["candidate with activity"] - rows["candidate without activity"]
    holdout = [r["report"]["compare"]["candidate"]["auc"] for r in runs]
    print(f"activity candidates: truth AUC {gap:+.3f}, calibrate's holdout AUC {holdout[0] - holdout[1]:+.3f}, "
          f"calls {runs[0]['calls'] - runs[1]['calls']:+d} ({runs[0]['activity_calls']} activity reads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
