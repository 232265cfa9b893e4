"""The default property definitions are complete and consistent."""

from connector.sandbox.properties import (
    DEFAULT_CONTACT_PROPERTIES,
    DEFAULT_PROPERTIES_ON_READ,
    DEFAULT_PROPERTY_GROUPS,
    ENGAGEMENT_PROPERTIES,
    LIFECYCLE_STAGE_ORDER,
    READ_ONLY_CONTACT_PROPERTIES,
    contact_properties,
)

BY_NAME = {p["name"]: p for p in DEFAULT_CONTACT_PROPERTIES}
TYPES = {"string", "number", "datetime", "date", "enumeration", "bool"}


def _values(name):
    return [o["value"] for o in BY_NAME[name]["options"]]


def test_given_defaults_then_names_unique_and_types_known():
    assert len(BY_NAME) == len(DEFAULT_CONTACT_PROPERTIES)
    assert {p["type"] for p in DEFAULT_CONTACT_PROPERTIES} <= TYPES
    for kind, definitions in ENGAGEMENT_PROPERTIES.items():
        assert len({p["name"] for p in definitions}) == len(definitions), kind
        assert {p["type"] for p in definitions} <= TYPES


def test_given_defaults_then_every_group_used_is_defined():
    groups = {g["name"] for g in DEFAULT_PROPERTY_GROUPS}
    assert {p["groupName"] for p in DEFAULT_CONTACT_PROPERTIES} <= groups
    assert all(set(g) == {"name", "label", "displayOrder", "archived"} for g in DEFAULT_PROPERTY_GROUPS)


def test_given_lead_status_and_lifecycle_then_hubspot_default_options():
    assert _values("hs_lead_status") == ["NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED",
                                         "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"]
    assert _values("lifecyclestage") == LIFECYCLE_STAGE_ORDER == [
        "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
        "customer", "evangelist", "other"]
    option = BY_NAME["hs_lead_status"]["options"][0]
    assert set(option) == {"label", "value", "displayOrder", "hidden"}


def test_given_rollups_then_read_only_and_calculated():
    rollups = {"hs_analytics_num_page_views", "hs_analytics_num_visits", "num_conversion_events",
               "hs_email_open", "hs_email_optout", "engagements_last_meeting_booked",
               "hs_object_id", "createdate", "lastmodifieddate", "hs_lifecyclestage_customer_date",
               "hs_v2_date_entered_lead", "hs_analytics_last_url"}
    assert rollups <= READ_ONLY_CONTACT_PROPERTIES
    assert not {"email", "firstname", "hs_lead_status", "lifecyclestage", "hubspot_owner_id",
                "jobtitle"} & READ_ONLY_CONTACT_PROPERTIES
    assert BY_NAME["hs_analytics_num_page_views"]["type"] == "number"
    assert BY_NAME["hs_email_optout"]["type"] == "bool"
    assert BY_NAME["recent_conversion_date"]["type"] == "datetime"


def test_given_enumerations_then_options_present_except_owner():
    for p in DEFAULT_CONTACT_PROPERTIES:
        if p["type"] == "enumeration" and p["name"] != "hubspot_owner_id":
            assert p["options"], p["name"]


def test_given_owners_when_contact_properties_then_owner_options_and_no_mutation():
    owners = [{"id": "11", "firstName": "Ada", "lastName": "Byron", "email": "ada@x.test"}]
    owner_prop = next(p for p in contact_properties(owners) if p["name"] == "hubspot_owner_id")
    assert [(o["value"], o["label"]) for o in owner_prop["options"]] == [("11", "Ada Byron")]
    assert BY_NAME["hubspot_owner_id"]["options"] == []


def test_given_default_read_then_names_exist():
    assert set(DEFAULT_PROPERTIES_ON_READ) <= set(BY_NAME)
    assert {"meetings", "calls", "notes", "tasks", "emails"} == set(ENGAGEMENT_PROPERTIES)
    assert "hs_meeting_start_time" in {p["name"] for p in ENGAGEMENT_PROPERTIES["meetings"]}
