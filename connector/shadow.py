"""Shadow scoring: a candidate config scores each contact beside the live one, in the store only.

Nothing of the shadow reaches HubSpot. Each contact is shadow-scored as a first sight (no decay
state of the shadow's own rules is kept: count rules are dated by their date property), and its
live score is taken as the live config computed it in the same run. `connector shadow` later
compares, over contacts whose outcome became known, which of the two ranked them better.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from connector.core import properties as hp
from connector.core.model import Contact, History, Score
from connector.core.rules import Policy, RuleSet
from connector.core.rules_file import load_rules
from connector.core.scoring import tally
from connector.store import ShadowSighting

# A contact has "converted" once its lifecycle stage is one of these (the calibration default).
OUTCOME_STAGES = frozenset({"opportunity", "customer", "evangelist"})


def qualifies(total: int, fit: int, hand_raise: bool, policy: Policy) -> bool:
    """An MQL by the config's own line: a hand-raise, or total and fit over their minimums."""
    return hand_raise or (total >= policy.mql_threshold and fit >= policy.fit_minimum)


@dataclass(frozen=True)
class ShadowScorer:
    rules: RuleSet
    key: str  # the shadow config's content hash: a new candidate starts a new comparison
    path: str

    @classmethod
    def load(cls, path: str) -> ShadowScorer:
        """ConfigError naming the file and rule when the shadow config is invalid."""
        rules = load_rules(path)
        return cls(rules, hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16], path)

    def sightings(self, scored: Sequence[tuple[str, dict, Score]], live: Policy,
                  now: float) -> list[ShadowSighting]:
        out = []
        for cid, props, score in scored:
            card = tally(Contact(cid, props), History.empty(), self.rules, now)
            live_hand = any(r.hand_raise for r in score.reasons)
            stage = props.get(hp.LIFECYCLE_STAGE)
            out.append(ShadowSighting(
                cid, score.total, card.total, qualifies(score.total, score.fit, live_hand, live),
                qualifies(card.total, card.fit, card.hand_raise is not None, self.rules.policy),
                stage, stage in OUTCOME_STAGES))
        return out
