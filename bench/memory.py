"""Peak memory of a full sync: issue 4, "Peak memory of a full sync over 200,000 contacts
(`--tier unlimited`) stays under 300 MB."

A sandbox of 200,000 contacts on `--tier unlimited` (about 10 s to generate and about 1 GB: that is
the sandbox's process, not what is measured), `connector setup`, then `connector sync --full` as a
child process told HUBSPOT_REQUESTS_PER_10S=100000 and HUBSPOT_SEARCH_PER_SECOND=10000 (so it is
not throttled client-side): its reads outrun its writes, the harder case for its memory bound.
Measured: that child's peak resident set, from the kernel
(os.wait4's ru_maxrss, the same figure as /usr/bin/time's "Maximum resident set size"), plus its
RSS sampled from /proc every 0.25 s to show when the peak came. Fails at or above --target-mb.

    .venv/bin/python bench/memory.py [--contacts 200000] [--target-mb 300]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time

from _harness import (
    connector_env,
    machine,
    reset_stats,
    run_connector,
    sandbox_process,
    spawn_connector,
    stats,
    temp_db,
    total_requests,
)


class RssSampler(threading.Thread):
    """VmRSS of `pid` every `every` seconds: (seconds since start, MB) samples."""

    def __init__(self, pid: int, every: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stop.is_set():
            try:
                with open(f"/proc/{self.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            self.samples.append((time.monotonic() - started, int(line.split()[1]) / 1024))
                            break
            except (OSError, ValueError):
                return
            self.stop.wait(self.every)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tier", default="unlimited")
    parser.add_argument("--target-mb", type=float, default=300.0)
    parser.add_argument("--timeout", type=float, default=1800.0, help="for the sync, seconds")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with sandbox_process("--contacts", str(args.contacts), "--seed", str(args.seed), "--tier", args.tier) as url:
        env = connector_env(url, temp_db(), HUBSPOT_REQUESTS_PER_10S="100000", HUBSPOT_SEARCH_PER_SECOND="10000")
        run_connector(env, "setup", timeout=120)
        reset_stats(url)
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            started = time.monotonic()
            proc = spawn_connector(env, "sync", "--full", "--json", stdout=out, stderr=err)
            sampler = RssSampler(proc.pid)
            sampler.start()
            timer = threading.Timer(args.timeout, proc.kill)
            timer.start()
            # wait4 reaps this very child and gives its own rusage (not the sum over all children).
            _, status, usage = os.wait4(proc.pid, 0)
            took = time.monotonic() - started
            timer.cancel()
            sampler.stop.set()
            sampler.join()
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        s = stats(url)
    if proc.returncode != 0 or not stdout.strip():
        print(f"connector sync exited {proc.returncode}: {stderr[-2000:]}")
        return 2
    summary = json.loads(stdout)
    peak_mb = usage.ru_maxrss / 1024  # Linux: KiB
    sampled_peak = max(sampler.samples, key=lambda x: x[1], default=(0.0, 0.0))
    timeline = ", ".join(f"{t:.0f}s {mb:.0f}" for t, mb in sampler.samples[:: max(1, len(sampler.samples) // 12)])
    print(f"full sync of {args.contacts} contacts (tier {args.tier}): exit {proc.returncode}, took {took:.1f}s, "
          f"pulled={summary['pulled']} written={summary['written']} failed={summary['failed']}")
    print(f"  sandbox requests {total_requests(s)} {json.dumps(s['requests'])}; 429s {json.dumps(s['rate_limited'])}")
    print(f"  connector: requests={summary['requests']} retries={summary['retries']} 429s={summary['rate_limited']}; "
          f"CPU user {usage.ru_utime:.1f}s sys {usage.ru_stime:.1f}s")
    print(f"  RSS (MB) sampled: {timeline}; sampled peak {sampled_peak[1]:.0f} MB at {sampled_peak[0]:.0f}s")
    print(f"peak RSS of `connector sync --full`: {peak_mb:.1f} MB (target < {args.target_mb:.0f} MB)")
    ok = peak_mb < args.target_mb and summary["written"] + summary["failed"] > 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
