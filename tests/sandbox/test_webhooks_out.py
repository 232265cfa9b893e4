"""The webhook sender: HubSpot's payloads, subscriptions, batching, signatures and retries."""

import json
import time

import pytest
from hubspot.utils.signature import Signature

from connector.sandbox.webhooks import (
    Subscription,
    SubscriptionFileError,
    WebhookSender,
    default_subscriptions,
    load_subscriptions,
    load_webhooks_file,
)
from tests.support.clock import FakeClock
from tests.support.receiver import Receiver

SECRET = "sandbox-client-secret"
URL = "https://hooks.example.test/webhooks/hubspot?x=1"


class Recorder:
    """A fake `post` that records requests and answers from a script of statuses."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, url, body, headers, timeout):
        self.requests.append((url, body, headers))
        answer = self.answers.pop(0) if self.answers else 204
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, tuple) else (answer, {})

    def events(self):
        return [e for _, body, _ in self.requests for e in json.loads(body)]


def _change(kind="propertyChange", oid=101, **extra):
    return {"type": kind, "objectId": oid, "occurredAt": 1764000000000, "changeSource": "API",
            "sourceId": "app:54321", **extra}


@pytest.fixture
def make_sender():
    senders = []

    def make(post, **kw):
        kw.setdefault("retry_backoff_s", 0.001)
        kw.setdefault("flush_interval_s", 0.005)
        sender = WebhookSender(URL, SECRET, portal_id=62515, app_id=54321, post=post, **kw).start()
        senders.append(sender)
        return sender

    yield make
    for sender in senders:
        sender.stop()


def test_given_property_change_when_published_then_legacy_payload(make_sender):
    post = Recorder()
    sender = make_sender(post)
    sender.publish([_change(propertyName="hs_lead_status", propertyValue="OPEN")])
    assert sender.flush()
    (event,) = post.events()
    assert event == {"eventId": 1, "subscriptionId": event["subscriptionId"], "portalId": 62515,
                     "appId": 54321, "occurredAt": 1764000000000,
                     "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
                     "objectId": 101, "changeSource": "API", "sourceId": "app:54321",
                     "changeFlag": "VALUE_CHANGED", "propertyName": "hs_lead_status",
                     "propertyValue": "OPEN"}
    assert sender.stats == {"sent": 1, "retried": 0, "failed": 0, "duplicated": 0}


def test_given_generic_format_then_object_types_and_merge_fields(make_sender):
    post = Recorder()
    sender = make_sender(post, fmt="generic")
    sender.publish([_change("creation"),
                    _change("merge", primaryObjectId=101, mergedObjectIds=[102], newObjectId=101)])
    assert sender.flush()
    creation, merge = post.events()
    assert creation["subscriptionType"] == "object.creation" and creation["objectTypeId"] == "0-1"
    assert (merge["primaryObjectId"], merge["mergedObjectIds"], merge["newObjectId"]) == (101, [102], 101)
    assert "numberOfPropertiesMoved" in merge


def test_given_privacy_deletion_then_privacy_and_plain_deletion_once_each(make_sender):
    post = Recorder()
    sender = make_sender(post)
    sender.publish([_change("privacyDeletion")])
    sender.publish([_change("privacyDeletion", oid=5), _change("deletion", oid=5)])
    assert sender.flush()
    kinds = [(e["objectId"], e["subscriptionType"]) for e in post.events()]
    assert sorted(kinds) == [(5, "contact.deletion"), (5, "contact.privacyDeletion"),
                             (101, "contact.deletion"), (101, "contact.privacyDeletion")]


def test_given_property_subscription_then_other_properties_filtered_out(make_sender):
    post = Recorder()
    subs = [Subscription(7, "contact.propertyChange", "lifecyclestage"),
            Subscription(8, "contact.creation", active=False)]
    sender = make_sender(post, subscriptions=subs)
    sender.publish([_change(propertyName="firstname", propertyValue="A"), _change("creation"),
                    _change(propertyName="lifecyclestage", propertyValue="lead")])
    assert sender.flush()
    assert [(e["subscriptionId"], e["propertyValue"]) for e in post.events()] == [(7, "lead")]


def test_given_250_events_then_batches_of_at_most_100(make_sender):
    post = Recorder()
    sender = make_sender(post)
    sender.publish([_change(oid=i, propertyName="firstname", propertyValue=str(i)) for i in range(250)])
    assert sender.flush()
    sizes = [len(json.loads(body)) for _, body, _ in post.requests]
    assert max(sizes) <= 100 and sum(sizes) == 250 and len(sizes) == 3
    assert len({e["eventId"] for e in post.events()}) == 250


def test_given_request_when_verified_with_sdk_then_v3_and_v1_valid(make_sender):
    post = Recorder()
    clock = FakeClock(time.time())  # now: the SDK checks v3 timestamps against its own clock
    sender = make_sender(post, clock=clock)
    sender.publish([_change(propertyName="email", propertyValue="zoë@x.test")])
    assert sender.flush()
    url, body, headers = post.requests[0]
    text = body.decode("utf-8")
    timestamp = headers["X-HubSpot-Request-Timestamp"]
    assert timestamp == str(clock.ms())  # the sender's clock, in epoch milliseconds
    assert Signature.is_valid(signature=headers["X-HubSpot-Signature-v3"], client_secret=SECRET,
                              request_body=text, http_uri=url, http_method="POST",
                              signature_version="v3", timestamp=timestamp)
    assert headers["X-HubSpot-Signature-Version"] == "v1"
    assert Signature.is_valid(signature=headers["X-HubSpot-Signature"], client_secret=SECRET,
                              request_body=text, signature_version="v1")
    assert text.startswith("[{") and ", " not in text  # compact JSON array


def test_given_failures_then_retried_with_attempt_number(make_sender):
    post = Recorder(500, ConnectionResetError("reset"), (429, {"Retry-After": "0"}), 200)
    sender = make_sender(post)
    sender.publish([_change(propertyName="city", propertyValue="Oslo")])
    assert sender.flush()
    assert [json.loads(b)[0]["attemptNumber"] for _, b, _ in post.requests] == [0, 1, 2, 3]
    assert sender.stats == {"sent": 1, "retried": 3, "failed": 0, "duplicated": 0}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405])
def test_given_non_retryable_status_then_given_up_at_once(make_sender, status):
    post = Recorder(status)
    sender = make_sender(post)
    sender.publish([_change("creation")])
    assert sender.flush()
    assert len(post.requests) == 1 and sender.stats == {"sent": 0, "retried": 0, "failed": 1, "duplicated": 0}


def test_given_endless_503_then_stops_after_max_attempts(make_sender):
    post = Recorder(*[503] * 20)
    sender = make_sender(post, max_attempts=4)
    sender.publish([_change("creation")])
    assert sender.flush()
    assert len(post.requests) == 4 and sender.stats == {"sent": 0, "retried": 3, "failed": 1, "duplicated": 0}


def test_given_default_subscriptions_then_all_contact_events():
    types = {s.subscription_type for s in default_subscriptions()}
    assert types == {"contact.creation", "contact.deletion", "contact.merge", "contact.restore",
                     "contact.propertyChange", "contact.privacyDeletion"}
    assert "contact.privacyDeletion" in {s.subscription_type for s in default_subscriptions("generic")}
    with pytest.raises(ValueError, match="fmt"):
        default_subscriptions("v4")


TEMPLATE = {  # HubSpot/hubspot-project-components 2025.2 webhooks-hsmeta.json, activated
    "uid": "webhooks", "type": "webhooks",
    "config": {
        "settings": {"targetUrl": "https://example.com/webhook", "maxConcurrentRequests": 10},
        "subscriptions": {
            "crmObjects": [
                {"subscriptionType": "object.creation", "objectType": "contact", "active": True},
                {"subscriptionType": "object.propertyChange", "objectType": "contact",
                 "propertyName": "firstname", "active": True},
                {"subscriptionType": "object.creation", "objectType": "deal", "active": True}],
            "legacyCrmObjects": [
                {"subscriptionType": "contact.propertyChange", "propertyName": "lastname", "active": True},
                {"subscriptionType": "contact.deletion", "active": False}],
            "hubEvents": [{"subscriptionType": "contact.privacyDeletion", "active": True}],
        },
    },
}


def test_given_project_webhooks_file_then_contact_subscriptions(tmp_path):
    path = tmp_path / "webhooks-hsmeta.json"
    path.write_text(json.dumps(TEMPLATE))
    loaded = load_webhooks_file(path)
    assert loaded.target_url == "https://example.com/webhook" and loaded.max_concurrent_requests == 10
    assert [(s.subscription_type, s.property_name, s.active) for s in loaded.subscriptions] == [
        ("object.creation", None, True), ("object.propertyChange", "firstname", True),
        ("contact.propertyChange", "lastname", True), ("contact.deletion", None, False),
        ("contact.privacyDeletion", None, True)]
    assert load_subscriptions(path) == loaded.subscriptions


@pytest.mark.parametrize("mutate, key", [
    (lambda c: c["subscriptions"]["legacyCrmObjects"][0].pop("propertyName"),
     "config.subscriptions.legacyCrmObjects[0].propertyName"),
    (lambda c: c["subscriptions"]["hubEvents"][0].update(subscriptionType="contact.creation"),
     "config.subscriptions.hubEvents[0].subscriptionType"),
    (lambda c: c["subscriptions"].update(crm=[]), "config.subscriptions.crm"),
    (lambda c: c["settings"].update(targetUrl="ftp://x"), "config.settings.targetUrl"),
    (lambda c: c["subscriptions"]["crmObjects"][0].pop("objectType"),
     "config.subscriptions.crmObjects[0].objectType"),
    (lambda c: c.pop("subscriptions"), "config.subscriptions"),
])
def test_given_bad_webhooks_file_then_error_names_file_and_key(tmp_path, mutate, key):
    document = json.loads(json.dumps(TEMPLATE))
    mutate(document["config"])
    path = tmp_path / "webhooks-hsmeta.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SubscriptionFileError) as error:
        load_webhooks_file(path)
    assert str(path) in str(error.value) and key in str(error.value)


def test_given_missing_or_broken_file_then_error_names_file(tmp_path):
    for path, content in ((tmp_path / "absent.json", None), (tmp_path / "broken.json", "{")):
        if content is not None:
            path.write_text(content)
        with pytest.raises(SubscriptionFileError, match=str(path.name)):
            load_webhooks_file(path)


def test_given_local_http_server_then_signed_delivery_end_to_end():
    with Receiver(200, first=[503]) as receiver:
        url = receiver.url("/webhooks/hubspot")
        sender = WebhookSender(url, SECRET, portal_id=1, app_id=2, retry_backoff_s=0.01,
                               flush_interval_s=0.005).start()
        try:
            sender.publish([_change("creation", oid=9)])
            assert sender.flush(timeout=5)
        finally:
            sender.stop()
    received = receiver.requests
    assert len(received) == 2
    last = received[-1]
    path, headers, body = last.path, last.headers, last.body  # headers: case-insensitive, like HTTP
    assert path == "/webhooks/hubspot"
    assert json.loads(body)[0]["attemptNumber"] == 1
    assert Signature.is_valid(signature=headers["X-HubSpot-Signature-v3"], client_secret=SECRET,
                              request_body=body.decode(), http_uri=url, http_method="POST",
                              signature_version="v3", timestamp=headers["X-HubSpot-Request-Timestamp"])
    assert sender.stats == {"sent": 1, "retried": 1, "failed": 0, "duplicated": 0}
