"""One loopback HTTP receiver for every test that needs something to catch requests: webhooks the
sandbox or its sender delivers, the web process's /healthz the doctor checks.

    with Receiver(204) as hooks:          # answers 204 to everything
        ... send to hooks.url("/hooks") ...
        request = hooks.wait()[0]         # the first request, once it has arrived
        request.headers["X-HubSpot-Signature-v3"], request.body

`first` answers the first requests in order (then `status`); `paths` answers by path; `status`
may be changed while it runs. Every request is recorded before it is answered.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent: path and query
    headers: Message  # looked up case-insensitively, as HTTP headers are
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, status: int = 204, *, first: Sequence[int] = (), paths: Mapping[str, int] | None = None,
                 body: bytes = b"") -> None:
        self.status = status
        self.body = body
        self._first = list(first)
        self._paths = dict(paths or {})
        self._requests: list[Request] = []
        self._arrived = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Receiver:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, name="test-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests read ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "the receiver is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    @property
    def requests(self) -> list[Request]:
        """Every request received so far, in arrival order (a copy)."""
        with self._arrived:
            return list(self._requests)

    def wait(self, count: int = 1, timeout: float = 5.0) -> list[Request]:
        """The requests received, once there are at least `count` or `timeout` seconds passed."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self._requests) >= count, timeout)
            return list(self._requests)

    # -- what the handler calls -----------------------------------------------------------------

    def _record(self, request: Request) -> int:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()
            if self._first:
                return self._first.pop(0)
        return self._paths.get(urlsplit(request.path).path, self.status)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status = receiver._record(Request(self.command, self.path, self.headers, body))
            self.send_response(status)
            if status in (204, 304):  # no body, and no Content-Length either
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(receiver.body)))
            self.end_headers()
            self.wfile.write(receiver.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815 (http.server's naming)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler
