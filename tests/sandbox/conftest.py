"""Fixtures for the sandbox's tests: a running sandbox, the real SDK pointed at it, raw HTTP
clients. The fake clock (the `clock` fixture, tests.support.clock) is shared by all the tests."""

from __future__ import annotations

import http.client as httplib
import json
from typing import Any
from urllib.parse import urlsplit

import hubspot
import pytest

from connector.sandbox import DEFAULT_TOKEN, Sandbox, SandboxConfig


class Http:
    """A tiny keep-alive JSON client for what the SDK hides (status codes, headers, raw bodies)."""

    def __init__(self, base_url: str, token: str | None = DEFAULT_TOKEN) -> None:
        self.netloc = urlsplit(base_url).netloc
        self.token = token
        self.conn = httplib.HTTPConnection(self.netloc, timeout=10)

    def __call__(self, method: str, path: str, body: Any = None,
                 token: str | None = "default") -> tuple[int, Any, dict[str, str]]:
        token = self.token if token == "default" else token
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else (body if isinstance(body, bytes)
                                          else json.dumps(body).encode())
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw and raw[:1] in b"[{" else raw), dict(
            resp.getheaders())

    def close(self) -> None:
        self.conn.close()


@pytest.fixture(scope="module")
def sandbox():
    """One unlimited-tier sandbox with 300 contacts per test module."""
    with Sandbox(SandboxConfig(contacts=300, seed=11, tier="unlimited")) as sb:
        yield sb


@pytest.fixture
def http(sandbox):
    client = Http(sandbox.base_url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def client(sandbox):
    return hubspot.Client.create(access_token=DEFAULT_TOKEN, host=sandbox.base_url)


@pytest.fixture
def make_http():
    """Http clients for any sandbox and token, closed at the end of the test."""
    made: list[Http] = []

    def make(base_url: str, token: str | None = DEFAULT_TOKEN) -> Http:
        made.append(Http(base_url, token))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def start_sandbox():
    """Start sandboxes with a given config; stop them all at the end of the test."""
    started: list[Sandbox] = []

    def start(**kwargs: Any) -> Sandbox:
        kwargs.setdefault("contacts", 50)
        sb = Sandbox(SandboxConfig(**kwargs)).start()
        started.append(sb)
        return sb

    yield start
    for sb in started:
        sb.stop()


@pytest.fixture
def contact_ids(sandbox):
    """The first n active contact ids of the module's sandbox."""
    def first(n: int) -> list[str]:
        return [str(i) for i in sandbox.portal.stores["contacts"].order[:n]]
    return first
