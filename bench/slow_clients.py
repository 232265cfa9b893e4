"""Benchmark: valid signed deliveries while half-sent requests hold connections to the web process.

    .venv/bin/python bench/slow_clients.py [--held 20] [--deliveries 100] [--drip-s 0] [--then-wait-s 0]
        [--rate 0 --clients 8 --events 1] [--command "gunicorn ... --bind 0.0.0.0:$PORT ..."]

Starts the Procfile's `web:` command as it is (its shell line, with PORT set; it binds what the
platform needs) with SQLite in a temp dir, waits for /healthz, then opens --held connections to
127.0.0.1 that send part of a `POST /webhooks/hubspot` and then nothing: half of them stop inside
the headers, the other half send complete headers (a fresh timestamp, a made-up signature: no
secret needed, the check that needs the body cannot run yet) and 10 of the 4,000 body bytes they
announce. With --drip-s S the header-stopped ones send one more header byte every S seconds (a
slowloris, to defeat an idle timeout). Then it sends --deliveries valid signed deliveries one
after another, each on a new connection with a 10 s timeout (or, with --rate R, open-loop at R a
second from --clients keep-alive connections), and prints p50/p99/max time to answer (send to last
byte), how many were answered 200, and how many events the store holds.
Exits 0 only if every delivery got 200 and p99 is under 100 ms.

--command replaces the Procfile line (to measure another server setup the same way). All traffic
goes to 127.0.0.1; every loop is bounded in count and time (--deadline-s for the deliveries,
--then-wait-s at most 300 s). --then-wait-s S shows whether the server closes the held connections.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connector.webhooks.signature import sign_v3

from _harness import machine

SECRET = "bench-slow-clients-secret"
PATH = "/webhooks/hubspot"
ANNOUNCED_BODY = 4000


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    command = args.command or procfile_web(ROOT / "Procfile")
    tmp = tempfile.TemporaryDirectory(prefix="bench-slow-clients-")
    db_path = Path(tmp.name) / "state.db"
    port = _free_port()
    log_path = Path(tmp.name) / "web.log"
    print(f"machine: {machine()}")
    print(f"server: {command}   (PORT={port}, SQLite in a temp dir)")
    server = _start(command, port, db_path, log_path)
    held: list[socket.socket] = []
    alongside: subprocess.Popen | None = None
    try:
        _wait_healthy(port, server, log_path)
        alongside = _start(args.alongside, port, db_path, Path(tmp.name) / "alongside.log", detach=False) \
            if args.alongside else None
        held = [_half_send(port, i) for i in range(args.held)]
        time.sleep(1.0)  # let the server take them in (accept, hand to whatever reads them)
        results = _deliver(args, port, held)
        if args.then_wait_s:
            time.sleep(min(args.then_wait_s, 300.0))
        still_open = sum(1 for s in held if _is_open(s))
        if alongside is not None:
            try:
                print(f"alongside: {args.alongside!r} exited {alongside.wait(timeout=300)}")
            except subprocess.TimeoutExpired:
                print(f"alongside: {args.alongside!r} still running after the deliveries + 300 s: stopped")
                alongside.kill()
    finally:
        for s in held:
            s.close()
        if alongside is not None and alongside.poll() is None:
            alongside.kill()
            alongside.wait()
        _stop(server)
    stored = _stored(db_path)
    log_text = log_path.read_text(errors="replace")
    if os.environ.get("BENCH_KEEP_LOG"):
        print(log_text[-4000:])
    tmp.cleanup()
    return _report(args, results, stored, still_open, log_text)


def procfile_web(procfile: Path) -> str:
    """The Procfile's `web:` command line."""
    for line in procfile.read_text().splitlines():
        if line.startswith("web:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit(f"{procfile}: no web: line")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--held", type=int, default=20, help="half-sent connections held open")
    p.add_argument("--deliveries", type=int, default=100, help="valid signed deliveries sent after them")
    p.add_argument("--events", type=int, default=1, help="events per delivery")
    p.add_argument("--drip-s", type=float, default=0.0, help="send one more header byte every S s (0: never)")
    p.add_argument("--rate", type=float, default=0.0,
                   help="deliveries per second, open-loop from --clients keep-alive connections (0: one by one)")
    p.add_argument("--clients", type=int, default=8, help="client threads with --rate")
    p.add_argument("--timeout-s", type=float, default=10.0, help="per delivery")
    p.add_argument("--deadline-s", type=float, default=150.0, help="for all deliveries together")
    p.add_argument("--then-wait-s", type=float, default=0.0,
                   help="after the deliveries, wait S s and count the held connections the server closed")
    p.add_argument("--alongside", default=None,
                   help="a shell command started with the same environment once the server answers "
                        "(e.g. 'connector sync --full'); its exit status is printed")
    p.add_argument("--command", default=None, help="web command instead of the Procfile's (shell line, $PORT)")
    return p.parse_args(argv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(command: str, port: int, db_path: Path, log_path: Path, detach: bool = True) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "DATABASE_URL", "WEBHOOK_"))}
    env.update({"HUBSPOT_CLIENT_SECRET": SECRET, "DATABASE_URL": f"sqlite:///{db_path}", "PORT": str(port),
                "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{port}{PATH}", "LOG_LEVEL": "INFO",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"})
    return subprocess.Popen(["sh", "-c", command], env=env, cwd=ROOT, stdout=log_path.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=detach)


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _wait_healthy(port: int, server: subprocess.Popen, log_path: Path, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"web process exited ({server.returncode}):\n{log_path.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                time.sleep(1.0)  # every worker process booted
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"web process did not answer /healthz within {timeout_s:g} s")


def _half_send(port: int, i: int) -> socket.socket:
    """A connection that sent part of a request and stops: inside the headers (even i) or inside the
    body after complete, plausible headers (odd i)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    head = f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    if i % 2 == 0:
        s.sendall(head.encode())
    else:
        stamp = str(int(time.time() * 1000))
        s.sendall((head + f"X-HubSpot-Request-Timestamp: {stamp}\r\nX-HubSpot-Signature-v3: bm90LWEtc2lnbmF0dXJl\r\n"
                   f"Content-Length: {ANNOUNCED_BODY}\r\n\r\n" + '[{"eventId":').encode())
    return s


def _drip(held: list[socket.socket]) -> None:
    for i, s in enumerate(held):
        if i % 2 == 0:
            try:
                s.send(b"X")  # part of a header name that never ends
            except OSError:
                pass


def _is_open(s: socket.socket) -> bool:
    """True if the server has not closed this connection (nothing to read, no EOF)."""
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def _delivery(i: int, events: int) -> bytes:
    now_ms = int(time.time() * 1000)
    return json.dumps([{"eventId": 10_000 + i * events + j, "subscriptionId": 1, "portalId": 62515, "appId": 2,
                        "occurredAt": now_ms - 50, "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
                        "objectId": 1 + (i * events + j) % 400, "propertyName": "num_conversion_events",
                        "propertyValue": "1", "changeSource": "CRM_UI"} for j in range(events)],
                      separators=(",", ":")).encode()


def _deliver(args, port: int, held: list[socket.socket]) -> list[tuple[float, int]]:
    """(ms, status) per delivery sent; status 0: no answer within the timeout. Without --rate: one
    after another, each on a new connection. With --rate: open-loop, each delivery at its scheduled
    time (start + i / rate) from --clients threads on keep-alive connections."""
    uri = f"http://127.0.0.1:{port}{PATH}"
    results: list[tuple[float, int]] = []
    lock = threading.Lock()
    counter = itertools.count()
    deadline = time.monotonic() + args.deadline_s
    start = time.monotonic() + 0.5

    def client() -> None:
        conn = None
        while True:
            i = next(counter)
            if i >= args.deliveries or time.monotonic() > deadline:
                break
            if args.rate:
                delay = start + i / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            body = _delivery(i, args.events)
            stamp = str(int(time.time() * 1000))
            headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": stamp,
                       "X-HubSpot-Signature-v3": sign_v3(SECRET, "POST", uri, body, stamp)}
            started = time.perf_counter()
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=args.timeout_s)
            try:
                conn.request("POST", PATH, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = None
            if not args.rate and conn is not None:  # sequential: a new connection each time
                conn.close()
                conn = None
            with lock:
                results.append(((time.perf_counter() - started) * 1000, status))
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients if args.rate else 1)]
    for t in threads:
        t.start()
    next_drip = time.monotonic() + args.drip_s if args.drip_s else float("inf")
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline + args.timeout_s + 5:
        if time.monotonic() >= next_drip:
            _drip(held)
            next_drip = time.monotonic() + args.drip_s
        time.sleep(0.05)
    return results


def _stored(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path) as db:
            return int(db.execute("SELECT count(*) FROM webhook_events").fetchone()[0])
    except sqlite3.Error:
        return -1


def _percentile(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return float("nan")
    return sorted_ms[min(len(sorted_ms) - 1, int(round(p / 100 * len(sorted_ms) + 0.5)) - 1)]


def _report(args, results: list[tuple[float, int]], stored: int, still_open: int, log_text: str) -> int:
    times = sorted(ms for ms, _ in results)
    ok = sum(1 for _, status in results if status == 200)
    statuses = {code: sum(1 for _, status in results if status == code) for code in {st for _, st in results}}
    unanswered = sum(1 for _, status in results if status == 0)
    over = sum(1 for ms in times if ms >= 100)
    p50, p99 = _percentile(times, 50), _percentile(times, 99)
    print(f"held: {args.held} half-sent connections ({args.held - args.held // 2} stopped in the headers, "
          f"{args.held // 2} in the body){f', header bytes dripped every {args.drip_s:g} s' if args.drip_s else ''}; "
          f"{still_open} still open at the end"
          f"{f' ({args.then_wait_s:g} s after the deliveries)' if args.then_wait_s else ''}")
    pace = f"{args.rate:g}/s open-loop from {args.clients} keep-alive connections" if args.rate else "one by one"
    print(f"deliveries ({pace}, {args.events} events each): sent={len(results)} of {args.deliveries} "
          f"answered_200={ok} no_answer_in_{args.timeout_s:g}s={unanswered} other={len(results) - ok - unanswered} "
          f"at_or_over_100ms={over} statuses={dict(sorted(statuses.items()))}")
    print(f"time to answer ms: p50={p50:.1f} p95={_percentile(times, 95):.1f} p99={p99:.1f} "
          f"max={times[-1] if times else float('nan'):.1f}")
    print(f"store: {stored} webhook_events rows (expected {ok * args.events})")
    tracebacks = len(re.findall(r"Traceback \(most recent call last\)", log_text))
    rejected = re.findall(r"webhook rejected status=(\d+)", log_text)
    by_status = {code: rejected.count(code) for code in sorted(set(rejected))}
    print(f"server log: {tracebacks} tracebacks, {len(rejected)} 'webhook rejected' lines {by_status or ''}")
    met = ok == args.deliveries and p99 < 100 and stored == ok * args.events
    print(f"target (all 200, p99 < 100 ms): {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
