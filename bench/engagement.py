"""Activity rules (issue 15): do they rank the hidden truth better, and what do they cost in calls?

For the default config with and without its activity rules, each on a fresh sandbox portal (same seed,
professional limits): a full sync, the incremental sync that reads back its writes, then an
incremental sync with nothing changed. Prints the calls by
kind and the time of each, and the AUC of the written lsc_score against `/_sandbox/truth`'s
`became_customer`, among the contacts not customers yet.

    python bench/engagement.py [--contacts 20000] [--seed 7] [--tier professional]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from _harness import ROOT

sys.path.insert(0, str(ROOT))
from connector.commands.setup import run_setup  # noqa: E402
from connector.core.rules_file import load_rules, parse_rules  # noqa: E402
from connector.gateway import Gateway  # noqa: E402
from connector.sandbox import Sandbox, SandboxConfig  # noqa: E402
from connector.store import Store  # noqa: E402
from connector.sync import SyncJob  # noqa: E402

DEFAULT = ROOT / "connector" / "defaults" / "scoring.yaml"
# HubSpot's professional burst limit is 190 per 10 s; the connector keeps a margin.
PER_10S = {"free": 100, "starter": 100, "professional": 180, "enterprise": 180, "unlimited": 100_000}


def without_activity(path: Path):
    data = yaml.safe_load(path.read_text())
    data["rules"]["engagement"] = [r for r in data["rules"]["engagement"] if "activity" not in r]
    return parse_rules(data, f"{path} (without activity rules)")


def auc(scored: list[tuple[float, bool]]) -> float:
    """The chance a random future customer outscores a random other contact (ties count half)."""
    ranked = sorted(scored, key=lambda x: x[0])
    pos = sum(1 for _, y in ranked if y)
    neg = len(ranked) - pos
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mid = (i + j + 1) / 2  # 1-based average rank of the tie
        rank_sum += mid * sum(1 for _, y in ranked[i:j] if y)
        i = j
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg) if pos and neg else float("nan")


def run(rules, args, label: str) -> dict:
    with Sandbox(SandboxConfig(contacts=args.contacts, seed=args.seed, tier=args.tier)) as sb, \
            tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/store.db")
        store.upgrade()
        gateway = Gateway("pat-sandbox", sb.base_url, requests_per_10s=PER_10S[args.tier])
        run_setup(gateway, store, rules, "pat-sandbox", dry_run=False)
        before = gateway.counters.snapshot()
        started = time.monotonic()
        SyncJob(gateway, store, rules).run(full=True)
        full_s = time.monotonic() - started
        full = gateway.counters.since(before)
        if sb.webhooks is not None:
            sb.webhooks.flush(10)
        # The first incremental sync reads back the full sync's own writes (their lastmodifieddate
        # moved: HubSpot search cannot tell an echo from a change); the next one is the floor.
        before = gateway.counters.snapshot()
        started = time.monotonic()
        SyncJob(gateway, store, rules).run(full=False)
        echo_s = time.monotonic() - started
        echo = gateway.counters.since(before)
        before = gateway.counters.snapshot()
        started = time.monotonic()
        SyncJob(gateway, store, rules).run(full=False)
        incr_s = time.monotonic() - started
        incr = gateway.counters.since(before)
        truth = json.load(urllib.request.urlopen(sb.base_url + "/_sandbox/truth"))["contacts"]
        scored = []
        for cid, record in sb.portal.stores["contacts"].records.items():
            p = record.properties
            if p.get("lifecyclestage") == "customer" or cid not in truth:
                continue
            scored.append((float(p.get("lsc_score") or 0), bool(truth[cid].get("became_customer"))))
        store.dispose()
    return {"label": label, "auc": auc(scored), "contacts": len(scored), "full_calls": full.requests,
            "full_by_kind": dict(sorted(full.by_kind.items())), "full_s": full_s,
            "echo_calls": echo.requests, "echo_by_kind": dict(sorted(echo.by_kind.items())), "echo_s": echo_s,
            "incremental_calls": incr.requests, "incremental_s": incr_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tier", default="professional")
    args = ap.parse_args()
    results = [run(without_activity(DEFAULT), args, "default config without activity rules"),
               run(load_rules(DEFAULT), args, "default config with activity rules")]
    for r in results:
        print(f"{r['label']}: AUC {r['auc']:.4f} over {r['contacts']} contacts not customers yet")
        print(f"  full sync: {r['full_calls']} calls in {r['full_s']:.1f} s  {r['full_by_kind']}")
        print(f"  next incremental sync (reads back the full sync's writes): {r['echo_calls']} calls in "
              f"{r['echo_s']:.1f} s  {r['echo_by_kind']}")
        print(f"  incremental sync, nothing changed: {r['incremental_calls']} calls in {r['incremental_s']:.2f} s")


if __name__ == "__main__":
    main()
