"""Rules -> a feature matrix, evaluated by the scoring engine itself.

Every rule (the current config's and the candidates) is scored at each contact's decision moment
by `connector.core.scoring.tally`, the function the sync runs, in a copy of the config where each
rule is worth UNIT points (per unit for a count rule), with no groups and no caps. A rule's reason
then carries its own value: 1 when a condition rule fires, the decayed units of a count rule (up to
its max), inside its window or not at all, exactly as live scoring would see them. So the points
learned are the points the engine will apply; nothing here re-implements a rule.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from connector.calibrate.candidates import Candidate
from connector.calibrate.outcomes import Example
from connector.core.model import Contact, History
from connector.core.rules_file import parse_rules
from connector.core.scoring import tally

UNIT = 1000.0  # reasons are whole points: 1000 per unit keeps three decimals of a decayed count


@dataclass(frozen=True, slots=True)
class Feature:
    """One column: the rule it comes from, its section, how big it can get, and its family."""

    name: str
    spec: dict  # the rule as written in the config (current points, or a candidate's condition)
    section: str
    max_value: float  # 1 for a condition rule; the unit cap (max / per_unit) for a count rule
    counted: bool  # a per_unit rule: its value is a number of units
    current: bool  # a rule of the current config (else a candidate)
    family: str  # mutually exclusive rules share a family (one option of a property)
    why: str = ""


def features_of(config: Mapping, candidates: Sequence[Candidate]) -> list[Feature]:
    """The current config's fit and engagement rules, then the candidates."""
    out: list[Feature] = []
    rules = config.get("rules") or {}
    for section in ("fit", "engagement"):
        for spec in rules.get(section) or ():
            counted = "per_unit" in spec
            units = float(spec["max"]) / float(spec["per_unit"]) if counted else 1.0
            out.append(Feature(spec["name"], dict(spec), section, units, counted, True,
                               f"rule:{spec['name']}", "in the current config"))
    for c in candidates:
        out.append(Feature(c.spec["name"], dict(c.spec), c.section, 1.0, False, False,
                           c.family, c.why))
    return out


def unit_config(config: Mapping, features: Sequence[Feature]) -> dict:
    """A config in which each feature's rule is worth UNIT: groups, caps and hand-raises gone."""
    data = copy.deepcopy(dict(config))
    sections: dict[str, list[dict]] = {"fit": [], "engagement": []}
    for f in features:
        spec = {k: v for k, v in f.spec.items() if k not in ("group", "points", "per_unit", "max")}
        if f.counted:
            spec["per_unit"] = UNIT
            spec["max"] = UNIT * f.max_value
        else:
            spec["points"] = UNIT
        sections[f.section].append(spec)
    data["rules"] = {**sections, "hand_raise": []}
    data.pop("groups", None)
    data["caps"] = {"total": 1e15}
    policy = dict(data.get("policy") or {})
    policy["mql_threshold"], policy["fit_minimum"], policy["hysteresis"] = 1, 0, 0
    policy.pop("recycle", None)
    data["policy"] = policy
    data.pop("grade", None)
    return data


def matrix(config: Mapping, features: Sequence[Feature], examples: Sequence[Example],
           snapshot) -> np.ndarray:
    """Feature values (rows: examples, columns: features) at each example's decision moment.

    `snapshot(example)` gives the contact's property values as of its decision moment.
    """
    rules = parse_rules(unit_config(config, features), "<calibration features>")
    column = {f.name: j for j, f in enumerate(features)}
    x = np.zeros((len(examples), len(features)), dtype=np.float64)
    empty = History.empty()
    for i, e in enumerate(examples):
        card = tally(Contact(e.timeline.id, snapshot(e)), empty, rules, e.decided_at)
        for reason in card.reasons:
            j = column.get(reason.rule)
            if j is not None:
                x[i, j] = reason.points / UNIT
    return x
