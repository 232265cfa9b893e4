"""Seeded property history: a timeline that ends at today's values, holds HubSpot's invariants at
every instant, sits beneath the sandbox's own writes, and is served within HubSpot's limits."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from connector.sandbox import Sandbox, SandboxConfig
from connector.sandbox.generator import generate_portal
from connector.sandbox.portal import Portal
from connector.sandbox.properties import LIFECYCLE_STAGE_ORDER
from connector.sandbox.values import iso_ms, to_ms

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW_ISO = iso_ms(to_ms(NOW.isoformat()) or 0)
DAY_MS = 86_400_000
# count -> its "last" date property: no version of the count is later than that date.
COUNT_LAST = {
    "hs_analytics_num_visits": "hs_analytics_last_visit_timestamp",
    "hs_analytics_num_page_views": "hs_analytics_last_visit_timestamp",
    "hs_email_delivered": "hs_email_last_send_date",
    "hs_email_open": "hs_email_last_open_date",
    "hs_email_click": "hs_email_last_click_date",
    "num_conversion_events": "recent_conversion_date",
    "num_unique_conversion_events": "recent_conversion_date",
    "num_contacted_notes": "notes_last_contacted",
    "num_associated_deals": None,
    "hs_email_bounce": "hs_email_last_send_date",
}
# (larger, smaller): larger >= smaller at every instant.
AT_LEAST = (("hs_analytics_num_page_views", "hs_analytics_num_visits"),
            ("hs_email_delivered", "hs_email_open"), ("hs_email_open", "hs_email_click"),
            ("num_conversion_events", "num_unique_conversion_events"))
FIT = ("email", "firstname", "lastname", "phone", "jobtitle", "company", "website", "city",
       "state", "country", "industry", "numemployees", "annualrevenue")


def _portal(n: int = 300, **kwargs: str) -> Portal:
    return Portal(generate_portal(n, 11, NOW, **kwargs), clock=lambda: NOW.timestamp())


@pytest.fixture(scope="module")
def seeded():
    """300 seeded contacts, each with the history of every contact property."""
    portal = _portal()
    names = list(portal.stores["contacts"].definitions)
    rendered = [(r.properties, portal.render(r, names, names)["propertiesWithHistory"])
                for r in portal.stores["contacts"].records.values()]
    return portal, rendered


def _at(versions: list[dict], moment: str) -> int:
    """A count's value at `moment` (versions newest first; 0 before the first)."""
    for v in versions:
        if v["timestamp"] <= moment:
            return int(v["value"])
    return 0


def test_given_seeded_contacts_when_history_read_then_newest_version_is_todays_value(seeded):
    _, rendered = seeded
    checked = 0
    for props, history in rendered:
        for name, versions in history.items():
            value = props.get(name)
            if value in (None, ""):
                assert versions == [], name
            else:
                assert versions and versions[0]["value"] == value, (props["hs_object_id"], name)
                checked += 1
    assert checked > 300 * 30


def test_given_seeded_history_then_every_timestamp_in_createdate_to_now_and_newest_first(seeded):
    _, rendered = seeded
    for props, history in rendered:
        for name, versions in history.items():
            stamps = [v["timestamp"] for v in versions]
            assert stamps == sorted(stamps, reverse=True), name
            assert all(props["createdate"] <= s <= NOW_ISO for s in stamps), (name, stamps)
            assert all(set(v) >= {"value", "timestamp", "sourceType", "sourceId"}
                       for v in versions)


def test_given_seeded_history_then_counts_rise_by_steps_and_never_after_their_last_date(seeded):
    _, rendered = seeded
    for props, history in rendered:
        for name, last in COUNT_LAST.items():
            values = [int(v["value"]) for v in reversed(history[name])]
            assert values == sorted(set(values)), (name, values)  # strictly rising
            if name in ("hs_analytics_num_visits", "hs_email_delivered", "hs_email_open",
                        "hs_email_click", "num_conversion_events", "num_contacted_notes"):
                rising = [v for v in values if v]  # a zero count is one version at createdate
                assert rising == list(range(1, len(rising) + 1)), name  # one event at a time
            if last and history[name]:
                bound = max(props["createdate"], props.get(last) or "")
                assert history[name][0]["timestamp"] <= bound, (name, props["hs_object_id"])


def test_given_seeded_history_then_larger_counts_stay_larger_at_every_instant(seeded):
    _, rendered = seeded
    instants = 0
    for _, history in rendered:
        moments = {v["timestamp"] for big, small in AT_LEAST for v in history[big] + history[small]}
        for moment in moments:
            for big, small in AT_LEAST:
                assert _at(history[big], moment) >= _at(history[small], moment), (big, moment)
            instants += 1
    assert instants > 3000


def test_given_seeded_history_then_first_dates_are_set_once_and_recent_names_follow_forms(seeded):
    _, rendered = seeded
    for props, history in rendered:
        for name in ("first_conversion_event_name", "first_conversion_date",
                     "hs_email_first_open_date", "hs_email_first_click_date",
                     "hs_analytics_first_timestamp", "hs_analytics_first_url"):
            assert len(history[name]) == (1 if props.get(name) else 0), name
        n = int(props.get("num_conversion_events") or 0)
        assert len(history["recent_conversion_event_name"]) == n
        assert len(history["recent_conversion_date"]) == n
        if n:
            assert [v["timestamp"] for v in history["recent_conversion_date"]] == [
                v["timestamp"] for v in history["num_conversion_events"]]
            assert history["recent_conversion_event_name"][-1]["value"] == \
                props["first_conversion_event_name"]
            assert all(v["sourceType"] == "FORM" for v in history["num_conversion_events"])


def test_given_seeded_history_then_stages_come_at_their_dates_and_dates_are_calculated(seeded):
    _, rendered = seeded
    for props, history in rendered:
        entered = sorted((props[f"hs_lifecyclestage_{s}_date"], s) for s in LIFECYCLE_STAGE_ORDER
                         if props.get(f"hs_lifecyclestage_{s}_date"))
        stages = [(v["timestamp"], v["value"]) for v in reversed(history["lifecyclestage"])]
        assert stages == entered
        for name, versions in history.items():
            if name.startswith(("hs_lifecyclestage_", "hs_v2_date_")) and props.get(name):
                assert [(v["value"], v["timestamp"], v["sourceType"]) for v in versions] == [
                    (props[name], props[name], "CALCULATED")]
        if props.get("hubspot_owner_id"):
            owner = history["hubspot_owner_id"]
            assert len(owner) == 1 and owner[0]["sourceType"] == "CRM_UI"
            assert owner[0]["sourceId"].startswith("userId:")
            sql = props.get("hs_lifecyclestage_salesqualifiedlead_date")
            if sql:  # sales took the contact by the time it became an SQL
                assert owner[0]["timestamp"] <= sql
            if props.get("hs_lead_status") == "OPEN_DEAL":
                assert history["hs_lead_status"][0]["timestamp"] == \
                    props["hs_lifecyclestage_opportunity_date"]


def test_given_seeded_history_then_fit_properties_have_one_version_at_createdate(seeded):
    _, rendered = seeded
    sources = set()
    for props, history in rendered:
        for name in FIT:
            if props.get(name):
                (version,) = history[name]
                assert version["timestamp"] == props["createdate"], name
                assert version["sourceType"] in ("FORM", "CRM_UI")
                sources.add(version["sourceType"])
    assert sources == {"FORM", "CRM_UI"}


def test_given_old_engaged_contacts_when_young_then_fewer_visits_that_still_reflect_propensity(
        seeded):
    portal, rendered = seeded
    young, today, propensity = [], [], []
    for props, history in rendered:
        created = to_ms(props["createdate"]) or 0
        if to_ms(NOW.isoformat()) - created < 365 * DAY_MS:  # type: ignore[operator]
            continue
        at_30_days = iso_ms(created + 30 * DAY_MS)
        young.append(_at(history["hs_analytics_num_visits"], at_30_days))
        today.append(int(props["hs_analytics_num_visits"]))
        propensity.append(portal.truth[props["hs_object_id"]]["propensity"])
    assert len(young) > 50
    busy = [(y, t) for y, t in zip(young, today, strict=True) if t >= 20]
    assert busy and sum(y for y, _ in busy) < 0.5 * sum(t for _, t in busy)
    assert _spearman(young, propensity) > 0.3


def test_given_seeded_contact_when_written_then_new_versions_sit_on_top_of_the_seeded_ones():
    portal = _portal(50)
    record = next(r for r in portal.stores["contacts"].records.values()
                  if r.properties["lifecyclestage"] == "lead")
    seeded_stage = portal.history(record, "lifecyclestage")
    seeded_views = portal.history(record, "hs_analytics_num_page_views")
    portal.update_many("contacts", [(record.id, {"jobtitle": "VP Growth",
                                                 "lifecyclestage": "marketingqualifiedlead"})])
    portal.apply_activity([{"contactId": record.id, "type": "page_view",
                            "url": "https://www.example-saas.com/pricing"}])
    title = portal.history(record, "jobtitle")
    assert title[0]["value"] == "VP Growth" and title[0]["sourceType"] == "INTEGRATION"
    assert len(title) == 2 and title[1]["sourceType"] in ("FORM", "CRM_UI")
    stage = portal.history(record, "lifecyclestage")
    assert stage[0]["value"] == "marketingqualifiedlead" and stage[1:] == seeded_stage
    views = portal.history(record, "hs_analytics_num_page_views")
    assert views[0]["sourceType"] == "ANALYTICS" and views[1:] == seeded_views
    assert int(views[0]["value"]) == int(seeded_views[0]["value"]) + 1
    dated = portal.history(record, "hs_lifecyclestage_marketingqualifiedlead_date")
    assert dated[0]["sourceType"] == "CALCULATED"
    assert portal.history(record, "lastmodifieddate")[0]["value"] == \
        record.properties["lastmodifieddate"]


def test_given_api_created_contact_when_history_read_then_its_creation_is_the_first_version(
        http):
    status, made, _ = http("POST", "/crm/v3/objects/contacts",
                           {"properties": {"email": "history.new@example.org", "jobtitle": "CTO"}})
    assert status == 201
    status, body, _ = http("GET", f"/crm/v3/objects/contacts/{made['id']}"
                                  "?propertiesWithHistory=jobtitle,email,lastname")
    history = body["propertiesWithHistory"]
    assert [v["value"] for v in history["jobtitle"]] == ["CTO"]
    assert history["jobtitle"][0]["sourceType"] == "INTEGRATION"
    assert history["lastname"] == []


# ---- limits -------------------------------------------------------------------------------------
def test_given_history_when_batch_reading_51_then_400_naming_50_and_50_is_fine(http, contact_ids):
    ids = contact_ids(60)
    body = {"inputs": [{"id": i} for i in ids[:51]], "properties": ["email"],
            "propertiesWithHistory": ["hs_analytics_num_visits"]}
    status, answer, _ = http("POST", "/crm/v3/objects/contacts/batch/read", body)
    assert status == 400 and answer["category"] == "VALIDATION_ERROR"
    assert "50" in answer["message"] and answer["context"] == {"limit": ["50"]}
    body["inputs"] = body["inputs"][:50]
    status, answer, _ = http("POST", "/crm/v3/objects/contacts/batch/read", body)
    assert status == 200 and len(answer["results"]) == 50
    assert all(r["propertiesWithHistory"]["hs_analytics_num_visits"] for r in answer["results"])
    status, _, _ = http("POST", "/crm/v3/objects/contacts/batch/read",
                        {"inputs": [{"id": i} for i in ids], "properties": ["email"]})
    assert status == 200  # without history the limit stays 100


def test_given_history_when_listing_pages_then_at_most_50_and_paging_goes_on(http):
    status, body, _ = http("GET", "/crm/v3/objects/contacts?limit=80"
                                  "&propertiesWithHistory=hs_email_open")
    assert status == 200 and len(body["results"]) == 50
    after = body["paging"]["next"]["after"]
    status, more, _ = http("GET", f"/crm/v3/objects/contacts?limit=80&after={after}"
                                  "&propertiesWithHistory=hs_email_open")
    assert len(more["results"]) == 50
    assert {r["id"] for r in body["results"]}.isdisjoint(r["id"] for r in more["results"])


# ---- truth and advance --------------------------------------------------------------------------
def test_given_truth_then_customers_have_converts_at_and_future_ones_within_a_year(seeded):
    portal, _ = seeded
    future = 0
    for cid, truth in portal.truth.items():
        props = portal.stores["contacts"].records[cid].properties
        assert ("converts_at" in truth) == truth["became_customer"]
        if not truth["became_customer"]:
            continue
        if props["lifecyclestage"] in ("customer", "evangelist"):
            assert truth["converts_at"] == props["hs_lifecyclestage_customer_date"]
        else:
            future += 1
            assert NOW_ISO < truth["converts_at"] <= iso_ms(to_ms(NOW_ISO) + 366 * DAY_MS)
    assert future > 3


@pytest.fixture
def advancing():
    with Sandbox(SandboxConfig(contacts=600, seed=5, tier="unlimited", now=NOW,
                               clock=lambda: NOW.timestamp())) as sb:
        events: list[dict] = []
        sb.portal.publish = events.extend
        yield sb, events


def test_given_future_customers_when_advanced_then_the_due_ones_move_dated_then(advancing,
                                                                                make_http):
    sb, events = advancing
    http = make_http(sb.base_url)
    _, truth, _ = http("GET", "/_sandbox/truth", token=None)
    truth = truth["contacts"]
    stage_of = {cid: sb.portal.stores["contacts"].records[cid].properties["lifecyclestage"]
                for cid in truth}
    future = {cid: t["converts_at"] for cid, t in truth.items()
              if t["became_customer"] and stage_of[cid] not in ("customer", "evangelist")}
    until = iso_ms(to_ms(NOW_ISO) + 90 * DAY_MS)
    due = {cid for cid, at in future.items() if at <= until}
    soon = {cid for cid, at in future.items() if at > until
            and to_ms(at) - 14 * DAY_MS <= to_ms(until)  # type: ignore[operator]
            and stage_of[cid] in ("subscriber", "lead", "marketingqualifiedlead",
                                  "salesqualifiedlead")}
    assert due and len(due) < len(future)
    status, counts, _ = http("POST", "/_sandbox/advance", {"until": until}, token=None)
    assert status == 200 and counts["customer"] == len(due)
    before_opportunity = {cid for cid in due if stage_of[cid] in (
        "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead")}
    assert counts["opportunity"] == len(before_opportunity) + len(soon)
    records = sb.portal.stores["contacts"].records
    for cid in future:
        props = records[cid].properties
        if cid in due:
            assert props["lifecyclestage"] == "customer"
            assert props["hs_lifecyclestage_customer_date"] == future[cid]
            assert props["hs_v2_date_entered_customer"] == future[cid]
            top = sb.portal.history(records[cid], "lifecyclestage")[0]
            assert (top["value"], top["timestamp"], top["sourceType"]) == (
                "customer", future[cid], "CRM_UI")
        elif cid in soon:
            assert props["lifecyclestage"] == "opportunity"
        else:
            assert props["lifecyclestage"] == stage_of[cid]
    changes = [e for e in events if e.get("propertyName") == "lifecyclestage"]
    assert len(changes) == counts["customer"] + counts["opportunity"]
    assert all(e["changeSource"] == "CRM_UI" for e in changes)
    assert {iso_ms(e["occurredAt"]) for e in changes if e["propertyValue"] == "customer"} == {
        future[cid] for cid in due}
    snapshot = {cid: (r.properties, r.history) for cid, r in records.items()}
    events.clear()
    status, again, _ = http("POST", "/_sandbox/advance", {"until": until}, token=None)
    assert again == {"opportunity": 0, "customer": 0} and events == []
    assert {cid: (r.properties, r.history) for cid, r in records.items()} == snapshot
    status, _, _ = http("POST", "/_sandbox/advance", {"until": "soon"}, token=None)
    assert status == 400


# ---- flat history -------------------------------------------------------------------------------
def test_given_flat_history_then_every_version_is_one_import_and_other_values_unchanged():
    flat, standard = _portal(200, history="flat"), _portal(200)
    imported = iso_ms(to_ms(NOW_ISO) - 7 * DAY_MS)  # type: ignore[operator]
    names = list(flat.stores["contacts"].definitions)
    dated = ("hs_lifecyclestage_", "hs_v2_date_", "createdate", "lastmodifieddate")
    for cid, record in flat.stores["contacts"].records.items():
        props = record.properties
        history = flat.render(record, names, names)["propertiesWithHistory"]
        for name, versions in history.items():
            if props.get(name):
                assert [(v["value"], v["timestamp"], v["sourceType"]) for v in versions] == [
                    (props[name], imported, "IMPORT")]
            if name.startswith(dated[:3]) and props.get(name):
                assert props[name] == imported
        assert record.created_at == imported
        other = standard.stores["contacts"].records[cid].properties
        assert {k: v for k, v in props.items() if not k.startswith(dated)} == {
            k: v for k, v in other.items() if not k.startswith(dated)}


# ---- the standard portal has not moved ----------------------------------------------------------
# sha256 of json.dumps(contacts, sort_keys=True) for generate_portal(500, seed, NOW) without the
# stage dates and what follows from them (lastmodifieddate, updatedAt), computed on the code before
# property history existed (commit 633b199). The stage dates themselves changed on purpose since:
# they follow a sales cycle now (generator._stage_entered), drawn with the same one draw per stage.
STANDARD_HASHES = {7: "0a4a5974976d2a396a1db6eb8ce107519417445cce532b9ec939dbe22f54572a",
                   11: "b15ddbbcaaed6798e5e64b81ad45ee9a9ab7362daf00e4d75e925ce5a33e8f7e"}
STAGE_DATED = ("hs_lifecyclestage_", "hs_v2_date_")


def _without_stage_dates(contact: dict) -> dict:
    props = {k: v for k, v in contact["properties"].items()
             if not k.startswith(STAGE_DATED) and k != "lastmodifieddate"}
    return {**{k: v for k, v in contact.items() if k not in ("properties", "updatedAt")}, "properties": props}


@pytest.mark.parametrize("seed", sorted(STANDARD_HASHES))
def test_given_standard_portal_then_todays_values_but_stage_dates_are_byte_for_byte_as_before(seed):
    portal = generate_portal(500, seed, NOW)
    digest = hashlib.sha256(json.dumps([_without_stage_dates(c) for c in portal.contacts],
                                       sort_keys=True).encode()).hexdigest()
    assert digest == STANDARD_HASHES[seed]


def test_given_standard_portal_then_stages_follow_a_sales_cycle_whatever_the_contact_age():
    portal = generate_portal(3000, 7, NOW)
    gaps = {"old": [], "young": []}
    now_ms = NOW.timestamp() * 1000
    for c in portal.contacts:
        p = c["properties"]
        mql, opp = p.get("hs_lifecyclestage_marketingqualifiedlead_date"), p.get("hs_lifecyclestage_opportunity_date")
        if mql and opp:
            age_days = (now_ms - _ms(p["createdate"])) / 86_400_000
            gaps["old" if age_days > 365 else "young"].append((_ms(opp) - _ms(mql)) / 86_400_000)
    median = {k: sorted(v)[len(v) // 2] for k, v in gaps.items()}
    assert len(gaps["old"]) > 20 and len(gaps["young"]) > 20
    assert median["old"] < 120 and median["old"] < 3 * median["young"]  # not stretched over the years


def _ms(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp() * 1000


def _spearman(a: list[float], b: list[float]) -> float:
    def ranks(xs: list[float]) -> list[float]:
        order = sorted(range(len(xs)), key=lambda i: xs[i])
        out = [0.0] * len(xs)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2
            i = j + 1
        return out
    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    var = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return cov / var if var else 0.0
