"""Sales' rejections among the examples, counted by reason, per rule that had fired and per segment."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from connector.calibrate.outcomes import Example
from connector.core.model import Contact, History
from connector.core.rules import RuleSet
from connector.core.scoring import tally


def rejection_counts(examples: Sequence[Example], rules: RuleSet, point_in_time: bool) -> dict:
    """How many MQLs sales rejected and why: overall, per rule of the current config that had
    fired at the decision moment, per grade then and per original source; how many of them
    converted all the same (sales can be wrong; the outcome stage is the label then)."""
    rejected = [e for e in examples if e.rejected is not None]
    by_reason: Counter[str] = Counter()
    by_rule: dict[str, Counter[str]] = {}
    by_grade: dict[str, Counter[str]] = {}
    by_source: dict[str, Counter[str]] = {}
    for e in rejected:
        reason = str(e.rejected)
        snapshot = e.timeline.as_of(e.decided_at) if point_in_time else e.timeline.latest()
        card = tally(Contact(e.timeline.id, snapshot), History.empty(), rules, e.decided_at)
        by_reason[reason] += 1
        for r in card.reasons:
            if r.rule and r.points > 0 or r.hand_raise:
                by_rule.setdefault(r.rule, Counter())[reason] += 1
        by_grade.setdefault(card.grade, Counter())[reason] += 1
        source = snapshot.get("hs_analytics_source") or "(none)"
        by_source.setdefault(source, Counter())[reason] += 1
    return {"rejected": len(rejected), "converted_anyway": sum(e.converted for e in rejected),
            "by_reason": dict(by_reason.most_common()),
            "by_rule": {k: dict(v.most_common()) for k, v in sorted(by_rule.items(), key=lambda kv: -kv[1].total())},
            "by_grade": {k: dict(v.most_common()) for k, v in sorted(by_grade.items())},
            "by_source": {k: dict(v.most_common()) for k, v in sorted(by_source.items())}}
