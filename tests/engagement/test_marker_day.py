"""Marketing events move no contact property: without `watch`, a read answers for its UTC day only."""

from __future__ import annotations

import json

from connector.core.rules_file import load_rules
from connector.engagement.enrich import _marker
from tests.support.paths import DEFAULT_CONFIG

DAY = 86_400.0


def test_given_an_unwatched_webinar_rule_then_its_marker_changes_each_utc_day_and_not_within_one():
    rules = load_rules(DEFAULT_CONFIG)
    wanted = [a for a in rules.activities if a.kind == "marketing_events" and not a.watch]
    assert wanted, "the packaged config has an unwatched webinar rule"
    noon = 1_796_126_400.0  # 2026-12-01T12:00Z
    today = _marker(wanted, "marketing_events", {}, noon)
    assert _marker(wanted, "marketing_events", {}, noon + 11 * 3600) == today  # 23:00 the same day
    tomorrow = _marker(wanted, "marketing_events", {}, noon + 12 * 3600 + 1)
    assert tomorrow != today and json.loads(tomorrow)[-1] == "2026-12-02"
