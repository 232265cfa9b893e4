"""Contacts through the real hubspot-api-client: list, get, writes, batches, validation."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicMergeInput,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)

TIMEOUT = (2, 10)


@pytest.fixture(scope="module")
def number_property(sandbox):
    """A custom number property (the default contact set has no writable number)."""
    sandbox.portal.create_property("contacts", {
        "name": "lsc_test_number", "label": "Test number", "type": "number",
        "fieldType": "number", "groupName": "contactinformation"})
    return "lsc_test_number"


def test_given_default_read_when_listing_then_default_properties_and_paging(client):
    page = client.crm.contacts.basic_api.get_page(limit=100, _request_timeout=TIMEOUT)
    assert len(page.results) == 100
    assert set(page.results[0].properties) == {"createdate", "email", "firstname",
                                               "hs_object_id", "lastmodifieddate", "lastname"}
    second = client.crm.contacts.basic_api.get_page(limit=100, after=page.paging.next.after,
                                                    _request_timeout=TIMEOUT)
    assert int(second.results[0].id) > int(page.results[-1].id)


def test_given_all_contacts_when_get_all_then_every_contact_once(client, sandbox, contact_ids):
    everyone = client.crm.contacts.get_all(properties=["lifecyclestage"])
    ids = [c.id for c in everyone]
    assert len(ids) == len(set(ids)) == sandbox.portal.count()
    assert all("lifecyclestage" in c.properties for c in everyone)


def test_given_properties_param_when_get_by_id_then_asked_and_always_present(client,
                                                                              contact_ids):
    cid = contact_ids(1)[0]
    contact = client.crm.contacts.basic_api.get_by_id(
        cid, properties=["jobtitle", "no_such_property"], _request_timeout=TIMEOUT)
    # Unknown names on reads are ignored, as HubSpot does.
    assert set(contact.properties) == {"jobtitle", "hs_object_id", "createdate",
                                       "lastmodifieddate"}
    assert contact.properties["hs_object_id"] == cid


def test_given_missing_contact_when_get_then_404(client):
    with pytest.raises(ApiException) as exc:
        client.crm.contacts.basic_api.get_by_id("999999999", _request_timeout=TIMEOUT)
    assert exc.value.status == 404


def test_given_create_when_reading_back_then_values_are_strings_and_dates_iso(client):
    created = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={
        "email": "new.person@acme-test.com", "firstname": "New", "annualrevenue": "1500000.50"}),
        _request_timeout=TIMEOUT)
    props = created.properties
    assert props["annualrevenue"] == "1500000.50"
    assert props["createdate"].endswith("Z") and len(props["createdate"]) == 24
    with pytest.raises(ApiException) as exc:  # same email again
        client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
            properties={"email": "NEW.person@acme-test.com"}), _request_timeout=TIMEOUT)
    assert exc.value.status == 409
    assert created.id in json.loads(exc.value.body)["message"]


def test_given_update_when_datetime_as_ms_then_reads_back_iso_and_lastmodified_moves(
        client, contact_ids, sandbox):
    cid = contact_ids(3)[2]
    before = client.crm.contacts.basic_api.get_by_id(cid, _request_timeout=TIMEOUT)
    updated = client.crm.contacts.basic_api.update(cid, SimplePublicObjectInput(
        properties={"hs_lead_status": "OPEN"}), _request_timeout=TIMEOUT)
    assert updated.properties["hs_lead_status"] == "OPEN"
    assert updated.properties["lastmodifieddate"] >= before.properties["lastmodifieddate"]
    sandbox.portal.create_property("contacts", {
        "name": "lsc_test_when", "label": "When", "type": "datetime", "fieldType": "date",
        "groupName": "contactinformation"})
    after = client.crm.contacts.basic_api.update(cid, SimplePublicObjectInput(
        properties={"lsc_test_when": "1700000000123"}), _request_timeout=TIMEOUT)
    assert after.properties["lsc_test_when"] == "2023-11-14T22:13:20.123Z"


@pytest.mark.parametrize("properties, code", [
    ({"hs_lead_status": "NOT_AN_OPTION"}, "INVALID_OPTION"),
    ({"no_such_property": "x"}, "PROPERTY_DOESNT_EXIST"),
    ({"lsc_test_number": "1,000"}, "INVALID_DECIMAL"),
    ({"lsc_test_number": "many"}, "INVALID_DECIMAL"),
    ({"hs_analytics_num_page_views": "12"}, "READ_ONLY_VALUE"),
    ({"hs_email_open": "1"}, "READ_ONLY_VALUE"),
])
def test_given_invalid_value_when_update_then_400_validation_error(client, contact_ids,
                                                                   number_property, properties,
                                                                   code):
    cid = contact_ids(4)[3]
    with pytest.raises(ApiException) as exc:
        client.crm.contacts.basic_api.update(cid, SimplePublicObjectInput(properties=properties),
                                             _request_timeout=TIMEOUT)
    body = json.loads(exc.value.body)
    assert exc.value.status == 400
    assert body["category"] == "VALIDATION_ERROR" and body["correlationId"]
    assert body["errors"][0]["code"] == code
    assert body["message"].startswith("Property values were not valid: ")


def test_given_number_property_when_written_then_reads_back_as_given(client, contact_ids,
                                                                     number_property):
    cid = contact_ids(4)[3]
    updated = client.crm.contacts.basic_api.update(cid, SimplePublicObjectInput(
        properties={"lsc_test_number": "42.50"}), _request_timeout=TIMEOUT)
    assert updated.properties["lsc_test_number"] == "42.50"


def test_given_later_stage_when_set_earlier_then_not_applied_until_cleared(client, contact_ids):
    cid = contact_ids(5)[4]
    api = client.crm.contacts.basic_api

    def stage(value):
        return api.update(cid, SimplePublicObjectInput(properties={"lifecyclestage": value}),
                          _request_timeout=TIMEOUT).properties.get("lifecyclestage")

    stage("")
    assert stage("salesqualifiedlead") == "salesqualifiedlead"
    assert stage("lead") == "salesqualifiedlead"  # backwards: 200, value unchanged
    assert stage("") == ""
    assert stage("lead") == "lead"
    assert api.get_by_id(cid, properties=["hs_lifecyclestage_lead_date"],
                         _request_timeout=TIMEOUT).properties["hs_lifecyclestage_lead_date"]


def test_given_missing_ids_when_batch_read_then_207_with_errors(client, sandbox, contact_ids):
    ids = contact_ids(3) + ["999999998"]
    result = client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=i) for i in ids], properties=["email"],
        properties_with_history=[]), _request_timeout=TIMEOUT)
    assert len(result.results) == 3
    assert result.errors[0].category == "OBJECT_NOT_FOUND"
    assert result.errors[0].context == {"ids": ["999999998"]}


def test_given_101_inputs_when_batch_read_then_400(http, sandbox, contact_ids):
    status, body, _ = http("POST", "/crm/v3/objects/contacts/batch/read",
                           {"inputs": [{"id": str(i)} for i in range(101)], "properties": []})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"


def test_given_batch_update_when_all_found_then_200_and_values_written(client, contact_ids):
    ids = contact_ids(8)[5:8]
    result = client.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        SimplePublicObjectBatchInput(id=i, properties={"hs_lead_status": "CONNECTED"})
        for i in ids]), _request_timeout=TIMEOUT)
    assert sorted(r.id for r in result.results) == sorted(ids)
    assert {r.properties["hs_lead_status"] for r in result.results} == {"CONNECTED"}


def test_given_one_unknown_id_when_batch_update_then_207(http, sandbox, contact_ids):
    cid = contact_ids(9)[8]
    status, body, _ = http("POST", "/crm/v3/objects/contacts/batch/update", {"inputs": [
        {"id": cid, "properties": {"hs_lead_status": "NEW"}},
        {"id": "999999997", "properties": {"hs_lead_status": "NEW"}}]})
    assert status == 207
    assert body["numErrors"] == 1 and body["errors"][0]["context"]["ids"] == ["999999997"]


def test_given_upsert_by_email_when_new_and_existing_then_flags(client, sandbox, contact_ids):
    existing = sandbox.portal.get("contacts", contact_ids(10)[9])
    email = existing.properties["email"]
    result = client.crm.contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[SimplePublicObjectBatchInputUpsert(id=email, id_property="email",
                                                   properties={"jobtitle": "CEO"}),
                SimplePublicObjectBatchInputUpsert(id="brand.new@upsert-test.com",
                                                   id_property="email",
                                                   properties={"firstname": "Brand"})]),
        _request_timeout=TIMEOUT)
    by_new = {r.new: r for r in result.results}
    assert by_new[False].id == existing.id and by_new[False].properties["jobtitle"] == "CEO"
    assert by_new[True].properties["email"] == "brand.new@upsert-test.com"


def test_given_two_contacts_when_merged_then_old_id_reads_as_primary(client):
    a = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"email": "merge.a@merge-test.com"}), _request_timeout=TIMEOUT)
    b = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"email": "merge.b@merge-test.com", "jobtitle": "VP Sales"}),
        _request_timeout=TIMEOUT)
    merged = client.crm.contacts.basic_api.merge(PublicMergeInput(
        primary_object_id=a.id, object_id_to_merge=b.id), _request_timeout=TIMEOUT)
    assert merged.id == a.id and merged.properties["jobtitle"] == "VP Sales"
    again = client.crm.contacts.basic_api.get_by_id(b.id, _request_timeout=TIMEOUT)
    assert again.id == a.id


def test_given_archive_when_listing_archived_then_it_is_there(client, http):
    made = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"email": "archive.me@archive-test.com"}), _request_timeout=TIMEOUT)
    client.crm.contacts.basic_api.archive(made.id, _request_timeout=TIMEOUT)
    status, _, _ = http("GET", f"/crm/v3/objects/contacts/{made.id}")
    assert status == 404
    status, body, _ = http("GET", "/crm/v3/objects/contacts?archived=true&limit=100")
    assert status == 200 and made.id in [r["id"] for r in body["results"]]


def test_given_history_asked_when_listing_then_at_most_50_with_history(http):
    status, body, _ = http(
        "GET", "/crm/v3/objects/contacts?limit=100&propertiesWithHistory=lifecyclestage")
    assert status == 200 and len(body["results"]) == 50
    assert "lifecyclestage" in body["results"][0]["propertiesWithHistory"]


def test_given_limit_over_100_when_listing_then_400(http):
    status, body, _ = http("GET", "/crm/v3/objects/contacts?limit=101")
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
