"""Half-sent requests do not hold the threads that answer HubSpot (issue 10, point 4), and the web
process binds HOST (default loopback) while the Procfile binds what the platform needs.

No timing is asserted: each valid delivery must simply be answered (a held thread would leave it
unanswered until the socket timeout, 10 s, and the test would fail). bench/slow_clients.py measures
the time to answer against the Procfile's own command.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from connector.serve import create_server, start_in_thread
from connector.settings import Settings
from connector.store.schema import webhook_events
from connector.web import create_app
from connector.webhooks.receiver import STORE_KEY

ROOT = Path(__file__).resolve().parents[2]
SECRET = "slow-clients-test-secret"
PUBLIC_URL = "https://hooks.example.com/webhooks/hubspot"
NOW_S = 1_750_000_000.0
NOW_MS = str(int(NOW_S * 1000))
THREADS = 2
HELD = 20  # ten times the server's threads


def sign(body: bytes) -> str:
    message = b"POST" + PUBLIC_URL.encode() + body + NOW_MS.encode()
    return base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest()).decode()


@pytest.fixture
def app(tmp_path):
    app = create_app({"hubspot_client_secret": SECRET, "database_url": f"sqlite:///{tmp_path / 'state.db'}",
                      "webhook_public_url": PUBLIC_URL, "CLOCK": lambda: NOW_S})
    yield app
    app.extensions[STORE_KEY].dispose()


@pytest.fixture
def server(app):
    running = start_in_thread(app, Settings(hubspot_client_secret=SECRET), host="127.0.0.1", port=0,
                              threads=THREADS)
    yield running
    running.stop()


def half_send(port: int, i: int) -> socket.socket:
    """A connection stopped inside the headers (even i) or inside the body after headers that pass
    every check that needs no secret (odd i)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = "POST /webhooks/hubspot HTTP/1.1\r\nHost: hooks.example.com\r\nContent-Type: application/json\r\n"
    if i % 2:
        head += (f"X-HubSpot-Request-Timestamp: {NOW_MS}\r\nX-HubSpot-Signature-v3: bm90LWEtc2lnbmF0dXJl\r\n"
                 "Content-Length: 4000\r\n\r\n[{\"eventId\":")
    s.sendall(head.encode())
    return s


def still_open(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    finally:
        s.setblocking(True)


def deliver(port: int, event_id: int) -> tuple[int, dict]:
    body = json.dumps([{"eventId": event_id, "subscriptionType": "contact.creation", "objectId": 100 + event_id,
                        "occurredAt": int(NOW_MS)}]).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/webhooks/hubspot", body=body, headers={
            "Content-Type": "application/json", "X-HubSpot-Signature-v3": sign(body),
            "X-HubSpot-Request-Timestamp": NOW_MS})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_given_20_half_sent_requests_held_open_then_valid_deliveries_are_still_answered(app, server):
    held = [half_send(server.port, i) for i in range(HELD)]
    try:
        answers = [deliver(server.port, event_id) for event_id in range(1, 11)]
        assert answers == [(200, {"accepted": 1, "duplicates": 0, "ignored": 0})] * 10
        assert all(still_open(s) for s in held)  # they were held all along, not closed by the server
    finally:
        for s in held:
            s.close()
    with app.extensions[STORE_KEY].engine.connect() as conn:
        ids = conn.execute(sa.select(webhook_events.c.event_id).order_by(webhook_events.c.event_id)).scalars().all()
    assert ids == list(range(1, 11))  # the half-sent ones stored nothing


def test_host_defaults_to_loopback_and_is_read_from_HOST():
    assert Settings().host == "127.0.0.1"
    assert Settings.from_env({"HOST": "0.0.0.0"}).host == "0.0.0.0"


def test_the_server_binds_the_settings_host(app):
    server = create_server(app, Settings(hubspot_client_secret=SECRET, host="127.0.0.1", port=0))
    try:
        assert server.effective_host == "127.0.0.1" and int(server.effective_port) > 0
    finally:
        server.close()


def test_the_procfile_web_process_is_this_server_on_all_interfaces_and_the_platforms_port():
    web = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")]
    assert web == ["web: python -m connector.serve --host 0.0.0.0 --port $PORT"]


def test_connector_web_serves_on_HOST_and_PORT(tmp_path):
    """`connector web` as a user runs it: it answers /healthz on 127.0.0.1:PORT and says where."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "DATABASE_URL", "WEBHOOK_", "HOST"))}
    env.update({"HUBSPOT_CLIENT_SECRET": SECRET, "DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}",
                "PORT": str(port)})
    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "connector", "--env-file", os.devnull, "web"], cwd=tmp_path,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        status = None
        for _ in range(200):  # up to ~20 s for the process to start
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
                conn.close()
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
        assert status == 200, log_path.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert f"webhook endpoint listening on http://127.0.0.1:{port} (waitress" in log_path.read_text()
