"""`connector sandbox ...`: start the sandbox portal, print its base URL, serve until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from connector.sandbox.api import ALL_SCOPES
from connector.sandbox.faults import FaultSpec
from connector.sandbox.generator import BUYER_MODES, HISTORY_MODES
from connector.sandbox.limits import TIERS
from connector.sandbox.server import DEFAULT_TOKEN, Sandbox, SandboxConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tier", choices=sorted(TIERS), default="professional")
    parser.add_argument("--webhook-url")
    parser.add_argument("--client-secret", default="sandbox-client-secret")
    parser.add_argument("--faults", help='e.g. "500=0.02,503=0.01,slow=0.05:2.0,drop=0.01,seed=3"')
    parser.add_argument("--token", action="append", metavar="TOKEN[:SCOPE,SCOPE]",
                        help=f"accepted token, repeatable; default {DEFAULT_TOKEN}, every scope")
    parser.add_argument("--subscriptions", metavar="FILE",
                        help="a HubSpot project's webhooks-hsmeta.json")
    parser.add_argument("--webhook-format", choices=("legacy", "generic"), default="legacy")
    parser.add_argument("--activity-rate", type=float, default=0.0,
                        help="activities per second from the activity clock (0: off)")
    parser.add_argument("--history", choices=HISTORY_MODES, default="timeline",
                        help="seeded property history: timeline (a believable past) or flat "
                             "(everything imported a week ago)")
    parser.add_argument("--buyers", choices=BUYER_MODES, default="standard",
                        help="standard, or custom: buying propensity in custom properties the "
                             "default rules do not read")
    parser.add_argument("--webhook-duplicates", type=float, default=0.0, metavar="RATE",
                        help="share of delivered webhook batches delivered again, same eventIds "
                             "(0: none)")


def parse_tokens(values: list[str] | None) -> dict[str, frozenset[str] | None]:
    """`TOKEN` (every scope) or `TOKEN:scope,scope` -> {token: scopes or None}."""
    if not values:
        return {DEFAULT_TOKEN: None}
    tokens: dict[str, frozenset[str] | None] = {}
    for value in values:
        token, sep, scopes = value.partition(":")
        if not token:
            raise ValueError(f"--token {value!r}: empty token")
        tokens[token] = frozenset(s for s in scopes.split(",") if s) if sep else None
    return tokens


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    duplicates = getattr(args, "webhook_duplicates", 0.0)
    if not 0.0 <= duplicates <= 1.0:
        raise ValueError(f"--webhook-duplicates {duplicates}: must be between 0 and 1")
    return SandboxConfig(
        host=args.host, port=args.port, contacts=args.contacts, seed=args.seed, tier=args.tier,
        webhook_url=args.webhook_url, client_secret=args.client_secret,
        faults=FaultSpec.parse(args.faults), tokens=parse_tokens(args.token),
        subscriptions=args.subscriptions, webhook_format=args.webhook_format,
        activity_rate=args.activity_rate,
        duplicate_rate=duplicates,
        history=getattr(args, "history", "timeline"), buyers=getattr(args, "buyers", "standard"))


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"connector sandbox: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    sandbox = Sandbox(config).start()
    took = time.monotonic() - started
    print(sandbox.base_url, flush=True)
    tokens = ", ".join(f"{t} ({'all scopes' if s is None else ','.join(sorted(s)) or 'no scopes'})"
                       for t, s in config.tokens.items())
    print(f"sandbox: {sandbox.portal.count()} contacts, tier {config.tier}, tokens: {tokens}, "
          f"ready in {took:.1f}s; stats at {sandbox.base_url}/_sandbox/stats", file=sys.stderr,
          flush=True)
    if config.tokens and any(s is not None and not s <= ALL_SCOPES
                             for s in config.tokens.values()):
        print("sandbox: note: some --token scopes are not ones the sandbox checks",
              file=sys.stderr)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0
