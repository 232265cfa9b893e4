"""The store deleted mid-way through webhook traffic: no acknowledged event is lost (issue 10).

    sandbox (hand-raises -> signed webhooks) ──► `connector run` (web + worker, SQLite) ──► sandbox

A sandbox portal sends HubSpot's webhooks for `--hand-raises` demo requests, spread over
`--seconds`, to `connector run`. Half-way, the bench deletes the SQLite file (and its -wal/-shm).
From then on the web process must answer 503 (HubSpot, and the sandbox, retry 5xx with backoff,
10 tries). Then `connector run` is restarted at the same path: an empty store, rebuilt from
HubSpot's lsc_state. At the end every contact that raised its hand must be an MQL in the sandbox:
a hand-raise whose delivery was acknowledged and then lost would stay a non-MQL.

    python bench/store_deleted.py [--contacts 2000] [--hand-raises 200] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
import tempfile
import time
from pathlib import Path

from _harness import ROOT, connector_env, machine, run_connector, spawn_connector, stats, stop_process

sys.path.insert(0, str(ROOT))
from connector.sandbox import Sandbox, SandboxConfig  # noqa: E402

SUBSCRIPTIONS = ROOT / "config" / "hubspot-app" / "src" / "app" / "webhooks" / "webhooks-hsmeta.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def candidates(sandbox: Sandbox, n: int) -> list[str]:
    """Contacts a demo request would make MQLs: not MQL, not sales-owned, no demo request yet."""
    contacts = sandbox.portal.store("contacts")
    out = []
    for cid in contacts.order:
        p = contacts.records[str(cid)].properties
        open_lead = (p.get("hs_lead_status") or "") in ("", "NEW", "OPEN") \
            and p.get("lifecyclestage") in ("subscriber", "lead")
        if open_lead and "demo request" not in (p.get("recent_conversion_event_name") or "").lower():
            out.append(str(cid))
    return out[:n]


def wait_ready(port: int, proc, deadline_s: float = 60.0) -> None:
    import urllib.request

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"connector run exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("connector run did not answer /healthz")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--hand-raises", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=90.0, help="how long to wait for the last MQLs")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    secret = secrets.token_hex(16)
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="connector-bench-"))
    db = work / "state.db"
    hook_url = f"http://127.0.0.1:{port}/webhooks/hubspot"
    config = SandboxConfig(contacts=args.contacts, seed=7, tier="professional", webhook_url=hook_url,
                           client_secret=secret, subscriptions=str(SUBSCRIPTIONS))
    with Sandbox(config) as sandbox:
        env = connector_env(sandbox.base_url, str(db), HUBSPOT_CLIENT_SECRET=secret, WEBHOOK_PUBLIC_URL=hook_url,
                            HOST="127.0.0.1", PORT=str(port), HUBSPOT_REQUESTS_PER_10S="190", LOG_LEVEL="WARNING")
        run_connector(env, "setup")
        run_connector(env, "sync", "--full")
        targets = candidates(sandbox, args.hand_raises)
        logs = [open(work / f"run{i}.log", "w") for i in (1, 2)]
        proc = spawn_connector(env, "run", stdout=logs[0], stderr=logs[0])
        wait_ready(port, proc)
        print(f"{len(targets)} hand-raises over {args.seconds:.0f} s to connector run on :{port}; "
              f"the store {db} is deleted half-way")
        gap = args.seconds / max(len(targets), 1)
        deleted_at = None
        started = time.monotonic()
        for i, cid in enumerate(targets):
            _activity(sandbox, cid)
            if deleted_at is None and i >= len(targets) // 2:
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(f"{db}{suffix}"):
                        os.remove(f"{db}{suffix}")
                deleted_at = time.monotonic() - started
                print(f"deleted the store at {deleted_at:.1f} s (after {i} hand-raises)", flush=True)
            time.sleep(gap)
        time.sleep(2)
        stop_process(proc)
        before_restart = sum(1 for c in targets if _is_mql(sandbox, c))
        print(f"before the restart: {before_restart} of {len(targets)} are MQLs", flush=True)
        proc = spawn_connector(env, "run", stdout=logs[1], stderr=logs[1])
        wait_ready(port, proc)
        end = time.monotonic() + args.settle
        while time.monotonic() < end and not all(_is_mql(sandbox, c) for c in targets):
            time.sleep(1)
        stop_process(proc)
        mqls = sum(1 for c in targets if _is_mql(sandbox, c))
        hooks = stats(sandbox.base_url)["webhooks"]
        for log in logs:
            log.close()
        refused = sum(line.count("status=503") for line in open(work / "run1.log"))
        print(f"after the restart: {mqls} of {len(targets)} hand-raisers are MQLs "
              f"({'none lost' if mqls == len(targets) else f'{len(targets) - mqls} LOST'}); "
              f"deliveries refused with 503 after the deletion: {refused}; sandbox webhooks: {hooks}")
        return 0 if mqls == len(targets) else 1


def _activity(sandbox: Sandbox, cid: str) -> None:
    import json
    import urllib.request

    body = json.dumps([{"contactId": cid, "type": "form_submission", "formName": "Demo request"}]).encode()
    request = urllib.request.Request(sandbox.base_url + "/_sandbox/activity", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()


def _is_mql(sandbox: Sandbox, cid: str) -> bool:
    return sandbox.portal.store("contacts").records[cid].properties.get("hs_lead_status") == "MQL"


if __name__ == "__main__":
    sys.exit(main())
