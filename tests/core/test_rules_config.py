"""Config errors: broken files are refused with every problem named by file, rule and field."""

from __future__ import annotations

import copy

import pytest
import yaml

from connector.core.rules_file import load_rules, parse_rules
from connector.errors import ConfigError
from tests.support.scoring import BASE, DEFAULT_CONFIG, config


def problems(data, source="scoring.yaml") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_rules(data, source)
    return [str(p) for p in caught.value.problems]


def broken(path, text: str) -> list[str]:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    return [str(p) for p in caught.value.problems]


def test_given_the_default_config_when_loaded_then_it_is_valid_and_lists_its_inputs():
    rules = load_rules(DEFAULT_CONFIG)
    assert {"jobtitle", "hs_analytics_num_page_views", "recent_conversion_event_name",
            "first_conversion_event_name", "engagements_last_meeting_booked", "hs_lead_status",
            "lifecyclestage", "hubspot_owner_id", "lsc_score", "lsc_mql_date",
            "hs_last_sales_activity_timestamp"} <= rules.contact_properties
    assert rules.policy.mql_status == "MQL"


def test_given_bad_yaml_when_loaded_then_the_line_and_column_are_named(tmp_path):
    path = tmp_path / "scoring.yaml"
    found = broken(path, "rules:\n  fit:\n    - name: a\n      label: [unclosed\n")
    assert len(found) == 1
    assert found[0].startswith(f"{path}: line 5, column 1: invalid YAML")


def test_given_a_missing_file_when_loaded_then_the_path_is_named(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_rules(tmp_path / "nope.yaml")
    assert str(caught.value).startswith(f"{tmp_path / 'nope.yaml'}: cannot read the scoring config")


def test_given_a_top_level_list_when_parsed_then_it_is_refused():
    assert problems([1, 2]) == ["scoring.yaml: the scoring config must be a YAML mapping, got a list"]


@pytest.mark.parametrize("mutate, expected", [
    # unknown keys, with a suggestion
    (lambda d: d["rules"]["engagement"][1].update(pionts=5),
     "scoring.yaml: rules.engagement[1] 'pricing'.pionts: unknown key 'pionts'; "
     "did you mean 'points'?"),
    (lambda d: d.update(scoring={}),
     "scoring.yaml: scoring: unknown key 'scoring' (allowed: version, rules, groups, caps, decay, "
     "grade, policy, alerts, assignment, sla, handoff)"),
    (lambda d: d["policy"].update(threshold=3),
     "scoring.yaml: policy.threshold: unknown key 'threshold'; did you mean 'mql_threshold'?"),
    # wrong types
    (lambda d: d["rules"]["engagement"][1].update(points="ten"),
     "scoring.yaml: rules.engagement[1] 'pricing'.points: must be a number, got 'ten'"),
    (lambda d: d["rules"]["fit"][0].update(label=7),
     "scoring.yaml: rules.fit[0] 'vp'.label: must be non-empty text, got 7"),
    (lambda d: d["rules"].update(fit={"a": 1}),
     "scoring.yaml: rules.fit: must be a list of rules, got a mapping"),
    (lambda d: d["policy"].update(mql_threshold="high"),
     "scoring.yaml: policy.mql_threshold: must be a number, got 'high'"),
    # bad regex
    (lambda d: d["rules"]["fit"][0].update(regex="(vp"),
     "scoring.yaml: rules.fit[0] 'vp'.regex: invalid regular expression '(vp': "
     "missing ), unterminated subpattern at position 0"),
    # negative half-life, globally and per rule
    (lambda d: d["decay"].update(half_life_days=-3),
     "scoring.yaml: decay.half_life_days: must be greater than 0, got -3"),
    (lambda d: d["rules"]["engagement"][0].update(half_life_days=-1),
     "scoring.yaml: rules.engagement[0] 'views'.half_life_days: must be greater than 0, got -1"),
    # duplicate rule names across sections
    (lambda d: d["rules"]["engagement"][0].update(name="vp"),
     "scoring.yaml: rules.engagement[0] 'vp'.name: duplicate rule name 'vp' "
     "(first used at rules.fit[0])"),
    # operators
    (lambda d: d["rules"]["fit"][0].update(contains="x"),
     "scoring.yaml: rules.fit[0] 'vp': needs exactly one condition operator (equals, in, contains, "
     "regex, gte, lte, between, exists, email_domain_in), found 2: contains, regex"),
    (lambda d: d["rules"]["fit"][0].update(regex=None) or d["rules"]["fit"][0].pop("regex")
     or d["rules"]["fit"][0].update(matches="vp"),
     "scoring.yaml: rules.fit[0] 'vp'.matches: unknown key 'matches' (allowed: name, label, "
     "property, equals, in, contains, regex, gte, lte, between, exists, email_domain_in, points, "
     "group)"),
    (lambda d: d["rules"]["fit"].append({"name": "rev", "label": "Revenue",
                                         "property": "annualrevenue", "between": [10, 1],
                                         "points": 5}),
     "scoring.yaml: rules.fit[2] 'rev'.between: between low 10 is greater than high 1"),
    (lambda d: d["rules"]["fit"].append({"name": "e", "label": "E", "property": "email",
                                         "exists": "yes", "points": 5}),
     "scoring.yaml: rules.fit[2] 'e'.exists: exists must be true or false, got 'yes'"),
    # per-unit and window shapes
    (lambda d: d["rules"]["engagement"][0].pop("max"),
     "scoring.yaml: rules.engagement[0] 'views'.max: is required for a per_unit rule (the most "
     "points it may add), so one heavy reader cannot outscore everyone"),
    (lambda d: d["rules"]["engagement"][1].pop("date_property"),
     "scoring.yaml: rules.engagement[1] 'pricing'.within_days: needs date_property: the date the "
     "window is read from"),
    (lambda d: d["rules"]["engagement"][1].update(points=-5),
     "scoring.yaml: rules.engagement[1] 'pricing'.within_days: a negative rule cannot expire (its "
     "penalty would raise the score as time passes)"),
    (lambda d: d["rules"]["fit"][0].update(property="Job Title"),
     "scoring.yaml: rules.fit[0] 'vp'.property: must be a HubSpot internal property name (lower "
     "case, digits and _, e.g. 'jobtitle'), got 'Job Title'"),
    (lambda d: d["rules"]["fit"][0].update(group="titles"),
     "scoring.yaml: rules.fit[0] 'vp'.group: unknown group 'titles' (groups: none declared)"),
    (lambda d: d["rules"]["fit"][0].pop("name"),
     "scoring.yaml: rules.fit[0].name: is required: letters, digits, _ or -, got None"),
    # policy coherence
    (lambda d: d["policy"]["recycle"].update(below=35),
     "scoring.yaml: policy.recycle.below: 35 must be at most mql_threshold - hysteresis (30): an "
     "MQL that fits is considered for recycling only once its total falls below that, so a higher "
     "value has no effect"),
    (lambda d: d["policy"].update(qualify_from_statuses=["", "NEW", "MQL"]),
     "scoring.yaml: policy.qualify_from_statuses: 'MQL' is the mql_status: a person's MQL would "
     "pass for the connector's"),
    (lambda d: d["policy"].update(mql_status="MARKETING_QUALIFIED",
                                  qualify_from_statuses=["NEW", "MARKETING_QUALIFIED"]),
     "scoring.yaml: policy.qualify_from_statuses: 'MARKETING_QUALIFIED' is the mql_status: a "
     "person's MQL would pass for the connector's"),
    # explicit nulls: refused, never a rule that crashes, never fires or adds nothing
    (lambda d: d["rules"]["engagement"][0].update(max=None),
     "scoring.yaml: rules.engagement[0] 'views'.max: is required for a per_unit rule (the most "
     "points it may add), so one heavy reader cannot outscore everyone"),
    (lambda d: d["rules"]["engagement"][0].update(per_unit=None),
     "scoring.yaml: rules.engagement[0] 'views'.per_unit: must be a number greater than 0, got null"),
    (lambda d: d["rules"]["engagement"][1].update(points=None),
     "scoring.yaml: rules.engagement[1] 'pricing'.points: is required"),
    (lambda d: d["rules"]["fit"][0].update(points=None),
     "scoring.yaml: rules.fit[0] 'vp'.points: is required"),
    # a hand-raise that holds on a blank value would make every such contact an MQL
    (lambda d: d["rules"]["hand_raise"].append({"name": "no_meeting", "label": "No meeting",
                                                "property": "engagements_last_meeting_booked",
                                                "exists": False}),
     "scoring.yaml: rules.hand_raise[1] 'no_meeting'.exists: a hand-raise must not hold on an "
     "empty value: every contact with the property blank would become an MQL"),
    (lambda d: d["policy"].update(sales_stage_from="lead"),
     "scoring.yaml: policy.sales_stage_from: must come after marketingqualifiedlead, or the "
     "connector would leave alone the MQLs it makes"),
    (lambda d: d["policy"]["recycle"].update(to_status="IN_PROGRESS"),
     "scoring.yaml: policy.recycle.to_status: 'IN_PROGRESS' must be a nurture status, not a sales "
     "or MQL status"),
    (lambda d: d["grade"].update(fit=[10, 20]),
     "scoring.yaml: grade.fit: band minimums must go down strictly (best band first), got [10, 20]"),
])
def test_given_a_broken_config_when_parsed_then_the_message_names_the_place(mutate, expected):
    data = config()
    mutate(data)
    assert expected in problems(data)


def test_given_many_problems_when_parsed_then_all_are_reported_at_once():
    data = config()
    data["rules"]["fit"][0]["points"] = "x"
    data["rules"]["engagement"][0]["per_unit"] = -1
    data["decay"]["half_life_days"] = 0
    data["policy"]["owner_means_sales"] = "no"
    found = problems(data)
    assert found == [
        "scoring.yaml: decay.half_life_days: must be greater than 0, got 0",
        "scoring.yaml: rules.fit[0] 'vp'.points: must be a number, got 'x'",
        "scoring.yaml: rules.engagement[0] 'views'.per_unit: must be greater than 0, got -1",
        "scoring.yaml: policy.owner_means_sales: must be true or false, got 'no'",
    ]


def test_given_broken_files_when_loaded_then_messages_name_file_rule_and_field(tmp_path):
    data = copy.deepcopy(BASE)
    data["rules"]["engagement"].append(dict(data["rules"]["engagement"][1], name="pricing"))
    data["rules"]["fit"][1]["regex"] = "[a-"
    del data["rules"]["fit"][1]["contains"]
    path = tmp_path / "scoring.yaml"
    found = broken(path, yaml.safe_dump(data))
    assert f"{path}: rules.engagement[2] 'pricing'.name: duplicate rule name 'pricing' " \
           "(first used at rules.engagement[1])" in found
    assert any(p.startswith(f"{path}: rules.fit[1] 'student'.regex: invalid regular expression")
               for p in found)


def test_given_a_group_when_unused_or_mixed_then_it_is_refused():
    data = config(groups={"web": {"max": 10}, "spare": {"max": 5}})
    data["rules"]["fit"][0]["group"] = "web"
    data["rules"]["engagement"][0]["group"] = "web"
    found = problems(data)
    assert "scoring.yaml: groups.spare: is not used by any rule (a misspelt group name?)" in found
    assert ("scoring.yaml: groups.web: mixes rules from engagement and fit: a group caps points "
            "within one score") in found


@pytest.mark.parametrize("section, spec", [
    ("engagement", {"name": "views", "label": "Views", "property": "hs_analytics_num_page_views",
                    "per_unit": 1, "max": None}),
    ("engagement", {"name": "views", "label": "Views", "property": "hs_analytics_num_page_views",
                    "per_unit": None, "max": 10}),
    ("engagement", {"name": "p", "label": "P", "property": "hs_analytics_last_url",
                    "contains": "/pricing", "points": None}),
    ("fit", {"name": "p", "label": "P", "property": "jobtitle", "contains": "vp", "points": None}),
    ("hand_raise", {"name": "h", "label": "H", "property": "recent_conversion_event_name",
                    "exists": False}),
    ("hand_raise", {"name": "h", "label": "H", "property": ["recent_conversion_event_name",
                                                            "first_conversion_event_name"],
                    "exists": False}),
])
def test_given_a_rule_that_would_crash_never_fire_or_add_nothing_when_parsed_then_refused(
        section, spec):
    data = config()
    data["rules"] = {section: [spec]}
    assert any(f"rules.{section}[0] {spec['name']!r}." in p for p in problems(data))


def test_given_a_hand_raise_on_a_set_value_when_parsed_then_exists_true_is_fine():
    data = config()
    data["rules"]["hand_raise"] = [{"name": "meeting", "label": "Meeting",
                                    "property": "engagements_last_meeting_booked", "exists": True}]
    assert parse_rules(data, "scoring.yaml").hand_raise[0].name == "meeting"


def test_given_many_overlapping_statuses_when_parsed_then_messages_follow_config_order():
    listed = ["S7", "S3", "S9", "S1", "S5", "S8", "S2", "S6", "S4", "S0"]
    data = config()
    data["policy"].update(qualify_from_statuses=listed, sales_statuses=sorted(listed))
    found = [p for p in problems(data) if "policy.qualify_from_statuses" in p]
    assert found == [f"scoring.yaml: policy.qualify_from_statuses: {s!r} is also a sales status"
                     for s in listed]
