"""The sandbox decodes path parameters once, answers a missing object with HubSpot's JSON 404,
and reads query booleans only as `true` / `false` (connector/sandbox/api.py, errors.py)."""

from __future__ import annotations

import json
import uuid

import pytest
from hubspot.crm.contacts import ApiException, SimplePublicObjectInput

TIMEOUT = (2, 10)
NOT_FOUND = "Object not found.  objectId are usually numeric."


def _email_of(sandbox, cid: str) -> str:
    return sandbox.portal.store("contacts").records[cid].properties["email"]


def _is_object_not_found(body, object_id: str) -> None:
    """HubSpot's body for a CRM object it cannot find (hubspot-api-nodejs#669; spec `Error`)."""
    assert isinstance(body, dict), body
    assert body["status"] == "error"
    assert body["category"] == "OBJECT_NOT_FOUND"
    assert body["message"] == NOT_FOUND
    assert body["context"] == {"id": [object_id]}
    uuid.UUID(body["correlationId"])  # a fresh uuid per answer


# ---- path parameters -----------------------------------------------------------------------------
def test_given_email_id_property_when_sdk_gets_contact_then_percent_40_is_decoded(client, sandbox,
                                                                                    contact_ids):
    cid = contact_ids(1)[0]
    email = _email_of(sandbox, cid)
    # hubspot-api-client quotes every path parameter: the request path holds `%40`, not `@`.
    contact = client.crm.contacts.basic_api.get_by_id(email, id_property="email",
                                                      properties=["email"], _request_timeout=TIMEOUT)
    assert contact.id == cid and contact.properties["email"] == email


def test_given_encoded_and_plain_email_in_path_then_both_find_the_contact(http, sandbox, contact_ids):
    cid = contact_ids(2)[1]
    email = _email_of(sandbox, cid)
    local, _, domain = email.partition("@")
    for path_email in (f"{local}%40{domain}", email, email.upper().replace("@", "%40")):
        status, body, _ = http("GET", f"/crm/v3/objects/contacts/{path_email}?idProperty=email")
        assert status == 200, (path_email, body)
        assert body["id"] == cid


def test_given_plus_in_email_then_percent_2b_and_literal_plus_both_mean_plus(http, client):
    status, created, _ = http("POST", "/crm/v3/objects/contacts",
                              {"properties": {"email": "jo+tag@path-params.example"}})
    assert status == 201
    by_sdk = client.crm.contacts.basic_api.get_by_id("jo+tag@path-params.example", id_property="email",
                                                     _request_timeout=TIMEOUT)
    assert by_sdk.id == created["id"]  # the SDK sent jo%2Btag%40...
    status, body, _ = http("GET", "/crm/v3/objects/contacts/jo+tag%40path-params.example?idProperty=email")
    assert status == 200 and body["id"] == created["id"]  # `+` in a path is not a space


def test_given_double_encoded_email_then_decoded_once_and_not_found(http, sandbox, contact_ids):
    email = _email_of(sandbox, contact_ids(3)[2])
    local, _, domain = email.partition("@")
    status, body, _ = http("GET", f"/crm/v3/objects/contacts/{local}%2540{domain}?idProperty=email")
    assert status == 404
    _is_object_not_found(body, f"{local}%40{domain}")  # decoded once: the literal text %40


def test_given_encoded_slash_in_id_then_it_stays_one_parameter(http):
    status, body, _ = http("GET", "/crm/v3/objects/contacts/a%2Fb")
    assert status == 404
    _is_object_not_found(body, "a/b")  # the contact route, not "no such path"


def test_given_email_id_property_when_sdk_updates_contact_then_it_is_written(client, sandbox,
                                                                            contact_ids):
    cid = contact_ids(4)[3]
    email = _email_of(sandbox, cid)
    updated = client.crm.contacts.basic_api.update(
        email, SimplePublicObjectInput(properties={"jobtitle": "Path param tester"}),
        id_property="email", _request_timeout=TIMEOUT)
    assert updated.id == cid
    assert sandbox.portal.store("contacts").records[cid].properties["jobtitle"] == "Path param tester"


def test_given_encoded_property_and_group_names_then_they_are_decoded(http):
    status, prop, _ = http("GET", "/crm/v3/properties/contacts/first%6Eame")
    assert status == 200 and prop["name"] == "firstname"
    status, group, _ = http("GET", "/crm/v3/properties/contacts/groups/contact%69nformation")
    assert status == 200 and group["name"] == "contactinformation"


def test_given_encoded_ids_for_engagements_and_owners_then_they_are_decoded(http, sandbox):
    owner_id = str(sandbox.portal.owners[0]["id"])
    encoded = "".join(f"%{ord(c):02X}" for c in owner_id)
    status, owner, _ = http("GET", f"/crm/v3/owners/{encoded}")
    assert status == 200 and str(owner["id"]) == owner_id
    meeting_id = next(iter(sandbox.portal.store("meetings").records))
    status, meeting, _ = http("GET", "/crm/v3/objects/meetings/" + "".join(f"%{ord(c):02X}" for c in meeting_id))
    assert status == 200 and meeting["id"] == meeting_id


def test_given_decoded_path_then_stats_count_the_route_template(sandbox, http, contact_ids):
    before = sandbox.snapshot()["requests"].get("GET /crm/v3/objects/contacts/{contactId}", 0)
    email = _email_of(sandbox, contact_ids(1)[0])
    http("GET", f"/crm/v3/objects/contacts/{email.replace('@', '%40')}?idProperty=email")
    assert sandbox.snapshot()["requests"]["GET /crm/v3/objects/contacts/{contactId}"] == before + 1


# ---- a missing object: HubSpot's JSON 404 --------------------------------------------------------
def test_given_missing_id_when_sdk_gets_contact_then_404_with_hubspots_json_body(client):
    with pytest.raises(ApiException) as exc:
        client.crm.contacts.basic_api.get_by_id("999999999", _request_timeout=TIMEOUT)
    assert exc.value.status == 404
    assert exc.value.headers["Content-Type"].startswith("application/json")
    _is_object_not_found(json.loads(exc.value.body), "999999999")


def test_given_missing_email_when_sdk_gets_contact_then_404_names_the_decoded_email(client):
    with pytest.raises(ApiException) as exc:
        client.crm.contacts.basic_api.get_by_id("nobody@path-params.example", id_property="email",
                                                _request_timeout=TIMEOUT)
    assert exc.value.status == 404
    _is_object_not_found(json.loads(exc.value.body), "nobody@path-params.example")


def test_given_missing_id_when_patching_then_404_with_json_body(http):
    status, body, headers = http("PATCH", "/crm/v3/objects/contacts/999999998",
                                 {"properties": {"jobtitle": "x"}})
    assert status == 404 and headers["Content-Type"].startswith("application/json")
    _is_object_not_found(body, "999999998")


def test_given_missing_engagement_then_404_with_json_body(http):
    status, body, _ = http("GET", "/crm/v3/objects/meetings/999999997")
    assert status == 404
    _is_object_not_found(body, "999999997")


def test_given_archived_contact_then_404_json_unless_archived_true(http, contact_ids):
    cid = contact_ids(60)[-1]
    assert http("DELETE", f"/crm/v3/objects/contacts/{cid}")[0] == 204
    status, body, _ = http("GET", f"/crm/v3/objects/contacts/{cid}")
    assert status == 404
    _is_object_not_found(body, cid)
    status, body, _ = http("GET", f"/crm/v3/objects/contacts/{cid}?archived=true")
    assert status == 200 and body["archived"] is True


# ---- query booleans ------------------------------------------------------------------------------
@pytest.mark.parametrize("spelling", ["False", "True", "FALSE", "1", "0", "", "yes"])
@pytest.mark.parametrize("path", [
    "/crm/v3/objects/contacts/{cid}?archived={v}",
    "/crm/v3/objects/contacts?limit=1&archived={v}",
    "/crm/v3/properties/contacts?archived={v}",
    "/crm/v3/owners?archived={v}",
])
def test_given_boolean_not_spelled_true_or_false_then_400_naming_it(http, contact_ids, path, spelling):
    status, body, _ = http("GET", path.format(cid=contact_ids(1)[0], v=spelling))
    assert status == 400
    assert body["category"] == "VALIDATION_ERROR"
    assert "archived" in body["message"] and body["context"] == {"archived": [spelling]}


def test_given_batch_read_with_python_spelled_false_then_400(http, contact_ids):
    status, body, _ = http("POST", "/crm/v3/objects/contacts/batch/read?archived=False",
                           {"inputs": [{"id": contact_ids(1)[0]}], "properties": ["email"]})
    assert status == 400 and body["context"] == {"archived": ["False"]}


@pytest.mark.parametrize("spelling, found", [("false", True), ("true", False), (None, True)])
def test_given_spec_spelling_or_no_value_then_read_as_hubspot_does(http, contact_ids, spelling, found):
    cid = contact_ids(1)[0]
    query = "" if spelling is None else f"?archived={spelling}"
    status, _, _ = http("GET", f"/crm/v3/objects/contacts/{cid}{query}")
    assert status == (200 if found else 404)


def test_given_sdk_bool_then_sent_as_python_spells_it_and_refused(client, contact_ids):
    """hubspot-api-client sends `archived=False` for a Python bool: the connector must pass "false"."""
    cid = contact_ids(1)[0]
    with pytest.raises(ApiException) as exc:
        client.crm.contacts.basic_api.get_by_id(cid, archived=False, _request_timeout=TIMEOUT)
    assert exc.value.status == 400 and "'False'" in exc.value.body
    contact = client.crm.contacts.basic_api.get_by_id(cid, archived="false", _request_timeout=TIMEOUT)
    assert contact.id == cid
