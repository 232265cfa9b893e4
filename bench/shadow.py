"""Benchmark: shadow mode over a simulated month. Does `connector shadow` name the config that
really ranks buyers better?

    .venv/bin/python bench/shadow.py [--contacts 20000] [--seed 7] [--buyers custom] [--days 30]

1. A sandbox whose portal is pinned `--days` before now (a separate process), buyers as `--buyers`.
2. `connector calibrate` writes a candidate; `connector setup`; then, with
   SHADOW_SCORING_CONFIG=<candidate>, `connector sync --full`: the shadow starts, every contact
   scored by both configs (first sightings kept in the store).
3. The month passes: POST /_sandbox/advance {"until": now} closes the generator's future customers
   whose time came (opportunity 14 days before, customer at their converts_at), as sales would.
4. `connector sync --full` again sees the new stages; `connector shadow --json` names the better
   config from those outcomes.
5. The same first-sighting scores are checked against `/_sandbox/truth` (became_customer among the
   contacts not customers at the start), which `connector shadow` never sees: the named config must
   be the one whose scores rank the truth better.
The month has conversions but no new web or email activity (the activity clock is off): both configs
see the same contacts, so the comparison is fair, but it is a month of outcomes, not of behaviour.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.metrics import roc_auc_score  # noqa: E402

from bench._harness import connector_env, machine, run_connector, sandbox_process  # noqa: E402

DAY = 86_400.0


def post(base: str, path: str, body: dict) -> dict:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--buyers", default="custom")
    ap.add_argument("--days", type=float, default=30.0)
    ap.add_argument("--tier", default="unlimited")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    work = tempfile.mkdtemp(prefix="bench-shadow-")
    db, candidate = os.path.join(work, "state.db"), os.path.join(work, "candidate.yaml")
    now = time.time()
    extra = ["--buyers", args.buyers] if args.buyers != "standard" else []
    with sandbox_process("--contacts", str(args.contacts), "--seed", str(args.seed), "--tier", args.tier,
                         *extra, now=now - args.days * DAY) as base:
        env = connector_env(base, db)
        took, _ = run_connector(env, "calibrate", "--out", candidate, "--json")
        print(f"calibrate: {took:.1f} s")
        run_connector(env, "setup")
        shadow_env = {**env, "SHADOW_SCORING_CONFIG": candidate}
        took, done = run_connector(shadow_env, "sync", "--full")
        print(f"shadow starts, sync --full: {took:.1f} s; {done.stdout.strip().splitlines()[-1]}")
        until = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        moved = post(base, "/_sandbox/advance", {"until": until})
        print(f"a month passes: /_sandbox/advance moved {moved}")
        took, done = run_connector(shadow_env, "sync", "--full")
        print(f"sync --full after the month: {took:.1f} s; {done.stdout.strip().splitlines()[-1]}")
        _, done = run_connector(shadow_env, "shadow", "--json")
        verdict = json.loads(done.stdout)
        _, text = run_connector(shadow_env, "shadow")
        print(text.stdout.rstrip())
        with urllib.request.urlopen(base + "/_sandbox/truth") as r:
            truth = json.loads(r.read())["contacts"]
    rows = sqlite3.connect(db).execute(
        "SELECT contact_id, live_total, shadow_total, stage_at_start FROM shadow_scores "
        "WHERE config_key = ?", (verdict["key"],)).fetchall()
    judged = [r for r in rows if (r[3] or "") not in ("opportunity", "customer", "evangelist")]
    y = [bool(truth[r[0]]["became_customer"]) for r in judged]
    live = roc_auc_score(y, [r[1] for r in judged])
    shadow = roc_auc_score(y, [r[2] for r in judged])
    truly = "shadow" if shadow > live else "live"
    print(f"against the truth (became_customer, {len(judged)} contacts not at opportunity or later at the start, "
          f"{sum(y)} future customers): live AUC {live:.3f}, shadow AUC {shadow:.3f} -> {truly} ranks the truth better")
    print(f"connector shadow named: {verdict.get('better')}; "
          f"{'AGREES' if verdict.get('better') == truly else 'DISAGREES'} with the truth")
    return 0 if verdict.get("better") == truly else 1


if __name__ == "__main__":
    sys.exit(main())
