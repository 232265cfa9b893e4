"""The web process's HTTP server: waitress, set up so that slow or half-sent requests cannot hold
the threads that answer HubSpot.

    python -m connector.serve --host 0.0.0.0 --port $PORT     # the Procfile's web process
    connector web                                             # the same server on HOST:PORT
    connector run                                             # the same server beside the worker

Why waitress (docs/admin-guide.md, "The web server", and docs/benchmarks.md, "Slow clients"):
its single asyncore thread reads every request, headers and whole body, and only a complete request
is handed to a worker thread (https://docs.pylonsproject.org/projects/waitress/en/latest/design.html).
A client that sends half a request and stops holds a connection slot, never a thread; gunicorn's
gthread workers give a connection to a thread as soon as its first bytes arrive, so half-sent
requests took the Procfile's 2 x 4 threads (with 20 of them held open, 7 of 100 valid deliveries got
no answer within 10 s; with waitress, 100 of 100 were answered, p99 4.4 ms: bench/slow_clients.py).
Waitress also decodes chunked bodies, refuses bad framing with 400 and too-large bodies with 413
itself, without logging the client's bytes, and needs no monkey-patching (gunicorn's gevent worker
would, and SQLite's busy wait would then block every greenlet of the process). One change to its
behaviour: a transfer coding other than chunked is a 400 here, not waitress's 501 (RFC 9112 section
6.1 suggests 501; HubSpot never sends one, and a 5xx would count a client's malformed request as a
server error).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any

from waitress.channel import HTTPChannel  # type: ignore[import-untyped]
from waitress.parser import (  # type: ignore[import-untyped]
    HTTPRequestParser,
    ParsingError,
    TransferEncodingNotImplemented,
)
from waitress.server import MultiSocketServer  # type: ignore[import-untyped]
from waitress.server import create_server as waitress_server

from connector.settings import Settings

log = logging.getLogger("connector.web")

THREADS = 4  # requests being handled at once: each is ~1-3 ms of CPU and one store transaction
# A half-sent or idle connection is closed after this many seconds without a byte (HubSpot sends a
# delivery at once; its keep-alive connections reconnect). Checked every CLEANUP_S.
CHANNEL_TIMEOUT_S = 30
CLEANUP_S = 5
# Open connections, half-sent ones included, before waitress stops accepting more. poll() instead of
# select(): select() cannot watch a descriptor numbered 1024 or more.
CONNECTION_LIMIT = 1000
MAX_HEADER_BYTES = 64 * 1024  # HubSpot's headers are well under 2 KiB


def server_options(settings: Settings, *, threads: int = THREADS) -> dict[str, Any]:
    """Waitress adjustments (https://docs.pylonsproject.org/projects/waitress/en/stable/arguments.html)."""
    return {
        "threads": threads,
        "channel_timeout": CHANNEL_TIMEOUT_S,
        "cleanup_interval": CLEANUP_S,
        "connection_limit": CONNECTION_LIMIT,
        "asyncore_use_poll": True,
        "max_request_header_size": MAX_HEADER_BYTES,
        # Refused with 413 while reading, so no connection buffers more than this (to memory, then
        # a temp file past waitress's inbuf_overflow, 512 KiB).
        "max_request_body_size": settings.webhook_max_body_bytes,
        # X-Forwarded-* reach the app, which uses them only with TRUST_PROXY_HEADERS (receiver.called_uri).
        "clear_untrusted_proxy_headers": False,
        "ident": "connector",
    }


@dataclass
class RunningServer:
    """A server answering on its own thread (`connector run`)."""

    server: Any
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The port bound (the one the OS chose when asked for port 0)."""
        return int(self.server.effective_port)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, let the requests being handled finish (up to `timeout_s`)."""
        # Closed by the loop's own thread, woken at once (not at its next 1 s poll timeout). The
        # trigger's pipe may be closed already (the loop ended, e.g. every channel was closed): then
        # close from here.
        try:
            self.server.trigger.pull_trigger(self.server.close)
        except OSError:
            try:
                self.server.close()
            except OSError:
                pass  # already closed
        self.server.task_dispatcher.shutdown(timeout=timeout_s)
        self.thread.join(timeout_s)


def create_server(app: Any, settings: Settings, *, host: str | None = None, port: int | None = None,
                  threads: int = THREADS) -> Any:
    """A waitress server bound to `host`:`port` (default HOST and PORT from `settings`), not yet running.
    With the dashboard on, the app starts reading its facts ahead (connector.dashboard.warm)."""
    from connector.dashboard import warm
    from connector.webhooks.receiver import SCHEMA_READY_KEY

    if getattr(app, "extensions", {}).get(SCHEMA_READY_KEY):
        warm(app)
    server = waitress_server(app, host=host or settings.host, port=settings.port if port is None else port,
                             **server_options(settings, threads=threads))
    for listener in _listeners(server):
        listener.channel_class = _Channel
    return server


def _listeners(server: Any) -> list[Any]:
    """The listening servers: a host name may resolve to an IPv4 and an IPv6 one."""
    return list(server.map.values()) if isinstance(server, MultiSocketServer) else [server]


class _Parser(HTTPRequestParser):
    """Waitress's parser, but an unsupported Transfer-Encoding is a 400 (a ParsingError), not a 501."""

    def parse_header(self, header_plus: bytes) -> None:
        try:
            super().parse_header(header_plus)
        except TransferEncodingNotImplemented as exc:
            raise ParsingError(exc.args[0]) from None


class _Channel(HTTPChannel):
    parser_class = _Parser


def start_in_thread(app: Any, settings: Settings, **kw: Any) -> RunningServer:
    server = create_server(app, settings, **kw)
    thread = threading.Thread(target=server.run, name="web", daemon=True)
    thread.start()
    _log_listening(server, kw.get("threads", THREADS))
    return RunningServer(server, thread)


def serve(app: Any, settings: Settings, **kw: Any) -> None:
    """Serve until SIGTERM or Ctrl-C; then stop accepting and finish the requests being handled."""
    server = create_server(app, settings, **kw)
    _log_listening(server, kw.get("threads", THREADS))

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)  # waitress's run() then shuts its threads down (5 s at most)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
    server.run()


def _log_listening(server: Any, threads: int) -> None:
    where = ", ".join(f"http://{one.effective_host}:{one.effective_port}" for one in _listeners(server))
    log.info("webhook endpoint listening on %s (waitress, %d threads)", where, threads)


def main(argv: list[str] | None = None) -> int:
    """`python -m connector.serve`: the Procfile's web process (settings from the environment)."""
    from connector.errors import ConfigError
    from connector.web import create_app

    parser = argparse.ArgumentParser(prog="python -m connector.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=None, help="address to bind (default: HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port to bind (default: PORT, else 8000)")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"worker threads (default {THREADS})")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(require=("hubspot_client_secret",))
    except ConfigError as exc:
        print("connector: configuration error:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    serve(create_app(settings), settings, host=args.host, port=args.port, threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
