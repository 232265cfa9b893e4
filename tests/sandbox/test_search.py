"""Search: the SDK with paging, HubSpot's limits, and every operator against the sandbox."""

from __future__ import annotations

import json

import hubspot
import pytest
from hubspot.crm.contacts import Filter, FilterGroup, PublicObjectSearchRequest, SimplePublicObjectInput

from connector.sandbox import DEFAULT_TOKEN
from connector.sandbox.errors import ApiError
from connector.sandbox.search import parse, run

TIMEOUT = (2, 10)
TYPES = {"n": "number", "d": "datetime", "s": "string", "e": "enumeration"}.get


def test_given_stage_filter_when_paging_with_sdk_then_all_matches_once(client, sandbox):
    stages = [r.properties.get("lifecyclestage") for r in sandbox.portal.stores["contacts"]
              .records.values() if not r.archived]
    expected = stages.count("lead")
    seen, after = [], None
    while True:
        page = client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=[Filter(property_name="lifecyclestage",
                                                       operator="EQ", value="lead")])],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            properties=["lifecyclestage"], limit=25, after=after), _request_timeout=TIMEOUT)
        seen += [r.id for r in page.results]
        assert page.total == expected
        if not page.paging:
            break
        after = page.paging.next.after
    assert len(seen) == len(set(seen)) == expected
    assert seen == sorted(seen, key=int)


def test_given_write_when_searching_lastmodifieddate_then_found_by_ms_and_iso(start_sandbox, clock):
    # On a fake clock: "now" when searching is the millisecond of the write, however slow the machine.
    sandbox = start_sandbox(tier="unlimited", clock=clock)
    client = hubspot.Client.create(access_token=DEFAULT_TOKEN, host=sandbox.base_url)
    cid = str(sandbox.portal.stores["contacts"].order[0])
    updated = client.crm.contacts.basic_api.update(cid, SimplePublicObjectInput(
        properties={"hs_lead_status": "IN_PROGRESS"}), _request_timeout=TIMEOUT)
    stamp = updated.properties["lastmodifieddate"]
    for value in (stamp, str(sandbox.portal.now_ms() - 1)):
        page = client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=[Filter(property_name="lastmodifieddate",
                                                       operator="GTE", value=value)])],
            limit=200), _request_timeout=TIMEOUT)
        assert cid in [r.id for r in page.results]


def test_given_after_10000_when_searching_then_400(http):
    status, body, headers = http("POST", "/crm/v3/objects/contacts/search",
                                 {"limit": 100, "after": "10000"})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    status, body, headers = http("POST", "/crm/v3/objects/contacts/search",
                                 {"limit": 100, "after": "9900"})
    assert status == 200
    assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in headers)


@pytest.mark.parametrize("body", [
    {"filterGroups": [{"filters": []}] * 6},
    {"filterGroups": [{"filters": [{"propertyName": "s", "operator": "HAS_PROPERTY"}] * 7}]},
    {"filterGroups": [{"filters": [{"propertyName": "s", "operator": "HAS_PROPERTY"}] * 5}] * 4},
    {"limit": 201},
    {"sorts": ["s", "n"]},
    {"query": "x" * 3001},
    {"filterGroups": [{"filters": [{"propertyName": "s", "operator": "LIKE", "value": "a"}]}]},
])
def test_given_request_over_a_limit_when_parsed_then_400(body):
    with pytest.raises(ApiError) as exc:
        parse(body, len(json.dumps(body)), TYPES)
    assert exc.value.status == 400


RECORDS = [("1", {"s": "Alice@Example.com", "n": "5", "d": "2024-01-01T00:00:00.000Z",
                  "e": "a;b"}),
           ("2", {"s": "bob smith", "n": "10.5", "d": "2024-06-01T00:00:00.000Z", "e": "c"}),
           ("3", {"s": None, "n": None, "d": None, "e": ""})]


@pytest.mark.parametrize("flt, ids", [
    ({"propertyName": "s", "operator": "EQ", "value": "alice@example.com"}, ["1"]),
    ({"propertyName": "s", "operator": "NEQ", "value": "bob smith"}, ["1", "3"]),
    ({"propertyName": "n", "operator": "LT", "value": 10}, ["1"]),
    ({"propertyName": "n", "operator": "LTE", "value": "10.5"}, ["1", "2"]),
    ({"propertyName": "n", "operator": "GT", "value": "5"}, ["2"]),
    ({"propertyName": "n", "operator": "GTE", "value": "5"}, ["1", "2"]),
    ({"propertyName": "d", "operator": "BETWEEN", "value": "1704067200000",
      "highValue": "2024-03-01T00:00:00Z"}, ["1"]),
    ({"propertyName": "e", "operator": "IN", "values": ["b", "x"]}, ["1"]),
    ({"propertyName": "e", "operator": "NOT_IN", "values": ["c"]}, ["1", "3"]),
    ({"propertyName": "e", "operator": "HAS_PROPERTY"}, ["1", "2"]),
    ({"propertyName": "n", "operator": "NOT_HAS_PROPERTY"}, ["3"]),
    ({"propertyName": "s", "operator": "CONTAINS_TOKEN", "value": "smith"}, ["2"]),
    ({"propertyName": "s", "operator": "CONTAINS_TOKEN", "value": "*@example.com"}, ["1"]),
    ({"propertyName": "s", "operator": "NOT_CONTAINS_TOKEN", "value": "smith"}, ["1", "3"]),
])
def test_given_operator_when_run_then_expected_records(flt, ids):
    body = {"filterGroups": [{"filters": [flt]}], "limit": 10}
    total, page, _ = run(parse(body, 100, TYPES), RECORDS, TYPES)
    assert sorted(page) == ids and total == len(ids)


def test_given_two_groups_when_run_then_ored_and_sorted_descending():
    body = {"filterGroups": [{"filters": [{"propertyName": "n", "operator": "EQ", "value": 5}]},
                             {"filters": [{"propertyName": "n", "operator": "GT", "value": 6}]}],
            "sorts": [{"propertyName": "n", "direction": "DESCENDING"}], "limit": 1}
    total, page, next_after = run(parse(body, 100, TYPES), RECORDS, TYPES)
    assert (total, page, next_after) == (2, ["2"], 1)


@pytest.mark.parametrize("floor", ["0", "150", "299"])
def test_given_paging_by_id_when_searching_then_the_fast_path_answers_as_the_full_scan_does(http, floor):
    """`hs_object_id > X` alone takes a slice of the id order; adding a condition that every record
    meets forces the full scan. Both must give the same pages and totals."""
    def pages(filters):
        out, after = [], None
        while True:
            body = {"filterGroups": [{"filters": filters}], "limit": 37, "properties": ["email"],
                    "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]}
            if after:
                body["after"] = after
            status, data, _ = http("POST", "/crm/v3/objects/contacts/search", body)
            assert status == 200
            out.append((data["total"], [r["id"] for r in data["results"]]))
            after = (data.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return out

    by_id = [{"propertyName": "hs_object_id", "operator": "GT", "value": floor}]
    fast = pages(by_id)
    full = pages(by_id + [{"propertyName": "hs_object_id", "operator": "HAS_PROPERTY"}])
    assert fast == full and fast[0][0] > 0
