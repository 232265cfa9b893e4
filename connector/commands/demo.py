"""`connector demo`: the whole connector against a built-in sandbox portal, on a fresh machine.

Starts the sandbox in-process on a free port with a seeded B2B portal, the webhook endpoint and the
worker's queue consumer, runs setup and a first full sync, shows what happened (MQLs by path, a few
explanations, the calls made against HubSpot's limits), then keeps the sandbox's activity clock and
webhooks running for a bounded time (or until Ctrl-C), printing each new MQL as sales would see it.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from connector.commands.explain import explain_contact, render
from connector.commands.setup import run_setup
from connector.consumer import WebhookConsumer
from connector.context import Context
from connector.core import properties as hp
from connector.core.rules_file import load_rules
from connector.gateway import Gateway
from connector.progress import ProgressBar
from connector.settings import Settings, default_scoring_config
from connector.store import Store
from connector.sync import SyncJob

DEMO_DIR = Path("var/demo")


def run_demo(*, contacts: int, seed: int, tier: str, seconds: float, out=sys.stdout) -> int:
    from werkzeug.serving import make_server

    from connector.sandbox import DEFAULT_TOKEN, Sandbox, SandboxConfig
    from connector.web import create_app

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    # The demo speaks for itself: per-request and per-delivery log lines would drown it.
    for noisy in ("werkzeug", "connector.web", "connector.worker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    secret = secrets.token_hex(16)
    settings = Settings(hubspot_access_token=DEFAULT_TOKEN, hubspot_client_secret=secret,
                        database_url=f"sqlite:///{DEMO_DIR / 'state.db'}", scoring_config=default_scoring_config())
    rules = load_rules(settings.scoring_config)
    store = Store.from_settings(settings)
    store.upgrade()

    # The webhook endpoint first: the sandbox needs its URL to send webhooks to.
    hook_url = f"http://127.0.0.1:{_free_port()}/webhooks/hubspot"
    settings = settings.with_overrides(webhook_public_url=hook_url)
    web = make_server("127.0.0.1", int(hook_url.split(":")[2].split("/")[0]), create_app(settings), threaded=True)
    threading.Thread(target=web.serve_forever, name="demo-web", daemon=True).start()

    say(f"Starting a sandbox HubSpot portal: {contacts} contacts, seed {seed}, {tier} tier limits ...")
    sandbox = Sandbox(SandboxConfig(contacts=contacts, seed=seed, tier=tier, webhook_url=hook_url,
                                    client_secret=secret)).start()
    settings = settings.with_overrides(hubspot_api_base=sandbox.base_url)
    ctx = Context(settings, rules, store, Gateway.from_settings(settings))
    try:
        say(f"  sandbox at {sandbox.base_url}, webhooks to {hook_url}\n")
        say("1. connector setup")
        report = run_setup(ctx.gateway, store, rules, DEFAULT_TOKEN, dry_run=False)
        for line in report.done:
            say(f"   + {line}")
        say("\n2. connector sync --full (reads by search at 5/s, writes in batches of 100)")
        bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
        summary = SyncJob(ctx.gateway, store, rules, overlap_s=settings.search_overlap_minutes * 60,
                          progress=bar.update if bar else None).run(full=True)
        if bar:
            bar.close()
        say(f"   {summary.line()}")
        stats = sandbox.snapshot()
        calls = sum(stats["requests"].values())
        say(f"   HubSpot calls: {calls} ({_per_call(stats)}); 429s: {sum(stats['rate_limited'].values())}")
        by_path = ", ".join(f"{k}: {v}" for k, v in sorted(summary.by_path.items())) or "none"
        say(f"   new MQLs: {summary.mql_new} ({by_path})")
        say("\n3. Why? A few explanations (connector explain ID):")
        for cid in _examples(sandbox):
            say(_indent(render(explain_contact(ctx.gateway, store, rules, cid))))
        say(f"\n4. Live: the sandbox's visitors keep browsing, filling forms and booking meetings; HubSpot sends "
            f"webhooks and the worker rescores within seconds. Running {seconds:.0f}s (Ctrl-C to stop).")
        return _live(ctx, sandbox, seconds, say)
    finally:
        sandbox.stop()
        web.shutdown()
        store.dispose()


def _live(ctx: Context, sandbox, seconds: float, say) -> int:
    from connector.sandbox.generator import ActivityClock

    consumer = WebhookConsumer(ctx.gateway, ctx.store, ctx.rules, lease_ms=10_000)
    stop = threading.Event()
    totals = {"events": 0, "written": 0}

    def consume() -> None:
        while not stop.is_set():
            result = consumer.run_once()
            totals["events"] += result.events
            totals["written"] += result.written
            if not result.events:
                stop.wait(0.2)

    consumer_thread = threading.Thread(target=consume, name="demo-consumer", daemon=True)
    consumer_thread.start()
    clock = ActivityClock(seed=1, rate_per_s=20.0)
    ids = [str(i) for i in sandbox.portal.store("contacts").order]
    last_audit = _last_audit_id(ctx.store)
    started = last_tick = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            time.sleep(0.5)
            now = time.monotonic()
            batch = clock.next_batch(ids, datetime.now(UTC), now - last_tick)
            last_tick = now
            if batch:
                sandbox.portal.apply_activity(batch)
            for row in ctx.store.audit_since(last_audit, hp.LEAD_STATUS, hp.MQL_STATUS):
                last_audit = row["id"]
                reasons = "; ".join((row["reasons"] or "").splitlines()[:2])
                say(f"   -> MQL now: contact {row['contact_id']}: {reasons}")
    except KeyboardInterrupt:
        say("   stopped")
    finally:
        stop.set()
        consumer_thread.join(timeout=30)
    stats = sandbox.snapshot()
    say(f"\nDone: {stats['webhooks']['sent']} webhook events sent, {totals['events']} processed, "
        f"{totals['written']} contacts rewritten. State kept in {DEMO_DIR}/state.db.")
    say("Next: point the connector at your portal (README: From zero to live).")
    return 0


def _examples(sandbox) -> list[str]:
    """One hand-raise MQL, one score MQL and one contact that is not an MQL, when there are."""
    picked: dict[str, str] = {}
    for record in sandbox.portal.store("contacts").records.values():
        path = record.properties.get(hp.PATH) or "none"
        key = path if record.properties.get(hp.LEAD_STATUS) == hp.MQL_STATUS else "not"
        picked.setdefault(key, record.id)
    return [picked[k] for k in ("hand_raise", "score", "not") if k in picked]


def _last_audit_id(store: Store) -> int:
    return store.last_audit_id()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _per_call(stats: dict) -> str:
    return ", ".join(f"{n} x {k}" for k, n in sorted(stats["requests"].items(), key=lambda kv: -kv[1]))


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())
