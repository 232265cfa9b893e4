"""Owner alerts end to end: a hand-raise becomes one task for the owner within seconds (issue 12).

    sandbox (demo requests -> signed webhooks, some delivered twice) ──► `connector run` ──► tasks

A sandbox portal (professional limits) sends HubSpot's webhooks for `--hand-raises` demo requests
spread over `--seconds` to `connector run` (web + worker, SQLite), with `--duplicates` of the
webhook batches delivered a second time. Half-way, `connector run` is killed with SIGKILL and
started again. A local Slack-style receiver gets the same alerts, answering 500 to half the
requests (a seeded coin). At the end, per hand-raise: the time from the demo request to its task (the sandbox's
`createdAtMs`, `GET /_sandbox/tasks`), the number of tasks (must be exactly 1) and of messages
received by the chat receiver (exactly 1 each, after retries), and the scoring latency: from the
demo request to the contact's MQL status written (the sandbox's history version of hs_lead_status),
which a failing chat channel must not slow (compare `--chat-fail 0` with the default 0.5).

    python bench/alerts.py [--contacts 2000] [--hand-raises 100] [--seconds 20] [--duplicates 0.3]
                           [--chat-fail 0.5] [--no-kill]
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from store_deleted import candidates, free_port, wait_ready

from _harness import ROOT, connector_env, machine, run_connector, spawn_connector

sys.path.insert(0, str(ROOT))
from connector.sandbox import Sandbox, SandboxConfig  # noqa: E402

SUBSCRIPTIONS = ROOT / "config" / "hubspot-app" / "src" / "app" / "webhooks" / "webhooks-hsmeta.json"


class FlakyChat:
    """A Slack-style incoming webhook that answers 500 to a share of the requests (seeded coin)."""

    def __init__(self, fail_rate: float = 0.5) -> None:
        self.received: list[str] = []
        self.refused = 0
        coin = random.Random(1)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if coin.random() < fail_rate:
                    outer.refused += 1
                    self.send_response(500)
                else:
                    outer.received.append(json.loads(body)["text"])
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--hand-raises", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--duplicates", type=float, default=0.3)
    parser.add_argument("--settle", type=float, default=240.0)
    parser.add_argument("--chat-fail", type=float, default=0.5, help="share of chat requests answered 500")
    parser.add_argument("--kill", action=argparse.BooleanOptionalAction, default=True,
                        help="SIGKILL connector run half-way and restart it (default: yes)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    secret, port = secrets.token_hex(16), free_port()
    work = Path(tempfile.mkdtemp(prefix="connector-bench-"))
    hook_url = f"http://127.0.0.1:{port}/webhooks/hubspot"
    chat = FlakyChat(args.chat_fail)
    config = SandboxConfig(contacts=args.contacts, seed=7, tier="professional", webhook_url=hook_url,
                           client_secret=secret, subscriptions=str(SUBSCRIPTIONS),
                           duplicate_rate=args.duplicates)
    with Sandbox(config) as sandbox:
        env = connector_env(sandbox.base_url, str(work / "state.db"), HUBSPOT_CLIENT_SECRET=secret,
                            WEBHOOK_PUBLIC_URL=hook_url, HOST="127.0.0.1", PORT=str(port),
                            HUBSPOT_REQUESTS_PER_10S="190", LOG_LEVEL="WARNING", SLACK_WEBHOOK_URL=chat.url)
        run_connector(env, "setup")
        run_connector(env, "sync", "--full")  # the portal's own last-day hand-raises alert here
        baseline = {t["id"] for t in _tasks(sandbox)}
        chat.received.clear()
        targets = candidates(sandbox, args.hand_raises)
        logs = [open(work / f"run{i}.log", "w") for i in (1, 2)]
        proc = spawn_connector(env, "run", stdout=logs[0], stderr=logs[0])
        wait_ready(port, proc)
        print(f"{len(targets)} hand-raises over {args.seconds:.0f} s; webhook batches duplicated at "
              f"{args.duplicates:.0%}" + ("; connector run killed with SIGKILL half-way" if args.kill else ""),
              flush=True)
        raised_at: dict[str, float] = {}
        gap = args.seconds / max(len(targets), 1)
        for i, cid in enumerate(targets):
            _demo_request(sandbox, cid)
            raised_at[cid] = time.time() * 1000
            if args.kill and i == len(targets) // 2:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                proc = spawn_connector(env, "run", stdout=logs[1], stderr=logs[1])
                wait_ready(port, proc)
                print(f"killed and restarted after {i + 1} hand-raises", flush=True)
            time.sleep(gap)
        end = time.monotonic() + args.settle
        while time.monotonic() < end:
            mine = [t for t in _tasks(sandbox) if t["id"] not in baseline]
            told = {m.rsplit("/", 1)[-1] for m in chat.received}
            if {c for t in mine for c in t["contactIds"]} >= set(targets) and told >= set(targets):
                break
            time.sleep(0.5)
        time.sleep(3)  # room for a duplicate to show up, if there were one
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        hooks = sandbox.snapshot()["webhooks"]
        mine = [t for t in _tasks(sandbox) if t["id"] not in baseline]
        scored = sorted(s for s in (_mql_written_ms(sandbox, cid, raised_at[cid]) for cid in targets)
                        if s is not None)
    per_contact = Counter(c for t in mine for c in t["contactIds"])
    latency = sorted((min(t["createdAtMs"] for t in mine if cid in t["contactIds"]) - raised_at[cid]) / 1000
                     for cid in targets if per_contact[cid])
    missing = [c for c in targets if not per_contact[c]]
    twice = {c: n for c, n in per_contact.items() if n > 1}
    # Messages link the contact's record: count those of this run's hand-raisers (a retried message
    # of the first sync's alerts may still arrive).
    wanted = set(targets)
    messages = Counter(m for m in chat.received if m.rsplit("/", 1)[-1] in wanted)
    print(f"tasks: {len(mine)} for {len(targets)} hand-raises; missing {len(missing)}; more than one: {len(twice)}")
    if latency:
        print(f"demo request -> task: median {statistics.median(latency):.2f} s, "
              f"p95 {latency[int(0.95 * (len(latency) - 1))]:.2f} s, max {latency[-1]:.2f} s")
    if scored:
        print(f"demo request -> MQL status written (scoring latency): median {statistics.median(scored):.2f} s, "
              f"p95 {scored[int(0.95 * (len(scored) - 1))]:.2f} s, max {scored[-1]:.2f} s "
              f"({len(scored)} of {len(targets)}); chat failing at {args.chat_fail:.0%}")
    print(f"chat: {sum(messages.values())} messages for the {len(targets)} hand-raisers ({len(messages)} "
          f"distinct, most of one text {max(messages.values(), default=0)}; {len(chat.received)} in all), "
          f"{chat.refused} refused with 500")
    print(f"sandbox webhooks: {hooks}")
    from connector.store import Store

    store = Store(f"sqlite:///{work / 'state.db'}")
    print(f"the store's deliveries: {store.alert_counts()}")
    for f in store.failed_deliveries():
        print(f"  failed: contact {f['contact_id']} {f['channel']} after {f['attempts']}: {f['last_error']}")
    fast = bool(latency) and latency[-1] <= 5 and statistics.median(latency) <= 1
    once = not missing and not twice and len(messages) == sum(messages.values()) == len(targets)
    # The latency bound is for a running connector; with a kill, the hand-raises made while it was
    # down wait for the restart (reported above, not judged).
    ok = once and (fast or args.kill)
    print("OK" if ok else "NOT OK")
    return 0 if ok else 1


def _mql_written_ms(sandbox: Sandbox, cid: str, raised_ms: float) -> float | None:
    """Seconds from the demo request to the first MQL version of hs_lead_status after it."""
    record = sandbox.portal.get("contacts", cid)
    versions = ((record.history or {}).get("hs_lead_status") or []) if record is not None else []
    from connector.sandbox.values import to_ms

    times = [to_ms(v.get("timestamp")) for v in versions if v.get("value") == "MQL"]
    after = [t for t in times if t is not None and t >= raised_ms - 1000]
    return (min(after) - raised_ms) / 1000 if after else None


def _tasks(sandbox: Sandbox) -> list[dict]:
    with urllib.request.urlopen(sandbox.base_url + "/_sandbox/tasks") as r:
        return json.loads(r.read())["results"]


def _demo_request(sandbox: Sandbox, cid: str) -> None:
    body = json.dumps([{"contactId": cid, "type": "form_submission", "formName": "Demo request"}]).encode()
    req = urllib.request.Request(sandbox.base_url + "/_sandbox/activity", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()


if __name__ == "__main__":
    sys.exit(main())
