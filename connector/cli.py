"""Command line: `connector <command>`. Loads `.env` here and nowhere else, so tests never read it.

Exit status: 0 done; 1 the work ran but some writes failed (they are recorded); 2 refused to start
or stopped: bad settings or config, bad token, missing scope, HubSpot or the store unreachable.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable

from connector.errors import ConfigError, ConnectorError

log = logging.getLogger("connector")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="connector", description="HubSpot lead-scoring connector")
    parser.add_argument("--env-file", default=".env", help="dotenv file to load (default: .env; missing is fine)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("setup", help="create the connector's properties and the MQL option; upgrade the store")
    p.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    p.set_defaults(handler=_cmd("setup"))

    p = sub.add_parser("sync", help="pull, score, decide and write back")
    p.add_argument("--full", action="store_true", help="walk every contact, not just the changed ones")
    p.add_argument("--dry-run", action="store_true", help="print the planned changes, write nothing")
    p.add_argument("--limit", type=int, metavar="N", help="stop after N contacts (a trial; the cursor stays)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=_cmd("sync"))

    p = sub.add_parser("explain", help="a contact's scores, the rules that fired, and the decision")
    p.add_argument("contact", metavar="ID_OR_EMAIL")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cmd("explain"))

    p = sub.add_parser("demo", help="run everything against a built-in sandbox portal")
    p.add_argument("--contacts", type=int, default=2000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--tier", default="professional")
    p.add_argument("--seconds", type=float, default=60.0, help="how long to keep the live part running")
    p.set_defaults(handler=_cmd("demo"))

    p = sub.add_parser("migrate", help="create or upgrade the state store's schema (safe on every deploy)")
    p.set_defaults(handler=_cmd("migrate"))

    p = sub.add_parser("doctor", help="check settings, token, scopes, properties, store, API headroom and the webhook URL; exit 0 only if all pass")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(handler=_cmd("doctor"))

    p = sub.add_parser("worker", help="scheduled syncs and the webhook queue consumer")
    p.set_defaults(handler=_cmd("worker"))

    p = sub.add_parser("run", help="web endpoint and worker in one process (the embedded default)")
    p.set_defaults(handler=_cmd("run"))

    p = sub.add_parser("web", help="the webhook endpoint on the development server (use the Procfile's gunicorn in production)")
    p.set_defaults(handler=_cmd("web"))

    from connector.sandbox import cli as sandbox_cli

    p = sub.add_parser("sandbox", help="serve the stand-in HubSpot portal")
    sandbox_cli.add_arguments(p)
    p.set_defaults(handler=sandbox_cli.run, raw=True)
    return parser


def _cmd(name: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        from connector import commands

        return getattr(commands, name)(args)
    return handler


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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


if __name__ == "__main__":
    sys.exit(main())
