"""connector.core.portal_check: rules held against the portal's property definitions."""

from __future__ import annotations

from connector.core.portal_check import check_rules_against_portal
from connector.core.rules_file import load_rules, parse_rules
from connector.settings import default_scoring_config

DEFS = {
    "hs_lead_status": {"name": "hs_lead_status", "type": "enumeration",
                       "options": [{"value": "NEW"}, {"value": "OPEN"}]},
    "lifecyclestage": {"name": "lifecyclestage", "type": "enumeration", "options": [{"value": "lead"}]},
    "hubspot_owner_id": {"name": "hubspot_owner_id", "type": "enumeration", "options": []},
    "industry": {"name": "industry", "type": "enumeration",
                 "options": [{"value": "COMPUTER_SOFTWARE"}, {"value": "BANKING"}]},
    "jobtitle": {"name": "jobtitle", "type": "string"},
    "annualrevenue": {"name": "annualrevenue", "type": "string"},
    "hs_analytics_num_page_views": {"name": "hs_analytics_num_page_views", "type": "number"},
    "recent_conversion_date": {"name": "recent_conversion_date", "type": "datetime"},
    "hs_email_optout": {"name": "hs_email_optout", "type": "bool"},
}


def rules(*fit: dict, engagement: tuple[dict, ...] = ()):
    return parse_rules({"version": 1, "rules": {"fit": list(fit), "engagement": list(engagement)},
                        "policy": {"mql_threshold": 10}}, "scoring.yaml")


def found(ruleset) -> list[str]:
    return [str(p) for p in check_rules_against_portal(ruleset, DEFS)]


def test_given_rules_on_existing_properties_with_valid_options_then_no_problem():
    assert found(rules({"name": "sw", "label": "Software", "property": "industry", "in": ["computer_software"],
                        "points": 5},
                       {"name": "vp", "label": "VP", "property": "jobtitle", "contains": "vp", "points": 5},
                       {"name": "rev", "label": "Revenue", "property": "annualrevenue", "gte": 1000000, "points": 5},
                       {"name": "optout", "label": "Opted out", "property": "hs_email_optout", "equals": True,
                        "points": -5})) == []


def test_given_a_misspelt_property_then_it_is_named_with_the_rule_and_a_suggestion():
    sw = {"name": "sw", "label": "Software", "property": "industy", "equals": "BANKING", "points": 5}
    assert found(rules(sw)) == [
        "scoring.yaml: rules.fit[0] 'sw'.property: 'industy' is not a contact property of this portal; "
        "did you mean 'industry'?"]


def test_given_a_value_that_is_not_an_option_then_it_is_named():
    sw = {"name": "sw", "label": "Software", "property": "industry", "in": ["BANKING", "SOFTWARE", "HEALTHCARE"],
          "points": 5}
    assert found(rules(sw)) == [
        "scoring.yaml: rules.fit[0] 'sw'.property: 'SOFTWARE' is not an option of 'industry'; "
        "did you mean 'COMPUTER_SOFTWARE'?",
        "scoring.yaml: rules.fit[0] 'sw'.property: 'HEALTHCARE' is not an option of 'industry' "
        "(options: BANKING, COMPUTER_SOFTWARE)"]


def test_given_operators_that_do_not_fit_the_type_then_each_is_named():
    assert found(rules(
        {"name": "big", "label": "Big", "property": "industry", "gte": 5, "points": 5},
        engagement=({"name": "views", "label": "Views", "property": "jobtitle", "per_unit": 1, "max": 5},
                    {"name": "recent", "label": "Recent", "property": "jobtitle", "exists": True, "points": 3,
                     "within_days": 5, "date_property": "jobtitle"}))) == [
        "scoring.yaml: rules.fit[0] 'big'.property: gte compares numbers, but 'industry' is a enumeration property",
        "scoring.yaml: rules.engagement[0] 'views'.property: 'jobtitle' is a string property; a per_unit rule "
        "counts a number",
        "scoring.yaml: rules.engagement[1] 'recent'.date_property: 'jobtitle' is a string property; a window is "
        "read from a date or datetime",
    ]


def test_given_the_default_rules_and_a_portal_without_one_of_their_properties_then_that_rule_is_named():
    from connector.sandbox.properties import contact_properties

    definitions = {d["name"]: d for d in contact_properties([])}
    default = load_rules(default_scoring_config())
    assert check_rules_against_portal(default, definitions) == []
    del definitions["industry"]
    problems = [str(p) for p in check_rules_against_portal(default, definitions)]
    assert len(problems) == 1 and "'industry' is not a contact property of this portal" in problems[0]
    assert "rules.fit[" in problems[0] and problems[0].startswith(default.source)
