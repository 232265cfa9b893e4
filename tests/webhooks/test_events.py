"""connector.webhooks.events: legacy contact.* and generic object.* events; errors name index and field."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.webhooks.events import Ignored, PayloadError, WebhookEvent, parse_delivery, parse_event


def legacy(**overrides) -> dict:
    """A contact.propertyChange as HubSpot documents it (https://developers.hubspot.com/docs/api/webhooks)."""
    event = {"eventId": 1001, "subscriptionId": 12345, "portalId": 62515, "appId": 54321,
             "occurredAt": 1_750_000_000_000, "subscriptionType": "contact.propertyChange",
             "attemptNumber": 0, "objectId": 123, "propertyName": "hs_lead_status",
             "propertyValue": "jane@example.com", "changeSource": "CRM_UI", "sourceId": "userId:45678"}
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}


def generic(**overrides) -> dict:
    return legacy(**{"subscriptionType": "object.propertyChange", "objectTypeId": "0-1", **overrides})


def body(*events) -> bytes:
    return json.dumps(list(events)).encode()


def test_given_legacy_property_change_then_one_event_without_the_value():
    delivery = parse_delivery(body(legacy()))
    assert delivery.ignored == ()
    assert delivery.events == (WebhookEvent(
        event_id=1001, object_id="123", kind="contact.propertyChange", occurred_at=1_750_000_000_000,
        attempt_number=0, portal_id=62515, property_name="hs_lead_status", change_source="CRM_UI",
        source_id="userId:45678"),)
    row = delivery.events[0].to_queue_row()
    assert row == {"event_id": 1001, "object_id": "123", "kind": "contact.propertyChange",
                   "occurred_at": 1_750_000_000_000,
                   "payload": {"subscriptionType": "contact.propertyChange", "attemptNumber": 0, "portalId": 62515,
                               "propertyName": "hs_lead_status", "changeSource": "CRM_UI", "sourceId": "userId:45678"}}
    assert "jane@example.com" not in json.dumps(row)


@pytest.mark.parametrize("action", ["creation", "deletion", "restore", "privacyDeletion"])
def test_given_legacy_lifecycle_events_then_accepted(action):
    event = parse_event(legacy(subscriptionType=f"contact.{action}", propertyName=None, propertyValue=None), 0)
    assert isinstance(event, WebhookEvent) and event.action == action and event.property_name is None


def test_given_merge_then_ids_kept_as_text():
    event = parse_event(legacy(subscriptionType="contact.merge", objectId=9, primaryObjectId=9,
                               mergedObjectIds=[7, 8], newObjectId=2**60), 0)
    assert (event.primary_object_id, event.merged_object_ids, event.new_object_id) == ("9", ("7", "8"), str(2**60))
    assert event.to_queue_row()["payload"]["mergedObjectIds"] == ["7", "8"]


def test_given_association_change_then_the_contact_is_the_from_side():
    raw = legacy(subscriptionType="contact.associationChange", objectId=None, propertyName=None,
                 associationType="CONTACT_TO_COMPANY", fromObjectId=123, toObjectId=456, associationRemoved=False)
    event = parse_event(raw, 0)
    assert (event.object_id, event.to_object_id, event.association_type) == ("123", "456", "CONTACT_TO_COMPANY")


def test_given_generic_contact_event_then_same_as_legacy_but_kind_kept():
    event = parse_event(generic(), 0)
    assert event.kind == "object.propertyChange" and event.action == "propertyChange" and event.object_id == "123"


@pytest.mark.parametrize("raw, reason", [
    (generic(objectTypeId="0-2"), "objectTypeId '0-2' is not a contact"),
    (legacy(subscriptionType="company.propertyChange"), "'company.propertyChange' is not about contacts"),
    (legacy(subscriptionType="deal.creation"), "'deal.creation' is not about contacts"),
    (legacy(subscriptionType="contact.somethingNew"), "'contact.somethingNew' is not one we act on"),
    (generic(subscriptionType="object.associationChange", objectTypeId=None, fromObjectTypeId="0-3",
             fromObjectId=1, toObjectId=2), "fromObjectTypeId '0-3' is not a contact"),
])
def test_given_well_formed_event_not_about_contacts_then_ignored_with_reason(raw, reason):
    result = parse_event(raw, 4)
    assert isinstance(result, Ignored) and result.index == 4 and result.event_id == 1001
    assert reason in result.reason


def test_given_mixed_delivery_then_contacts_kept_and_others_ignored():
    delivery = parse_delivery(body(legacy(eventId=1), generic(eventId=2, objectTypeId="0-2"), generic(eventId=3)))
    assert [e.event_id for e in delivery.events] == [1, 3]
    assert [i.event_id for i in delivery.ignored] == [2]


def test_given_empty_array_then_no_events():
    assert parse_delivery(b"[]").events == ()


@pytest.mark.parametrize("raw_body, where, message", [
    (b"", "body", "is not valid JSON"),
    (b"[{", "body", "is not valid JSON"),
    (b"\xff\xfe[]", "body", "is not UTF-8"),
    (b"[NaN]", "body", "is not valid JSON"),
    (b'{"eventId": 1}', "body", "must be a JSON array of events, got an object"),
    (b"[1]", "event[0]", "must be an object, got a number"),
])
def test_given_body_not_a_delivery_then_error_says_where(raw_body, where, message):
    with pytest.raises(PayloadError) as info:
        parse_delivery(raw_body)
    assert info.value.where == where and message in info.value.message


@pytest.mark.parametrize("changes, where, message", [
    ({"eventId": None}, "eventId", "is required"),
    ({"eventId": "1001"}, "eventId", "must be an integer >= 1, got a string"),
    ({"eventId": True}, "eventId", "must be an integer >= 1, got a boolean"),
    ({"eventId": 0}, "eventId", "must be an integer >= 1, got a number"),
    ({"subscriptionType": None}, "subscriptionType", "is required"),
    ({"subscriptionType": 5}, "subscriptionType", "must be a non-empty string"),
    ({"objectId": None}, "objectId", "is required"),
    ({"objectId": "12a"}, "objectId", "must be a positive integer id, got a string"),
    ({"objectId": 1.5}, "objectId", "must be a positive integer id, got a number"),
    ({"occurredAt": None}, "occurredAt", "is required"),
    ({"occurredAt": -1}, "occurredAt", "must be an integer >= 0"),
    ({"attemptNumber": "0"}, "attemptNumber", "must be an integer >= 0, got a string"),
    ({"propertyName": None}, "propertyName", "is required"),
    ({"mergedObjectIds": "7,8"}, "mergedObjectIds", "must be an array of ids"),
    ({"mergedObjectIds": [7, "x"]}, "mergedObjectIds[1]", "must be a positive integer id"),
    ({"portalId": "62515"}, "portalId", "must be an integer >= 0"),
])
def test_given_bad_field_then_error_names_index_and_field(changes, where, message):
    bad = legacy(**{k: v for k, v in changes.items() if v is not None})
    for key, value in changes.items():
        if value is None:
            bad.pop(key, None)
    with pytest.raises(PayloadError) as info:
        parse_delivery(body(legacy(eventId=1), bad))
    assert info.value.where == f"event[1].{where}"
    assert message in info.value.message


def test_given_generic_event_without_object_type_then_400_names_it():
    with pytest.raises(PayloadError, match=r"event\[0\]\.objectTypeId: is required"):
        parse_delivery(body(generic(objectTypeId=None)))


def test_error_messages_never_echo_values():
    with pytest.raises(PayloadError) as info:
        parse_delivery(body(legacy(objectId="jane@example.com")))
    assert "jane" not in str(info.value)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**63) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["eventId", "objectId", "subscriptionType", "occurredAt", "objectTypeId", "propertyName",
                         "mergedObjectIds", "attemptNumber", "fromObjectId", "x"]), inner, max_size=6),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(st.lists(_json, max_size=5) | _json)
def test_any_json_either_parses_or_raises_payload_error(data):
    try:
        delivery = parse_delivery(json.dumps(data).encode())
    except PayloadError as exc:
        assert exc.where == "body" or exc.where.startswith("event[")
    else:
        assert all(isinstance(e.to_queue_row()["event_id"], int) for e in delivery.events)
