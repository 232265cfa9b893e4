"""A portal whose buyers the default rules do not see: propensity in custom properties and in
email clicks and webinars, not in title, industry, company size, revenue or browsing."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime

import pytest

from connector.sandbox import Sandbox, SandboxConfig
from connector.sandbox.cli import add_arguments, config_from_args
from connector.sandbox.generator import generate_portal
from connector.sandbox.portal import Portal
from tests.sandbox.test_history import _spearman

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CUSTOM = ("crm_in_use", "monthly_inbound_leads", "uses_marketing_automation")
# The default rules' title points (connector/defaults/scoring.yaml, rules.fit "title" group).
TITLE_POINTS = ((r"\b(ceo|cto|cfo|cmo|coo|cio|cro|chief|founder|co-founder|owner|president)\b", 25),
                (r"\b(vp|svp|evp|vice president|head of)\b", 20), (r"\bdirector\b", 15),
                (r"\bmanager\b", 8))
SIZE_POINTS = {"100-500": 15, "500-1000": 15, "1000+": 15, "25-50": 8, "50-100": 8}
CRM_SCORE = {"HubSpot": 4, "Pipedrive": 2, "Spreadsheets": 1, "Salesforce": 1, "None": 0}


def _title_points(title: str) -> int:
    return next((pts for pattern, pts in TITLE_POINTS if re.search(pattern, title.lower())), 0)


@pytest.fixture(scope="module")
def portals():
    return generate_portal(3000, 7, NOW, buyers="custom"), generate_portal(3000, 7, NOW)


def test_given_custom_buyers_then_custom_properties_carry_the_signal_and_defaults_do_not(portals):
    custom, standard = portals
    for portal, label in ((custom, "custom"), (standard, "standard")):
        truth = [portal.truth[c["id"]]["propensity"] for c in portal.contacts]
        props = [c["properties"] for c in portal.contacts]
        seniority = _spearman([_title_points(p["jobtitle"]) for p in props], truth)
        views = _spearman([int(p["hs_analytics_num_page_views"]) for p in props], truth)
        size = _spearman([SIZE_POINTS.get(p.get("numemployees") or "", 0) for p in props], truth)
        clicks = _spearman([int(p.get("hs_email_click") or 0) for p in props], truth)
        if label == "standard":
            assert seniority > 0.25 and views > 0.4  # the default rules' world
            assert all(name not in p for p in props for name in CUSTOM)
            continue
        profile = _spearman([CRM_SCORE[p["crm_in_use"]] * 2
                             + (p["uses_marketing_automation"] == "true") * 2
                             + (int(p["monthly_inbound_leads"]) > 50) for p in props], truth)
        assert profile > 0.6 and profile > 5 * abs(seniority)
        assert abs(seniority) < 0.1 and abs(views) < 0.1 and abs(size) < 0.1
        assert clicks > 0.3  # behaviour the default rules barely use still says something
        webinar = [p.get("recent_conversion_event_name") == "Webinar registration" for p in props]
        assert _spearman([float(w) for w in webinar], truth) > 0.2


def test_given_custom_buyers_then_propensity_drives_outcomes_as_in_a_standard_portal(portals):
    custom, _ = portals
    ranked = sorted(custom.contacts, key=lambda c: custom.truth[c["id"]]["propensity"])
    won = lambda group: sum(custom.truth[c["id"]]["became_customer"] for c in group)  # noqa: E731
    assert won(ranked[-1000:]) > 4 * max(1, won(ranked[:1000]))
    customers = [c for c in custom.contacts if c["properties"]["lifecyclestage"] == "customer"]
    assert customers and all(custom.truth[c["id"]]["became_customer"] for c in customers)


def test_given_custom_buyers_when_properties_listed_then_custom_ones_in_their_own_group(
        make_http):
    with Sandbox(SandboxConfig(contacts=60, seed=3, tier="unlimited", buyers="custom")) as sb:
        http = make_http(sb.base_url)
        _, listed, _ = http("GET", "/crm/v3/properties/contacts")
        _, groups, _ = http("GET", "/crm/v3/properties/contacts/groups")
        _, page, _ = http("GET", "/crm/v3/objects/contacts?limit=50&properties=" + ",".join(CUSTOM)
                          + "&propertiesWithHistory=" + ",".join(CUSTOM))
    by_name = {d["name"]: d for d in listed["results"]}
    for name in CUSTOM:
        definition = by_name[name]
        assert definition["hubspotDefined"] is False and definition["groupName"] == "buyer_profile"
        assert definition["modificationMetadata"]["readOnlyValue"] is False
    assert by_name["crm_in_use"]["type"] == "enumeration"
    assert by_name["uses_marketing_automation"]["fieldType"] == "booleancheckbox"
    assert by_name["jobtitle"]["hubspotDefined"] is True
    assert "buyer_profile" in {g["name"] for g in groups["results"]}
    for record in page["results"]:
        for name in CUSTOM:
            (version,) = record["propertiesWithHistory"][name]
            assert version["value"] == record["properties"][name]
            assert version["timestamp"] == record["createdAt"]
            assert version["sourceType"] in ("FORM", "CRM_UI")


def test_given_custom_buyers_when_written_then_custom_values_are_validated():
    portal = Portal(generate_portal(20, 3, NOW, buyers="custom"), clock=lambda: NOW.timestamp())
    cid = next(iter(portal.stores["contacts"].records))
    portal.update_many("contacts", [(cid, {"crm_in_use": "Pipedrive"})])
    assert portal.stores["contacts"].records[cid].properties["crm_in_use"] == "Pipedrive"
    with pytest.raises(Exception, match="INVALID_OPTION|allowed options"):
        portal.update_many("contacts", [(cid, {"crm_in_use": "Excel"})])


def test_given_flags_when_parsed_then_history_and_buyers_reach_the_config():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    default = config_from_args(parser.parse_args([]))
    assert (default.history, default.buyers) == ("timeline", "standard")
    chosen = config_from_args(parser.parse_args(["--history", "flat", "--buyers", "custom"]))
    assert (chosen.history, chosen.buyers) == ("flat", "custom")
    with pytest.raises(SystemExit):
        parser.parse_args(["--history", "none"])
    with pytest.raises(ValueError, match="buyers"):
        generate_portal(5, 1, NOW, buyers="odd")
