"""Benchmark: the webhook receiver in the production web process on loopback, open-loop load, every event counted.

    .venv/bin/python bench/webhook_receiver.py [--rate 200] [--events 10] [--duration 30]
        [--threads N] [--clients 8] [--port 0] [--database-url URL]

Starts the Procfile's `web:` command (`python -m connector.serve --host ... --port $PORT`: waitress,
connector/serve.py) bound to 127.0.0.1 (SQLite in a temp dir unless --database-url), waits for
/healthz, sends --rate signed deliveries per second of --events events each for --duration seconds
from --clients threads on keep-alive connections, paced open-loop (each request has a scheduled
send time, whatever happened to the previous ones), then prints p50/p95/p99/max time to answer,
the error count, and checks that every event is stored exactly once.

Server: one waitress process, as the Procfile runs it (4 threads, connector.serve.THREADS;
--threads passes another count to it). Waitress reads each whole request on its I/O thread and
hands only complete ones to a worker thread (docs/benchmarks.md, "Slow clients"); it keeps client
connections alive, as HubSpot's sender does.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import itertools
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connector.serve import THREADS  # noqa: E402
from connector.settings import Settings  # noqa: E402
from connector.store import Store  # noqa: E402
from connector.store.schema import webhook_events  # noqa: E402

from _harness import shown, wait_until_answering, web_command  # noqa: E402

SECRET = "bench-client-secret"
PATH = "/webhooks/hubspot"


@dataclass
class Outcome:
    scheduled: float
    sent: float
    answered: float
    status: int  # 0: no answer (exception)
    accepted: int


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    tmp = tempfile.TemporaryDirectory(prefix="bench-webhooks-")
    database_url = args.database_url or f"sqlite:///{tmp.name}/state.db"
    store = Store(Settings(database_url=database_url).sqlalchemy_url)
    store.upgrade()
    port = args.port or _free_port()
    server_log = Path(tmp.name) / "web.log"
    server = _start_web(args, port, database_url, server_log)
    try:
        wait_until_answering(port, server, server_log)
        total = int(args.rate * args.duration)
        first_id = int(time.time() * 1000) * 1000  # fresh ids: PostgreSQL may hold earlier runs' rows
        outcomes = _run_load(args, port, total, first_id)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    stored, distinct = _count_stored(store, first_id, first_id + total * args.events)
    if args.database_url:  # someone else's database: take our rows away again
        _delete_stored(store, first_id, first_id + total * args.events)
    store.dispose()
    ok = _report(args, outcomes, total, stored, distinct, database_url)
    log_lines = server_log.read_text().splitlines()
    delivery_lines = sum(1 for line in log_lines if "webhook delivery events=" in line)
    print(f"server log: {delivery_lines} 'webhook delivery' lines, "
          f"{sum(1 for line in log_lines if 'webhook rejected' in line)} 'webhook rejected' lines")
    if not ok:
        print("--- web process log (tail) ---\n" + "\n".join(server_log.read_text().splitlines()[-20:]))
    tmp.cleanup()
    return 0 if ok else 1


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=200.0, help="deliveries per second")
    p.add_argument("--events", type=int, default=10, help="events per delivery")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    p.add_argument("--threads", type=int, default=None,
                   help=f"the web process's worker threads (default: the Procfile's, {THREADS})")
    p.add_argument("--clients", type=int, default=8, help="client threads, one keep-alive connection each")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", 0)))
    p.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    return p.parse_args(argv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_web(args, port: int, database_url: str, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "HUBSPOT_CLIENT_SECRET": SECRET, "DATABASE_URL": database_url, "PORT": str(port),
           "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{port}{PATH}", "LOG_LEVEL": "INFO"}
    command = web_command(port, *(["--threads", str(args.threads)] if args.threads else []))
    print("server:", shown(command))
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)


def _sign(body: bytes, uri: str, timestamp: str) -> str:
    message = b"POST" + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest()).decode()


def _requests(args, port: int, total: int, first_id: int, start: float) -> list[tuple[float, bytes, dict]]:
    """Every delivery built and signed up front, each with its scheduled send time and timestamp."""
    uri = f"http://127.0.0.1:{port}{PATH}"
    rng = random.Random(5)
    built = []
    for i in range(total):
        scheduled = start + i / args.rate
        events = [{"eventId": first_id + i * args.events + j, "subscriptionId": 1, "portalId": 62515, "appId": 2,
                   "occurredAt": int(scheduled * 1000) - 50, "subscriptionType": "contact.propertyChange",
                   "attemptNumber": 0, "objectId": rng.randrange(1, 5001), "propertyName": "num_conversion_events",
                   "propertyValue": "1", "changeSource": "CRM_UI", "sourceId": "userId:1"}
                  for j in range(args.events)]
        body = json.dumps(events, separators=(",", ":")).encode()
        timestamp = str(int(scheduled * 1000))
        headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": timestamp,
                   "X-HubSpot-Signature-v3": _sign(body, uri, timestamp)}
        built.append((scheduled, body, headers))
    return built


def _run_load(args, port: int, total: int, first_id: int) -> list[Outcome]:
    start = time.time() + 1.0
    planned = _requests(args, port, total, first_id, start)
    offset = time.perf_counter() - time.time()  # scheduled times on the perf_counter clock
    counter = itertools.count()
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    hard_stop = time.perf_counter() + args.duration + 60  # bounded even if the server stalls

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while True:
            i = next(counter)
            if i >= total or time.perf_counter() > hard_stop:
                break
            scheduled_wall, body, headers = planned[i]
            scheduled = scheduled_wall + offset
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            try:
                conn.request("POST", PATH, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
                accepted = json.loads(payload).get("accepted", 0) if status == 200 else 0
            except (OSError, http.client.HTTPException, ValueError):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                status, accepted = 0, 0
            mine.append(Outcome(scheduled, sent, time.perf_counter(), status, accepted))
        conn.close()
        with lock:
            outcomes.extend(mine)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.duration + 90)
    return outcomes


def _count_stored(store: Store, low: int, high: int) -> tuple[int, int]:
    c = webhook_events.c
    query = sa.select(sa.func.count(), sa.func.count(sa.distinct(c.event_id))).where(c.event_id >= low,
                                                                                      c.event_id < high)
    with store.engine.connect() as conn:
        stored, distinct = conn.execute(query).one()
    return int(stored), int(distinct)


def _delete_stored(store: Store, low: int, high: int) -> None:
    c = webhook_events.c
    with store.engine.begin() as conn:
        conn.execute(webhook_events.delete().where(c.event_id >= low, c.event_id < high))


def _percentile(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return float("nan")
    return sorted_ms[min(len(sorted_ms) - 1, int(round(p / 100 * len(sorted_ms) + 0.5)) - 1)]


def _report(args, outcomes: list[Outcome], total: int, stored: int, distinct: int, database_url: str) -> bool:
    answered = [o for o in outcomes if o.status]
    service = sorted((o.answered - o.sent) * 1000 for o in answered)
    from_schedule = sorted((o.answered - o.scheduled) * 1000 for o in answered)
    late = sorted(max(0.0, (o.sent - o.scheduled) * 1000) for o in outcomes)
    errors = sum(1 for o in outcomes if o.status != 200) + (total - len(outcomes))
    expected_events = total * args.events
    accepted = sum(o.accepted for o in outcomes)
    span = (max(o.answered for o in outcomes) - min(o.sent for o in outcomes)) if outcomes else 0.0
    print(f"machine: nproc={os.cpu_count()} cpu={_cpu_model()} python={platform.python_version()} "
          f"waitress={version('waitress')} sqlalchemy={version('sqlalchemy')} store={database_url.split(':')[0]}")
    print(f"load: {args.rate:g} deliveries/s x {args.events} events for {args.duration:g} s = {total} deliveries, "
          f"{args.clients} keep-alive client threads; server 1 waitress process x {args.threads or THREADS} threads")
    print(f"achieved: {len(outcomes) / span if span else 0:.1f} deliveries/s over {span:.1f} s")
    for name, values in (("time to answer (send -> response)", service),
                         ("from scheduled send (includes client lateness)", from_schedule)):
        print(f"{name} ms: p50={_percentile(values, 50):.2f} p95={_percentile(values, 95):.2f} "
              f"p99={_percentile(values, 99):.2f} max={values[-1] if values else float('nan'):.2f}")
    print(f"client lateness ms: p99={_percentile(late, 99):.2f} max={late[-1] if late else 0:.2f}")
    print(f"errors: {errors} (non-200 or no answer, of {total})")
    print(f"events: sent={expected_events} accepted={accepted} stored={stored} distinct={distinct}")
    once = stored == distinct == expected_events == accepted
    print("every event stored exactly once: " + ("yes" if once else "NO"))
    p99 = _percentile(service, 99)
    print(f"target p99 <= 20 ms: {'met' if p99 <= 20 else 'MISSED'} (p99={p99:.2f} ms)")
    return once and errors == 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip().replace(" ", "_")
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
