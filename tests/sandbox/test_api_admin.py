"""Admin endpoints and change events: stats, activity, truth, sales updates, privacy deletion."""

from __future__ import annotations

import time

import pytest

from connector.sandbox.portal import INTEGRATION


@pytest.fixture
def events(start_sandbox):
    """A sandbox whose change events are recorded instead of sent."""
    sb = start_sandbox(tier="unlimited")
    recorded: list[dict] = []
    sb.portal.publish = recorded.extend
    return sb, recorded


def test_given_calls_when_reading_stats_then_counted_by_template_and_admin_not(events, make_http):
    sb, _ = events
    http = make_http(sb.base_url)
    cid = str(sb.portal.stores["contacts"].order[0])
    http("GET", f"/crm/v3/objects/contacts/{cid}")
    http("GET", f"/crm/v3/objects/contacts/{cid}")
    http("POST", "/crm/v3/objects/contacts/batch/update", {"inputs": []})
    status, stats, _ = http("GET", "/_sandbox/stats", token=None)
    assert status == 200
    assert stats["requests"] == {"GET /crm/v3/objects/contacts/{contactId}": 2,
                                 "POST /crm/v3/objects/contacts/batch/update": 1}
    assert stats["contacts"] == 50
    assert set(stats["rate_limited"]) == {"TEN_SECONDLY_ROLLING", "SECONDLY", "DAILY"}
    assert stats["webhooks"] == {"sent": 0, "retried": 0, "failed": 0, "duplicated": 0}
    status, reset, _ = http("POST", "/_sandbox/stats/reset", token=None)
    http.close()
    assert reset["requests"] == {}


def test_given_api_update_when_applied_then_integration_events_with_app_id(events, make_http):
    sb, recorded = events
    http = make_http(sb.base_url)
    cid = str(sb.portal.stores["contacts"].order[1])
    http("PATCH", f"/crm/v3/objects/contacts/{cid}",
         {"properties": {"hs_lead_status": "UNQUALIFIED"}})
    http.close()
    change = [e for e in recorded if e.get("propertyName") == "hs_lead_status"][0]
    assert change["type"] == "propertyChange" and change["objectId"] == int(cid)
    assert change["changeSource"] == INTEGRATION and change["sourceId"] == str(sb.portal.app_id)
    assert change["propertyValue"] == "UNQUALIFIED"


def test_given_activity_when_posted_then_rollups_move_and_events_fire(events, make_http):
    sb, recorded = events
    http = make_http(sb.base_url)
    cid = str(sb.portal.stores["contacts"].order[2])
    before = int(sb.portal.get("contacts", cid).properties.get("hs_analytics_num_page_views")
                 or 0)
    status, body, _ = http("POST", "/_sandbox/activity", [
        {"contactId": cid, "type": "page_view", "url": "https://www.example-saas.com/pricing"}],
        token=None)
    assert status == 200 and body["applied"] == 1
    after = sb.portal.get("contacts", cid).properties["hs_analytics_num_page_views"]
    assert int(after) == before + 1
    assert any(e.get("propertyName") == "hs_analytics_num_page_views" for e in recorded)
    status, body, _ = http("POST", "/_sandbox/activity", [{"contactId": cid, "type": "teleport"}],
                           token=None)
    http.close()
    assert status == 400


def test_given_sales_update_when_posted_then_crm_ui_source_and_backwards_stage_allowed(
        events, make_http):
    sb, recorded = events
    http = make_http(sb.base_url)
    cid = str(sb.portal.stores["contacts"].order[3])
    http("POST", f"/_sandbox/contacts/{cid}/sales-update",
         {"properties": {"lifecyclestage": "customer"}}, token=None)
    status, body, _ = http("POST", f"/_sandbox/contacts/{cid}/sales-update",
                           {"properties": {"lifecyclestage": "lead"}}, token=None)
    http.close()
    assert status == 200 and body["properties"]["lifecyclestage"] == "lead"
    assert recorded[-1]["changeSource"] == "CRM_UI"
    assert recorded[-1]["sourceId"].startswith("userId:")


def test_given_privacy_delete_when_posted_then_both_events_and_gone(events, make_http):
    sb, recorded = events
    http = make_http(sb.base_url)
    cid = str(sb.portal.stores["contacts"].order[4])
    status, _, _ = http("POST", f"/_sandbox/contacts/{cid}/privacy-delete", token=None)
    listed, body, _ = http("GET", "/crm/v3/objects/contacts?archived=true&limit=100")
    http.close()
    assert status == 204
    assert [e["type"] for e in recorded[-2:]] == ["privacyDeletion", "deletion"]
    assert cid not in [r["id"] for r in body["results"]]


def test_given_truth_when_read_then_propensity_per_contact(events, make_http):
    sb, _ = events
    http = make_http(sb.base_url)
    status, body, _ = http("GET", "/_sandbox/truth", token=None)
    http.close()
    assert status == 200 and len(body["contacts"]) == 50
    assert {"propensity", "became_customer"} <= set(next(iter(body["contacts"].values())))


def test_given_activity_rate_when_running_then_rollups_keep_changing(start_sandbox):
    sb = start_sandbox(tier="unlimited", activity_rate=200)
    recorded: list[dict] = []
    sb.portal.publish = recorded.extend
    deadline = time.monotonic() + 5
    while not recorded and time.monotonic() < deadline:
        time.sleep(0.05)
    assert recorded and all(e["changeSource"] != "INTEGRATION" for e in recorded)
