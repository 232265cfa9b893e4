"""Faults injected, same final state: issue 4, "With faults injected (5% of answers 5xx, 429s with and
without Retry-After, dropped connections), the final state of every contact equals that of a
fault-free run."

Two sandboxes with the same contacts and seed, started together:
- reference: fault-free, `--tier unlimited`, the connector unthrottled;
- faulty: `--faults` (5% 5xx over 500/502/503/504, 1% dropped connections) on `--tier starter`
  (100 calls per 10 s), while the connector is told HUBSPOT_REQUESTS_PER_10S=400 and
  HUBSPOT_SEARCH_PER_SECOND=20, so it overshoots and meets SECONDLY 429s; the connector learns the
  10-second window from the headers after its first call, so a neighbour (another client of the
  same token, bursts of GETs) eats part of that window to bring TEN_SECONDLY_ROLLING 429s too.
  The sandbox leaves Retry-After out of every other 429.
`connector setup` then `connector sync --full` against each (own SQLite store), then every contact's
decided properties are read back through the API and compared. Exit 0 only with 0 mismatches, both
syncs exiting 0, and the faults really met (429s and retries seen).

    .venv/bin/python bench/faults.py [--contacts 20000] [--seed 7] [--tier starter] [--neighbour-burst 25]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit

from _harness import (
    STATE_PROPERTIES,
    compare_portals,
    connector_env,
    machine,
    read_portal,
    reset_stats,
    run_connector,
    sandbox_process,
    stats,
    temp_db,
    total_requests,
)

DEFAULT_FAULTS = "500=0.02,502=0.01,503=0.01,504=0.01,drop=0.01,seed=3"


class Neighbour(threading.Thread):
    """Another client of the same app (same token): bursts of cheap GETs into the 10-second window,
    so the connector's share of the window changes under it and it meets TEN_SECONDLY_ROLLING 429s
    even after it has learnt the window's size from the headers. Counts its own answers."""

    def __init__(self, base_url: str, burst: int, period_s: float):
        super().__init__(daemon=True)
        self.netloc = urlsplit(base_url).netloc
        self.burst, self.period_s = burst, period_s
        self.stop = threading.Event()
        self.answers: dict[str, int] = {}

    def run(self) -> None:
        conn = http.client.HTTPConnection(self.netloc, timeout=10)
        while not self.stop.is_set():
            for _ in range(self.burst):
                try:
                    conn.request("GET", "/crm/v3/owners?limit=1", headers={"Authorization": "Bearer pat-sandbox"})
                    resp = conn.getresponse()
                    resp.read()
                    key = str(resp.status)
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(self.netloc, timeout=10)
                    key = "dropped"
                self.answers[key] = self.answers.get(key, 0) + 1
            self.stop.wait(self.period_s)
        conn.close()


def retry_causes(log_text: str) -> dict[str, int]:
    """Count the gateway's "retrying HubSpot call after: ..." debug lines by cause."""
    causes: dict[str, int] = {}
    for line in log_text.splitlines():
        _, sep, why = line.partition("retrying HubSpot call after: ")
        if not sep:
            continue
        if why.startswith("cannot reach HubSpot"):
            key = "connection dropped/refused"
        elif why.startswith("HubSpot server error"):
            key = "HTTP " + why.split()[3].rstrip(":")
        elif why.startswith("rate limited"):
            key = "429 " + why[why.find("(") + 1:why.find(")")]
        else:
            key = why[:60]
        causes[key] = causes.get(key, 0) + 1
    return dict(sorted(causes.items()))


def sync_once(label: str, url: str, env: dict[str, str], timeout: float,
              neighbour: tuple[int, float] | None = None) -> tuple[dict, dict, float, int, dict]:
    """setup, then a measured `sync --full --json`:
    (summary, sandbox stats of the sync, seconds, exit status, the neighbour's answers)."""
    run_connector(env, "setup", timeout=timeout)
    reset_stats(url)
    other = Neighbour(url, *neighbour) if neighbour and neighbour[0] > 0 else None
    if other:
        other.start()
    try:
        # -v: the gateway logs each retry with its cause, which the sandbox's stats do not tell.
        took, done = run_connector(env, "-v", "sync", "--full", "--json", check=False, timeout=timeout)
    finally:
        if other:
            other.stop.set()
            other.join()
    s = stats(url)
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise RuntimeError(f"{label}: connector sync exited {done.returncode}: {done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    summary["retry_causes"] = retry_causes(done.stderr)
    return summary, s, took, done.returncode, (other.answers if other else {})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tier", default="starter", help="the faulty sandbox's tier (default: starter)")
    parser.add_argument("--faults", default=DEFAULT_FAULTS)
    parser.add_argument("--requests-per-10s", type=int, default=400, help="what the connector is told (overshoot)")
    parser.add_argument("--search-per-second", type=int, default=20, help="what the connector is told (overshoot)")
    parser.add_argument("--neighbour-burst", type=int, default=25,
                        help="another client's GETs per burst on the same token (0: none)")
    parser.add_argument("--neighbour-period", type=float, default=5.0, help="seconds between its bursts")
    parser.add_argument("--real-clock", action="store_true",
                        help="do not pin the portal's and the connector's clocks (scores then decay during the runs, "
                             "and a few contacts differ by one rounding step for that reason alone)")
    parser.add_argument("--timeout", type=float, default=150.0, help="per connector command, seconds")
    args = parser.parse_args()
    started = time.monotonic()
    print(f"machine: {machine()}")
    common = ("--contacts", str(args.contacts), "--seed", str(args.seed))
    # Same portal, same scoring instant for both runs (see _harness.connector_command).
    portal_now = None if args.real_clock else float(int(time.time()))
    clock = {} if args.real_clock else {"BENCH_FROZEN_EPOCH": str(portal_now + 60)}
    print("clocks: real" if args.real_clock else
          f"clocks: both portals generated as of {portal_now:.0f}, the connector's wall clock frozen 60 s later")
    with sandbox_process(*common, "--tier", "unlimited", now=portal_now) as ref_url, \
            sandbox_process(*common, "--tier", args.tier, "--faults", args.faults, now=portal_now) as bad_url:
        ref_env = connector_env(ref_url, temp_db(), HUBSPOT_REQUESTS_PER_10S="100000",
                                HUBSPOT_SEARCH_PER_SECOND="10000", **clock)
        ref_summary, ref_stats, ref_took, ref_rc, _ = sync_once("reference", ref_url, ref_env, args.timeout)
        print(f"reference (fault-free, unlimited): exit {ref_rc}, took {ref_took:.1f}s, "
              f"written={ref_summary['written']} failed={ref_summary['failed']}, requests {total_requests(ref_stats)}")

        bad_env = connector_env(bad_url, temp_db(), HUBSPOT_REQUESTS_PER_10S=str(args.requests_per_10s),
                                HUBSPOT_SEARCH_PER_SECOND=str(args.search_per_second), **clock)
        bad_summary, bad_stats, bad_took, bad_rc, other = sync_once(
            "faulty", bad_url, bad_env, args.timeout, (args.neighbour_burst, args.neighbour_period))
        print(f"faulty ({args.faults}; tier {args.tier}; connector told {args.requests_per_10s}/10s, "
              f"{args.search_per_second} searches/s): exit {bad_rc}, took {bad_took:.1f}s")
        print(f"  sandbox during the sync: requests {total_requests(bad_stats)} {json.dumps(bad_stats['requests'])}")
        print(f"  sandbox 429s by policy: {json.dumps(bad_stats['rate_limited'])} "
              f"(Retry-After left out of every other one; the neighbour's included)")
        if other:
            print(f"  neighbour ({args.neighbour_burst} GETs every {args.neighbour_period:.0f}s, same token): "
                  f"answers {json.dumps(other)}")
        keys = ("pulled", "scored", "changed", "written", "failed", "recovered", "requests", "rate_limited", "retries",
                "took_s")
        print(f"  connector summary: {json.dumps({k: bad_summary.get(k) for k in keys})}")
        print(f"  connector retries by cause (from its -v log): {json.dumps(bad_summary['retry_causes'])}")

        expected, ref_reads = read_portal(ref_url)
        actual, bad_reads = read_portal(bad_url)
    diffs = compare_portals(expected, actual)
    n429 = bad_summary["rate_limited"]
    print(f"compared {len(expected)} contacts x {len(STATE_PROPERTIES)} properties "
          f"(read back in {ref_reads} + {bad_reads} list calls): {len(diffs)} mismatches (target 0)")
    for line in diffs[:20]:
        print(f"  {line}")
    problems = []
    if diffs:
        problems.append(f"{len(diffs)} mismatches")
    if len(expected) != args.contacts or len(actual) != args.contacts:
        problems.append(f"contacts read back: {len(expected)} / {len(actual)}, expected {args.contacts}")
    if ref_rc or bad_rc:
        problems.append(f"sync exit status reference={ref_rc} faulty={bad_rc}")
    if bad_summary["written"] != ref_summary["written"]:
        problems.append(f"written {bad_summary['written']} vs reference {ref_summary['written']}")
    causes = bad_summary["retry_causes"]
    met = {"429 (one with Retry-After, one without)": n429 >= 2,
           "5xx": any(k.startswith("HTTP 5") for k in causes),
           "dropped connection": "connection dropped/refused" in causes}
    missing = [k for k, ok in met.items() if not ok]
    if missing:
        problems.append("faults not exercised (raise --contacts or change the fault seed): " + ", ".join(missing))
    print(f"took {time.monotonic() - started:.1f}s in all")
    print("PASS" if not problems else "FAIL: " + "; ".join(problems))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
