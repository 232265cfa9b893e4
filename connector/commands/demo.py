"""`connector demo`: the whole connector against a built-in sandbox portal, on a fresh machine.

Starts the sandbox in-process on a free port with a seeded B2B portal, the web process (webhook
endpoint and the dashboard, with a one-time password) and the worker's queue consumer, runs setup
and a first full sync, shows what happened (MQLs by path, a few explanations, the calls made
against HubSpot's limits), then keeps the sandbox's activity clock and webhooks running for a
bounded time (or until Ctrl-C), printing each new MQL as sales would see it: who, what they just
did, the score against the threshold and the path. It ends with its numbers in words.
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
from urllib.parse import urlsplit

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
from connector.writeback import display_name

DEMO_DIR = Path("var/demo")


def run_demo(*, contacts: int, seed: int, tier: str, seconds: float, linger: float = 0.0, out=sys.stdout) -> int:
    """`linger`: keep the dashboard up this many seconds after the live part (Ctrl-C ends it)."""
    # The demo speaks for itself: per-request and per-delivery log lines would drown it. The levels
    # are given back after: a demo run in-process (a test) must not mute the loggers for what follows.
    noisy = [logging.getLogger(name) for name in ("werkzeug", "connector.web", "connector.worker")]
    levels = [logger.level for logger in noisy]
    for logger in noisy:
        logger.setLevel(logging.WARNING)
    try:
        return _run_demo(contacts=contacts, seed=seed, tier=tier, seconds=seconds, linger=linger, out=out)
    finally:
        for logger, level in zip(noisy, levels, strict=True):
            logger.setLevel(level)


def _run_demo(*, contacts: int, seed: int, tier: str, seconds: float, linger: float, out) -> int:
    from werkzeug.serving import make_server

    from connector.sandbox import DEFAULT_TOKEN, Sandbox, SandboxConfig
    from connector.web import create_app

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    secret = secrets.token_hex(16)
    password = secrets.token_urlsafe(12)  # this run's dashboard only: printed once, never stored
    settings = Settings(hubspot_access_token=DEFAULT_TOKEN, hubspot_client_secret=secret,
                        database_url=f"sqlite:///{DEMO_DIR / 'state.db'}", scoring_config=default_scoring_config(),
                        dashboard_password=password)
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
        say(f"  sandbox at {sandbox.base_url}, webhooks to {hook_url}")
        say(f"  dashboard: {hook_url.rsplit('/webhooks', 1)[0]}/dashboard/  (any user name; one-time password "
            f"{password}; open it once the first sync is done)\n")
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
        say(f"   {mqls_in_words(summary.mql_new, summary.by_path, rules.policy.mql_threshold)}")
        say("\n3. Why? A few explanations (connector explain ID):")
        for cid in _examples(sandbox):
            say(_indent(render(explain_contact(ctx.gateway, store, rules, cid))))
        say(f"\n4. Live: the sandbox's visitors keep browsing, filling forms and booking meetings; HubSpot sends "
            f"webhooks and the worker rescores within seconds. Running {seconds:.0f}s (Ctrl-C to stop).")
        code = _live(ctx, sandbox, seconds, say)
        if linger > 0:
            say(f"\nThe dashboard stays up for {linger:.0f}s more (Ctrl-C to stop).")
            try:
                time.sleep(linger)
            except KeyboardInterrupt:
                pass
        return code
    finally:
        sandbox.stop()
        web.shutdown()
        store.dispose()


def _live(ctx: Context, sandbox, seconds: float, say) -> int:
    from connector.sandbox.generator import ActivityClock

    consumer = WebhookConsumer(ctx.gateway, ctx.store, ctx.rules, lease_ms=10_000)
    stop = threading.Event()
    totals = {"events": 0, "written": 0, "scored": 0}

    def consume() -> None:
        while not stop.is_set():
            result = consumer.run_once()
            totals["events"] += result.events
            totals["written"] += result.written
            totals["scored"] += result.scored
            if not result.events:
                stop.wait(0.2)

    consumer_thread = threading.Thread(target=consume, name="demo-consumer", daemon=True)
    consumer_thread.start()
    clock = ActivityClock(seed=1, rate_per_s=20.0)
    contacts = sandbox.portal.store("contacts")
    ids = [str(i) for i in contacts.order]
    last_audit = _last_audit_id(ctx.store)
    last_did: dict[str, str] = {}  # contact -> what it did last, as a person would say it
    did_counts: dict[str, int] = {}
    mqls: dict[str, int] = {}
    started = last_tick = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            time.sleep(0.5)
            now = time.monotonic()
            batch = clock.next_batch(ids, datetime.now(UTC), now - last_tick)
            last_tick = now
            if batch:
                sandbox.portal.apply_activity(batch)
                for item in batch:
                    last_did[str(item["contactId"])] = did(item)
                    did_counts[item["type"]] = did_counts.get(item["type"], 0) + 1
            for row in ctx.store.audit_since(last_audit, hp.LEAD_STATUS, hp.MQL_STATUS):
                last_audit = row["id"]
                cid = row["contact_id"]
                props = contacts.records[cid].properties if cid in contacts.records else {}
                path = props.get(hp.PATH) or "none"
                mqls[path] = mqls.get(path, 0) + 1
                say("   " + mql_line(cid, display_name(props), last_did.get(cid, "was rescored"), props,
                                     ctx.rules.policy))
    except KeyboardInterrupt:
        say("   stopped")
    finally:
        stop.set()
        consumer_thread.join(timeout=30)
    stats = sandbox.snapshot()
    say("\n" + closing_summary(time.monotonic() - started, did_counts, stats["webhooks"]["sent"], totals, mqls,
                               ctx.rules.policy.mql_threshold))
    say(f"State kept in {DEMO_DIR}/state.db (`connector report` reads it with DATABASE_URL=sqlite:///"
        f"{DEMO_DIR}/state.db).")
    say("Next: point the connector at your portal (README: From zero to live).")
    return 0


_DID = {"page_view": "viewed {url}", "form_submission": "submitted the {formName!r} form",
        "meeting_booked": "booked a meeting", "email_open": "opened a marketing email",
        "email_click": "clicked a link in a marketing email", "email_delivered": "was sent a marketing email",
        "email_bounce": "had a marketing email bounce", "email_unsubscribe": "unsubscribed from marketing email"}


def did(item: dict) -> str:
    """What a sandbox activity item means, as a person would say it."""
    words = _DID.get(item.get("type", ""), "did " + str(item.get("type")))
    page = urlsplit(str(item.get("url") or "")).path or "a page"
    return words.format(url=page, formName=item.get("formName") or "a")


def mql_line(cid: str, name: str, just_did: str, props: dict, policy) -> str:
    """One new MQL for the feed: who, what they just did, the score against the threshold, the path.
    A hand-raise is explained as a hand-raise (it qualifies whatever the score), never as a score."""
    score, fit = props.get(hp.SCORE) or "?", props.get(hp.FIT_SCORE) or "?"
    path = props.get(hp.PATH) or "none"
    who = f"{name or 'contact ' + cid} (contact {cid}) {just_did}"
    if path == "hand_raise":
        why = (f"MQL by hand-raise: they raised their hand, which qualifies at any score (score {score}, "
               f"threshold {policy.mql_threshold:g})")
    elif path == "score":
        why = (f"MQL by score: {score} reached the threshold {policy.mql_threshold:g} "
               f"(fit {fit}, at least {policy.fit_minimum:g} needed)")
    else:
        why = f"MQL ({path}); score {score} against the threshold {policy.mql_threshold:g}"
    return f"-> {who}. {why}."


def mqls_in_words(total: int, by_path: dict[str, int], threshold: float) -> str:
    if not total:
        return "No contact became an MQL."
    parts = []
    if by_path.get("hand_raise"):
        parts.append(f"{by_path['hand_raise']:,} because they raised their hand (a form or meeting the scoring "
                     "config counts as one: demo, trial, pricing, contact sales)")
    if by_path.get("score"):
        parts.append(f"{by_path['score']:,} because their score reached {threshold:g}")
    rest = total - by_path.get("hand_raise", 0) - by_path.get("score", 0)
    if rest:
        parts.append(f"{rest:,} otherwise")
    return f"{total:,} contacts became MQLs: " + "; ".join(parts) + "."


def closing_summary(seconds: float, did_counts: dict[str, int], webhooks_sent: int, totals: dict[str, int],
                    mqls: dict[str, int], threshold: float) -> str:
    """The live part's numbers, in words."""
    acts = sum(did_counts.values())
    top = ", ".join(f"{n:,} {kind.replace('_', ' ')}s" for kind, n in
                    sorted(did_counts.items(), key=lambda kv: -kv[1])[:3])
    lines = [f"Done. In {seconds:.0f} s the sandbox's visitors did {acts:,} things ({top or 'nothing'}).",
             f"HubSpot sent {webhooks_sent:,} webhook events about them; the worker processed {totals['events']:,}, "
             f"rescored {totals['scored']:,} contacts and rewrote {totals['written']:,} of them (only those whose "
             "score, grade, reasons or status changed are written).",
             mqls_in_words(sum(mqls.values()), mqls, threshold).replace("contacts became", "contacts became new")]
    return "\n".join(lines)


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
