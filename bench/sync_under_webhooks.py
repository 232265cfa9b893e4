"""Benchmark: a full sync under ~200 webhook deliveries/s for 30 s: no change written twice, nothing lost.

    .venv/bin/python bench/sync_under_webhooks.py [--contacts 20000] [--tier professional] [--rate 200]
        [--seconds 30] [--sync-delay 2] [--sender bench|sandbox] [--clients 10] [--via-http]
        [--database-url postgresql://postgres@127.0.0.1:5432/connector_bench_syncload]
        [--drain-timeout 180] [--skip-final-check]

Issue 10, "Must show": "Under 200 deliveries/s for 30 s with a full sync running: no change written
twice (audit rows), nothing lost."

Processes (all on 127.0.0.1):
- the sandbox portal (--contacts, professional tier) in this process;
- the web process: the Procfile's `web:` line (`python -m connector.serve`, waitress) bound to
  127.0.0.1, child process, store SQLite in a temp dir (or --database-url, PostgreSQL: the database is
  created if missing and its connector tables dropped first);
- `connector setup`, a first `connector sync --full`, then `connector worker` (the queue consumer and
  its scheduler; its first scheduled sync and the full sync's echoes are let finish before the load).
The load, for --seconds: real changes, the sandbox's own activity generator (ActivityClock, the one
behind `--activity-rate`: page views, email opens and clicks, form submissions incl. demo
requests, meetings, bounces, unsubscribes), each item applied as the sandbox's admin endpoint
`POST /_sandbox/activity` applies it (Portal.apply_activity, called in this process; --via-http POSTs
it to the endpoint instead, at the cost of an HTTP round trip in the sandbox's own process), which
updates the rollups (hs_analytics_num_page_views, recent_conversion_event_name, ...) and publishes
the change events, so the worker has real rescoring to do. --sync-delay seconds into the load,
`connector sync --full` starts alongside.

Who delivers the change events (--sender):
- `bench` (default): the bench's own sender. The events of each activity become one delivery, built by
  the sandbox's webhook code (its subscriptions, the connector's setup ones; eventIds; HubSpot's payload
  shape; v1 + v3 signatures) and POSTed at once by a child process (this file with --as-sender, so
  the sends do not wait for this process's GIL) from --clients keep-alive connections (10: the app's
  maxConcurrentRequests); activities are paced open-loop so that --rate such deliveries are made per
  second. Every other published change (the echoes of the connector's own writes) goes out the same
  way, up to 100 events a delivery, on top.
  A delivery answered with anything but 2xx (or not at all) is retried, attemptNumber + 1, backoff
  0.2 s doubling, at most 10 attempts, as the sandbox's sender does.
- `sandbox`: the sandbox's own sender (10 concurrent POSTs, gathering up to 100 events per POST for
  50 ms), activities at --rate per second. It gathers: at 200 activities/s it made ~100 deliveries/s
  (2,000 contacts) and at 400/s ~53/s (20,000 contacts, 23 events each), so it cannot show the 200/s.

Afterwards, once the senders are idle, the sync exited and the queue and outbox are empty (bounded by
--drain-timeout):
(a) deliveries answered 200 / other statuses / no answer; every eventId delivered with a 2xx must be in
    webhook_events, status done, and every event made must have been delivered.
(b) "the same change written twice", in the store's audit table (rows since the load began): two rows
    of one contact and property with the same old and new value (old != new), from two different
    runs, with nothing else written to that contact and property in between (the second writer
    wrote a change already written). Also counted: the same (contact, property, old, new) by two runs
    anywhere (with what came between: an A->B, B->A, A->B oscillation is listed, not a repeat); audit
    rows whose old value is not the previous row's new value (a write planned from a stale read).
    In the sandbox's own record (its property history of INTEGRATION changes; every connector write
    carries a new lsc_last_scored, as tests/test_consumer.py Hooks.connector_writes counts them): writes
    applied per contact against the writes the store confirmed, and audited changes HubSpot did not see
    change (it already had the value: the signature of a change written twice).
(c) the sync's summary line (held=N: contacts it left to the webhook worker) and the worker's log lines.
(d) wall times. Then (unless --skip-final-check) a dry-run full sync: contacts still needing a change.
Exit 0 only if nothing was lost and no change was written twice.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict, deque
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.core import properties as hp  # noqa: E402
from connector.sandbox.generator import ActivityClock  # noqa: E402
from connector.settings import Settings  # noqa: E402
from connector.store.schema import audit, outbox, runs, webhook_events  # noqa: E402

from webhooks import (  # noqa: E402
    PYTHON,
    ROOT,
    SECRET,
    TIER_PER_10S,
    Stack,
    machine,
    reset_stats,
    start_worker,
    stats,
    stop,
)

INTEGRATION = "INTEGRATION"
BATCH_UPDATE = "POST /crm/v3/objects/contacts/batch/update"
BATCH_READ = "POST /crm/v3/objects/contacts/batch/read"
SEARCH = "POST /crm/v3/objects/contacts/search"
# Properties whose values the connector decides (lsc_last_scored and lsc_state change with every write
# by design; lsc_state is never audited).
DECIDED = ("hs_lead_status", "lifecyclestage", "lsc_score", "lsc_fit_score", "lsc_engagement_score", "lsc_grade",
           "lsc_reasons", "lsc_qualification_path", "lsc_mql_date")
TICK_S = 0.005
# The bench sender's retries, as the sandbox's sender (connector/sandbox/webhooks.py) does them.
MAX_ATTEMPTS = 10
BACKOFF_S = 0.2
NO_RETRY = frozenset({400, 401, 403, 404, 405})


Delivery = tuple  # (sent monotonic, answered monotonic, status or None, eventIds, attemptNumber)


class Deliveries:
    """`--sender sandbox`: wraps the sandbox sender's POST to log every delivery."""

    def __init__(self, sender) -> None:
        self._post = sender._post
        self._lock = threading.Lock()
        self.log: list[Delivery] = []
        sender._post = self.post

    def post(self, url: str, body: bytes, headers: dict, timeout: float):
        payloads = json.loads(body)
        ids = [e["eventId"] for e in payloads]
        attempt = max((e.get("attemptNumber", 0) for e in payloads), default=0)
        sent = time.monotonic()
        try:
            status, response_headers = self._post(url, body, headers, timeout)
        except (OSError, ValueError):
            with self._lock:
                self.log.append((sent, time.monotonic(), None, ids, attempt))
            raise
        with self._lock:
            self.log.append((sent, time.monotonic(), status, ids, attempt))
        return status, response_headers

    def clear(self) -> None:
        with self._lock:
            self.log.clear()

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.log)


class BenchSender:
    """`--sender bench`: delivers every event the portal publishes, one delivery per publish (at most
    100 events each), as soon as it is published. The payloads and their eventIds come from the
    sandbox's own WebhookSender (`template`: its subscriptions, HubSpot's payload shape); they are
    signed (v1 + v3, fresh timestamp, the sandbox's signing code) and POSTed by a child process (this
    file with --as-sender) from `clients` keep-alive connections, so the sends do not wait for this
    process's GIL, which the sandbox's searches hold for long stretches. The child retries as the
    sandbox's sender does (non-2xx except 400/401/403/404/405, or no answer; attemptNumber + 1, backoff
    0.2 s doubling, 10 attempts at most) and reports every attempt on its stdout."""

    def __init__(self, template, port: int, path: str, clients: int, secret: str) -> None:
        self.template = template
        env = {**os.environ, "BENCH_SENDER_SECRET": secret}  # not on the command line
        self.proc = subprocess.Popen([PYTHON, __file__, "--as-sender", str(port), path, str(clients)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._cond = threading.Condition()
        self.log: list[Delivery] = []
        self.stats: Counter = Counter()
        self.made_ids: set[int] = set()
        self.activity_deliveries = 0
        self._enqueued = 0
        self._final = 0
        self._reader = threading.Thread(target=self._read, name="bench-sender-results", daemon=True)
        self._reader.start()

    def publish(self, events: list[dict]) -> None:
        payloads = self.template.payloads_for(events)
        if not payloads:
            return
        lines = []
        with self._cond:
            for i in range(0, len(payloads), 100):
                chunk = payloads[i:i + 100]
                lines.append(json.dumps(chunk, separators=(",", ":")).encode() + b"\n")
                self.made_ids.update(p["eventId"] for p in chunk)
                if any(p.get("changeSource") != INTEGRATION for p in chunk):
                    self.activity_deliveries += 1
                self._enqueued += 1
            self.stats["events made"] += len(payloads)
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"".join(lines))
            self.proc.stdin.flush()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            sent, answered, status, ids, attempt, final = json.loads(line)
            with self._cond:
                self.log.append((sent, answered, status, ids, attempt))
                if status is not None and 200 <= status < 300:
                    self.stats["events sent"] += len(ids)
                elif final:
                    self.stats["events failed"] += len(ids)
                else:
                    self.stats["events retried"] += len(ids)
                if final:
                    self._final += 1
                    self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._final < self._enqueued:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def clear(self) -> None:
        with self._cond:
            self.log.clear()
            self.stats.clear()
            self.made_ids.clear()
            self.activity_deliveries = 0

    def snapshot(self) -> list[Delivery]:
        with self._cond:
            return list(self.log)

    def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()  # EOF: the child finishes what it holds (bounded) and exits
            except OSError:
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)


def sender_main(port: int, path: str, clients: int) -> int:
    """The child of BenchSender: payload lists on stdin (one JSON line per delivery), one result line
    per attempt on stdout: [sent, answered (time.monotonic, the same clock as the parent's), status or
    null, eventIds, attemptNumber, final]."""
    import http.client

    from connector.sandbox.webhooks import WebhookSender

    signer = WebhookSender(f"http://127.0.0.1:{port}{path}", os.environ["BENCH_SENDER_SECRET"], portal_id=0, app_id=0)
    cond = threading.Condition()
    queue: deque = deque()  # [due, payloads]
    state = {"eof": False, "busy": 0}
    out_lock = threading.Lock()

    def read() -> None:
        for line in sys.stdin.buffer:
            with cond:
                queue.append([0.0, json.loads(line)])
                cond.notify()
        with cond:
            state["eof"] = True
            cond.notify_all()

    def take():
        with cond:
            while True:
                now = time.monotonic()
                for i, item in enumerate(queue):
                    if item[0] <= now:
                        del queue[i]
                        state["busy"] += 1
                        return item[1]
                if state["eof"] and not queue and not state["busy"]:
                    return None
                wait = min((item[0] for item in queue), default=now + 0.2) - now
                cond.wait(max(0.001, min(wait, 0.2)))

    def send() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while (payloads := take()) is not None:
            body, headers = signer.signed_request(payloads)
            sent = time.monotonic()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status: int | None = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                status = None
            answered = time.monotonic()
            attempt = payloads[0]["attemptNumber"]
            ok = status is not None and 200 <= status < 300
            final = ok or status in NO_RETRY or attempt + 1 >= MAX_ATTEMPTS
            with out_lock:
                sys.stdout.write(json.dumps([sent, answered, status, [p["eventId"] for p in payloads], attempt,
                                             final]) + "\n")
                sys.stdout.flush()
            with cond:
                if not final:
                    queue.append([answered + BACKOFF_S * 2 ** attempt,
                                  [{**p, "attemptNumber": attempt + 1} for p in payloads]])
                state["busy"] -= 1
                cond.notify_all()
        conn.close()

    threading.Thread(target=read, daemon=True).start()
    threads = [threading.Thread(target=send, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 0


class ActivityPoster:
    """POSTs activity items to the sandbox's admin endpoint on one keep-alive connection."""

    def __init__(self, base_url: str) -> None:
        import http.client

        self._http = http.client
        self.netloc = urlsplit(base_url).netloc
        self.conn = http.client.HTTPConnection(self.netloc, timeout=10)

    def post(self, items: list[dict]) -> None:
        body = json.dumps(items).encode()
        for _ in range(3):
            try:
                self.conn.request("POST", "/_sandbox/activity", body=body, headers={"Content-Type": "application/json"})
                response = self.conn.getresponse()
                raw = response.read()
                if response.status != 200:
                    raise SystemExit(f"POST /_sandbox/activity answered {response.status}: {raw[:300]!r}")
                return
            except (OSError, self._http.HTTPException):
                self.conn.close()
                self.conn = self._http.HTTPConnection(self.netloc, timeout=10)
        raise SystemExit("POST /_sandbox/activity failed 3 times")

    def close(self) -> None:
        self.conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tier", default="professional", choices=sorted(TIER_PER_10S))
    parser.add_argument("--rate", type=float, default=200.0,
                        help="deliveries of activity changes per second (--sender sandbox: activities per second)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the load (at most 300)")
    parser.add_argument("--sync-delay", type=float, default=2.0, help="seconds into the load the full sync starts")
    parser.add_argument("--sender", choices=("bench", "sandbox"), default="bench",
                        help="who delivers the change events (see the module docstring)")
    parser.add_argument("--clients", type=int, default=10,
                        help="--sender bench: keep-alive connections (10: maxConcurrentRequests of the app's webhooks)")
    parser.add_argument("--via-http", action="store_true",
                        help="POST each activity to /_sandbox/activity (default: call what that endpoint runs, "
                             "Portal.apply_activity, in this process: the same change, without an HTTP round trip "
                             "in the sandbox's own process)")
    parser.add_argument("--database-url", help="PostgreSQL URL (created if missing, connector tables dropped); "
                                                "default SQLite in a temp dir")
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    parser.add_argument("--skip-final-check", action="store_true", help="no dry-run full sync at the end")
    args = parser.parse_args()
    args.seconds = min(args.seconds, 300.0)
    args.drain_timeout = min(args.drain_timeout, 900.0)
    print(machine(), flush=True)
    print("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
    if args.database_url:
        _create_database(args.database_url)

    stack = Stack(args)  # sandbox, web process, `connector setup`, first `connector sync --full`
    engine = sa.create_engine(Settings(database_url=stack.database_url).sqlalchemy_url)
    sb = stack.sandbox
    published: list[dict] = []
    sandbox_publish = sb.portal.publish
    bench_sender: BenchSender | None = None
    poster: ActivityPoster | None = None
    sync_proc: subprocess.Popen | None = None
    try:
        stack.wait_webhooks_idle(120)  # the first full sync's echoes, by the sandbox's sender
        if args.sender == "bench":
            hook = urlsplit(stack.hook_url)
            bench_sender = BenchSender(sb.webhooks, int(hook.port or 80), hook.path, args.clients, SECRET)
            deliveries = bench_sender
            deliver = bench_sender.publish
        else:
            deliveries = Deliveries(sb.webhooks)
            deliver = sandbox_publish

        def publish(events: list[dict]) -> None:
            published.extend(events)
            deliver(events)

        sb.portal.publish = publish

        def senders_idle(timeout: float) -> bool:
            if bench_sender is not None and not bench_sender.flush(timeout):
                return False
            return bool(sb.webhooks.flush(timeout))

        worker_log = stack.tmp / "worker.log"
        stack.worker = start_worker(stack.env, worker_log)
        # Its first scheduled sync runs at start (or is skipped: the full sync ran in this slot).
        _wait_for(lambda: 'Job "Worker.sync' in worker_log.read_text(errors="replace"), 180,
                  "the worker's first scheduled sync")
        senders_idle(60)
        _wait_for(lambda: _left(engine, 0) == (0, 0), 120, "the queue to drain before the load")
        with engine.connect() as conn:
            audit_floor = conn.execute(sa.select(sa.func.coalesce(sa.func.max(audit.c.id), 0))).scalar_one()
            queue_floor = conn.execute(sa.select(sa.func.coalesce(sa.func.max(webhook_events.c.id), 0))).scalar_one()
            run_floor = conn.execute(sa.select(sa.func.coalesce(sa.func.max(runs.c.id), 0))).scalar_one()
        worker_log_floor = len(worker_log.read_text(errors="replace").splitlines())
        print(f"worker: started, its first scheduled sync done or skipped "
              f"({_last_line(worker_log, 'connector.worker: ')}), queue empty", flush=True)

        # -- the load ------------------------------------------------------------------------------
        reset_stats(stack.base_url)
        deliveries.clear()
        published.clear()
        window_start_iso = _iso_now()
        contact_ids = [str(i) for i in sb.portal.store("contacts").order]
        clock = ActivityClock(args.seed + 1, 1.0)  # its mix and contacts; the pace is set here
        poster = ActivityPoster(stack.base_url) if args.via_http else None
        kinds: Counter = Counter()
        sync_out, sync_err = (stack.tmp / "sync.out").open("w"), (stack.tmp / "sync.err").open("w")
        sync_started = sync_ended = None
        sync_command = [PYTHON, "-m", "connector", "--env-file", os.devnull, "sync", "--full"]
        print(f"load: {args.rate:g} {'deliveries' if args.sender == 'bench' else 'activities'}/s for "
              f"{args.seconds:g}s, sender {args.sender}; `connector sync --full` at +{args.sync_delay:g}s", flush=True)
        cpu_pids = {"bench (sandbox)" if bench_sender else "bench (sandbox + its sender)": os.getpid(),
                    **({"bench sender": bench_sender.proc.pid} if bench_sender else {}),
                    "web": stack.web.pid, "worker": stack.worker.pid}
        cpu_start = {name: _cpu_s(pid) for name, pid in cpu_pids.items()}
        sync_cpu = 0.0
        last_sample = 0.0
        load_start = time.monotonic()
        made = 0  # activity deliveries (bench) or activities (sandbox) so far
        while True:
            now = time.monotonic()
            elapsed = now - load_start
            if elapsed >= args.seconds:
                break
            if sync_proc is None and elapsed >= args.sync_delay:
                sync_proc = subprocess.Popen(sync_command, env=stack.env, cwd=ROOT, stdout=sync_out, stderr=sync_err)
                sync_started = now
            if sync_proc is not None and sync_ended is None:
                if now - last_sample > 0.25:
                    sync_cpu, last_sample = max(sync_cpu, _cpu_s(sync_proc.pid)), now
                if sync_proc.poll() is not None:
                    sync_ended = time.monotonic()
            # Open loop: the n-th is due at start + n / rate, whatever the earlier answers took.
            due = load_start + made / args.rate
            if now < due:
                time.sleep(min(TICK_S, due - now))
                continue
            item = clock.next_batch(contact_ids, sb.portal.now(), 1.0)[0]
            kinds[item["type"]] += 1
            before = bench_sender.activity_deliveries if bench_sender else 0
            if poster is not None:
                poster.post([item])  # applied and published before the answer
            else:
                sb.portal.apply_activity([item])  # what POST /_sandbox/activity runs, without the HTTP
            made += (bench_sender.activity_deliveries - before) if bench_sender else 1
        load_end = time.monotonic()
        cpu_used = {name: _cpu_s(pid) - cpu_start[name] for name, pid in cpu_pids.items()}
        if sync_ended is None:
            sync_cpu = max(sync_cpu, _cpu_s(sync_proc.pid))
        cpu_used["sync (until its exit or the load's end)"] = sync_cpu
        print(f"CPU seconds used during the {load_end - load_start:.1f}s load (2 cores = "
              f"{2 * (load_end - load_start):.0f} s available): "
              + ", ".join(f"{k} {v:.1f}" for k, v in cpu_used.items()) + f"; load average {os.getloadavg()[0]:.2f}",
              flush=True)
        in_load = sum(1 for d in deliveries.snapshot() if d[0] <= load_end)
        print(f"load: {sum(kinds.values())} activities applied in {load_end - load_start:.1f}s ({dict(kinds)}); "
              f"{in_load} deliveries during it ({in_load / (load_end - load_start):.1f}/s)", flush=True)

        # -- drain ---------------------------------------------------------------------------------
        if sync_proc is None:
            raise SystemExit("--sync-delay is not inside --seconds: no sync ran")
        try:
            sync_proc.wait(timeout=max(1.0, args.drain_timeout))
        except subprocess.TimeoutExpired:
            print("! connector sync --full still running after the drain timeout: stopped", flush=True)
            stop(sync_proc)
        sync_ended = sync_ended or time.monotonic()
        drained_at = None
        deadline = time.monotonic() + args.drain_timeout
        while time.monotonic() < deadline:
            if senders_idle(0.1) and _left(engine, queue_floor) == (0, 0):
                drained_at = time.monotonic()
                time.sleep(2.0)  # whatever the worker still does (a deferred event's re-read), it does now
                if senders_idle(0.1) and _left(engine, queue_floor) == (0, 0):
                    break
                drained_at = None
            time.sleep(0.2)
        stop(stack.worker)
        final = stats(stack.base_url)
        sender_stats = dict(bench_sender.stats) if bench_sender else {
            "events made": len({i for d in deliveries.snapshot() for i in d[3]}),
            **{f"events {k}": v for k, v in final["webhooks"].items()}}
        made_ids = set(bench_sender.made_ids) if bench_sender else {i for d in deliveries.snapshot() for i in d[3]}
        sync_out.close()
        sync_err.close()
        sync_summary = (Path(sync_out.name).read_text().strip().splitlines() or ["(no output)"])[-1]
        sync_stderr = Path(sync_err.name).read_text(errors="replace")
        worker_lines = worker_log.read_text(errors="replace").splitlines()[worker_log_floor:]
        sent_log = deliveries.snapshot()
        with engine.connect() as conn:
            stored = dict(conn.execute(sa.select(webhook_events.c.event_id, webhook_events.c.status)
                                       .where(webhook_events.c.id > queue_floor)).all())
            audit_rows = conn.execute(sa.select(audit.c.id, audit.c.run_id, audit.c.contact_id, audit.c.property,
                                                audit.c.old_value, audit.c.new_value, audit.c.at)
                                      .order_by(audit.c.id)).all()
            run_rows = {r.id: r for r in conn.execute(sa.select(runs.c.id, runs.c.kind, runs.c.status)
                                                      .where(runs.c.id > run_floor)).all()}
            outbox_left = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
        with sb.portal.lock:
            history = {cid: {k: list(v) for k, v in r.history.items()}
                       for cid, r in sb.portal.store("contacts").records.items() if r.history}
        web_log = (stack.tmp / "web.log").read_text(errors="replace")
        pending = None if args.skip_final_check else _dry_run(stack.env)
    finally:
        if poster is not None:
            poster.close()
        if sync_proc is not None:
            stop(sync_proc)
        if bench_sender is not None:
            bench_sender.stop()
        stack.close()
        engine.dispose()

    ok = _report(args, final, sender_stats, made_ids, sent_log, stored, audit_rows, audit_floor, run_rows,
                 outbox_left, history, window_start_iso, published, sync_summary, sync_stderr, worker_lines,
                 web_log, (load_start, load_end, sync_started, sync_ended, drained_at), pending)
    return 0 if ok else 1


def _report(args, final, sender_stats, made_ids, sent_log, stored, audit_rows, audit_floor, run_rows, outbox_left,
            history, window_start_iso, published, sync_summary, sync_stderr, worker_lines, web_log, times,
            pending) -> bool:
    load_start, load_end, sync_started, sync_ended, drained_at = times
    print()
    # (d) wall times
    print(f"(d) wall time: load {load_end - load_start:.1f}s; connector sync --full from "
          f"+{sync_started - load_start:.1f}s to +{sync_ended - load_start:.1f}s "
          f"({sync_ended - sync_started:.1f}s, process wall incl. start-up); "
          + (f"queue and outbox empty +{drained_at - load_start:.1f}s after the load began "
             f"({drained_at - load_end:.1f}s after it ended)" if drained_at else
             f"queue NOT drained within {args.drain_timeout:.0f}s"))

    # (a) deliveries and events
    statuses = Counter("no answer" if d[2] is None else d[2] for d in sent_log)
    during = [d for d in sent_log if d[0] <= load_end]
    ok_ids = {i for d in sent_log if d[2] is not None and 200 <= d[2] < 300 for i in d[3]}
    events_per = [len(d[3]) for d in sent_log]
    answer_ms = sorted((d[1] - d[0]) * 1000 for d in sent_log if d[2] is not None)
    missing = sorted(ok_ids - set(stored))
    not_done = sorted(i for i in ok_ids if i in stored and stored[i] != "done")
    never_ok = sorted(made_ids - ok_ids)
    extra = sorted(set(stored) - ok_ids)
    print(f"(a) deliveries ({args.sender} sender): {len(sent_log)} POSTs, {len(during)} during the "
          f"{args.seconds:g}s load ({len(during) / (load_end - load_start):.1f}/s); by status {dict(statuses)}; "
          f"retries (attemptNumber > 0) {sum(1 for d in sent_log if d[4])}; events per delivery mean "
          f"{sum(events_per) / max(1, len(events_per)):.2f}, max {max(events_per, default=0)}")
    if answer_ms:
        print(f"    time to answer (ms): p50 {_pct(answer_ms, 50):.1f}  p99 {_pct(answer_ms, 99):.1f}  "
              f"max {answer_ms[-1]:.1f}")
    print(f"    events: made {len(made_ids)}, delivered with 2xx {len(ok_ids)} (sender {sender_stats}); "
          f"stored {len(stored)} (by status {dict(Counter(stored.values()))}); delivered but not stored "
          f"{len(missing)}; stored but not done {len(not_done)}; made but never delivered with 2xx {len(never_ok)}")
    print(f"    web process log: {web_log.count('webhook delivery events=')} 'webhook delivery' lines, "
          f"{web_log.count('webhook rejected')} 'webhook rejected', {web_log.count('Traceback')} tracebacks")
    if missing or not_done or never_ok or extra:
        print(f"    ! lost: not stored {missing[:10]}, not done {not_done[:10]}, never 2xx {never_ok[:10]}, "
              f"stored without a 2xx delivery {extra[:10]}")
    lost = bool(missing or not_done or never_ok or extra or drained_at is None or outbox_left)

    # (b) the same change written twice: the store's audit trail
    window = [r for r in audit_rows if r.id > audit_floor]
    kind_of = {rid: r.kind for rid, r in run_rows.items()}

    def run_name(run_id: int) -> str:
        return f"{run_id} ({kind_of.get(run_id, 'before the load')})"

    def changed(r) -> bool:
        return (r.old_value or "") != (r.new_value or "")

    by_key: dict[tuple[str, str], list] = defaultdict(list)
    for r in audit_rows:
        by_key[(r.contact_id, r.property)].append(r)
    consecutive, chain_breaks, anywhere, same_run = [], [], [], []
    for rows in by_key.values():
        for prev, r in zip(rows, rows[1:], strict=False):
            if r.id <= audit_floor:
                continue
            if changed(r) and (prev.old_value or "", prev.new_value or "") == (r.old_value or "", r.new_value or ""):
                (consecutive if prev.run_id != r.run_id else same_run).append((prev, r))
            if (r.old_value or "") != (prev.new_value or "") and r.property != hp.LAST_SCORED:
                chain_breaks.append((prev, r))
        seen: dict[tuple[str, str], list] = defaultdict(list)
        for i, r in enumerate(rows):
            if changed(r):
                seen[(r.old_value or "", r.new_value or "")].append(i)
        for where in seen.values():
            runs_there = {rows[i].run_id for i in where}
            if len(where) > 1 and len(runs_there) > 1 and any(rows[i].id > audit_floor for i in where):
                anywhere.append(rows[where[0]:where[-1] + 1])
    writes_confirmed = Counter(r.contact_id for r in window if r.property == hp.LAST_SCORED)
    runs_by_kind = Counter(kind_of.get(r.run_id, "?") for r in window if r.property == hp.LAST_SCORED)
    mql_twice = {c: n for c, n in Counter(r.contact_id for r in window if r.property == hp.LEAD_STATUS
                                          and r.new_value == hp.MQL_STATUS).items() if n > 1}
    kinds_per_contact: dict[str, set] = defaultdict(set)
    for r in window:
        if r.property == hp.LAST_SCORED:
            kinds_per_contact[r.contact_id].add(kind_of.get(r.run_id, "?"))
    both = sum(1 for k in kinds_per_contact.values() if {"full", "webhook"} <= k)
    print(f"(b) audit rows since the load began: {len(window)}; writes confirmed {sum(writes_confirmed.values())} "
          f"(by run kind {dict(runs_by_kind)}) for {len(writes_confirmed)} contacts, {both} of them written by "
          f"both the full sync and a webhook run; runs since: "
          f"{dict(Counter((r.kind, r.status) for r in run_rows.values()))}")
    print(f"    THE SAME CHANGE WRITTEN TWICE (two consecutive audit rows of one contact and property, same old -> "
          f"new, two different runs): {len(consecutive)}; the same within one run: {len(same_run)}; "
          f"-> MQL audited twice for one contact: {len(mql_twice)}")
    print(f"    audit rows whose old value is not the previous row's new value (planned from a stale read): "
          f"{len(chain_breaks)}")
    print(f"    the same (contact, property, old, new) from two runs anywhere in the trail: {len(anywhere)} "
          f"(each listed with what came between)")
    for prev, r in (consecutive + same_run)[:10]:
        print(f"    ! contact {r.contact_id} {r.property}: {r.old_value!r} -> {r.new_value!r} by run "
              f"{run_name(prev.run_id)} (audit {prev.id}, at {prev.at}) and again by run {run_name(r.run_id)} "
              f"(audit {r.id}, at {r.at})")
    for prev, r in chain_breaks[:10]:
        print(f"    ! contact {r.contact_id} {r.property}: run {run_name(prev.run_id)} wrote {prev.old_value!r} -> "
              f"{prev.new_value!r}, then run {run_name(r.run_id)} wrote {r.old_value!r} -> {r.new_value!r}")
    for rows in anywhere[:10]:
        print(f"    - contact {rows[0].contact_id} {rows[0].property}: "
              + ", ".join(f"{r.old_value!r}->{r.new_value!r} run {run_name(r.run_id)}" for r in rows))

    # (b) the sandbox's own record: INTEGRATION changes in its property history since the load began
    applied: Counter = Counter()
    seen_change: Counter = Counter()
    for cid, props in history.items():
        for name, entries in props.items():
            for e in entries:  # newest first
                if e.get("sourceType") == INTEGRATION and (e.get("timestamp") or "") >= window_start_iso:
                    seen_change[(cid, name)] += 1
                    if name == hp.LAST_SCORED:
                        applied[cid] += 1
    audited_change = Counter((r.contact_id, r.property) for r in window if r.property in DECIDED and changed(r))
    unseen = {k: n - seen_change.get(k, 0) for k, n in audited_change.items() if n > seen_change.get(k, 0)}
    published_writes = sum(1 for e in published if e.get("changeSource") == INTEGRATION
                           and e.get("propertyName") == hp.LAST_SCORED)
    differ = sorted((c for c in set(applied) | set(writes_confirmed) if applied[c] != writes_confirmed[c]), key=int)
    print(f"    sandbox (its property history, INTEGRATION, since the load began): {sum(applied.values())} writes "
          f"applied to {len(applied)} contacts (lsc_last_scored changes published: {published_writes}); writes per "
          f"contact {dict(sorted(Counter(applied.values()).items()))} (count: contacts)")
    print(f"    sandbox: contacts whose applied writes differ from the store's confirmed writes: {len(differ)}; "
          f"audited changes HubSpot did not see change (it had the value already: written twice): "
          f"{sum(unseen.values())} {dict(Counter(p for _, p in unseen))}")
    for c in differ[:10]:
        print(f"    ! contact {c}: HubSpot applied {applied[c]} writes, the store confirmed {writes_confirmed[c]}")
    for c, p in list(unseen)[:10]:
        rows = [r for r in window if r.contact_id == c and r.property == p]
        print(f"    ! contact {c} {p}: audit " + "; ".join(
            f"run {run_name(r.run_id)} {r.old_value!r} -> {r.new_value!r}" for r in rows)
            + f"; HubSpot's history (newest first): "
              f"{[(e['value'], e['sourceType'], e['timestamp']) for e in history.get(c, {}).get(p, [])[:4]]}")
    twice = bool(consecutive or same_run or mql_twice or unseen or differ)

    # (c) the sync's summary line and the worker's log
    print(f"(c) connector sync --full: {sync_summary}")
    for line in sync_stderr.splitlines():
        if " WARNING " in line or " ERROR " in line or "Traceback" in line:
            print(f"    sync stderr: {line[:300]}")
    batch = [line for line in worker_lines if "webhook batch events=" in line]
    totals: Counter = Counter()
    for line in batch:
        for key, value in re.findall(r"(\w+)=(\d+)", line.split("webhook batch", 1)[1]):
            totals[key] += int(value)
    print(f"    worker: {len(batch)} 'webhook batch' lines, totals {dict(totals)}")
    others = [line for line in worker_lines if "webhook batch events=" not in line]
    for line in (batch[:3] + ["..."] + batch[-3:]) if len(batch) > 6 else batch:
        print(f"    worker: {line[:300]}")
    for line in others[:40]:
        print(f"    worker: {line[:300]}")
    requests = final["requests"]
    print(f"    sandbox requests during the load and drain: searches {requests.get(SEARCH, 0)}, batch reads "
          f"{requests.get(BATCH_READ, 0)}, batch updates {requests.get(BATCH_UPDATE, 0)}, all "
          f"{sum(requests.values())}; 429s {final['rate_limited']}")
    if pending is not None:
        print(f"final check: contacts still needing a change (dry-run full sync after the run): {pending}")
    print("load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"nothing lost: {'yes' if not lost else 'NO'}; no change written twice: {'yes' if not twice else 'NO'}")
    return not lost and not twice


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ordered list."""
    return ordered[max(0, min(len(ordered) - 1, int(-(-p * len(ordered) // 100)) - 1))]


def _left(engine, floor: int) -> tuple[int, int]:
    """(queued or taken events above `floor`, outbox rows)."""
    with engine.connect() as conn:
        events = conn.execute(sa.select(sa.func.count()).select_from(webhook_events).where(
            webhook_events.c.id > floor, webhook_events.c.status != "done")).scalar_one()
        planned = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
    return int(events), int(planned)


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out after {timeout_s:.0f}s waiting for {what}")


def _last_line(path: Path, needle: str) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if needle in line]
    return lines[-1].split(": ", 1)[-1] if lines else "(none)"


def _iso_now() -> str:
    from connector.core.values import format_instant

    return format_instant(time.time())


def _dry_run(env: dict[str, str]) -> int | str:
    done = subprocess.run([PYTHON, "-m", "connector", "--env-file", os.devnull, "sync", "--full", "--dry-run",
                           "--json"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    try:
        data = json.loads(done.stdout)
    except ValueError:
        return f"dry run exited {done.returncode}: {done.stderr[-500:]}"
    planned = data.get("planned") or []
    shown = "; ".join(f"{p.get('contact_id')}: {_what_changed(p)}" for p in planned[:5])
    return f"{data.get('changed')}" + (f" (e.g. {shown})" if shown else "")


def _what_changed(planned: dict) -> str:
    """A planned change, shortly: old -> new of each property but lsc_last_scored and lsc_state (for
    lsc_reasons only the lines that differ)."""
    parts = []
    previous = planned.get("previous") or {}
    for prop, new in sorted((planned.get("changes") or {}).items()):
        if prop in (hp.LAST_SCORED, hp.STATE):
            continue
        old = previous.get(prop) or ""
        if prop == "lsc_reasons":
            old_lines, new_lines = old.splitlines(), (new or "").splitlines()
            old, new = ("; ".join(x for x in old_lines if x not in new_lines),
                        "; ".join(x for x in new_lines if x not in old_lines))
        parts.append(f"{prop} {old!r} -> {new!r}")
    return ", ".join(parts) or "only lsc_last_scored / lsc_state"


def _create_database(url: str) -> None:
    """CREATE DATABASE if missing, through the server's `postgres` maintenance database."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    if sys.argv[1:2] == ["--as-sender"]:
        sys.exit(sender_main(int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
    sys.exit(main())
