"""Owners with teams and deactivation; logged sales touches for an SLA clock; a handoff property
created through the properties API and set by a salesperson."""

from __future__ import annotations

import pytest

from connector.sandbox.generator import ENTERPRISE_TEAM, INBOUND_TEAM

NOW_S = 1_767_600_000.0  # 2026-01-05T08:00:00Z
NOW_ISO = "2026-01-05T08:00:00.000Z"


@pytest.fixture
def events(start_sandbox):
    """A sandbox on a fixed clock whose change events are recorded instead of sent."""
    sb = start_sandbox(tier="unlimited", clock=lambda: NOW_S)
    recorded: list[dict] = []
    sb.portal.publish = recorded.extend
    return sb, recorded


def _fresh_contact(sb) -> str:
    """A contact no salesperson has touched yet (no rollups)."""
    return next(c for c in map(str, sb.portal.stores["contacts"].order)
                if not sb.portal.stores["contacts"].records[c].properties.get("num_contacted_notes"))


# ---- owners -------------------------------------------------------------------------------------
def test_given_seeded_owners_when_listed_then_two_teams_with_primary(events, make_http):
    sb, _ = events
    http = make_http(sb.base_url)
    status, body, _ = http("GET", "/crm/v3/owners")
    assert status == 200
    teams = [o["teams"] for o in body["results"]]
    assert all(len(t) == 1 and t[0]["primary"] is True for t in teams)
    names = [t[0]["name"] for t in teams]
    assert names.count(INBOUND_TEAM["name"]) == 3
    assert names.count(ENTERPRISE_TEAM["name"]) == len(names) - 3 > 0
    assert set(body["results"][0]["teams"][0]) == {"id", "name", "primary"}
    assert body["results"][0]["userIdIncludingInactive"] == body["results"][0]["userId"]


def test_given_owners_when_read_through_sdk_then_teams_parse(events):
    import hubspot

    from connector.sandbox import DEFAULT_TOKEN
    sb, _ = events
    client = hubspot.Client.create(access_token=DEFAULT_TOKEN, host=sb.base_url)
    owner = client.crm.owners.owners_api.get_page(_request_timeout=(2, 10)).results[0]
    assert owner.teams[0].name == INBOUND_TEAM["name"] and owner.teams[0].primary is True


def test_given_deactivated_owner_then_archived_list_only_and_contacts_keep_it(events, make_http):
    sb, _ = events
    http = make_http(sb.base_url)
    owner = sb.portal.owners[0]["id"]
    owned = [c for c, r in sb.portal.stores["contacts"].records.items()
             if r.properties.get("hubspot_owner_id") == owner]
    assert owned
    status, answer, _ = http("POST", f"/_sandbox/owners/{owner}/deactivate", token=None)
    assert status == 200 and answer["archived"] is True and answer["id"] == owner
    _, active, _ = http("GET", "/crm/v3/owners")
    assert owner not in [o["id"] for o in active["results"]]
    _, archived, _ = http("GET", "/crm/v3/owners?archived=true")
    assert [o["id"] for o in archived["results"]] == [owner]
    assert archived["results"][0]["teams"][0]["name"] == INBOUND_TEAM["name"]
    status, _, _ = http("GET", f"/crm/v3/owners/{owner}")
    assert status == 404
    status, one, _ = http("GET", f"/crm/v3/owners/{owner}?archived=true")
    assert status == 200 and one["archived"] is True
    _, contact, _ = http("GET", f"/crm/v3/objects/contacts/{owned[0]}?properties=hubspot_owner_id")
    assert contact["properties"]["hubspot_owner_id"] == owner
    # Deactivating twice changes nothing.
    status, again, _ = http("POST", f"/_sandbox/owners/{owner}/deactivate", token=None)
    assert status == 200 and again == answer


def test_given_deactivated_owner_when_assigning_contact_then_400(events, make_http):
    sb, _ = events
    http = make_http(sb.base_url)
    owner = sb.portal.owners[2]["id"]
    http("POST", f"/_sandbox/owners/{owner}/deactivate", token=None)
    cid = str(sb.portal.stores["contacts"].order[0])
    status, body, _ = http("PATCH", f"/crm/v3/objects/contacts/{cid}",
                           {"properties": {"hubspot_owner_id": owner}})
    assert status == 400 and body["errors"][0]["code"] == "INVALID_OWNER_ID"
    status, _, _ = http("PATCH", f"/crm/v3/objects/contacts/{cid}",
                        {"properties": {"hubspot_owner_id": sb.portal.owners[3]["id"]}})
    assert status == 200


def test_given_unknown_owner_when_deactivating_then_404(events, make_http):
    sb, _ = events
    http = make_http(sb.base_url)
    status, body, _ = http("POST", "/_sandbox/owners/4242/deactivate", token=None)
    assert status == 404 and body["category"] == "OBJECT_NOT_FOUND"


# ---- logged sales touches -----------------------------------------------------------------------
@pytest.mark.parametrize("kind,objects,title", [
    ("call", "calls", "hs_call_title"), ("email", "emails", "hs_email_subject"),
    ("meeting", "meetings", "hs_meeting_title")])
def test_given_touch_when_logged_then_engagement_association_and_rollups(events, make_http, kind,
                                                                         objects, title):
    sb, recorded = events
    http = make_http(sb.base_url)
    cid = _fresh_contact(sb)
    owner = sb.portal.owners[0]
    at = "2026-01-05T07:30:00.000Z"
    status, answer, _ = http("POST", f"/_sandbox/contacts/{cid}/log-activity",
                             {"type": kind, "ownerId": owner["id"], "at": at}, token=None)
    assert status == 201 and answer["objectType"] == objects
    engagement = answer["engagement"]
    assert engagement["properties"]["hs_timestamp"] == at
    assert engagement["properties"]["hubspot_owner_id"] == owner["id"]
    assert engagement["properties"][title]
    props = answer["contact"]["properties"]
    assert (props["notes_last_updated"], props["notes_last_contacted"],
            props["hs_last_sales_activity_timestamp"], props["num_contacted_notes"]) == (
        at, at, at, "1")
    assert props["lastmodifieddate"] == NOW_ISO
    _, read, _ = http("POST", f"/crm/v4/associations/contacts/{objects}/batch/read",
                      {"inputs": [{"id": cid}]})
    assert int(engagement["id"]) in [t["toObjectId"] for t in read["results"][0]["to"]]
    # History: the rollup's version is CALCULATED at the write; the engagement is the UI's.
    _, hist, _ = http("GET", f"/crm/v3/objects/contacts/{cid}"
                             "?propertiesWithHistory=notes_last_contacted")
    top = hist["propertiesWithHistory"]["notes_last_contacted"][0]
    assert top == {"value": at, "timestamp": NOW_ISO, "sourceType": "CALCULATED",
                   "sourceId": None}
    _, eng_hist, _ = http("GET", f"/crm/v3/objects/{objects}/{engagement['id']}"
                                 "?propertiesWithHistory=hs_timestamp")
    assert eng_hist["propertiesWithHistory"]["hs_timestamp"][0]["sourceType"] == "CRM_UI"
    assert eng_hist["propertiesWithHistory"]["hs_timestamp"][0]["sourceId"] == \
        f"userId:{owner['userId']}"
    changes = {e["propertyName"]: e for e in recorded if e["type"] == "propertyChange"
               and e["objectId"] == int(cid)}
    assert changes["num_contacted_notes"]["propertyValue"] == "1"
    assert changes["notes_last_contacted"]["changeSource"] == "CALCULATED"


def test_given_note_when_logged_then_only_last_activity_moves(events, make_http):
    sb, _ = events
    http = make_http(sb.base_url)
    cid = _fresh_contact(sb)
    status, answer, _ = http("POST", f"/_sandbox/contacts/{cid}/log-activity",
                             {"type": "note", "ownerId": sb.portal.owners[1]["id"]}, token=None)
    assert status == 201 and answer["objectType"] == "notes"
    props = answer["contact"]["properties"]
    assert props["notes_last_updated"] == NOW_ISO  # `at` defaults to now
    assert props["notes_last_contacted"] is None and props["num_contacted_notes"] is None
    assert props["hs_last_sales_activity_timestamp"] is None
    assert answer["engagement"]["properties"]["hs_note_body"]


def test_given_earlier_touch_when_logged_then_count_rises_and_dates_stay(events, make_http):
    sb, _ = events
    http = make_http(sb.base_url)
    cid = _fresh_contact(sb)
    owner = sb.portal.owners[0]["id"]
    url = f"/_sandbox/contacts/{cid}/log-activity"
    http("POST", url, {"type": "call", "ownerId": owner, "at": "2026-01-04T10:00:00Z"}, token=None)
    _, answer, _ = http("POST", url, {"type": "email", "ownerId": owner,
                                      "at": "2026-01-03T10:00:00Z"}, token=None)
    props = answer["contact"]["properties"]
    assert props["num_contacted_notes"] == "2"
    assert props["notes_last_contacted"] == "2026-01-04T10:00:00.000Z"


def test_given_search_by_last_contacted_when_touch_logged_then_found(events, make_http):
    sb, _ = events
    http = make_http(sb.base_url)
    cid = _fresh_contact(sb)
    http("POST", f"/_sandbox/contacts/{cid}/log-activity",
         {"type": "call", "ownerId": sb.portal.owners[0]["id"]}, token=None)
    _, found, _ = http("POST", "/crm/v3/objects/contacts/search", {"filterGroups": [{"filters": [
        {"propertyName": "notes_last_contacted", "operator": "GTE", "value": NOW_ISO}]}]})
    assert cid in [r["id"] for r in found["results"]]


@pytest.mark.parametrize("body,status", [
    ({"type": "sms", "ownerId": "x"}, 400),
    ({"type": "call"}, 400),
    ({"type": "call", "ownerId": "12345"}, 400),
    ({"type": "call", "ownerId": "OWNER", "at": "yesterday"}, 400),
    ([], 400),
])
def test_given_bad_log_activity_when_posted_then_400_and_nothing_made(events, make_http, body,
                                                                      status):
    sb, recorded = events
    http = make_http(sb.base_url)
    if isinstance(body, dict) and body.get("ownerId") == "OWNER":
        body = {**body, "ownerId": sb.portal.owners[0]["id"]}
    before = {k: len(s.records) for k, s in sb.portal.stores.items()}
    got, answer, _ = http("POST", f"/_sandbox/contacts/{_fresh_contact(sb)}/log-activity", body,
                          token=None)
    assert got == status and answer["category"] == "VALIDATION_ERROR"
    assert {k: len(s.records) for k, s in sb.portal.stores.items()} == before
    assert recorded == []


def test_given_deactivated_owner_or_missing_contact_when_logging_then_refused(events, make_http):
    sb, _ = events
    http = make_http(sb.base_url)
    owner = sb.portal.owners[4]["id"]
    http("POST", f"/_sandbox/owners/{owner}/deactivate", token=None)
    status, body, _ = http("POST", f"/_sandbox/contacts/{_fresh_contact(sb)}/log-activity",
                           {"type": "call", "ownerId": owner}, token=None)
    assert status == 400 and body["context"] == {"ownerId": [owner]}
    status, _, _ = http("POST", "/_sandbox/contacts/999999999/log-activity",
                        {"type": "call", "ownerId": sb.portal.owners[0]["id"]}, token=None)
    assert status == 404


# ---- handoff properties -------------------------------------------------------------------------
def test_given_created_enumeration_when_salesperson_sets_it_then_crm_ui_history(events,
                                                                                make_http):
    sb, recorded = events
    http = make_http(sb.base_url)
    status, _, _ = http("POST", "/crm/v3/properties/contacts", {
        "name": "lsc_handoff_status", "label": "Handoff status", "type": "enumeration",
        "fieldType": "select", "groupName": "sales_properties",
        "options": [{"label": "Waiting", "value": "waiting", "displayOrder": 0},
                    {"label": "Accepted", "value": "accepted", "displayOrder": 1},
                    {"label": "Rejected", "value": "rejected", "displayOrder": 2}]})
    assert status == 201
    cid = str(sb.portal.stores["contacts"].order[0])
    url = f"/_sandbox/contacts/{cid}/sales-update"
    status, answer, _ = http("POST", url, {"properties": {"lsc_handoff_status": "accepted"}},
                             token=None)
    assert status == 200 and answer["properties"]["lsc_handoff_status"] == "accepted"
    _, hist, _ = http("GET", f"/crm/v3/objects/contacts/{cid}"
                             "?propertiesWithHistory=lsc_handoff_status")
    [version] = hist["propertiesWithHistory"]["lsc_handoff_status"]
    assert version["value"] == "accepted" and version["sourceType"] == "CRM_UI"
    assert version["sourceId"].startswith("userId:")
    change = [e for e in recorded if e.get("propertyName") == "lsc_handoff_status"]
    assert change and change[0]["changeSource"] == "CRM_UI"
    status, body, _ = http("POST", url, {"properties": {"lsc_handoff_status": "maybe"}},
                           token=None)
    assert status == 400 and body["errors"][0]["code"] == "INVALID_OPTION"
