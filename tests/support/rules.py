"""Rule sets the tests derive from the packaged config."""

from __future__ import annotations

import dataclasses

from connector.core.rules import RuleSet


def without_activity(rules: RuleSet) -> RuleSet:
    """`rules` less its activity rules (no engagement reads)."""
    return dataclasses.replace(rules, engagement=tuple(r for r in rules.engagement if r.activity is None))
