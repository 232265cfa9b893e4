"""Hostile and odd deliveries (issue 10, point 6): each is a 4xx, or a 200 that stores exactly the
well-formed events, with nothing stored wrongly and nothing of the body in the log.

The first part calls the app (Flask's test client) on SQLite and, with DATABASE_TEST_URL, on
PostgreSQL: the store's columns (event_id BIGINT, object_id VARCHAR(32)) are where out-of-range
values used to fail as 500 or 503. The second part sends raw bytes to the real server
(connector.serve: waitress) on 127.0.0.1, for framing only a real server sees.

Requests are signed here with hmac directly, not with connector.webhooks.signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import socket

import pytest
import sqlalchemy as sa
from werkzeug.serving import DechunkedInput

from connector.serve import start_in_thread
from connector.settings import Settings
from connector.store.schema import webhook_events
from connector.web import create_app
from connector.webhooks.receiver import STORE_KEY

SECRET = "hostile-test-secret"
PUBLIC_URL = "https://hooks.example.com/webhooks/hubspot"
NOW_S = 1_750_000_000.0
NOW_MS = str(int(NOW_S * 1000))
MARKER = "jane.doe.marker@example.com"  # a value that must never reach the log


def sign(body: bytes, timestamp: str = NOW_MS, uri: str = PUBLIC_URL) -> str:
    message = b"POST" + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest()).decode()


def event(event_id: int, object_id: int = 123, **extra) -> dict:
    return {"eventId": event_id, "subscriptionId": 1, "portalId": 62515, "appId": 2, "occurredAt": int(NOW_MS) - 10,
            "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": object_id,
            "propertyName": "num_conversion_events", "propertyValue": "3", "changeSource": "CRM_UI", **extra}


def body_of(*events: dict) -> bytes:
    return json.dumps(list(events), separators=(",", ":")).encode()


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app({"hubspot_client_secret": SECRET, "database_url": database_url,
                      "webhook_public_url": PUBLIC_URL, "scoring_config": str(tmp_path / "scoring.yaml"),
                      "webhook_max_body_bytes": 1_048_576, "CLOCK": lambda: NOW_S})
    yield app
    app.extensions[STORE_KEY].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def post(client, body: bytes, *, signed: bool = True, **kw):
    headers = {"Content-Type": "application/json"}
    if signed:
        headers.update({"X-HubSpot-Signature-v3": sign(body), "X-HubSpot-Request-Timestamp": NOW_MS})
    headers.update(kw.pop("headers", {}))
    return client.post("/webhooks/hubspot", data=body, headers=headers, **kw)


def stored(app) -> list[tuple[int, str, str, int]]:
    """Every queued row as (event_id, object_id, kind, occurred_at), by event id."""
    c = webhook_events.c
    with app.extensions[STORE_KEY].engine.connect() as conn:
        rows = conn.execute(sa.select(c.event_id, c.object_id, c.kind, c.occurred_at).order_by(c.event_id)).all()
    return [tuple(row) for row in rows]


def clean(log, *secrets: str) -> None:
    """Nothing of the body in the log, and no traceback."""
    for text in secrets:
        assert text not in log.text
    assert "Traceback" not in log.text
    assert [r.getMessage() for r in log.records if r.exc_info] == []


VALID_ROW = (1, "123", "contact.propertyChange", int(NOW_MS) - 10)

# -- out-of-range numbers: the bad event beside a valid one -> 200, only the valid one stored ------------

LONG_ID = "is out of range (an id of at most 32 digits)"
LONG_TEXT = "must be at most 256 characters"
# (changes to event 2, the field the error names, words of the reason, the value's text that must not be logged)
OUT_OF_RANGE = {
    "eventId 2**63": ({"eventId": 2**63}, "eventId", "is out of range", str(2**63)),
    "eventId 2**64 + 7": ({"eventId": 2**64 + 7}, "eventId", "is out of range", str(2**64 + 7)),
    "eventId -2**63 - 1": ({"eventId": -(2**63) - 1}, "eventId", "must be an integer >= 1", str(2**63 + 1)),
    "occurredAt 2**63": ({"occurredAt": 2**63}, "occurredAt", "is out of range", str(2**63)),
    "attemptNumber 2**63": ({"attemptNumber": 2**63}, "attemptNumber", "is out of range", str(2**63)),
    "portalId 2**64": ({"portalId": 2**64}, "portalId", "is out of range", str(2**64)),
    "objectId of 33 digits": ({"objectId": 10**32}, "objectId", LONG_ID, str(10**32)),
    "objectId of 33 digits as text": ({"objectId": "4" * 33}, "objectId", LONG_ID, "4" * 33),
    "a merged id of 41 digits": ({"subscriptionType": "contact.merge", "mergedObjectIds": [7, 10**40]},
                                 "mergedObjectIds[1]", LONG_ID, str(10**40)),
    "newObjectId of 33 digits": ({"subscriptionType": "contact.merge", "newObjectId": 10**32},
                                 "newObjectId", LONG_ID, str(10**32)),
    "propertyName of 300 characters": ({"propertyName": "p" * 300}, "propertyName", LONG_TEXT, "p" * 300),
    "changeSource of 10,000 characters": ({"changeSource": MARKER * 400}, "changeSource", LONG_TEXT, MARKER),
}


@pytest.mark.parametrize("changes, field, reason, value", OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_given_an_out_of_range_event_beside_a_valid_one_then_200_and_only_the_valid_one_stored(
        app, client, log, changes, field, reason, value):
    response = post(client, body_of(event(1), event(2, **changes)))
    assert response.status_code == 200
    assert response.json["accepted"] == 1 and response.json["rejected"] == 1
    assert response.json["errors"][0].startswith(f"event[1].{field}: {reason}")
    assert stored(app) == [VALID_ROW]
    assert f"webhook event rejected index=1 where=event[1].{field} reason={reason}" in log.text
    clean(log, value)


@pytest.mark.parametrize("changes, field, reason, value", OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_given_only_an_out_of_range_event_then_400_and_nothing_stored(app, client, log, changes, field, reason,
                                                                      value):
    response = post(client, body_of(event(2, **changes)))
    assert response.status_code == 400
    assert response.json["error"].startswith(f"event[0].{field}: {reason}")
    assert stored(app) == []
    clean(log, value)


def test_given_an_integer_of_5000_digits_then_the_event_is_rejected_without_converting_it(app, client, log):
    """Python refuses to turn more than 4,300 digits into an int (a ValueError inside json.loads,
    which made the whole body invalid); such a literal is now out of range for its field only."""
    digits = "9" * 5000
    body = body_of(event(1), event(2)).replace(b'"eventId":2,', f'"eventId":{digits},'.encode())
    response = post(client, body)
    assert response.status_code == 200 and response.json["errors"] == ["event[1].eventId: is out of range "
                                                                        "(an integer from 1 to 2**63-1)"]
    assert stored(app) == [VALID_ROW]
    clean(log, digits[:40])


def test_given_the_largest_values_the_store_holds_then_stored_exactly(app, client, log):
    biggest = event(2**63 - 1, object_id=int("9" * 32), occurredAt=2**63 - 1, attemptNumber=2**63 - 1,
                    portalId=2**63 - 1)
    response = post(client, body_of(biggest))
    assert response.status_code == 200 and response.json == {"accepted": 1, "duplicates": 0, "ignored": 0}
    assert stored(app) == [(2**63 - 1, "9" * 32, "contact.propertyChange", 2**63 - 1)]


# -- deep nesting -> 400, nothing stored, no RecursionError ---------------------------------------------


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b"[" + body_of(event(1))[1:-1] + b',{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}]",
    body_of(event(1), event(2, propertyValue=json.loads("[" * 16 + "]" * 16))),  # 18 levels in all
], ids=["100,000 levels", "100,000 levels beside a valid event", "18 levels in a field we drop"])
def test_given_deep_nesting_then_400_and_nothing_stored(app, client, log, body):
    response = post(client, body)
    assert response.status_code == 400
    assert response.json == {"error": "body: nests deeper than 16 levels"}
    assert stored(app) == []
    assert "RecursionError" not in log.text
    clean(log, "[[[[")


def test_given_hubspots_own_nesting_then_accepted(app, client):
    """A merge event's mergedObjectIds is HubSpot's deepest: 3 levels."""
    merge = event(1, subscriptionType="contact.merge", mergedObjectIds=[4, 5], primaryObjectId=123)
    assert post(client, body_of(merge)).json == {"accepted": 1, "duplicates": 0, "ignored": 0}


# -- malformed events beside valid ones -> 200: the valid stored, each malformed one logged with its reason


def test_given_malformed_events_beside_valid_ones_then_the_valid_are_stored_and_each_malformed_one_logged(
        app, client, log):
    no_event_id = {k: v for k, v in event(3).items() if k != "eventId"}
    body = body_of(event(1), event(2, objectId=MARKER), 7, no_event_id, event(4, object_id=456))
    response = post(client, body)
    assert response.status_code == 200
    assert response.json == {"accepted": 2, "duplicates": 0, "ignored": 0, "rejected": 3, "errors": [
        "event[1].objectId: must be a positive integer id, got a string",
        "event[2]: must be an object, got a number",
        "event[3].eventId: is required"]}
    assert [row[0] for row in stored(app)] == [1, 4]
    warnings = [r.getMessage() for r in log.records if r.levelno == logging.WARNING]
    assert warnings == [
        "webhook event rejected index=1 where=event[1].objectId reason=must be a positive integer id, got a string",
        "webhook event rejected index=2 where=event[2] reason=must be an object, got a number",
        "webhook event rejected index=3 where=event[3].eventId reason=is required"]
    summary = [r.getMessage() for r in log.records if "webhook delivery" in r.getMessage()]
    assert len(summary) == 1 and "events=5 accepted=2 duplicates=0 ignored=0" in summary[0]
    assert summary[0].endswith("rejected=3")
    clean(log, MARKER, "num_conversion_events")


def test_given_a_malformed_event_and_an_ignored_one_then_200_and_nothing_stored(app, client, log):
    company = event(1, subscriptionType="company.propertyChange")
    response = post(client, body_of(company, event(2, objectId=MARKER)))
    assert response.status_code == 200 and response.json["ignored"] == 1 and response.json["rejected"] == 1
    assert stored(app) == []
    clean(log, MARKER)


def test_given_many_malformed_events_then_20_are_named_and_all_counted(app, client, log):
    body = body_of(event(1), *[event(10 + i, objectId=MARKER) for i in range(60)])
    response = post(client, body)
    assert response.status_code == 200 and response.json["rejected"] == 60 and len(response.json["errors"]) == 20
    assert stored(app) == [VALID_ROW]
    assert log.text.count("webhook event rejected index=") == 20
    assert "webhook event rejected: 40 more in this delivery" in log.text
    clean(log, MARKER)


def test_given_a_malformed_event_then_the_same_delivery_again_stores_nothing_twice(app, client):
    """HubSpot got 200, so it should not resend; if it does, the valid events are duplicates."""
    body = body_of(event(1), event(2, objectId=MARKER))
    assert post(client, body).json["accepted"] == 1
    assert post(client, body).json == {"accepted": 0, "duplicates": 1, "ignored": 0, "rejected": 1,
                                       "errors": ["event[1].objectId: must be a positive integer id, got a string"]}
    assert stored(app) == [VALID_ROW]


# -- body-read errors -> 400 without a traceback or the client's bytes ---------------------------------


class _Unreadable(io.RawIOBase):
    """A server's input stream that fails as gunicorn's does on bad chunked framing: its message
    quotes the client's bytes."""

    def __init__(self):
        self.reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self.reads += 1
        raise ValueError(f"Invalid chunk size: b'zz{MARKER}'")


def test_given_bad_chunked_framing_under_werkzeugs_server_then_400_and_nothing_logged_of_it(app, client, log):
    """werkzeug.serving.DechunkedInput is what Werkzeug's own server reads chunked bodies with."""
    raw = f"zz{MARKER}\r\n[]\r\n0\r\n\r\n".encode()
    response = client.post("/webhooks/hubspot", headers={
        "X-HubSpot-Signature-v3": sign(b"[]"), "X-HubSpot-Request-Timestamp": NOW_MS,
        "Transfer-Encoding": "chunked"}, environ_overrides={
        "wsgi.input": DechunkedInput(io.BytesIO(raw)), "wsgi.input_terminated": True})
    assert response.status_code == 400 and response.json == {"error": "body could not be read"}
    assert "reason=body could not be read (OSError)" in log.text
    assert stored(app) == []
    clean(log, MARKER, "zz")


def test_given_a_stream_error_quoting_the_bytes_then_400_and_only_its_class_logged(app, client, log):
    stream = _Unreadable()
    response = client.post("/webhooks/hubspot", headers={
        "X-HubSpot-Signature-v3": sign(b"[]"), "X-HubSpot-Request-Timestamp": NOW_MS,
        "Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input": stream, "wsgi.input_terminated": True})
    assert response.status_code == 400 and stream.reads == 1
    assert "reason=body could not be read (ValueError)" in log.text
    assert stored(app) == []
    clean(log, MARKER)


def test_given_no_signature_then_401_before_the_body_is_read(app, client, log):
    stream = _Unreadable()
    response = client.post("/webhooks/hubspot", headers={"Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input": stream, "wsgi.input_terminated": True})
    assert response.status_code == 401 and stream.reads == 0
    clean(log, MARKER)


def test_given_content_length_and_chunked_then_transfer_encoding_wins(app, client, log):
    """RFC 9112 section 6.3: Transfer-Encoding overrides Content-Length (this used to be a 500 on
    `connector web`)."""
    body = body_of(event(1))
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    response = client.post("/webhooks/hubspot", headers={
        "X-HubSpot-Signature-v3": sign(body), "X-HubSpot-Request-Timestamp": NOW_MS,
        "Transfer-Encoding": "chunked", "Content-Length": "5"}, environ_overrides={
        "wsgi.input": DechunkedInput(io.BytesIO(chunked)), "wsgi.input_terminated": True})
    assert response.status_code == 200 and stored(app) == [VALID_ROW]


def test_given_a_bug_in_the_receiver_then_500_names_where_but_not_the_message(app, client, log, monkeypatch):
    """An unexpected error is still a 5xx (HubSpot retries: nothing is lost), logged by class and
    frames: an exception's message may quote the delivery."""
    def broken(rows, now, rejected=()):
        raise RuntimeError(f"cannot store {MARKER}")

    monkeypatch.setattr(app.extensions[STORE_KEY], "enqueue_events", broken)
    response = post(client, body_of(event(1)))
    assert response.status_code == 500
    assert "webhook failed status=500 error=RuntimeError at test_hostile_deliveries.py:" in log.text
    clean(log, MARKER)


# -- the real server: framing a WSGI app never sees -----------------------------------------------------


@pytest.fixture
def server(app):
    running = start_in_thread(app, Settings(hubspot_client_secret=SECRET, webhook_max_body_bytes=1_048_576),
                              host="127.0.0.1", port=0, threads=2)
    yield running
    running.stop()


def exchange(port: int, raw: bytes, *, close_write: bool = False) -> bytes:
    """Send `raw` on a new connection to 127.0.0.1; the first line of the answer (b"" if none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        answer = b""
        while b"\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


def head(extra: str = "", body: bytes = b"[]") -> bytes:
    return (f"POST /webhooks/hubspot HTTP/1.1\r\nHost: hooks.example.com\r\nContent-Type: application/json\r\n"
            f"X-HubSpot-Request-Timestamp: {NOW_MS}\r\nX-HubSpot-Signature-v3: {sign(body)}\r\n{extra}").encode()


VALID = body_of(event(1))
CHUNKED = f"{len(VALID):x}\r\n".encode() + VALID + b"\r\n0\r\n\r\n"
FRAMING = {
    "Content-Length and chunked: chunked wins": (head("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                                                      VALID) + CHUNKED, 200, [VALID_ROW]),
    "bad chunk size": (head("Transfer-Encoding: chunked\r\n\r\n", VALID) + f"zz{MARKER}\r\n".encode() + VALID
                       + b"\r\n0\r\n\r\n", 400, []),
    "transfer coding other than chunked": (head("Transfer-Encoding: gzip\r\n\r\n", VALID) + VALID, 400, []),
    "two different Content-Lengths": (head(f"Content-Length: {len(VALID)}\r\nContent-Length: 3\r\n\r\n", VALID)
                                      + VALID, 400, []),
    "Content-Length not a number": (head(f"Content-Length: 1{MARKER}\r\n\r\n", VALID) + VALID, 400, []),
    "negative Content-Length": (head("Content-Length: -1\r\n\r\n", VALID) + VALID, 400, []),
    "Content-Length over WEBHOOK_MAX_BODY_BYTES": (head("Content-Length: 2000000\r\n\r\n", VALID) + VALID, 413, []),
    "header line without a colon": (head(f"{MARKER}\r\nContent-Length: {len(VALID)}\r\n\r\n", VALID) + VALID, 400,
                                    []),
    "headers over 64 KiB": (head(f"X-Pad: {'a' * 70_000}\r\n\r\n"), 431, []),
}


@pytest.mark.parametrize("raw, status, rows", FRAMING.values(), ids=FRAMING.keys())
def test_given_hostile_framing_at_the_real_server_then_4xx_and_nothing_stored_wrongly(app, server, log, raw,
                                                                                       status, rows):
    assert exchange(server.port, raw).split(b" ")[1] == str(status).encode()
    assert stored(app) == rows
    clean(log, MARKER)


@pytest.mark.parametrize("raw", [
    head(f"Content-Length: {len(VALID)}\r\n\r\n", VALID) + VALID[:10],
    head("Transfer-Encoding: chunked\r\n\r\n", VALID) + CHUNKED[:20],
    head()[:40],
], ids=["body cut short", "chunked body cut short", "headers cut short"])
def test_given_a_request_cut_short_then_the_app_never_sees_it(app, server, log, raw):
    assert exchange(server.port, raw, close_write=True) == b""
    assert stored(app) == []
    assert "webhook" not in log.text.replace("webhook endpoint listening", "")
    clean(log, MARKER)
