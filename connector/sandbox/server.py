"""The sandbox's HTTP server, and `Sandbox`, the in-process handle tests and the demo start.

    with Sandbox(SandboxConfig(contacts=500, tier="unlimited")) as sb:
        client = hubspot.Client.create(access_token="pat-sandbox", host=sb.base_url)

Request path: faults (decided first; only a `lost` fault lets the handler run, then answers 504
instead) -> auth and scopes -> rate limits -> handler. Admin endpoints under /_sandbox/ skip all
of it and are not counted.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connector.sandbox import admin, api, errors
from connector.sandbox.errors import ApiError
from connector.sandbox.faults import FaultInjector, FaultSpec
from connector.sandbox.limits import POLICIES, RateLimiter
from connector.sandbox.portal import Portal
from connector.sandbox.values import parse_json

log = logging.getLogger(__name__)
DEFAULT_TOKEN = "pat-sandbox"


@dataclass
class SandboxConfig:
    """How to start a sandbox. `tokens` maps token -> scopes (None: every scope)."""
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    contacts: int = 200
    seed: int = 7
    tier: str = "professional"
    webhook_url: str | None = None
    client_secret: str = "sandbox-client-secret"
    faults: str | FaultSpec | None = None
    tokens: dict[str, frozenset[str] | None] = field(
        default_factory=lambda: {DEFAULT_TOKEN: None})
    subscriptions: str | None = None  # a HubSpot project's webhooks-hsmeta.json
    webhook_format: str = "legacy"
    activity_rate: float = 0.0  # activities per second from the activity clock; 0: off
    duplicate_rate: float = 0.0  # share of delivered webhook batches delivered again (0: none)
    clock: Callable[[], float] = time.time
    now: datetime | None = None  # "now" for the generator; default: clock()
    history: str = "timeline"  # seeded property history: "timeline" or "flat" (an import)
    buyers: str = "standard"  # "standard" or "custom" (propensity in custom properties)


class Stats:
    """Request counters per '<METHOD> <path template>' (thread safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[str, int] = {}

    def count(self, key: str) -> None:
        with self._lock:
            self.requests[key] = self.requests.get(key, 0) + 1

    def reset(self) -> None:
        with self._lock:
            self.requests = {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sandbox: Sandbox

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a killed connector, a dropped keep-alive) is not an error."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    # Without this, loopback keep-alive stalls ~40 ms per request (Nagle + delayed ACK).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    def _handle(self) -> None:
        sb = self.server.sandbox
        raw = self._read_body()
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        if url.path.startswith("/_sandbox/"):
            try:
                status, body = admin.handle(sb, self.command, url.path, query, raw)
            except ApiError as exc:
                status, body = exc.status, exc.body()
            self._send(status, body)
            return
        # url.path is still percent-encoded: routes match it raw and api.match decodes each
        # path parameter once (an email id arrives as `jane%40example.com`; see api.match).
        route, params, path_known = api.match(self.command, url.path)
        if route is None:
            status = 405 if path_known else 404
            self._send(status, errors.ApiError(status, "Not found" if status == 404 else
                                               "Method not allowed", None).body())
            return
        sb.stats.count(f"{self.command} {route.template}")
        fault = sb.faults.draw()
        if fault is not None:
            if fault.kind == "drop":
                self.close_connection = True
                self.connection.close()  # no answer at all
                return
            if fault.kind == "status":
                self._send_fault(fault.status)
                return
            if fault.kind == "slow":
                time.sleep(fault.delay_s)  # slow: then answer normally
        headers: dict[str, str] = {}
        try:
            token = self._token()
            if token is None or token not in sb.config.tokens:
                raise errors.unauthorized()
            scopes = sb.config.tokens[token]  # None: every scope
            if scopes is not None and route.scope and route.scope not in scopes:
                raise errors.missing_scopes([route.scope])
            decision = sb.limiter.check(token, route.search)
            if decision.error is not None:
                raise decision.error
            headers.update(decision.headers)
            body = parse_json(raw)
            ctx = api.Ctx(sb.portal, params, query, body, len(raw), sb.base_url, sb.config.tokens)
            status, payload = route.handler(ctx)
        except ApiError as exc:
            headers.update(exc.headers)
            status, payload = exc.status, exc.body()
        except Exception:  # a sandbox bug must not look like a HubSpot answer
            log.exception("sandbox handler failed: %s %s", self.command, self.path)
            status, payload = 500, ApiError(500, "Sandbox internal error", "INTERNAL_ERROR").body()
        if fault is not None and fault.kind == "lost":
            self._send_fault(504)  # handled (a write is applied), but the answer never arrives
            return
        self._send(status, payload, headers)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _token(self) -> str | None:
        value = self.headers.get("Authorization") or ""
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _send_fault(self, status: int) -> None:
        if status in (502, 504):
            # Gateway errors come from HubSpot's edge as HTML, not JSON: clients must cope.
            reason = self.responses.get(status, ("Gateway Error",))[0]
            html = f"<html><body><h1>{status} {reason}</h1></body></html>".encode()
            self._send_raw(status, html, "text/html")
        else:
            self._send(status, ApiError(status, "internal error" if status == 500 else
                                        "Service Unavailable", None).body())

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if payload is None or status == 204 else json.dumps(
            payload, separators=(",", ":")).encode()
        self._send_raw(status, data, "application/json;charset=utf-8", headers)

    def _send_raw(self, status: int, data: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> None:
        # One buffer per response: headers and body in a single send.
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
                 f"Content-Type: {content_type}", f"Content-Length: {len(data)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + data)
        except OSError:
            self.close_connection = True
        self.log_request(status, len(data))


class Sandbox:
    """A running sandbox portal: `.base_url`, `.portal`, `.stop()`; a context manager."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        cfg = self.config
        spec = cfg.faults if isinstance(cfg.faults, FaultSpec) else FaultSpec.parse(cfg.faults)
        from connector.sandbox.generator import generate_portal

        now = cfg.now or datetime.fromtimestamp(cfg.clock(), tz=UTC)
        self.seeded = generate_portal(cfg.contacts, cfg.seed, now, history=cfg.history,
                                      buyers=cfg.buyers)
        self.portal = Portal(self.seeded, clock=cfg.clock)
        from connector.sandbox import engagements
        engagements.attach(self.portal, self.seeded, cfg.tier)  # webinars, page views, the tier gate
        self.limiter = RateLimiter(cfg.tier, cfg.clock, seed=cfg.seed)
        self.faults = FaultInjector(spec)
        self.stats = Stats()
        self.webhooks = admin.make_webhook_sender(self) if cfg.webhook_url else None
        if self.webhooks is not None:
            self.portal.publish = self.webhooks.publish
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.base_url = ""

    def start(self) -> Sandbox:
        server = _Server((self.config.host, self.config.port), _Handler)
        server.sandbox = self
        self._server = server
        host, port = server.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        if self.webhooks is not None:
            self.webhooks.start()
        serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                 name="sandbox-http", daemon=True)
        serve.start()
        self._threads.append(serve)
        if self.config.activity_rate > 0:
            clock = threading.Thread(target=admin.run_activity_clock, args=(self,),
                                     name="sandbox-activity", daemon=True)
            clock.start()
            self._threads.append(clock)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.webhooks is not None:
            self.webhooks.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> Sandbox:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self) -> dict[str, Any]:
        """What GET /_sandbox/stats answers."""
        hooks = dict(self.webhooks.stats) if self.webhooks is not None else {}
        return {"requests": dict(self.stats.requests),
                "rate_limited": {p: self.limiter.rejected.get(p, 0) for p in POLICIES},
                "webhooks": {k: hooks.get(k, 0)
                             for k in ("sent", "retried", "failed", "duplicated")},
                "contacts": self.portal.count()}

    def reset_stats(self) -> None:
        self.stats.reset()
        self.limiter.reset_counters()
        if self.webhooks is not None:
            self.webhooks.reset_stats()
