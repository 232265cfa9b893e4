"""Full and incremental sync against the sandbox on a given tier: time and calls vs the reference.

Reference (issue 4): reads by search, 200 contacts a page at 5 requests per second; writes by batch
update, 100 a call at 190 calls per 10 s; overlapped: max(N/1000, N/1900) s and N/200 + N/100 calls.
The time measured is the whole `connector sync --full` process, start-up included.

    python bench/sync.py [--contacts 20000] [--tier professional]
"""

from __future__ import annotations

import argparse
import json

from _harness import connector_env, reset_stats, run_connector, sandbox_process, stats, temp_db, total_requests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--tier", default="professional")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n = args.contacts
    ref_time = max(n / 1000, n / 1900)
    ref_calls = n / 200 + n / 100
    with sandbox_process("--contacts", str(n), "--seed", str(args.seed), "--tier", args.tier) as url:
        env = connector_env(url, temp_db())
        run_connector(env, "setup")
        reset_stats(url)
        took, done = run_connector(env, "sync", "--full", "--json")
        summary = json.loads(done.stdout)
        s = stats(url)
        calls = total_requests(s)
        print(f"full sync: {n} contacts, written={summary['written']}, took {took:.2f}s (reference {ref_time:.1f}s), "
              f"calls {calls} (reference {ref_calls:.0f}); 429s seen by sandbox: {s['rate_limited']}")
        print(f"  requests: {json.dumps(s['requests'])}")
        print(f"  time ratio {took / ref_time:.3f} (target <= 1.15), "
              f"call ratio {calls / ref_calls:.3f} (target <= 1.05)")
        for label in ("second sync (nothing changed by others)", "third sync"):
            reset_stats(url)
            took, done = run_connector(env, "sync", "--json")
            summary = json.loads(done.stdout)
            s = stats(url)
            print(f"{label}: pulled={summary['pulled']} written={summary['written']} calls={total_requests(s)} "
                  f"took {took:.2f}s  {json.dumps(s['requests'])}")


if __name__ == "__main__":
    main()
