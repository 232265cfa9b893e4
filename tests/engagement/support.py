"""What the engagement tests share: a rule set of one activity rule beside a one-point fit rule."""

from __future__ import annotations

from connector.core.rules_file import parse_rules

HAS_EMAIL = {"name": "any", "label": "Has email", "property": "email", "exists": True, "points": 1}


def with_rule(rule: dict, activity_extra: dict | None = None):
    """`rule` (its activity updated with `activity_extra`) and HAS_EMAIL, as if from scoring.yaml."""
    rule = {**rule, "activity": {**rule["activity"], **(activity_extra or {})}}
    return parse_rules({"rules": {"fit": [HAS_EMAIL], "engagement": [rule]}}, "scoring.yaml")
