"""Writes through the API reach a webhook receiver, signed so HubSpot's SDK verifies them."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hubspot.utils.signature import Signature


SECRET = "test-client-secret"


@pytest.fixture
def receiver():
    """A local endpoint that records every delivery and answers 204."""
    received: list[tuple[dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", received
    server.shutdown()
    server.server_close()


def test_given_webhook_url_when_contact_updated_then_signed_integration_event(
        start_sandbox, receiver, make_http):
    url, received = receiver
    sb = start_sandbox(tier="unlimited", webhook_url=url, client_secret=SECRET)
    cid = str(sb.portal.stores["contacts"].order[0])
    http = make_http(sb.base_url)
    status, _, _ = http("PATCH", f"/crm/v3/objects/contacts/{cid}",
                        {"properties": {"hs_lead_status": "ATTEMPTED_TO_CONTACT"}})
    http.close()
    assert status == 200
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.02)
    headers, body = received[0]
    assert Signature.is_valid(
        signature=headers["x-hubspot-signature-v3"], client_secret=SECRET,
        request_body=body.decode(), http_uri=url, http_method="POST", signature_version="v3",
        timestamp=headers["x-hubspot-request-timestamp"])
    events = json.loads(body)
    change = [e for e in events if e.get("propertyName") == "hs_lead_status"][0]
    assert change["subscriptionType"] == "contact.propertyChange"
    assert change["objectId"] == int(cid) and change["changeSource"] == "INTEGRATION"
    assert change["sourceId"] == str(sb.portal.app_id)
    sb.webhooks.flush()
    assert sb.snapshot()["webhooks"]["sent"] >= 1
