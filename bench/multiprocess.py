"""Two web processes and two workers on one PostgreSQL, fed webhook events by the sandbox.

Shows (issue 6): every contact rescored, no event lost, no contact written twice for the same
change, no scheduled sync run twice.

    sandbox ──signed POSTs──► round-robin TCP balancer ──► web A │ web B ──► PostgreSQL queue
                                                                  worker 1 │ worker 2 ──► sandbox

Each of N contacts (default 1,000) gets 5 separate edits as a salesperson would make them in the UI
(job title, industry, company size, country, revenue): 5 property changes, one webhook event each,
5,000 in all, with the subscriptions the connector's HubSpot app declares
(config/hubspot-app/src/app/webhooks/webhooks-hsmeta.json); the echoes of the connector's own
writes of hs_lead_status and lifecyclestage come on top (the worker ignores them without a call).
Workers run with SYNC_INTERVAL_MINUTES=1 so several scheduled slots pass during the bench; both
workers fire every slot and exactly one may run it. Each web process is the Procfile's `web:` command
(`python -m connector.serve`, waitress, 4 threads) bound to 127.0.0.1 on its own port.

    python bench/multiprocess.py [--contacts 1000] [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from itertools import pairwise
from pathlib import Path

from _harness import (
    PYTHON,
    ROOT,
    connector_env,
    machine,
    run_connector,
    sandbox_process,
    start_web,
    stats,
    stop_process,
)

EDITS = [("jobtitle", ["VP Marketing", "Head of Growth", "Marketing Manager", "CTO", "Student"]),
         ("industry", ["COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "RETAIL",
                       "MARKETING_AND_ADVERTISING"]),
         ("numemployees", ["1-5", "25-50", "100-500", "500-1000", "1000+"]),
         ("country", ["United States", "Germany", "France", "Brazil", "India"]),
         ("annualrevenue", ["50000", "2000000", "15000000", "90000000", "400000000"])]


class RoundRobin:
    """A loopback TCP balancer: each new connection goes to the next backend."""

    def __init__(self, backends: list[int]):
        self.backends = backends
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.turn = 0
        self.per_backend: Counter = Counter()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            port = self.backends[self.turn % len(self.backends)]
            self.turn += 1
            self.per_backend[port] += 1
            try:
                upstream = socket.create_connection(("127.0.0.1", port))
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/connector_bench",
                        help="a PostgreSQL database the bench may wipe (created if missing)")
    parser.add_argument("--settle", type=float, default=75.0, help="seconds to keep the workers running after the feed")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from connector.settings import Settings
    from connector.store import Store
    from connector.store.schema import metadata

    _create_database(args.database_url)
    store = Store(Settings(database_url=args.database_url).sqlalchemy_url)
    with store.engine.begin() as conn:
        metadata.drop_all(conn)
    store.upgrade()

    secret = secrets.token_hex(16)
    web_ports = [free_port(), free_port()]
    balancer = RoundRobin(web_ports)
    hook_url = f"http://127.0.0.1:{balancer.port}/webhooks/hubspot"
    procs: list[subprocess.Popen] = []
    print(machine())
    with sandbox_process("--contacts", str(args.contacts), "--seed", "11", "--tier", "professional",
                         "--webhook-url", hook_url, "--client-secret", secret,
                         "--subscriptions",
                         str(ROOT / "config/hubspot-app/src/app/webhooks/webhooks-hsmeta.json")) as base:
        env = connector_env(base, "unused", DATABASE_URL=args.database_url, HUBSPOT_CLIENT_SECRET=secret,
                            WEBHOOK_PUBLIC_URL=hook_url, SYNC_INTERVAL_MINUTES="1", LOG_LEVEL="WARNING")
        run_connector(env, "setup")
        run_connector(env, "sync", "--full")
        try:
            web_logs = Path(tempfile.mkdtemp(prefix="bench-multiprocess-"))
            for i, port in enumerate(web_ports):
                procs.append(start_web(env, port, web_logs / f"web-{i}.log", ready_path="/readyz"))
            worker_log = [open(f"/tmp/bench-worker-{i}.log", "w") for i in range(2)]
            for i in range(2):
                procs.append(subprocess.Popen([PYTHON, "-m", "connector", "--env-file", os.devnull, "worker"],
                                              env={**env, "LOG_LEVEL": "INFO"},  # its schedule decisions are read back
                                              cwd=ROOT, stdout=worker_log[i], stderr=subprocess.STDOUT))
            feed_started = time.time()
            ids, edits = _feed(base, args.contacts)
            # Drained: the sandbox has sent nothing new for 3 s and the queue is empty.
            deadline, last_sent, quiet_since = time.monotonic() + 300, -1, time.monotonic()
            while time.monotonic() < deadline:
                sent = stats(base)["webhooks"]["sent"]
                if sent != last_sent:
                    last_sent, quiet_since = sent, time.monotonic()
                elif time.monotonic() - quiet_since > 3 and store.count_queued() == 0:
                    break
                time.sleep(0.5)
            drained = time.time() - feed_started
            print(f"fed {edits} edits that changed a value, to {len(ids)} contacts; queue drained "
                  f"{drained:.1f}s after the feed started")
            time.sleep(max(0.0, args.settle - drained))
        finally:
            for proc in procs:
                stop_process(proc)
        final_stats = stats(base)
        return _check(store, base, env, ids, final_stats, balancer)


def _create_database(url: str) -> None:
    """CREATE DATABASE if missing, through the server's `postgres` maintenance database."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _feed(base: str, n: int) -> tuple[list[str], int]:
    """5 UI edits per contact, each one property: 5 propertyChange webhooks per contact."""
    props = ",".join(p for p, _ in EDITS)
    page = json.loads(urllib.request.urlopen(urllib.request.Request(
        f"{base}/crm/v3/objects/contacts?limit=100&properties={props}",
        headers={"Authorization": "Bearer pat-sandbox"})).read())
    ids: list[str] = [c["id"] for c in page["results"]]
    current: dict[tuple[str, str], str] = {(c["id"], p): v for c in page["results"] for p, v in c["properties"].items()}
    after = page.get("paging", {}).get("next", {}).get("after")
    while after and len(ids) < n:
        page = json.loads(urllib.request.urlopen(urllib.request.Request(
            f"{base}/crm/v3/objects/contacts?limit=100&after={after}&properties={props}",
            headers={"Authorization": "Bearer pat-sandbox"})).read())
        ids += [c["id"] for c in page["results"]]
        current.update({(c["id"], p): v for c in page["results"] for p, v in c["properties"].items()})
        after = page.get("paging", {}).get("next", {}).get("after")
    ids = ids[:n]
    rng = random.Random(5)
    edits = 0
    for prop, values in EDITS:
        for cid in ids:
            # A value that differs from the contact's (a UI save of the same value fires no webhook).
            value = rng.choice([v for v in values if v != current.get((cid, prop))])
            current[(cid, prop)] = value
            body = json.dumps({"properties": {prop: value}}).encode()
            urllib.request.urlopen(urllib.request.Request(
                f"{base}/_sandbox/contacts/{cid}/sales-update", data=body, method="POST",
                headers={"Content-Type": "application/json"})).read()
            edits += 1
    return ids, edits


def _check(store, base: str, env: dict, ids: list[str], s: dict, balancer: RoundRobin) -> int:
    import sqlalchemy as sa

    from connector.store.schema import audit, runs, webhook_events

    with store.engine.connect() as conn:
        events = conn.execute(sa.select(webhook_events.c.status, sa.func.count())
                              .group_by(webhook_events.c.status)).all()
        run_rows = conn.execute(sa.select(runs.c.kind, runs.c.status, runs.c.started_at, runs.c.finished_at)
                                .where(runs.c.kind.in_(["full", "incremental"])).order_by(runs.c.started_at)).all()
        audit_rows = conn.execute(sa.select(audit.c.contact_id, audit.c.property, audit.c.new_value, audit.c.id)
                                  .order_by(audit.c.id)).all()
    by_status = dict(events)
    stored = sum(by_status.values())
    sent = s["webhooks"]["sent"]
    # The same change written twice: two consecutive audit rows of one contact and property with the same value.
    last: dict[tuple[str, str], str] = {}
    repeated = 0
    writes_per_contact: Counter = Counter()
    for cid, prop, value, _ in audit_rows:
        if last.get((cid, prop)) == value:
            repeated += 1
        last[(cid, prop)] = value
        if prop == "lsc_score":
            writes_per_contact[cid] += 1
    # Overlapping or doubled scheduled runs.
    overlaps = sum(1 for a, b in pairwise(run_rows) if b.started_at < (a.finished_at or b.started_at + 1))
    scheduled = [r for r in run_rows][1:]  # the first is the bench's own full sync
    too_close = sum(1 for a, b in pairwise(scheduled) if b.started_at - a.started_at < 30_000)
    # Every contact rescored: evaluating the current HubSpot state with the stored histories plans no change.
    took, done = run_connector(env, "sync", "--full", "--dry-run", "--json")
    pending = json.loads(done.stdout)["changed"]
    print(f"web processes: connections per backend {dict(balancer.per_backend)}")
    print(f"webhook events: sent by the sandbox {sent}, failed {s['webhooks']['failed']}, stored {stored} "
          f"(by status {by_status})")
    firings = Counter()
    for i in range(2):
        log = open(f"/tmp/bench-worker-{i}.log").read()
        firings["fired"] += log.count('Running job "Worker.sync')
        firings["skipped: another worker held the lock"] += log.count("another worker is syncing")
        firings["skipped: slot already synced"] += log.count("already ran in this slot")
        firings["ran"] += log.count("sync done kind=")
    print(f"scheduled syncs (after the initial full one): {len(scheduled)} runs, "
          f"{overlaps} overlapping, {too_close} in the same 1-minute slot; worker firings {dict(firings)}")
    print(f"writes: {s['requests'].get('POST /crm/v3/objects/contacts/batch/update', 0)} batch updates, "
          f"score writes per contact max {max(writes_per_contact.values(), default=0)}, "
          f"same change written twice: {repeated}")
    print(f"contacts still needing a change after the run (dry-run full sync): {pending}")
    ok = (stored == sent and by_status.get("done", 0) == stored and s["webhooks"]["failed"] == 0 and overlaps == 0
          and too_close == 0 and repeated == 0 and pending == 0)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
