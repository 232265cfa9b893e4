"""What each CLI command does: build settings, rules, store and gateway, run, print."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

from connector import hubspot_properties as hp
from connector.errors import ConnectorError
from connector.gateway import Gateway
from connector.rules import RuleSet, load_rules
from connector.settings import Settings
from connector.store import Store, lock_holder


@dataclass
class Context:
    settings: Settings
    rules: RuleSet
    store: Store
    gateway: Gateway


def build_context(*, require_token: bool = True, settings: Settings | None = None) -> Context:
    """Settings and the scoring config are validated first: a bad one stops us before any call."""
    settings = settings or Settings.from_env(require=("hubspot_access_token",) if require_token else ())
    rules = load_rules(settings.scoring_config)
    store = Store.from_settings(settings)
    gateway = make_gateway(settings)
    return Context(settings, rules, store, gateway)


def make_gateway(settings: Settings) -> Gateway:
    return Gateway(settings.hubspot_access_token or "", settings.hubspot_api_base,
                   requests_per_10s=settings.hubspot_requests_per_10s,
                   search_per_second=settings.hubspot_search_per_second,
                   connect_timeout_s=settings.http_connect_timeout_s,
                   read_timeout_s=settings.http_read_timeout_s)


def preflight(ctx: Context) -> None:
    """One cheap call that proves the API base answers, the token works and has the scopes."""
    from connector.setup import check_scopes

    check_scopes(ctx.gateway, ctx.settings.hubspot_access_token or "")


def setup(args: argparse.Namespace) -> int:
    from connector.setup import REQUIRED_SCOPES, run_setup

    ctx = build_context()
    report = run_setup(ctx.gateway, ctx.store, ctx.rules, ctx.settings.hubspot_access_token or "", dry_run=args.dry_run)
    for line in report.done:
        print(f"  + {line}")
    for line in report.already:
        print(f"  = {line} (already there)")
    for line in report.warnings:
        print(f"  ! {line}")
    print("Scopes the app needs:")
    for scope, why in REQUIRED_SCOPES.items():
        print(f"  {scope}: {why}")
    print("Webhook subscriptions the rules need (declare them in config/hubspot-app):")
    for sub in report.subscriptions:
        print(f"  {sub}")
    print("setup " + ("dry run: nothing changed" if args.dry_run else "done"))
    return 0


def sync(args: argparse.Namespace) -> int:
    from connector.progress import ProgressBar
    from connector.sync import SyncJob

    ctx = build_context()
    preflight(ctx)
    ctx.store.upgrade()  # local and idempotent; a dry run reads the store too
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() and not args.json else None
    job = SyncJob(ctx.gateway, ctx.store, ctx.rules, overlap_s=ctx.settings.search_overlap_minutes * 60,
                  dry_run=args.dry_run, limit=args.limit, progress=bar.update if bar else None)
    try:
        if args.dry_run:
            summary = job.run(full=args.full)
        else:
            with ctx.store.job_lock("sync", lock_holder()) as held:
                if not held:
                    raise ConnectorError("another sync is running (the worker?): wait for it, or stop it first")
                summary = job.run(full=args.full)
    finally:
        if bar:
            bar.close()
    if args.json:
        print(json.dumps(summary.as_dict(), default=str))
    else:
        if args.dry_run:
            print_planned(summary.planned)
        print(summary.line())
    return 1 if summary.failed else 0


def print_planned(planned: list) -> None:
    if not planned:
        print("no changes planned")
        return
    shown = planned[:50]
    print(f"{'contact':>12}  {'property':<24} {'now':<26} -> new")
    for change in shown:
        for prop, value in change.changes.items():
            if prop in (hp.REASONS, hp.LAST_SCORED):
                continue
            print(f"{change.contact_id:>12}  {prop:<24} {str(change.previous.get(prop) or '-')[:26]:<26} -> {value}")
        print(f"{'':>12}  why: {change.why}")
    if len(planned) > len(shown):
        print(f"... and {len(planned) - len(shown)} more contacts")


def explain(args: argparse.Namespace) -> int:
    from connector.explain import explain_contact, render

    ctx = build_context()
    report = explain_contact(ctx.gateway, ctx.store, ctx.rules, args.contact)
    print(json.dumps(report, default=str, indent=2) if args.json else render(report))
    return 0


def migrate(args: argparse.Namespace) -> int:
    """Upgrade the store's schema (the Procfile's release phase): no HubSpot call, no token needed."""
    settings = Settings.from_env()
    store = Store.from_settings(settings)
    version = store.upgrade()
    print(f"state store schema at version {version}")
    return 0


def doctor(args: argparse.Namespace) -> int:
    from connector.doctor import doctor_exit_code, run_doctor

    settings = Settings.from_env()  # bad values: ConfigError -> exit 2 with every problem (cli.main)
    checks = run_doctor(settings)
    if args.json:
        print(json.dumps([{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks], indent=2))
    else:
        for check in checks:
            print(check.line())
        failed = [c.name for c in checks if not c.ok]
        print(f"doctor: {len(checks) - len(failed)} of {len(checks)} checks passed"
              + (f"; failed: {', '.join(failed)}" if failed else ""))
    return doctor_exit_code(checks)


def demo(args: argparse.Namespace) -> int:
    from connector.demo import run_demo

    return run_demo(contacts=args.contacts, seed=args.seed, tier=args.tier, seconds=args.seconds)


def worker(args: argparse.Namespace) -> int:
    from connector.worker import run_worker

    ctx = build_context()
    preflight(ctx)
    ctx.store.upgrade()
    return run_worker(ctx)


def run(args: argparse.Namespace) -> int:
    from connector.worker import run_worker

    ctx = build_context()
    preflight(ctx)
    ctx.store.upgrade()
    return run_worker(ctx, with_web=True)


def web(args: argparse.Namespace) -> int:
    from connector.web import create_app

    settings = Settings.from_env(require=("hubspot_client_secret",))
    app = create_app(settings)
    app.run(host="0.0.0.0", port=settings.port)
    return 0


__all__ = ["Context", "build_context", "ConnectorError"]
