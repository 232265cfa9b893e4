"""The webhook receiver, POST /webhooks/hubspot, against a real SQLite store in tmp_path
(/healthz, /readyz and create_app are tests/test_web.py's).

Requests are signed here with hmac/base64 directly (not with connector.webhooks.signature), so a bug in the
verifier cannot also hide in the test's signer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import shutil
from pathlib import Path

import pytest

from connector.web import create_app
from connector.webhooks.receiver import STORE_KEY
from tests.support.clock import FakeClock
from tests.support.paths import SIGNATURE_VECTORS
from tests.support.webapp import NOW_MS, NOW_S, PUBLIC_URL, SECRET, app_config

VECTORS = json.loads(SIGNATURE_VECTORS.read_text())


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def event(event_id: int, object_id: int = 123, attempt: int = 0, **extra) -> dict:
    return {"eventId": event_id, "subscriptionId": 1, "portalId": 62515, "appId": 2, "occurredAt": NOW_S * 1000 // 1,
            "subscriptionType": "contact.propertyChange", "attemptNumber": attempt, "objectId": object_id,
            "propertyName": "num_conversion_events", "propertyValue": "3", "changeSource": "CRM_UI", **extra}


def delivery(*events: dict) -> bytes:
    return json.dumps([{**e, "occurredAt": int(e["occurredAt"])} for e in events], separators=(",", ":")).encode()


@pytest.fixture
def overrides(tmp_path):
    return app_config(tmp_path)


@pytest.fixture
def app(overrides):
    app = create_app(overrides)
    yield app
    app.extensions[STORE_KEY].dispose()


@pytest.fixture
def store(app):
    return app.extensions[STORE_KEY]


@pytest.fixture
def client(app):
    return app.test_client()


def post(client, body: bytes, *, secret=SECRET, uri=PUBLIC_URL, timestamp=NOW_MS, path="/webhooks/hubspot",
         headers=None, sign=True, **kw):
    sent = {"Content-Type": "application/json"}
    if sign:
        sent["X-HubSpot-Signature-v3"] = hubspot_signature(secret, "POST", uri, body, timestamp)
        sent["X-HubSpot-Request-Timestamp"] = timestamp
    sent.update(headers or {})
    return client.post(path, data=body, headers=sent, **kw)


# -- accepted -------------------------------------------------------------------------------------


def test_given_signed_delivery_then_200_and_every_event_stored(client, store):
    response = post(client, delivery(event(1), event(2, object_id=456)))
    assert response.status_code == 200
    assert response.json == {"accepted": 2, "duplicates": 0, "ignored": 0}
    assert store.count_queued() == 2


def test_given_redelivery_with_higher_attempt_number_then_stored_once(client, store):
    assert post(client, delivery(event(7))).json["accepted"] == 1
    response = post(client, delivery(event(7, attempt=1), event(8)))
    assert response.json == {"accepted": 1, "duplicates": 1, "ignored": 0}
    assert store.count_queued() == 2


def test_given_same_event_twice_in_one_delivery_then_stored_once(client, store):
    assert post(client, delivery(event(9), event(9))).json == {"accepted": 1, "duplicates": 1, "ignored": 0}
    assert store.count_queued() == 1


def test_given_non_contact_events_then_acknowledged_and_not_stored(client, store):
    company = event(10, subscriptionType="object.propertyChange", objectTypeId="0-2")
    response = post(client, delivery(company))
    assert response.status_code == 200 and response.json == {"accepted": 0, "duplicates": 0, "ignored": 1}
    assert store.count_queued() == 0


def test_given_delivery_then_one_log_line_without_secret_or_body(client, caplog):
    caplog.set_level(logging.INFO, logger="connector.web")
    post(client, delivery(event(11, propertyValue="jane@example.com"), event(11)))
    lines = [r.getMessage() for r in caplog.records if r.name == "connector.web"]
    assert len(lines) == 1
    assert "events=2 accepted=1 duplicates=1 ignored=0 took=" in lines[0]
    assert SECRET not in caplog.text and "jane@example.com" not in caplog.text


# -- 401: nothing stored -------------------------------------------------------------------------

BODY = delivery(event(21), event(22))
REJECTIONS = {
    "tampered body": dict(body=BODY.replace(b'"objectId":123', b'"objectId":124'), signed_body=BODY),
    "wrong secret": dict(secret="another-apps-secret"),
    "stale": dict(timestamp=str(int(NOW_MS) - 5 * 60 * 1000 - 1), reason="timestamp outside the tolerance window"),
    "future": dict(timestamp=str(int(NOW_MS) + 5 * 60 * 1000 + 1), reason="timestamp outside the tolerance window"),
    "missing signature": dict(drop="X-HubSpot-Signature-v3", reason="missing X-HubSpot-Signature-v3 header"),
    "missing timestamp": dict(drop="X-HubSpot-Request-Timestamp", reason="missing X-HubSpot-Request-Timestamp header"),
    "wrong uri": dict(uri="https://hooks.example.com/webhooks/other"),
    "http vs https": dict(uri=PUBLIC_URL.replace("https://", "http://")),
    "trailing slash": dict(uri=PUBLIC_URL + "/"),
    "timestamp not the signed one": dict(sent_timestamp=str(int(NOW_MS) + 1)),
}


@pytest.mark.parametrize("case", REJECTIONS.values(), ids=REJECTIONS.keys())
def test_given_bad_signature_then_401_with_reason_and_nothing_stored(client, store, caplog, case):
    timestamp = case.get("timestamp", NOW_MS)
    signed_body = case.get("signed_body", case.get("body", BODY))
    headers = {"X-HubSpot-Signature-v3": hubspot_signature(case.get("secret", SECRET), "POST",
                                                           case.get("uri", PUBLIC_URL), signed_body, timestamp),
               "X-HubSpot-Request-Timestamp": case.get("sent_timestamp", timestamp)}
    headers.pop(case.get("drop", ""), None)
    response = client.post("/webhooks/hubspot", data=case.get("body", BODY), headers=headers)
    assert response.status_code == 401
    assert response.json == {"error": "invalid signature"}
    assert f"reason={case.get('reason', 'signature mismatch')}" in caplog.text
    assert store.count_queued() == 0


@pytest.mark.parametrize("vector", [v for v in VECTORS["vectors"] if v["version"] in ("v1", "v2")],
                         ids=lambda v: v["id"])
def test_given_only_v1_or_v2_headers_even_validly_signed_then_401(tmp_path, vector):
    """We only accept v3 (v1/v2 have no timestamp, so they can be replayed forever)."""
    app = create_app({"hubspot_client_secret": vector["client_secret"],
                      "webhook_public_url": vector["uri"] or PUBLIC_URL,
                      "database_url": f"sqlite:///{tmp_path / 's.db'}", "CLOCK": FakeClock(NOW_S)})
    store = app.extensions[STORE_KEY]
    try:
        body = vector["body"].encode()
        parts = [vector["client_secret"]] + ([vector["method"], vector["uri"]] if vector["version"] == "v2" else [])
        assert hashlib.sha256("".join(parts).encode() + body).hexdigest() == vector["expected_signature"]
        response = app.test_client().open(
            "/webhooks/hubspot", method=vector["method"] or "POST", data=body,
            headers={"X-HubSpot-Signature": vector["expected_signature"],
                     "X-HubSpot-Signature-Version": vector["version"]})
        assert response.status_code == 405 if vector["method"] == "GET" else response.status_code == 401
        assert store.count_queued() == 0
    finally:
        store.dispose()


def test_given_valid_v1_signature_of_a_real_delivery_then_401(client, store, caplog):
    v1 = hashlib.sha256(SECRET.encode() + BODY).hexdigest()
    response = client.post("/webhooks/hubspot", data=BODY,
                           headers={"X-HubSpot-Signature": v1, "X-HubSpot-Signature-Version": "v1"})
    assert response.status_code == 401 and "missing X-HubSpot-Signature-v3 header" in caplog.text
    assert store.count_queued() == 0


# -- which URI was signed ---------------------------------------------------------------------------


def test_given_no_public_url_then_the_request_url_is_signed(overrides, store):
    app = create_app({**overrides, "webhook_public_url": None})
    uri = "http://localhost/webhooks/hubspot?portal=1"
    response = post(app.test_client(), delivery(event(31)), uri=uri, path="/webhooks/hubspot?portal=1")
    assert response.status_code == 200 and store.count_queued() == 1
    app.extensions[STORE_KEY].dispose()


def test_given_encoded_characters_in_query_then_hubspot_decoded_form_is_signed(overrides, store):
    app = create_app({**overrides, "webhook_public_url": None})
    response = post(app.test_client(), delivery(event(32)), uri="http://localhost/webhooks/hubspot?a=x:y/z%20w",
                    path="/webhooks/hubspot?a=x%3Ay%2Fz%20w")
    assert response.status_code == 200 and store.count_queued() == 1
    app.extensions[STORE_KEY].dispose()


PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"}


def test_given_trusted_proxy_headers_then_the_public_url_is_rebuilt(overrides, store):
    app = create_app({**overrides, "webhook_public_url": None, "trust_proxy_headers": True})
    response = post(app.test_client(), delivery(event(33)), uri=PUBLIC_URL, headers=PROXY)
    assert response.status_code == 200 and store.count_queued() == 1
    app.extensions[STORE_KEY].dispose()


def test_given_untrusted_proxy_headers_then_they_are_ignored(overrides, store):
    app = create_app({**overrides, "webhook_public_url": None, "trust_proxy_headers": False})
    response = post(app.test_client(), delivery(event(34)), uri=PUBLIC_URL, headers=PROXY)
    assert response.status_code == 401 and store.count_queued() == 0
    app.extensions[STORE_KEY].dispose()


# -- 400, 413 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, message", [
    (b"not json", "body: is not valid JSON"),
    (b'{"eventId": 1}', "body: must be a JSON array of events"),
    (delivery({**event(42), "objectId": "abc"}), "event[0].objectId: must be a positive integer id"),
])
def test_given_malformed_signed_body_then_400_names_the_fault_and_nothing_stored(client, store, body, message):
    response = post(client, body)
    assert response.status_code == 400 and message in response.json["error"]
    assert store.count_queued() == 0


@pytest.mark.parametrize("body, message", [
    (delivery(event(41), {**event(42), "objectId": "abc"}), "event[1].objectId: must be a positive integer id"),
    (delivery(event(43), {k: v for k, v in event(44).items() if k != "eventId"}), "event[1].eventId: is required"),
])
def test_given_a_malformed_event_beside_a_valid_one_then_200_the_valid_one_stored_and_the_other_named(
        client, store, body, message):
    response = post(client, body)
    assert response.status_code == 200
    assert (response.json["accepted"], response.json["rejected"]) == (1, 1)
    assert any(message in e for e in response.json["errors"]), response.json
    assert store.count_queued() == 1


def test_given_content_length_over_the_limit_then_413_before_reading(client, store, caplog):
    body = delivery(*[event(100 + i) for i in range(40)])
    assert len(body) > 4096
    assert post(client, body).status_code == 413
    assert f"reason=Content-Length {len(body)} over 4096" in caplog.text
    assert store.count_queued() == 0


def test_given_chunked_body_over_the_limit_then_413_while_reading(client, store, caplog):
    body = delivery(*[event(200 + i) for i in range(40)])
    headers = {"X-HubSpot-Signature-v3": hubspot_signature(SECRET, "POST", PUBLIC_URL, body, NOW_MS),
               "X-HubSpot-Request-Timestamp": NOW_MS, "Transfer-Encoding": "chunked"}
    response = client.post("/webhooks/hubspot", input_stream=io.BytesIO(body), headers=headers,
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413 and "reason=body over 4096 bytes" in caplog.text
    assert store.count_queued() == 0


def test_given_chunked_body_under_the_limit_then_accepted(client, store):
    body = delivery(event(51))
    headers = {"X-HubSpot-Signature-v3": hubspot_signature(SECRET, "POST", PUBLIC_URL, body, NOW_MS),
               "X-HubSpot-Request-Timestamp": NOW_MS, "Transfer-Encoding": "chunked"}
    response = client.post("/webhooks/hubspot", input_stream=io.BytesIO(body), headers=headers,
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 200 and store.count_queued() == 1


# -- 503: HubSpot retries --------------------------------------------------------------------------


def _break_sqlite(app, db_path: Path) -> None:
    """Make the database file unopenable: a directory where the file was."""
    app.extensions[STORE_KEY].dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    db_path.mkdir()


def test_given_store_gone_after_start_then_503_and_readyz_says_why(app, client, tmp_path):
    _break_sqlite(app, tmp_path / "state.db")
    response = post(client, delivery(event(61)))
    assert response.status_code == 503 and response.json == {"error": "store unavailable, retry later"}
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "store" in ready.json["problems"]
    shutil.rmtree(tmp_path / "state.db")


def test_given_unreachable_database_at_start_then_app_starts_and_answers_503(overrides):
    # Port 1 on loopback: connection refused at once (a real PostgreSQL driver, no database mock).
    app = create_app({**overrides, "database_url": "postgresql://postgres@127.0.0.1:1/none"})
    client = app.test_client()
    assert post(client, delivery(event(62))).status_code == 503
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503
    app.extensions[STORE_KEY].dispose()
