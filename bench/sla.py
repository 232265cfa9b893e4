"""SLA escalations on the real clock: once per stage, only for MQLs nobody touched (issue 12).

    sandbox ──► `connector run` (web + worker) with a 30-second SLA ──► escalation tasks

A sandbox portal sends HubSpot's webhooks for `--mqls` demo requests to `connector run`; the
scoring config is the packaged one plus an `sla` of two stages (`--sla-s` and twice that, to two
owners). Sales logs a call on half of the new MQLs at once (POST /_sandbox/contacts/{id}/log-activity).
After `--wait` seconds: each untouched MQL must have exactly one task per stage for the right
person, and no touched one any (the worker checks the clocks once a minute).

    python bench/sla.py [--mqls 20] [--sla-s 30] [--wait 200]
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import yaml
from store_deleted import candidates, free_port, wait_ready

from _harness import ROOT, connector_env, machine, run_connector, spawn_connector

sys.path.insert(0, str(ROOT))
from connector.sandbox import Sandbox, SandboxConfig  # noqa: E402

SUBSCRIPTIONS = ROOT / "config" / "hubspot-app" / "src" / "app" / "webhooks" / "webhooks-hsmeta.json"


def post(base: str, path: str, body) -> None:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mqls", type=int, default=20)
    ap.add_argument("--sla-s", type=float, default=30.0)
    ap.add_argument("--wait", type=float, default=200.0)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    secret, port = secrets.token_hex(16), free_port()
    work = Path(tempfile.mkdtemp(prefix="connector-bench-"))
    hook_url = f"http://127.0.0.1:{port}/webhooks/hubspot"
    with Sandbox(SandboxConfig(contacts=2000, seed=7, tier="professional", webhook_url=hook_url,
                               client_secret=secret, subscriptions=str(SUBSCRIPTIONS))) as sb:
        managers = [sb.portal.owners[6]["id"], sb.portal.owners[7]["id"]]
        config = yaml.safe_load((ROOT / "connector" / "defaults" / "scoring.yaml").read_text())
        config["sla"] = {"escalate": [{"after_hours": args.sla_s / 3600, "to": managers[0]},
                                      {"after_hours": 2 * args.sla_s / 3600, "to": managers[1]}]}
        (work / "scoring.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        env = connector_env(sb.base_url, str(work / "state.db"), HUBSPOT_CLIENT_SECRET=secret,
                            WEBHOOK_PUBLIC_URL=hook_url, HOST="127.0.0.1", PORT=str(port),
                            HUBSPOT_REQUESTS_PER_10S="190", LOG_LEVEL="WARNING",
                            SCORING_CONFIG=str(work / "scoring.yaml"))
        run_connector(env, "setup")
        run_connector(env, "sync", "--full")
        before = {t["id"] for t in _tasks(sb)}
        log = open(work / "run.log", "w")
        proc = spawn_connector(env, "run", stdout=log, stderr=log)
        wait_ready(port, proc)
        targets = candidates(sb, args.mqls)
        post(sb.base_url, "/_sandbox/activity", [{"contactId": c, "type": "form_submission",
                                                   "formName": "Demo request"} for c in targets])
        started = time.monotonic()
        time.sleep(5)  # the webhooks make them MQLs (clocks start)
        touched = targets[::2]
        for c in touched:
            post(sb.base_url, f"/_sandbox/contacts/{c}/log-activity", {"type": "call", "ownerId": managers[0]})
        print(f"{len(targets)} new MQLs; sales called {len(touched)} of them at once; SLA {args.sla_s:g} s, "
              f"second stage {2 * args.sla_s:g} s; waiting {args.wait:g} s", flush=True)
        time.sleep(max(0.0, args.wait - (time.monotonic() - started)))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        tasks = [t for t in _tasks(sb) if t["id"] not in before
                 and t["properties"].get("hs_task_subject", "").startswith("SLA breach")]
    per = Counter((c, t["properties"].get("hubspot_owner_id")) for t in tasks for c in t["contactIds"])
    untouched = [c for c in targets if c not in touched]
    want = {(c, m) for c in untouched for m in managers}
    got_targets = {k: n for k, n in per.items() if k[0] in targets}
    wrong = [k for k in got_targets if k[0] in touched]
    missing = [k for k in want if k not in got_targets]
    twice = [k for k, n in got_targets.items() if n > 1]
    print(f"escalation tasks for this run's MQLs: {sum(got_targets.values())} (want {len(want)}: "
          f"{len(untouched)} untouched x 2 stages); missing {len(missing)}, twice {len(twice)}, "
          f"for touched MQLs {len(wrong)}")
    ok = not missing and not twice and not wrong
    print("OK" if ok else "NOT OK")
    return 0 if ok else 1


def _tasks(sb) -> list[dict]:
    with urllib.request.urlopen(sb.base_url + "/_sandbox/tasks") as r:
        return json.loads(r.read())["results"]


if __name__ == "__main__":
    sys.exit(main())
