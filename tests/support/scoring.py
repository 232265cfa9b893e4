"""Shared helpers for the scoring tests: small configs built in code, contacts, a fixed `now`."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from connector.core.model import Contact, History
from connector.core.rules import RuleSet
from connector.core.rules_file import load_rules, parse_rules
from tests.support.paths import DEFAULT_CONFIG

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def iso(moment: datetime) -> str:
    """A datetime as HubSpot sends it: ISO 8601 UTC with milliseconds and Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def ms(moment: datetime) -> str:
    """A datetime as a millisecond-epoch string (HubSpot's other date form)."""
    return str(int(moment.timestamp() * 1000))


def contact(**props: str | None) -> Contact:
    return Contact("101", props)


BASE: dict = {
    "rules": {
        "fit": [
            {"name": "vp", "label": "VP title", "property": "jobtitle",
             "regex": r"\bvp\b", "points": 20},
            {"name": "student", "label": "Student", "property": "jobtitle",
             "contains": "student", "points": -30},
        ],
        "engagement": [
            {"name": "views", "label": "Page views", "property": "hs_analytics_num_page_views",
             "per_unit": 2, "max": 20},
            {"name": "pricing", "label": "Visited the pricing page",
             "property": "hs_analytics_last_url", "contains": "/pricing", "points": 20,
             "within_days": 30, "date_property": "hs_analytics_last_visit_timestamp"},
        ],
        "hand_raise": [
            {"name": "demo", "label": "Asked for a demo", "property":
             ["recent_conversion_event_name", "first_conversion_event_name"],
             "regex": r"\b(demo request|contact sales|talk to sales|pricing request|trial)\b"},
        ],
    },
    "decay": {"half_life_days": 30},
    "caps": {"total": 100},
    "grade": {"fit": [20, 10], "engagement": [20, 10]},
    "policy": {"mql_threshold": 40, "fit_minimum": 10, "hysteresis": 10,
               "recycle": {"after_days": 30, "below": 25, "to_status": "OPEN", "max_times": 2}},
}


def config(**overrides) -> dict:
    """A deep copy of BASE with top-level sections replaced."""
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(overrides))
    return data


def rules(data: dict | None = None) -> RuleSet:
    return parse_rules(config() if data is None else data, "test.yaml")


def default_rules() -> RuleSet:
    return load_rules(DEFAULT_CONFIG)


def with_rules(section: str, *specs: dict, **extra) -> RuleSet:
    """BASE with one rules section replaced by `specs` (other sections emptied)."""
    data = config(**extra)
    data["rules"] = {section: list(specs)}
    return parse_rules(data, "test.yaml")


EMPTY = History.empty()
