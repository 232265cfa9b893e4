"""Properties and groups, engagements, associations v4 and owners through the real SDK."""

from __future__ import annotations

import pytest
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.objects.meetings import (
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectId,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects.tasks import SimplePublicObjectInputForCreate as TaskInput
from hubspot.crm.properties import ApiException, OptionInput, PropertyCreate, PropertyGroupCreate, PropertyUpdate

TIMEOUT = (2, 10)


def test_given_default_portal_when_listing_properties_then_lead_status_and_stages(client):
    props = {p.name: p for p in client.crm.properties.core_api.get_all(
        "contacts", _request_timeout=TIMEOUT).results}
    assert [o.value for o in props["hs_lead_status"].options][:2] == ["NEW", "OPEN"]
    assert len(props["hs_lead_status"].options) == 8
    assert len(props["lifecyclestage"].options) == 8
    assert props["hs_analytics_num_page_views"].modification_metadata.read_only_value


def test_given_group_and_property_when_created_then_usable_on_contacts(client, contact_ids):
    client.crm.properties.groups_api.create("contacts", PropertyGroupCreate(
        name="lsc_test_group", label="Test group"), _request_timeout=TIMEOUT)
    groups = client.crm.properties.groups_api.get_all("contacts", _request_timeout=TIMEOUT)
    assert "lsc_test_group" in [g.name for g in groups.results]
    created = client.crm.properties.core_api.create("contacts", PropertyCreate(
        name="lsc_test_grade", label="Grade", type="enumeration", field_type="select",
        group_name="lsc_test_group", options=[OptionInput(label="A", value="A", display_order=0,
                                                          hidden=False)]),
        _request_timeout=TIMEOUT)
    assert created.name == "lsc_test_grade"
    with pytest.raises(ApiException) as exc:
        client.crm.properties.core_api.create("contacts", PropertyCreate(
            name="lsc_test_grade", label="Grade", type="string", field_type="text",
            group_name="lsc_test_group"), _request_timeout=TIMEOUT)
    assert exc.value.status == 409


def test_given_options_patch_when_applied_then_list_replaced(client):
    api = client.crm.properties.core_api
    current = api.get_by_name("contacts", "hs_lead_status", _request_timeout=TIMEOUT)
    options = [OptionInput(label=o.label, value=o.value, display_order=o.display_order,
                           hidden=o.hidden) for o in current.options]
    api.update("contacts", "hs_lead_status", PropertyUpdate(options=[
        OptionInput(label="MQL", value="MQL", display_order=8, hidden=False)]),
        _request_timeout=TIMEOUT)
    replaced = api.get_by_name("contacts", "hs_lead_status", _request_timeout=TIMEOUT)
    assert [o.value for o in replaced.options] == ["MQL"]  # the 8 defaults are gone
    api.update("contacts", "hs_lead_status", PropertyUpdate(options=options + [
        OptionInput(label="MQL", value="MQL", display_order=8, hidden=False)]),
        _request_timeout=TIMEOUT)
    restored = api.get_by_name("contacts", "hs_lead_status", _request_timeout=TIMEOUT)
    assert len(restored.options) == 9


def test_given_meeting_and_task_when_created_then_read_and_associated(client, contact_ids):
    cid = contact_ids(1)[0]
    link = [{"to": {"id": cid}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                           "associationTypeId": 200}]}]
    meeting = client.crm.objects.meetings.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"hs_timestamp": "2026-01-05T10:00:00Z", "hs_meeting_title": "Demo"},
        associations=link), _request_timeout=TIMEOUT)
    task_link = [{"to": {"id": cid}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                "associationTypeId": 204}]}]  # task -> contact
    task = client.crm.objects.tasks.basic_api.create(TaskInput(
        properties={"hs_timestamp": "1767607200000", "hs_task_subject": "Call back"},
        associations=task_link), _request_timeout=TIMEOUT)
    assert task.properties["hs_timestamp"] == "2026-01-05T10:00:00.000Z"
    got = client.crm.objects.meetings.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=meeting.id)], properties=["hs_meeting_title"],
        properties_with_history=[]), _request_timeout=TIMEOUT)
    assert got.results[0].properties["hs_meeting_title"] == "Demo"
    read = client.crm.associations.v4.batch_api.get_page(
        "contacts", "meetings", BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id=cid)]), _request_timeout=TIMEOUT)
    assert meeting.id in [str(t.to_object_id) for t in read.results[0].to]


def test_given_engagement_without_timestamp_when_created_then_400(http, contact_ids):
    status, body, _ = http("POST", "/crm/v3/objects/notes", {"properties": {"hs_note_body": "x"}})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"


def test_given_contact_without_meetings_when_reading_associations_then_207_error(http, sandbox):
    lonely = next(cid for cid in map(str, sandbox.portal.stores["contacts"].order)
                  if cid not in sandbox.portal.associations["meetings"])
    status, body, _ = http("POST", "/crm/v4/associations/contacts/meetings/batch/read",
                           {"inputs": [{"id": lonely}]})
    assert status == 207 and body["results"] == []
    assert body["errors"][0]["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"


def test_given_1001_ids_when_reading_associations_then_400(http):
    status, _, _ = http("POST", "/crm/v4/associations/contacts/meetings/batch/read",
                        {"inputs": [{"id": str(i)} for i in range(1001)]})
    assert status == 400


def test_given_owners_when_listed_then_they_are_the_owner_options(client, sandbox):
    owners = client.crm.owners.owners_api.get_page(_request_timeout=TIMEOUT).results
    assert owners and owners[0].email
    options = sandbox.portal.stores["contacts"].definitions["hubspot_owner_id"]["options"]
    assert {o.id for o in owners} == {o["value"] for o in options}
