"""Command line: `connector <command>`. Loads `.env` here and nowhere else, so tests never read it.

Exit status: 0 done; 1 the work ran but some writes failed (they are recorded); 2 refused to start
or stopped: bad settings or config, bad token, missing scope, HubSpot or the store unreachable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time

from connector.core import properties as hp
from connector.errors import ConfigError, ConnectorError
from connector.settings import Settings

log = logging.getLogger("connector")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The CLI's parser. The sandbox's own options are built only when `argv` names the sandbox
    command (or is unknown): importing the sandbox costs every other command ~0.13 s of start-up."""
    parser = argparse.ArgumentParser(prog="connector", description="HubSpot lead-scoring connector")
    parser.add_argument("--env-file", default=".env", help="dotenv file to load (default: .env; missing is fine)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("setup", help="create the connector's properties and the MQL option; upgrade the store")
    p.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    p.set_defaults(handler=cmd_setup)

    p = sub.add_parser("sync", help="pull, score, decide and write back")
    p.add_argument("--full", action="store_true", help="walk every contact, not just the changed ones")
    p.add_argument("--dry-run", action="store_true", help="print the planned changes, write nothing")
    p.add_argument("--limit", type=int, metavar="N", help="stop after N contacts (a trial; the cursor stays)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=cmd_sync)

    p = sub.add_parser("explain", help="a contact's scores, the rules that fired, and the decision")
    p.add_argument("contact", metavar="ID_OR_EMAIL")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_explain)

    p = sub.add_parser("calibrate", help="learn points and the MQL line from who really converted; write a "
                                         "candidate config (never writes to HubSpot)")
    p.add_argument("--out", default="scoring.candidate.yaml", metavar="PATH",
                   help="where the candidate config is written (default: scoring.candidate.yaml)")
    p.add_argument("--apply", action="store_true",
                   help="also copy the candidate over SCORING_CONFIG (the old one is kept as a .bak)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--outcome-stages", default="opportunity,customer", metavar="STAGE,STAGE",
                   help="lifecycle stages that count as converted (default: opportunity,customer)")
    p.add_argument("--window-days", type=float, default=180.0,
                   help="a decision converts if it reaches an outcome stage within this many days (180)")
    p.add_argument("--decision-age-days", type=float, default=30.0,
                   help="a contact that never became an MQL is judged at this age (30)")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only decisions from this day")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="only decisions up to this day")
    p.add_argument("--properties", metavar="NAME,NAME",
                   help="candidate properties for new rules (default: every eligible contact property)")
    p.add_argument("--max-rules", type=int, default=30, help="rule budget for fit + engagement (30)")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--mqls-per-week", type=float, metavar="N",
                        help="MQL line: the most MQLs per week sales can take")
    target.add_argument("--min-conversion", type=float, metavar="RATE",
                        help="MQL line: the lowest line whose MQLs convert at RATE (e.g. 0.1)")
    p.add_argument("--allow-flat-history", action="store_true",
                   help="learn even if the history looks imported (the backtest is then not point-in-time)")
    p.add_argument("--refresh", action="store_true", help="read HubSpot again even if a recent read is cached")
    p.add_argument("--min-outcomes", type=int, default=50, help="refuse with fewer converted contacts (50)")
    p.add_argument("--no-activity", action="store_true",
                   help="read no meetings, calls, emails or webinars: property candidates only, and the "
                        "current config's activity rules valued 0")
    p.set_defaults(handler=cmd_calibrate)

    p = sub.add_parser("shadow", help="compare the shadow config (SHADOW_SCORING_CONFIG) with the live one on "
                                      "the outcomes seen since the shadow started")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_shadow)

    p = sub.add_parser("report", help="funnel, conversion, velocity, handoff, cost per MQL/SQL and calibration, "
                                      "from the store (no HubSpot call)")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="first day (default: 12 weeks or months back)")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="last day, included (default: today, UTC)")
    p.add_argument("--by", choices=("week", "month"), default="month", help="period (default: month)")
    p.add_argument("--spend", metavar="PATH", help="spend CSV (default: SPEND_FILE, config/spend.csv)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("--csv", action="store_true", help="print every number as CSV: section,group,item,metric,value")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("demo", help="run everything against a built-in sandbox portal")
    p.add_argument("--contacts", type=int, default=2000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--tier", default="professional")
    p.add_argument("--seconds", type=float, default=60.0, help="how long to keep the live part running")
    p.add_argument("--linger", type=float, default=0.0, metavar="SECONDS",
                   help="keep the dashboard up this long after the live part (default: 0)")
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("migrate", help="create or upgrade the state store's schema (safe on every deploy)")
    p.set_defaults(handler=cmd_migrate)

    p = sub.add_parser("doctor", help="check settings, token, scopes, properties, store, API headroom and the webhook "
                                      "URL; exit 0 only if all pass")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(handler=cmd_doctor)

    p = sub.add_parser("worker", help="scheduled syncs and the webhook queue consumer")
    p.set_defaults(handler=cmd_worker)

    p = sub.add_parser("run", help="web endpoint and worker in one process (the embedded default)")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("web", help="the webhook endpoint on HOST:PORT (default 127.0.0.1:8000), "
                                   "on the Procfile's server")
    p.set_defaults(handler=cmd_web)

    p = sub.add_parser("sandbox", help="serve the stand-in HubSpot portal")
    if argv is None or "sandbox" in argv or "-h" in argv or "--help" in argv:
        from connector.sandbox import cli as sandbox_cli

        sandbox_cli.add_arguments(p)
        p.set_defaults(handler=sandbox_cli.run, raw=True)
    return parser


# -- the commands: build what they need, run, print ------------------------------------------


def cmd_setup(args: argparse.Namespace) -> int:
    from connector.commands.setup import needed_scopes, run_setup
    from connector.context import build_context

    ctx = build_context()
    report = run_setup(ctx.gateway, ctx.store, ctx.rules, ctx.settings.hubspot_access_token or "", dry_run=args.dry_run)
    for line in report.done:
        print(f"  + {line}")
    for line in report.already:
        print(f"  = {line} (already there)")
    for line in report.warnings:
        print(f"  ! {line}")
    print("Scopes the app needs:")
    for scope, why in needed_scopes(ctx.rules).items():
        print(f"  {scope}: {why}")
    print("Webhook subscriptions the rules need (declare them in config/hubspot-app):")
    for sub in report.subscriptions:
        print(f"  {sub}")
    print("setup " + ("dry run: nothing changed" if args.dry_run else "done"))
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from connector.context import build_context, check_portal, preflight

    ctx = build_context()
    # The portal check costs a call. An incremental sync makes it just before its first planned
    # write (or a dry run's first planned change), so one with nothing to do stays at two calls.
    # A full pass makes it now, with the token check, and asks for its first list page before
    # the store's modules load (connector.list_path.FirstListPage says why).
    preflight(ctx, portal=args.full)
    from connector.handoff.channels import alert_channels

    channels = alert_channels(ctx.settings, ctx.rules)
    first_list_page = _first_list_page(ctx, args, channels) if args.full else None

    from connector.handoff.assign import assigner_for
    from connector.handoff.sender import sender_for
    from connector.progress import ProgressBar
    from connector.store import lock_holder
    from connector.sync import SyncJob

    ctx.store.upgrade()  # local and idempotent; a dry run reads the store too
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() and not args.json else None
    job = SyncJob(ctx.gateway, ctx.store, ctx.rules, overlap_s=ctx.settings.search_overlap_minutes * 60,
                  dry_run=args.dry_run, limit=args.limit, progress=bar.update if bar else None,
                  before_first_write=None if args.full else lambda: check_portal(ctx), shadow=ctx.shadow,
                  alert_channels=channels, assigner=assigner_for(ctx), first_list_page=first_list_page)
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
    if summary.alerts and not args.dry_run:
        # Alerts this sync recorded go out now (the worker sends them too, as they come).
        sent = sender_for(ctx).run_once(limit=1000)
        log.info("alerts: %d delivered, %d to retry, %d failed", sent.delivered, sent.retried, sent.failed)
    if args.json:
        print(json.dumps(summary.as_dict(), default=str))
    else:
        if args.dry_run:
            print_planned(summary)
        print(summary.line())
    return 1 if summary.failed else 0


def _first_list_page(ctx, args: argparse.Namespace, channels: tuple[str, ...]):
    """A full pass's first list page, asked for now with the properties SyncJob's WritePath will
    read (a dry run: names too, no shadow, no owners); None where the pass's list pages get no
    share of the window at its start (connector.list_path.list_share). Should the two property
    lists ever differ, the pass reads its own first page: one call more, nothing else."""
    from connector.core.reads import contact_reads
    from connector.list_path import FirstListPage, list_share

    window, search = ctx.gateway.window, ctx.gateway.search_window
    if list_share(window.limit, window.interval_s, search.limit, 0.0 if args.dry_run else 1.0) <= 0:
        return None
    writing = not args.dry_run
    alerting = writing and bool((channels if ctx.rules.alerts is not None else ()) or ctx.rules.assignment)
    properties = contact_reads(ctx.rules, names=args.dry_run, owners=alerting,
                               shadow=ctx.shadow.rules if writing and ctx.shadow is not None else None)
    return FirstListPage(ctx.gateway, properties, lambda: int(time.time() * 1000))


def print_planned(summary) -> None:
    """Every change a dry run planned: contact (name and id), property, now -> new, why, and the
    reasons the contact would carry. Says how many it could not keep, if any."""
    planned = summary.planned
    if not planned:
        print("no changes planned")
        return
    hidden = (hp.REASONS, hp.LAST_SCORED, hp.STATE)
    print(f"{'contact':>12}  {'property':<24} {'now':<26} -> new")
    for change in planned:
        print(f"{change.contact_id:>12}  {change.name or '(no name or email in HubSpot)'}")
        for prop, value in change.changes.items():
            if prop in hidden:
                continue
            print(f"{'':>12}  {prop:<24} {str(change.previous.get(prop) or '-')[:26]:<26} -> {value}")
        print(f"{'':>12}  why: {change.why}")
        reasons = change.changes.get(hp.REASONS)
        if reasons:
            print(f"{'':>12}  reasons: {'; '.join(reasons.splitlines())}")
    print(f"{len(planned)} contacts would change"
          + (f"; {summary.planned_left_out} more not listed (a dry run lists at most {len(planned)})"
             if summary.planned_left_out else ""))


def cmd_explain(args: argparse.Namespace) -> int:
    from connector.commands.explain import explain_contact, render
    from connector.context import build_context

    ctx = build_context()
    report = explain_contact(ctx.gateway, ctx.store, ctx.rules, args.contact)
    print(json.dumps(report, default=str, indent=2) if args.json else render(report))
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from connector.calibrate import report
    from connector.commands.calibrate import options_from_args, run_calibration
    from connector.context import build_context, preflight
    from connector.progress import ProgressBar

    options = options_from_args(args)  # a bad flag stops here, before any call
    ctx = build_context()
    preflight(ctx, portal=False)
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() and not args.json else None
    try:
        run = run_calibration(ctx, options, out=args.out, apply=args.apply, refresh=args.refresh,
                              progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    calls = ctx.gateway.counters.snapshot().requests  # the whole command's: token, definitions, read
    extra = {"calls": calls, "read_calls": run.read.calls, "cached": run.read.from_cache,
             "seconds": round(run.seconds, 2),
             "written": run.written, "applied": run.applied, "backup": run.backup}
    if args.json:
        print(json.dumps(report.as_json(run.result, extra), default=str, indent=2))
    else:
        print(report.as_text(run.result, extra), end="")
        print(f"calibrate done: contacts={run.result.counts['contacts']} calls={calls} "
              f"took={run.seconds:.1f}s")
    return 0


def cmd_shadow(args: argparse.Namespace) -> int:
    """Reads the store only: no HubSpot call, no token needed."""
    from connector.calibrate.shadow_compare import as_text, compare
    from connector.shadow import ShadowScorer
    from connector.store import Store

    settings = Settings.from_env()
    store = Store.from_settings(settings)
    store.upgrade()
    scorer = ShadowScorer.load(settings.shadow_scoring_config) if settings.shadow_scoring_config else None
    keys = store.shadow_keys()
    key = scorer.key if scorer else (keys[0][0] if keys else None)
    if key is None or not any(k == key for k, _, _ in keys):
        raise ConnectorError("no shadow scores yet: set SHADOW_SCORING_CONFIG to a candidate config "
                             "(e.g. from `connector calibrate`) and let the sync and worker run")
    result = compare(store.shadow_rows(key))
    if args.json:
        print(json.dumps({"key": key, **result}, default=str, indent=2))
    else:
        print(as_text(result, key, scorer.path if scorer else None), end="")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Reads the store only: no HubSpot call, no token needed."""
    import time

    from connector.commands.report import load_report
    from connector.core.rules_file import load_rules
    from connector.report.periods import window
    from connector.report.render import as_csv, as_text
    from connector.store import Store

    settings = Settings.from_env()
    rules = load_rules(settings.scoring_config)
    span = window(args.since, args.until, args.by, int(time.time() * 1000))  # a bad flag stops here
    store = Store.from_settings(settings)
    store.upgrade()
    report = load_report(store, rules, span, args.spend or settings.spend_file)
    if args.json:
        print(json.dumps(report, indent=2))
    elif args.csv:
        print(as_csv(report), end="")
    else:
        print(as_text(report), end="")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Upgrade the store's schema (the Procfile's release phase): no HubSpot call, no token needed."""
    from connector.store import Store

    settings = Settings.from_env()
    store = Store.from_settings(settings)
    version = store.upgrade()
    print(f"state store schema at version {version}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from connector.commands.doctor import doctor_exit_code, run_doctor

    settings = Settings.from_env()  # bad values: ConfigError -> exit 2 with every problem (cli.main)
    checks = run_doctor(settings)
    code = doctor_exit_code(checks)
    if args.json:
        status = "ok" if code == 0 else "config error" if code == 2 else "failed"
        print(json.dumps({"status": status, "exit_code": code, "passed": sum(c.ok for c in checks),
                          "failed": [c.name for c in checks if not c.ok],
                          "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]}, indent=2))
    else:
        for check in checks:
            print(check.line())
        failed = [c.name for c in checks if not c.ok]
        print(f"doctor: {len(checks) - len(failed)} of {len(checks)} checks passed"
              + (f"; failed: {', '.join(failed)}" if failed else ""))
    return code


def cmd_demo(args: argparse.Namespace) -> int:
    from connector.commands.demo import run_demo

    return run_demo(contacts=args.contacts, seed=args.seed, tier=args.tier, seconds=args.seconds, linger=args.linger)


def cmd_worker(args: argparse.Namespace) -> int:
    from connector.context import build_context, preflight
    from connector.worker import run_worker

    ctx = build_context()
    preflight(ctx)
    ctx.store.upgrade()
    return run_worker(ctx)


def cmd_run(args: argparse.Namespace) -> int:
    from connector.context import build_context, preflight
    from connector.worker import run_worker

    ctx = build_context()
    preflight(ctx)
    ctx.store.upgrade()
    return run_worker(ctx, with_web=True)


def cmd_web(args: argparse.Namespace) -> int:
    from connector.serve import serve
    from connector.web import create_app

    settings = Settings.from_env(require=("hubspot_client_secret",))
    serve(create_app(settings), settings)  # on HOST:PORT, the Procfile's server (connector/serve.py)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    from dotenv import load_dotenv

    if not getattr(args, "raw", False):
        load_dotenv(args.env_file, override=False)
    level = "DEBUG" if args.verbose else os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=getattr(logging, level, logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if getattr(args, "raw", False):
        return int(args.handler(args) or 0)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:
        print("connector: configuration error:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except ConnectorError as exc:
        print(f"connector: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("connector: interrupted; progress so far is saved and the next run resumes it", file=sys.stderr)
        return 130


def run() -> None:
    """The `connector` command (pyproject's script, `python -m connector`): main(), then an exit
    that skips tearing the interpreter down. Freeing the modules a command loads (SQLAlchemy, the
    SDK, ours) took 75-120 ms at the end of every command here, work nobody waits for: by now
    each command has committed its store writes and joined its threads; output and logs are
    flushed below. While a thread that is not a daemon still runs, the exit is the usual one,
    which waits for it."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # the reader went away (`connector ... | head`): as Python says at exit
        code = code or 120
    logging.shutdown()
    if any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        raise SystemExit(code)
    os._exit(code)


if __name__ == "__main__":
    run()
