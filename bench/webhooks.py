"""Benchmark: a hand-raise in HubSpot (the sandbox) -> hs_lead_status = MQL written back, end to end.

    .venv/bin/python bench/webhooks.py [--changes 200] [--rate 5] [--contacts 2000] [--tier professional]
        [--database-url URL] [--timeout 30]

Processes (all on 127.0.0.1):
- the sandbox portal, in this process (so the bench can watch contacts without API calls), sending
  signed webhooks for the subscriptions `connector setup` declares (a webhooks-hsmeta.json);
- the webhook endpoint: the Procfile's `web:` command (`python -m connector.serve`, waitress, 4
  threads) bound to 127.0.0.1, a child process;
- `connector setup` and `connector sync --full` (child processes), then `connector worker` (child
  process: the scheduler and the webhook queue consumer);
Then, --rate times a second, --changes times: pick a contact that is not an MQL, not owned by sales
and never asked for a demo, POST a "Demo request" form submission to /_sandbox/activity (t0), and
watch the sandbox's memory (every 5 ms) until its hs_lead_status is MQL. Prints median, p95, p99
and max latency, and the sandbox's counts (webhooks, batch reads, batch updates).
Target (issue 5): median <= 2 s, p99 <= 5 s over 200 changes.

Then (unless --skip-receiver-load) the receiver under load, issue 5's other figure, from
bench/webhook_receiver.py: the same web process on loopback, 200 deliveries/s of 10 signed events for 30 s,
p99 time to answer <= 20 ms and every event stored once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connector.commands.setup import webhook_subscriptions  # noqa: E402
from connector.core import properties as hp  # noqa: E402
from connector.core.rules_file import load_rules  # noqa: E402
from connector.sandbox import Sandbox, SandboxConfig  # noqa: E402

import _harness  # noqa: E402

SECRET = "bench-client-secret"
HOOK_PATH = "/webhooks/hubspot"
SCORING = str(ROOT / "connector" / "defaults" / "scoring.yaml")
PYTHON = sys.executable
BATCH_READ = "POST /crm/v3/objects/contacts/batch/read"
BATCH_UPDATE = "POST /crm/v3/objects/contacts/batch/update"
# The connector's own limiter, set to the tier's documented window (docs/hubspot-facts.md, "Limits").
TIER_PER_10S = {"free": 100, "starter": 100, "professional": 190, "enterprise": 190, "unlimited": 1000}


# -- plumbing shared with bench/kill_worker.py ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subscriptions_file(path: Path, only_properties: list[str] | None = None) -> str:
    """The subscriptions `connector setup` declares, as a HubSpot project's webhooks-hsmeta.json
    (`only_properties`: keep just these propertyChange subscriptions)."""
    legacy, hub = [], []
    for line in webhook_subscriptions(load_rules(SCORING)):
        kind, _, prop = line.partition(":")
        if prop and only_properties is not None and prop not in only_properties:
            continue
        entry = {"subscriptionType": kind, "active": True, **({"propertyName": prop} if prop else {})}
        (hub if kind == "contact.privacyDeletion" else legacy).append(entry)
    path.write_text(json.dumps({"subscriptions": {"legacyCrmObjects": legacy, "hubEvents": hub}}))
    return str(path)


def connector_env(base_url: str, database_url: str, tier: str, hook_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "DATABASE_URL", "WEBHOOK_"))}
    env.update({"HUBSPOT_ACCESS_TOKEN": "pat-sandbox", "HUBSPOT_API_BASE": base_url, "HUBSPOT_CLIENT_SECRET": SECRET,
                "DATABASE_URL": database_url, "SCORING_CONFIG": SCORING, "WEBHOOK_PUBLIC_URL": hook_url,
                "HUBSPOT_REQUESTS_PER_10S": str(TIER_PER_10S[tier]), "LOG_LEVEL": "INFO"})
    return env


def run_connector(env: dict[str, str], *args: str, timeout: float = 600) -> float:
    started = time.monotonic()
    done = subprocess.run([PYTHON, "-m", "connector", "--env-file", os.devnull, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"connector {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    took = time.monotonic() - started
    last = (done.stdout.strip().splitlines() or [""])[-1]
    print(f"connector {' '.join(args)}: {took:.1f}s  {last}", flush=True)
    return took


def spawn(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log_path.open("ab"), stderr=subprocess.STDOUT)


def start_web(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    """The production web process (the Procfile's `web:` line, on 127.0.0.1:`port`), once /readyz answers."""
    return _harness.start_web(env, port, log_path, ready_path="/readyz", timeout_s=30)


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    return spawn([PYTHON, "-m", "connector", "--env-file", os.devnull, "worker"], env, log_path)


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def post_activity(base_url: str, items: list[dict]) -> dict:
    req = urllib.request.Request(base_url + "/_sandbox/activity", data=json.dumps(items).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def stats(base_url: str) -> dict:
    with urllib.request.urlopen(base_url + "/_sandbox/stats", timeout=10) as r:
        return json.loads(r.read())


def reset_stats(base_url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(base_url + "/_sandbox/stats/reset", data=b"", method="POST"),
                           timeout=10).read()


def props(sb: Sandbox, contact_id: str) -> dict:
    return sb.portal.store("contacts").records[contact_id].properties


def candidates(sb: Sandbox) -> list[str]:
    """Contacts a demo request makes MQLs: not an MQL, not a sales status or stage, no demo request yet."""
    contacts = sb.portal.store("contacts")
    out = []
    for cid in list(contacts.order):
        p = contacts.records[str(cid)].properties
        if (p.get(hp.LEAD_STATUS) or "") in ("", "NEW", "OPEN") \
                and p.get(hp.LIFECYCLE_STAGE) in ("subscriber", "lead") \
                and "demo request" not in (p.get("recent_conversion_event_name") or "").lower():
            out.append(str(cid))
    return out


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    return (f"machine: nproc={os.cpu_count()} cpu={cpu!r} python={platform.python_version()} "
            f"{platform.system()} {platform.release()}")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


class Stack:
    """Sandbox (in process) + the production web process + store; `connector setup` and `sync --full` done."""

    def __init__(self, args, *, only_properties: list[str] | None = None):
        self.tmp = Path(tempfile.mkdtemp(prefix="connector-bench-webhooks-"))
        self.database_url = args.database_url or f"sqlite:///{self.tmp / 'state.db'}"
        port = free_port()
        self.hook_url = f"http://127.0.0.1:{port}{HOOK_PATH}"
        self.sandbox = Sandbox(SandboxConfig(
            contacts=args.contacts, seed=args.seed, tier=args.tier, webhook_url=self.hook_url, client_secret=SECRET,
            subscriptions=subscriptions_file(self.tmp / "webhooks-hsmeta.json", only_properties))).start()
        self.base_url = self.sandbox.base_url
        self.env = connector_env(self.base_url, self.database_url, args.tier, self.hook_url)
        if args.database_url:
            _clear_tables(args.database_url)
        print(f"sandbox: {args.contacts} contacts, seed {args.seed}, {args.tier} tier, at {self.base_url}; "
              f"store {self.database_url.split(':')[0]}; logs in {self.tmp}", flush=True)
        self.web = start_web(self.env, port, self.tmp / "web.log")
        print(f"web: the Procfile's web: line as `{_harness.shown(_harness.web_command(port))}` "
              "(waitress, 4 threads)", flush=True)
        self.worker: subprocess.Popen | None = None
        run_connector(self.env, "setup")
        run_connector(self.env, "sync", "--full")

    def wait_webhooks_idle(self, timeout: float = 60) -> None:
        if not self.sandbox.webhooks.flush(timeout):
            print(f"! sandbox webhooks not flushed after {timeout:.0f}s", flush=True)

    def close(self) -> None:
        stop(self.worker)
        stop(self.web)
        self.sandbox.stop()


def _clear_tables(database_url: str) -> None:
    from connector.settings import Settings
    from connector.store import Store
    from connector.store.schema import metadata

    store = Store(Settings(database_url=database_url).sqlalchemy_url)
    with store.engine.begin() as conn:
        metadata.drop_all(conn)
    store.dispose()


# -- the bench ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="hand-raises per second")
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tier", default="professional", choices=sorted(TIER_PER_10S))
    parser.add_argument("--database-url",
                        help="PostgreSQL URL (its connector tables are dropped first); default SQLite")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up on one change after this many seconds")
    parser.add_argument("--skip-receiver-load", action="store_true", help="only the end-to-end latency part")
    args = parser.parse_args()
    print(machine(), flush=True)

    stack = Stack(args)
    try:
        stack.wait_webhooks_idle()  # the full sync's echoes, delivered before the worker starts
        stack.worker = start_worker(stack.env, stack.tmp / "worker.log")
        time.sleep(3.0)  # the worker's first (incremental) sync and the echoes queued so far
        pool = candidates(stack.sandbox)
        if len(pool) < args.changes:
            raise SystemExit(f"only {len(pool)} hand-raise candidates for {args.changes} changes: use more --contacts")
        targets = pool[:: max(1, len(pool) // args.changes)][: args.changes]
        print(f"worker: connector worker started; {len(pool)} candidates, {len(targets)} changes at {args.rate:g}/s",
              flush=True)
        reset_stats(stack.base_url)
        latencies, missed = run_changes(stack, targets, args.rate, args.timeout)
        stack.wait_webhooks_idle(10)
        final = stats(stack.base_url)
    finally:
        stack.close()

    requests = final["requests"]
    hooks = final["webhooks"]
    print()
    print(f"changes: {len(targets)}  MQL written: {len(latencies)}  missed (> {args.timeout:g}s): {len(missed)}")
    if latencies:
        med, p95, p99, worst = (statistics.median(latencies), percentile(latencies, 95), percentile(latencies, 99),
                                max(latencies))
        print(f"latency hand-raise -> MQL in HubSpot (s): median {med:.3f}  p95 {p95:.3f}  p99 {p99:.3f}  "
              f"max {worst:.3f}  min {min(latencies):.3f}")
    print(f"sandbox during the changes: webhook events sent {hooks['sent']} retried {hooks['retried']} "
          f"failed {hooks['failed']}; batch reads {requests.get(BATCH_READ, 0)}; batch updates "
          f"{requests.get(BATCH_UPDATE, 0)}; all API requests {sum(requests.values())}; "
          f"429s {sum(final['rate_limited'].values())}")
    ok = bool(latencies) and not missed and statistics.median(latencies) <= 2.0 and percentile(latencies, 99) <= 5.0
    print(f"target median <= 2 s and p99 <= 5 s over {args.changes} changes: {'PASS' if ok else 'FAIL'}")
    if not args.skip_receiver_load:
        import webhook_receiver

        print("\nreceiver under load (bench/webhook_receiver.py):", flush=True)
        load_args = ["--database-url", args.database_url] if args.database_url else []
        ok = webhook_receiver.main(load_args) == 0 and ok
    return 0 if ok else 1


def run_changes(stack: Stack, targets: list[str], rate: float, timeout: float) -> tuple[list[float], list[str]]:
    """Open loop: change i is sent at start + i / rate whatever happened before; a watcher thread
    records when each contact's hs_lead_status becomes MQL."""
    sent: dict[str, float] = {}
    done: dict[str, float] = {}
    lock = threading.Lock()
    finished = threading.Event()

    def watch() -> None:
        while not finished.is_set():
            now = time.monotonic()
            with lock:
                waiting = [c for c in sent if c not in done]
            for cid in waiting:
                if props(stack.sandbox, cid).get(hp.LEAD_STATUS) == hp.MQL_STATUS:
                    done[cid] = now
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, name="watch", daemon=True)
    watcher.start()
    start = time.monotonic()
    for i, cid in enumerate(targets):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t0 = time.monotonic()
        with lock:
            sent[cid] = t0
        post_activity(stack.base_url, [{"contactId": cid, "type": "form_submission", "formName": "Demo request"}])
        if (i + 1) % 50 == 0:
            print(f"  {i + 1} changes sent, {len(done)} MQL so far", flush=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(done) < len(targets):
        time.sleep(0.05)
    finished.set()
    watcher.join(5)
    latencies = [done[c] - sent[c] for c in targets if c in done]
    return latencies, [c for c in targets if c not in done]


if __name__ == "__main__":
    sys.exit(main())
