from __future__ import annotations

import pytest

SMALL_CONFIG = {
    "version": 1,
    "rules": {
        "fit": [
            {"name": "c_level", "label": "C-level", "property": "jobtitle", "regex": r"\bceo\b", "points": 20},
            {"name": "student", "label": "Student", "property": "jobtitle", "regex": r"\bstudent\b", "points": -30},
        ],
        "engagement": [
            {"name": "email_clicks", "label": "Email clicks", "property": "hs_email_click", "per_unit": 3,
             "max": 12},
        ],
        "hand_raise": [],
    },
    "policy": {"mql_threshold": 30, "fit_minimum": 0},
}


@pytest.fixture
def small_config():
    import copy

    return copy.deepcopy(SMALL_CONFIG)
