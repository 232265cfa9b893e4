"""Writes through the API reach a webhook receiver, signed so HubSpot's SDK verifies them."""

from __future__ import annotations

import json

import pytest
from hubspot.utils.signature import Signature

from tests.support.receiver import Receiver

SECRET = "test-client-secret"


@pytest.fixture
def receiver():
    """A local endpoint that records every delivery and answers 204."""
    with Receiver(204) as hooks:
        yield hooks


def test_given_webhook_url_when_contact_updated_then_signed_integration_event(
        start_sandbox, receiver, make_http):
    url = receiver.url("/hooks")
    sb = start_sandbox(tier="unlimited", webhook_url=url, client_secret=SECRET)
    cid = str(sb.portal.stores["contacts"].order[0])
    http = make_http(sb.base_url)
    status, _, _ = http("PATCH", f"/crm/v3/objects/contacts/{cid}",
                        {"properties": {"hs_lead_status": "ATTEMPTED_TO_CONTACT"}})
    http.close()
    assert status == 200
    delivery = receiver.wait(1, timeout=5)[0]
    headers, body = delivery.headers, delivery.body
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
