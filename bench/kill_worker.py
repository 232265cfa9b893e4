"""Benchmark: `kill -9` of the worker with 1,000 webhook events queued, then a restart: every contact
rescored, none written twice (writes counted per contact at the sandbox).

    .venv/bin/python bench/kill_worker.py [--events 1000] [--kill-after-writes 3] [--contacts 2000]
        [--tier professional] [--database-url URL] [--drain-timeout 180]

Same stack as bench/webhooks.py (sandbox in this process, the Procfile's web process, `connector setup` and
`connector sync --full` as child processes), with one difference: the sandbox's subscriptions are
setup's object events plus the propertyChange of `recent_conversion_event_name` only, so one
"Demo request" form submission is exactly one webhook event. With no worker running, 1,000 such
hand-raises of 1,000 distinct contacts (none an MQL before, each needing a write) are delivered
through the signed endpoint and queued. Then `connector worker` starts; once the sandbox has
applied --kill-after-writes batch updates, the worker gets SIGKILL; it is started again and the bench
waits for every queued event to be 'done' and the outbox to be empty. The worker's lease is 30 s
(WebhookConsumer lease_ms), so the restart waits for it: the recovery time is reported.

Counts per contact, from the sandbox's property history (each applied write of the connector carries a
new lsc_last_scored, so it adds exactly one INTEGRATION entry) and from the store's audit table (one
hs_lead_status row per write that set it). Pass: every contact written exactly once, is an MQL in the
sandbox, and has exactly one audit row for hs_lead_status; no event left undone.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.core import properties as hp  # noqa: E402
from connector.settings import Settings  # noqa: E402
from connector.store.schema import audit, outbox, webhook_events  # noqa: E402

from webhooks import (  # noqa: E402
    BATCH_READ,
    BATCH_UPDATE,
    TIER_PER_10S,
    Stack,
    candidates,
    machine,
    post_activity,
    props,
    reset_stats,
    start_worker,
    stats,
    stop,
)

WATCHED = "recent_conversion_event_name"


def integration_writes(sb, contact_id: str) -> int:
    """How many writes by an app (changeSource INTEGRATION) changed lsc_last_scored so far."""
    record = sb.portal.store("contacts").records[contact_id]
    entries = (record.history or {}).get(hp.LAST_SCORED) or []
    return sum(1 for e in entries if e.get("sourceType") == "INTEGRATION")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--kill-after-writes", type=int, default=3, help="SIGKILL once this many batch updates landed")
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tier", default="professional", choices=sorted(TIER_PER_10S))
    parser.add_argument("--database-url",
                        help="PostgreSQL URL (its connector tables are dropped first); default SQLite")
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    args = parser.parse_args()
    print(machine(), flush=True)

    stack = Stack(args, only_properties=[WATCHED])
    engine = sa.create_engine(Settings(database_url=stack.database_url).sqlalchemy_url)
    try:
        stack.wait_webhooks_idle()
        pool = candidates(stack.sandbox)
        if len(pool) < args.events:
            raise SystemExit(f"only {len(pool)} hand-raise candidates for {args.events} events: use more --contacts")
        targets = pool[: args.events]
        before_writes = {c: integration_writes(stack.sandbox, c) for c in targets}
        with engine.connect() as conn:
            audit_floor = conn.execute(sa.select(sa.func.coalesce(sa.func.max(audit.c.id), 0))).scalar_one()
            queue_floor = conn.execute(sa.select(sa.func.coalesce(sa.func.max(webhook_events.c.id), 0))).scalar_one()

        # 1,000 hand-raises while no worker runs: 1,000 signed deliveries' worth of events queued.
        reset_stats(stack.base_url)
        for i in range(0, len(targets), 100):
            post_activity(stack.base_url, [{"contactId": c, "type": "form_submission", "formName": "Demo request"}
                                           for c in targets[i:i + 100]])
        stack.wait_webhooks_idle()
        with engine.connect() as conn:
            queued = conn.execute(sa.select(webhook_events.c.object_id, webhook_events.c.status)
                                  .where(webhook_events.c.id > queue_floor)).all()
        per_contact_events = Counter(o for o, _ in queued)
        print(f"queued: {len(queued)} events for {len(per_contact_events)} contacts "
              f"(statuses {dict(Counter(s for _, s in queued))}); webhooks {stats(stack.base_url)['webhooks']}",
              flush=True)
        if len(queued) != args.events or set(per_contact_events) != set(targets):
            raise SystemExit("the queue does not hold exactly one event per target contact")

        # Start the worker; SIGKILL it once some of its batch updates landed.
        reset_stats(stack.base_url)
        started = time.monotonic()
        stack.worker = start_worker(stack.env, stack.tmp / "worker.log")
        deadline = started + 120
        while time.monotonic() < deadline and stack.worker.poll() is None:
            if stack.sandbox.snapshot()["requests"].get(BATCH_UPDATE, 0) >= args.kill_after_writes:
                break
            time.sleep(0.001)
        os.kill(stack.worker.pid, signal.SIGKILL)
        stack.worker.wait(10)
        killed_at = time.monotonic()
        at_kill = stack.sandbox.snapshot()["requests"]
        written_before = sum(1 for c in targets if integration_writes(stack.sandbox, c) > before_writes[c])
        with engine.connect() as conn:
            statuses = Counter(dict(conn.execute(sa.select(webhook_events.c.status, sa.func.count())
                                                 .where(webhook_events.c.id > queue_floor)
                                                 .group_by(webhook_events.c.status)).all()))
            planned = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
        print(f"kill -9 after {killed_at - started:.2f}s: batch updates {at_kill.get(BATCH_UPDATE, 0)}, "
              f"batch reads {at_kill.get(BATCH_READ, 0)}; contacts written {written_before}/{len(targets)}; "
              f"queue {dict(statuses)}; "
              f"outbox rows {planned}", flush=True)

        # Restart and wait for the queue to drain.
        restarted = time.monotonic()
        stack.worker = start_worker(stack.env, stack.tmp / "worker.log")
        drained_at = None
        while time.monotonic() - restarted < args.drain_timeout:
            with engine.connect() as conn:
                left = conn.execute(sa.select(sa.func.count()).select_from(webhook_events).where(
                    webhook_events.c.id > queue_floor, webhook_events.c.status != "done")).scalar_one()
                planned = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
            if left == 0 and planned == 0:
                drained_at = time.monotonic()
                break
            time.sleep(0.1)
        time.sleep(1.0)  # anything the restarted worker would still do, it does now
        stop(stack.worker)
        stack.wait_webhooks_idle(10)
        final = stats(stack.base_url)["requests"]
        writes = {c: integration_writes(stack.sandbox, c) - before_writes[c] for c in targets}
        mql = sum(1 for c in targets if props(stack.sandbox, c).get(hp.LEAD_STATUS) == hp.MQL_STATUS)
        with engine.connect() as conn:
            audited = Counter(r[0] for r in conn.execute(sa.select(audit.c.contact_id).where(
                audit.c.id > audit_floor, audit.c.property == hp.LEAD_STATUS)))
            left = conn.execute(sa.select(sa.func.count()).select_from(webhook_events).where(
                webhook_events.c.id > queue_floor, webhook_events.c.status != "done")).scalar_one()
    finally:
        stack.close()
        engine.dispose()

    histogram = Counter(writes.values())
    twice = sorted((c for c, n in writes.items() if n > 1), key=int)
    never = sorted((c for c, n in writes.items() if n == 0), key=int)
    audit_hist = Counter(audited.get(c, 0) for c in targets)
    print()
    drain = f"{drained_at - restarted:.1f}s" if drained_at else f"NOT within {args.drain_timeout:.0f}s"
    kill_to_drain = f"{drained_at - killed_at:.1f}s" if drained_at else "-"
    print(f"recovery: restart -> queue drained in {drain} (kill -> drained {kill_to_drain}; lease 30 s)")
    print(f"events not done: {left}")
    print(f"writes per contact at the sandbox (INTEGRATION changes of {hp.LAST_SCORED}): "
          f"{dict(sorted(histogram.items()))}  (count: contacts)")
    print(f"audit rows for {hp.LEAD_STATUS} per contact: {dict(sorted(audit_hist.items()))}")
    print(f"MQL in the sandbox: {mql}/{len(targets)}")
    print(f"batch updates: {final.get(BATCH_UPDATE, 0)} in all ({at_kill.get(BATCH_UPDATE, 0)} before the kill); "
          f"batch reads {final.get(BATCH_READ, 0)}; contact writes {sum(writes.values())} for {len(targets)} contacts")
    if twice:
        print(f"written twice or more: {len(twice)} e.g. {twice[:10]}")
    if never:
        print(f"never written: {len(never)} e.g. {never[:10]}")
    ok = (drained_at is not None and left == 0 and not twice and not never and mql == len(targets)
          and audit_hist == Counter({1: len(targets)}))
    print(f"target every contact rescored, none written twice: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
