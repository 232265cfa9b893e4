"""The report and the dashboard on a 20,000-contact portal: from the store, no HubSpot call.

    sandbox (20,000 contacts) ──► connector setup, sync --full ──► store
    connector report --json (a CLI process, N times)     ──► seconds, HubSpot calls (0)
    the Procfile's web process, GET /dashboard/ (N times) ──► ms per page, 401 without the password

    python bench/report.py [--contacts 20000] [--runs 10]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import secrets
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from sla import post
from store_deleted import free_port

from _harness import (
    ROOT,
    connector_env,
    machine,
    reset_stats,
    run_connector,
    sandbox_process,
    start_web,
    stats,
    stop_process,
    total_requests,
)


def get(port: int, path: str, headers: dict) -> tuple[int, float, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, (time.perf_counter() - started) * 1000, body
    finally:
        conn.close()


def report_ids(base: str) -> list[str]:
    req = urllib.request.Request(base + "/crm/v3/objects/contacts?limit=100",
                                 headers={"Authorization": "Bearer pat-sandbox"})
    with urllib.request.urlopen(req) as r:
        return [c["id"] for c in json.loads(r.read())["results"]]


def figures(ms: list[float]) -> str:
    ordered = sorted(ms)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(ordered):.0f} ms, p90 {p90:.0f} ms, max {ordered[-1]:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    password = secrets.token_urlsafe(18)
    with sandbox_process("--contacts", str(args.contacts), "--seed", str(args.seed), "--tier", "unlimited") as base:
        env = connector_env(base, str(work / "state.db"), HUBSPOT_REQUESTS_PER_10S="1000",
                            HUBSPOT_SEARCH_PER_SECOND="1000", HUBSPOT_CLIENT_SECRET=secrets.token_hex(16),
                            DASHBOARD_PASSWORD=password, SPEND_FILE=str(ROOT / "config" / "spend.csv"))
        run_connector(env, "setup")
        took, _ = run_connector(env, "sync", "--full")
        print(f"sync --full of {args.contacts:,} contacts: {took:.1f} s (keeps the report's facts on the way)")
        took, _ = run_connector(env, "sync")
        print(f"sync (incremental: reads the full sync's own writes back once): {took:.1f} s")

        reset_stats(base)
        cli_s = []
        for by in ("month", "week") * (args.runs // 2 or 1):
            took, done = run_connector(env, "report", "--json", "--by", by)
            cli_s.append(took)
        report = json.loads(done.stdout)
        calls = total_requests(stats(base))
        print(f"connector report --json ({len(cli_s)} runs, a fresh process each: Python start, imports, store, "
              f"report): median {statistics.median(cli_s):.2f} s, max {max(cli_s):.2f} s; HubSpot calls: {calls}")
        print(f"  {report['contacts']:,} contacts; window {report['window']['since']}..{report['window']['until']}; "
              f"MQLs in it: {report['funnel']['total'][1]['entered']:,}")

        port = free_port()
        web = start_web(env, port, work / "web.log")
        try:
            auth = {"Authorization": "Basic " + base64.b64encode(f"bench:{password}".encode()).decode()}
            assert get(port, "/dashboard/", {})[0] == 401
            wrong = {"Authorization": "Basic " + base64.b64encode(b"x:wrong").decode()}
            assert get(port, "/dashboard/", wrong)[0] == 401
            status, cold_ms, _ = get(port, "/dashboard/?by=week", auth)
            print(f"first GET /dashboard/ after start ({status}; reads all facts, loads the scoring config, "
                  f"compiles templates): {cold_ms:.0f} ms")
            for path in ("/dashboard/?by=week", "/dashboard/?by=month", "/dashboard/?since=2024-01-01&by=month"):
                get(port, path, auth)
                ms = []
                for _ in range(args.runs):
                    status, took_ms, body = get(port, path, auth)
                    assert status == 200 and b'data-chart="calibration"' in body, status
                    ms.append(took_ms)
                print(f"GET {path} ({args.runs} runs, {len(body) / 1024:.0f} KiB): {figures(ms)}")
            print(f"HubSpot calls while serving the dashboard: {total_requests(stats(base)) - calls}")
            # 100 contacts do something; the next sync keeps their new facts; the next page reads those.
            ids = report_ids(base)
            post(base, "/_sandbox/activity", [{"contactId": cid, "type": "form_submission", "formName": "Demo request"}
                                               for cid in ids])
            took, _ = run_connector(env, "sync")
            status, after_ms, _ = get(port, "/dashboard/?by=week", auth)
            print(f"100 demo requests, an incremental sync ({took:.1f} s), then the next GET /dashboard/ (reads the "
                  f"facts kept since the last page): {after_ms:.0f} ms")
        finally:
            stop_process(web)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
