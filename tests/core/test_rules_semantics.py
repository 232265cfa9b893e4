"""Semantic checks of the scoring config: caps that contradict the policy are errors; a threshold
or fit minimum the rules cannot reach is a warning (legal, but nobody would qualify by score)."""

from __future__ import annotations

import pytest

from connector.core.rules_file import parse_rules
from connector.errors import ConfigError

FIT = [{"name": "vp", "label": "VP", "property": "jobtitle", "contains": "vp", "points": 30, "group": "titles"},
       {"name": "head", "label": "Head", "property": "jobtitle", "contains": "head", "points": 20, "group": "titles"},
       {"name": "sw", "label": "Software", "property": "industry", "equals": "software", "points": 15}]
ENGAGEMENT = [{"name": "views", "label": "Page views", "property": "hs_analytics_num_page_views",
               "per_unit": 2, "max": 20}]


def config(policy: dict, caps: dict | None = None, groups: dict | None = None) -> dict:
    return {"version": 1, "rules": {"fit": FIT, "engagement": ENGAGEMENT},
            "groups": groups or {"titles": {"max": 30}}, "caps": caps or {}, "policy": policy}


def problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_rules(data, "scoring.yaml")
    return [str(p) for p in exc.value.problems]


def test_given_a_reachable_threshold_then_no_warning():
    # fit at most 30 (titles capped) + 15, engagement at most 20: 65 >= 60
    assert parse_rules(config({"mql_threshold": 60, "fit_minimum": 10}), "scoring.yaml").warnings == ()


def test_given_a_threshold_the_rules_cannot_reach_then_a_warning_names_the_numbers():
    rules = parse_rules(config({"mql_threshold": 70, "fit_minimum": 50}), "scoring.yaml")
    assert [str(w) for w in rules.warnings] == [
        "scoring.yaml: policy.mql_threshold: 70 cannot be reached by these rules: the most a contact can "
        "score is 65 (fit at most 45, engagement at most 20); only hand-raises will qualify",
        "scoring.yaml: policy.fit_minimum: 50 cannot be reached by these rules: the most fit a contact can "
        "have is 45; nobody will qualify by score",
    ]


def test_given_caps_below_the_threshold_or_fit_minimum_then_errors():
    assert problems(config({"mql_threshold": 60, "fit_minimum": 30}, caps={"fit": 25, "engagement": 20})) == [
        "scoring.yaml: policy.mql_threshold: 60 is above what the caps allow (45): no contact can qualify "
        "by score",
        "scoring.yaml: policy.fit_minimum: 30 is above caps.fit (25): no contact can qualify by score",
    ]
    assert problems(config({"mql_threshold": 60}, caps={"total": 50})) == [
        "scoring.yaml: policy.mql_threshold: 60 is above what the caps allow (50): no contact can qualify "
        "by score"]


def test_given_a_negative_group_cap_then_an_error_points_to_min():
    assert problems(config({"mql_threshold": 40}, groups={"titles": {"max": -5}})) == [
        "scoring.yaml: groups.titles.max: must be at least 0, got -5: a cap limits what the group's rules "
        "add (a floor on negative points is `min`)"]
