"""Tasks with associations: create with task -> contact (204), read them back three ways, the
failure cases, and GET /_sandbox/tasks."""

from __future__ import annotations

import pytest


@pytest.fixture
def portal_sb(start_sandbox):
    return start_sandbox(tier="unlimited", clock=lambda: 1_767_600_000.0)


def _link(cid: str, type_id: int = 204, category: str = "HUBSPOT_DEFINED") -> list[dict]:
    return [{"to": {"id": cid}, "types": [{"associationCategory": category,
                                           "associationTypeId": type_id}]}]


def _task(sb, http, cid: str, **props: str) -> tuple[int, dict]:
    owner = sb.portal.owners[0]["id"]
    body = {"properties": {"hs_timestamp": "2026-01-06T09:00:00Z", "hs_task_subject": "Call back",
                           "hs_task_body": "Score jumped: hot lead", "hubspot_owner_id": owner,
                           **props},
            "associations": _link(cid)}
    status, answer, _ = http("POST", "/crm/v3/objects/tasks", body)
    return status, answer


def _contact_without_tasks(sb) -> str:
    return next(c for c in map(str, sb.portal.stores["contacts"].order)
                if c not in sb.portal.associations["tasks"])


def test_given_task_with_204_when_created_then_contact_lists_it_with_203(portal_sb, make_http):
    http = make_http(portal_sb.base_url)
    cid = _contact_without_tasks(portal_sb)
    status, task = _task(portal_sb, http, cid)
    assert status == 201
    status, read, _ = http("POST", "/crm/v4/associations/contacts/tasks/batch/read",
                           {"inputs": [{"id": cid}]})
    assert status == 200
    [row] = read["results"]
    assert row["from"] == {"id": cid}
    assert row["to"] == [{"toObjectId": int(task["id"]), "associationTypes": [
        {"category": "HUBSPOT_DEFINED", "typeId": 203, "label": None}]}]


def test_given_task_when_read_with_associations_then_contacts_results(portal_sb, make_http):
    http = make_http(portal_sb.base_url)
    cid = _contact_without_tasks(portal_sb)
    _, task = _task(portal_sb, http, cid)
    status, got, _ = http("GET", f"/crm/v3/objects/tasks/{task['id']}?associations=contacts")
    assert status == 200
    assert got["associations"] == {"contacts": {"results": [{"id": cid,
                                                             "type": "task_to_contact"}]}}
    _, plain, _ = http("GET", f"/crm/v3/objects/tasks/{task['id']}")
    assert "associations" not in plain
    _, contact, _ = http("GET", f"/crm/v3/objects/contacts/{cid}?associations=tasks")
    assert contact["associations"]["tasks"]["results"] == [{"id": task["id"],
                                                            "type": "contact_to_task"}]


def test_given_task_when_read_through_sdk_with_associations_then_parsed(portal_sb, make_http):
    import hubspot

    from connector.sandbox import DEFAULT_TOKEN
    http = make_http(portal_sb.base_url)
    cid = _contact_without_tasks(portal_sb)
    _, task = _task(portal_sb, http, cid)
    client = hubspot.Client.create(access_token=DEFAULT_TOKEN, host=portal_sb.base_url)
    got = client.crm.objects.tasks.basic_api.get_by_id(task["id"], associations=["contacts"],
                                                       _request_timeout=(2, 10))
    assert [a.id for a in got.associations["contacts"].results] == [cid]


def test_given_tasks_when_searched_by_associated_contact_then_only_its_tasks(portal_sb,
                                                                             make_http):
    http = make_http(portal_sb.base_url)
    cid = _contact_without_tasks(portal_sb)
    other = next(c for c in map(str, portal_sb.portal.stores["contacts"].order)
                 if c != cid and c not in portal_sb.portal.associations["tasks"])
    _, mine = _task(portal_sb, http, cid)
    _task(portal_sb, http, other)
    status, found, _ = http("POST", "/crm/v3/objects/tasks/search", {"filterGroups": [{"filters": [
        {"propertyName": "associations.contact", "operator": "EQ", "value": cid}]}]})
    assert status == 200
    assert found["total"] == 1 and [r["id"] for r in found["results"]] == [mine["id"]]


def test_given_tasks_when_searched_by_subject_and_body_tokens_then_matched(portal_sb, make_http):
    http = make_http(portal_sb.base_url)
    cid = _contact_without_tasks(portal_sb)
    _, task = _task(portal_sb, http, cid, hs_task_subject="Hot lead: Ada Byron",
                    hs_task_body="Score 91, owner alert")
    for prop, token in (("hs_task_subject", "byron"), ("hs_task_body", "alert")):
        _, found, _ = http("POST", "/crm/v3/objects/tasks/search", {
            "filterGroups": [{"filters": [
                {"propertyName": prop, "operator": "CONTAINS_TOKEN", "value": token},
                {"propertyName": "associations.contact", "operator": "EQ", "value": cid}]}],
            "properties": ["hs_task_subject"]})
        assert [r["id"] for r in found["results"]] == [task["id"]], prop
    _, none, _ = http("POST", "/crm/v3/objects/tasks/search", {"filterGroups": [{"filters": [
        {"propertyName": "hs_task_subject", "operator": "CONTAINS_TOKEN", "value": "zebra"},
        {"propertyName": "associations.contact", "operator": "EQ", "value": cid}]}]})
    assert none["total"] == 0


def test_given_unsupported_operator_on_association_when_searched_then_400(portal_sb, make_http):
    http = make_http(portal_sb.base_url)
    status, body, _ = http("POST", "/crm/v3/objects/tasks/search", {"filterGroups": [{"filters": [
        {"propertyName": "associations.contact", "operator": "GT", "value": "1"}]}]})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("type_id,category", [(203, "HUBSPOT_DEFINED"), (200, "HUBSPOT_DEFINED"),
                                              (204, "USER_DEFINED")])
def test_given_wrong_association_type_when_creating_task_then_400_and_nothing_made(
        portal_sb, make_http, type_id, category):
    http = make_http(portal_sb.base_url)
    cid = _contact_without_tasks(portal_sb)
    before = len(portal_sb.portal.stores["tasks"].records)
    status, body, _ = http("POST", "/crm/v3/objects/tasks", {
        "properties": {"hs_timestamp": "2026-01-06T09:00:00Z", "hs_task_subject": "x"},
        "associations": _link(cid, type_id, category)})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["context"] == {"associationTypeId": [str(type_id)]}
    assert len(portal_sb.portal.stores["tasks"].records) == before
    assert cid not in portal_sb.portal.associations["tasks"]


def test_given_association_without_types_when_creating_task_then_400(portal_sb, make_http):
    http = make_http(portal_sb.base_url)
    cid = _contact_without_tasks(portal_sb)
    status, body, _ = http("POST", "/crm/v3/objects/tasks", {
        "properties": {"hs_timestamp": "2026-01-06T09:00:00Z"},
        "associations": [{"to": {"id": cid}}]})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"


def test_given_missing_contact_when_creating_task_then_400_invalid_object_ids(portal_sb,
                                                                             make_http):
    http = make_http(portal_sb.base_url)
    before = len(portal_sb.portal.stores["tasks"].records)
    status, body = _task(portal_sb, http, "999999999")
    assert status == 400
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert body["message"] == "One or more associations are invalid"
    assert body["context"] == {"INVALID_OBJECT_IDS": ["CONTACT=999999999 is not valid"],
                               "objectId": ["999999999"], "objectType": ["CONTACT"]}
    assert len(portal_sb.portal.stores["tasks"].records) == before


def test_given_archived_contact_when_creating_task_then_400(portal_sb, make_http):
    http = make_http(portal_sb.base_url)
    cid = _contact_without_tasks(portal_sb)
    http("DELETE", f"/crm/v3/objects/contacts/{cid}")
    status, body = _task(portal_sb, http, cid)
    assert status == 400 and body["context"]["objectId"] == [cid]


def test_given_batch_with_one_missing_contact_when_creating_tasks_then_none_made(portal_sb,
                                                                                make_http):
    http = make_http(portal_sb.base_url)
    cid = _contact_without_tasks(portal_sb)
    before = len(portal_sb.portal.stores["tasks"].records)
    inputs = [{"properties": {"hs_timestamp": "2026-01-06T09:00:00Z"}, "associations": _link(c)}
              for c in (cid, "888888888")]
    status, _, _ = http("POST", "/crm/v3/objects/tasks/batch/create", {"inputs": inputs})
    assert status == 400
    assert len(portal_sb.portal.stores["tasks"].records) == before


def test_given_task_without_hs_timestamp_when_created_then_400_naming_it(portal_sb, make_http):
    http = make_http(portal_sb.base_url)
    cid = _contact_without_tasks(portal_sb)
    status, body, _ = http("POST", "/crm/v3/objects/tasks", {
        "properties": {"hs_task_subject": "no due date"}, "associations": _link(cid)})
    assert status == 400
    assert body["errors"][0]["context"]["propertyName"] == ["hs_timestamp"]


def test_given_unknown_owner_when_creating_task_then_400_naming_it(portal_sb, make_http):
    http = make_http(portal_sb.base_url)
    cid = _contact_without_tasks(portal_sb)
    status, body = _task(portal_sb, http, cid, hubspot_owner_id="12345")
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    [error] = body["errors"]
    assert error["code"] == "INVALID_OWNER_ID"
    assert error["context"]["propertyName"] == ["hubspot_owner_id"]
    assert "12345" in error["message"]


def test_given_deactivated_owner_when_creating_task_then_400(portal_sb, make_http):
    http = make_http(portal_sb.base_url)
    owner = portal_sb.portal.owners[1]["id"]
    http("POST", f"/_sandbox/owners/{owner}/deactivate", token=None)
    status, body = _task(portal_sb, http, _contact_without_tasks(portal_sb),
                            hubspot_owner_id=owner)
    assert status == 400 and body["errors"][0]["code"] == "INVALID_OWNER_ID"


def test_given_created_tasks_when_listing_admin_tasks_then_ids_contacts_and_ms(portal_sb,
                                                                             make_http):
    http = make_http(portal_sb.base_url)
    cid = _contact_without_tasks(portal_sb)
    http("POST", "/_sandbox/stats/reset", token=None)
    _, task = _task(portal_sb, http, cid)
    status, listed, _ = http("GET", "/_sandbox/tasks", token=None)
    assert status == 200
    [entry] = listed["results"]  # the seeded tasks are not listed
    assert entry["id"] == task["id"] and entry["contactIds"] == [cid]
    assert entry["createdAtMs"] == 1_767_600_000_000
    assert entry["properties"]["hs_task_subject"] == "Call back"
    _, stats, _ = http("GET", "/_sandbox/stats", token=None)
    assert stats["requests"] == {"POST /crm/v3/objects/{objectType}": 1}


def test_given_a_batch_create_with_trace_ids_then_each_result_carries_its_inputs_id(portal_sb, make_http):
    http = make_http(portal_sb.base_url)
    contacts = [str(c) for c in portal_sb.portal.stores["contacts"].order[:3]]
    inputs = [{"properties": {"hs_timestamp": "2026-01-06T09:00:00Z", "hs_task_subject": f"Call {c}"},
               "associations": _link(c), "objectWriteTraceId": f"trace-{c}"} for c in contacts]
    inputs[1].pop("objectWriteTraceId")  # optional: an input without one gets none back
    status, body, _ = http("POST", "/crm/v3/objects/tasks/batch/create", {"inputs": inputs})
    assert status == 201
    by_subject = {r["properties"]["hs_task_subject"]: r.get("objectWriteTraceId") for r in body["results"]}
    assert by_subject == {f"Call {contacts[0]}": f"trace-{contacts[0]}", f"Call {contacts[1]}": None,
                          f"Call {contacts[2]}": f"trace-{contacts[2]}"}
