"""Benchmark: does `connector calibrate` learn what really drives buying? Against the hidden truth.

    .venv/bin/python bench/calibrate.py [--contacts 20000] [--seed 7] [--buyers standard|custom]
                                        [--tier professional] [--budget 30]

Starts the sandbox (a separate process), runs `connector calibrate --json` against it as a user
would (a subprocess, empty store), and prints its wall time and HubSpot calls beside the bound
derived from the tier's rate limit. Then reads today's contacts and `/_sandbox/truth` and, among
the contacts that are not customers yet, measures how well each of these ranks who will become a
customer (truth's `became_customer`, which no learner here sees):
  - the default config and the candidate config, scored by the engine on today's values;
  - an oracle: a logistic regression fitted directly on the truth, with the same candidate
    features, its AUC from 5-fold out-of-fold predictions (the bar the candidate must reach);
  - the truth's own propensity (the ceiling);
  - the naive learner: the same learner (learn.fit, same budget) trained on today's values with
    today's stage (opportunity or later) as the label, i.e. without rebuilding the past;
and the MQL precision at the candidate's chosen threshold against the base rate.
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
    total_requests,
)
from connector.calibrate import candidates as cands  # noqa: E402
from connector.calibrate import learn  # noqa: E402
from connector.calibrate.features import features_of, matrix  # noqa: E402
from connector.calibrate.outcomes import Example  # noqa: E402
from connector.calibrate.pipeline import _sign as sign_of  # noqa: E402  (the learner's own sign rule)
from connector.calibrate.timeline import Timeline  # noqa: E402
from connector.core.model import Contact, History  # noqa: E402
from connector.core.rules_file import load_rules  # noqa: E402
from connector.core.scoring import tally  # noqa: E402

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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--buyers", default="standard")
    ap.add_argument("--tier", default="professional")
    ap.add_argument("--budget", type=int, default=30)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    work = tempfile.mkdtemp(prefix="bench-calibrate-")
    out = os.path.join(work, "candidate.yaml")
    extra = ["--buyers", args.buyers] if args.buyers != "standard" else []
    with sandbox_process("--contacts", str(args.contacts), "--seed", str(args.seed), "--tier", args.tier,
                         *extra) as base:
        env = connector_env(base, os.path.join(work, "state.db"))
        before = total_requests(stats(base))
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        took, done = run_connector(env, "calibrate", "--json", "--out", out, "--max-rules", str(args.budget))
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = cpu.ru_utime - cpu_before.ru_utime + cpu.ru_stime - cpu_before.ru_stime
        report = json.loads(done.stdout)
        calls = total_requests(stats(base)) - before
        pages = math.ceil(args.contacts / 50)
        floor_calls = pages + 3  # token check, property definitions, one search for the total
        per_10s = TIER_PER_10S.get(args.tier)
        bound = f"{floor_calls / per_10s * 10:.1f} s of rate limit" if per_10s else "no rate limit"
        print(f"calibrate: {took:.1f} s wall, {calls} HubSpot calls (sandbox count; connector says "
              f"{report['calls']}); bound: {floor_calls} calls = ceil({args.contacts}/50) list pages with "
              f"history + 3, at {per_10s or '-'} per 10 s >= {bound}; connector CPU {cpu_s:.1f} s (the rest of "
              "the wall time is waiting for the sandbox, which renders every version of every page)")
        again, done2 = run_connector(env, "calibrate", "--json", "--out", out + ".2")
        print(f"calibrate rerun (cached read): {again:.1f} s wall, {json.loads(done2.stdout)['calls']} calls")
        h = report["split"]
        print(f"split by time: train {h['train']} ({h['train_converted']} converted), holdout {h['holdout']} "
              f"({h['holdout_converted']} converted); left out: {report['counts']['left_out']}")
        print(f"holdout AUC (vs observed outcomes): current {report['compare']['current']['auc']:.3f}, "
              f"candidate {report['compare']['candidate']['auc']:.3f}; CV on train {report['cv']['auc']:.3f}")

        definitions = {d["name"]: d for d in get(base, "/crm/v3/properties/contacts")["results"]}
        names = [n for n in definitions if cands.eligible(n, definitions[n]) is None]
        default_rules, cand_rules = load_rules(DEFAULT), load_rules(out)
        needed = sorted(set(names) | default_rules.contact_properties | cand_rules.contact_properties
                        | {"lifecyclestage"})
        contacts, _ = read_portal(base, needed, deadline_s=600)  # after calibrate: not in its counts
        truth = get(base, "/_sandbox/truth")["contacts"]
    now = time.time()
    ids = sorted((c for c in contacts if (contacts[c].get("lifecyclestage") or "") not in CUSTOMER), key=int)
    y = np.array([truth[c]["became_customer"] for c in ids], dtype=int)
    print(f"evaluation: {len(ids)} contacts not customers yet, {int(y.sum())} will become customers "
          f"(base rate {y.mean():.2%})")
    rows = {}
    for label, rules in (("default config", default_rules), ("candidate config", cand_rules)):
        total, hand = scores(rules, contacts, ids, now)
        rows[label] = roc_auc_score(y, total)
        t = rules.policy.mql_threshold
        fit_ok = np.array([tally(Contact(c, contacts[c]), History.empty(), rules, now).fit
                           >= rules.policy.fit_minimum for c in ids])
        mql = ((total >= t) & fit_ok) | hand
        prec = y[mql].mean() if mql.any() else 0.0
        print(f"  {label:<18} AUC vs truth {rows[label]:.3f}; MQLs at threshold {t:g}: {int(mql.sum())}, "
              f"{prec:.1%} become customers = lift {prec / y.mean():.2f} over the base rate")

    current = yaml.safe_load(DEFAULT.read_text())
    values = {n: [contacts[c].get(n) for c in contacts] for n in names}
    candidates, _ = cands.propose(definitions, names, values)
    features = features_of(current, candidates)
    every = sorted(contacts, key=int)
    examples = [Example(Timeline(c, None, {}), now, "today", False, None) for c in every]
    x_all = matrix(current, features, examples, lambda e: contacts[e.timeline.id])
    index = {c: i for i, c in enumerate(every)}
    x = x_all[[index[c] for c in ids]]
    scale = x.std(axis=0)
    scale[scale == 0] = 1
    oracle = cross_val_predict(LogisticRegression(C=1.0, max_iter=2000), x / scale, y,
                               cv=StratifiedKFold(5, shuffle=True, random_state=0), method="decision_function")
    oracle_auc = roc_auc_score(y, oracle)
    print(f"  oracle (LR fitted on the truth, same {len(features)} features, out-of-fold) AUC {oracle_auc:.3f}")
    print(f"  truth's own propensity AUC {roc_auc_score(y, [truth[c]['propensity'] for c in ids]):.3f}")
    sold = np.array([(contacts[c].get("lifecyclestage") or "") in SOLD for c in every], dtype=int)
    signs = [sign_of(f) for f in features]
    naive = learn.fit(x_all, sold, signs, args.budget)
    print(f"  naive learner (today's values, label = stage today, same learner and budget) AUC "
          f"{roc_auc_score(y, x @ naive.coef):.3f}")
    gap = rows["candidate config"] - rows["default config"]
    print(f"candidate - default = {gap:+.3f}; candidate - oracle = {rows['candidate config'] - oracle_auc:+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
