"""The seeded portal is deterministic, believable and internally consistent."""

import re
from datetime import UTC, datetime

import pytest

from connector.sandbox.activity import validate_activity
from connector.sandbox.generator import COMPETITOR_DOMAINS, FREE_EMAIL_DOMAINS, ActivityClock, generate_portal
from connector.sandbox.properties import CONTACT_PROPERTIES_BY_NAME, ENGAGEMENT_PROPERTIES, LIFECYCLE_STAGE_ORDER

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def portal():
    return generate_portal(3000, seed=7, now=NOW)


def _n(props, name):
    return int(props.get(name) or 0)


def test_given_same_seed_then_same_portal_and_other_seed_differs():
    a, b = generate_portal(200, 3, NOW), generate_portal(200, 3, NOW)
    assert a.contacts == b.contacts and a.engagements == b.engagements and a.truth == b.truth
    assert generate_portal(200, 4, NOW).contacts != a.contacts


def test_given_portal_then_ids_increase_and_records_have_hubspot_shape(portal):
    ids = [int(c["id"]) for c in portal.contacts]
    assert ids == sorted(set(ids)) and len(ids) == 3000
    for c in portal.contacts:
        assert set(c) >= {"id", "properties", "createdAt", "updatedAt"}
        assert c["properties"]["hs_object_id"] == c["id"]
        assert c["createdAt"] == c["properties"]["createdate"]
    owner = portal.owners[0]
    assert set(owner) == {"id", "email", "firstName", "lastName", "userId",
                          "userIdIncludingInactive", "createdAt", "updatedAt", "archived", "teams"}
    assert isinstance(owner["id"], str) and isinstance(owner["userId"], int)


def test_given_portal_then_every_value_is_valid_for_its_definition(portal):
    owner_ids = {o["id"] for o in portal.owners}
    for c in portal.contacts:
        for name, value in c["properties"].items():
            definition = CONTACT_PROPERTIES_BY_NAME[name]  # no unknown properties
            assert isinstance(value, str), name
            if definition["type"] == "datetime":
                assert ISO.match(value), (name, value)
            elif definition["type"] == "number":
                assert value.isdigit(), (name, value)
            elif name == "hubspot_owner_id":
                assert value in owner_ids
            elif definition["type"] in ("enumeration", "bool"):
                assert value in {o["value"] for o in definition["options"]}, (name, value)
    for kind, records in portal.engagements.items():
        names = {p["name"] for p in ENGAGEMENT_PROPERTIES[kind]}
        for record in records:
            assert set(record["properties"]) <= names, kind


def test_given_portal_then_rollups_agree(portal):
    for c in portal.contacts:
        p = c["properties"]
        assert _n(p, "hs_analytics_num_page_views") >= _n(p, "hs_analytics_num_visits") >= 1
        assert _n(p, "hs_email_delivered") >= _n(p, "hs_email_open") >= _n(p, "hs_email_click")
        assert _n(p, "num_conversion_events") >= _n(p, "num_unique_conversion_events")
        if _n(p, "num_conversion_events"):
            assert p["first_conversion_date"] <= p["recent_conversion_date"]
            assert p["recent_conversion_event_name"]
        else:
            assert "recent_conversion_date" not in p
        if _n(p, "hs_email_open"):
            assert p["hs_email_first_open_date"] <= p["hs_email_last_open_date"]
        if _n(p, "hs_email_click"):
            assert p["hs_email_last_click_date"] <= p["hs_email_last_open_date"]
        assert p["hs_analytics_last_visit_timestamp"] <= p["hs_analytics_last_timestamp"]
        assert p["createdate"] <= p["lastmodifieddate"] <= "2026-11-23T12:00:00.000Z"


def test_given_portal_then_lifecycle_dates_match_stage(portal):
    for c in portal.contacts:
        p = c["properties"]
        stage = p["lifecyclestage"]
        assert p[f"hs_lifecyclestage_{stage}_date"] == p[f"hs_v2_date_entered_{stage}"]
        assert f"hs_v2_date_exited_{stage}" not in p
        if stage != "other":
            later = LIFECYCLE_STAGE_ORDER[LIFECYCLE_STAGE_ORDER.index(stage) + 1:]
            assert not any(f"hs_lifecyclestage_{s}_date" in p for s in later)
        entered = [p[k] for k in (f"hs_v2_date_entered_{s}" for s in LIFECYCLE_STAGE_ORDER) if k in p]
        assert entered == sorted(entered)


def test_given_portal_then_meetings_agree_with_rollups(portal):
    meetings = {m["id"]: m for m in portal.engagements["meetings"]}
    for c in portal.contacts:
        p, linked = c["properties"], portal.associations["meetings"].get(c["id"], [])
        assert bool(linked) == ("engagements_last_meeting_booked" in p)
        if linked:
            starts = [meetings[m]["properties"]["hs_meeting_start_time"] for m in linked]
            assert p["hs_latest_meeting_activity"] == max(starts)
            assert p["hubspot_owner_id"]


def test_given_portal_then_mix_is_believable(portal):
    contacts = [c["properties"] for c in portal.contacts]
    domains = [p["email"].split("@")[1] for p in contacts]
    share = lambda pred: sum(map(pred, contacts)) / len(contacts)  # noqa: E731
    assert 0.08 < sum(d in FREE_EMAIL_DOMAINS for d in domains) / len(domains) < 0.35
    assert any(d in COMPETITOR_DOMAINS for d in domains)
    assert any("Student" in p["jobtitle"] for p in contacts)
    assert {"CEO", "Intern"} & {p["jobtitle"] for p in contacts}
    assert 0.5 < share(lambda p: p["lifecyclestage"] in ("subscriber", "lead")) < 0.95
    assert share(lambda p: p.get("hs_lead_status") in ("NEW", "OPEN", None)) > 0.6
    assert share(lambda p: p.get("hs_lead_status") == "IN_PROGRESS") > 0.01
    assert 0.05 < share(lambda p: "hubspot_owner_id" in p) < 0.6


def test_given_truth_then_propensity_drives_customers_and_engagement(portal):
    truth = portal.truth
    assert set(truth) == {c["id"] for c in portal.contacts}
    assert all(0 <= t["propensity"] <= 1 for t in truth.values())
    ranked = sorted(portal.contacts, key=lambda c: truth[c["id"]]["propensity"])
    low, high = ranked[:1000], ranked[-1000:]
    won = lambda group: sum(truth[c["id"]]["became_customer"] for c in group)  # noqa: E731
    views = lambda group: sum(_n(c["properties"], "hs_analytics_num_page_views") for c in group)  # noqa: E731
    assert won(high) > 4 * max(1, won(low))
    assert views(high) > 2 * views(low)
    customers = [c for c in portal.contacts if c["properties"]["lifecyclestage"] == "customer"]
    assert customers and all(truth[c["id"]]["became_customer"] for c in customers)


def test_given_20k_contacts_then_all_are_generated():
    # How fast is bench/sandbox.py's to measure, not a test's.
    portal = generate_portal(20_000, seed=7, now=NOW)
    assert len(portal.contacts) == 20_000


def test_given_activity_clock_then_rate_and_valid_items():
    clock, ids = ActivityClock(seed=1, rate_per_s=50), [str(i) for i in range(100, 200)]
    items = [i for _ in range(10) for i in clock.next_batch(ids, NOW, 1.0)]
    assert len(items) == 500
    assert all(validate_activity(i) is None for i in items)
    kinds = [i["type"] for i in items]
    assert kinds.count("page_view") > len(kinds) / 2 and "form_submission" in kinds
    assert ActivityClock(seed=1, rate_per_s=50).next_batch(ids, NOW, 1.0) == items[:50]
    assert clock.next_batch([], NOW, 1.0) == [] and clock.next_batch(ids, NOW, 0) == []
