"""The calibration itself, pure: timelines + property definitions + current config -> a candidate
config and the numbers that justify it. `connector.commands.calibrate` does the reading and writing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from connector.calibrate import activity as act
from connector.calibrate import candidates as cands
from connector.calibrate import learn, measure
from connector.calibrate.features import Feature, features_of, matrix, unit_config
from connector.calibrate.outcomes import Example, OutcomeRule, judge_all, stage_entered
from connector.calibrate.rejections import rejection_counts
from connector.calibrate.timeline import Timeline, flat_share
from connector.core.activity import Occurrence
from connector.core.model import Contact, History
from connector.core.rules import RuleSet
from connector.core.rules_file import parse_rules
from connector.core.scoring import tally
from connector.errors import CalibrationRefused

ActivityReader = Callable[[Sequence[str]], Mapping[str, Mapping[str, Sequence[Occurrence]]]]
FLAT_SHARE = 0.8  # this share of contacts with all their history at one instant: an import


@dataclass(frozen=True, slots=True)
class Options:
    outcome: OutcomeRule = field(default_factory=OutcomeRule)
    properties: tuple[str, ...] | None = None  # candidate properties; None: every eligible one
    budget: int = 30  # at most this many point rules in the candidate
    holdout: float = 0.25  # the newest share of decisions, kept out of training
    folds: int = 5
    target: measure.Target = field(default_factory=measure.Target)
    min_outcomes: int = 50
    allow_flat: bool = False
    min_coverage: float = 0.05
    activity: bool = True  # read the judged contacts' activity: activity candidates, activity rules valued


@dataclass
class Scored:
    """One config's scores of a set of examples, at their decision moments."""

    total: np.ndarray
    fit: np.ndarray
    engagement: np.ndarray
    grade: list[str]
    hand_raise: np.ndarray  # bool: a hand-raise rule fired (an MQL whatever the score)


@dataclass
class Result:
    config: dict  # the candidate config, ready to write
    point_in_time: bool
    counts: dict  # contacts read, examples, left out by reason, train/holdout sizes ...
    split: dict  # how train and holdout were cut
    cv: dict
    threshold: dict  # the chosen line on the training part, and what it gives on the holdout
    compare: dict  # "current" / "candidate": AUC, CI, lift, grades, paths, at the threshold
    rules: list[dict]  # every candidate rule: points, section, why
    skipped_properties: dict[str, str]
    notes: list[str]


def calibrate(timelines: Sequence[Timeline], definitions: Mapping[str, Mapping],
              current: Mapping, current_rules: RuleSet, options: Options,
              read_at: float, activity: ActivityReader | None = None) -> Result:
    """Learn a candidate config; CalibrationRefused when the data cannot support one.

    `activity(contact ids)`: contact id -> kind -> its occurrences (read through connector/engagement/),
    called once with the judged contacts; when given, the activity candidates
    (connector/calibrate/activity.py) join the property ones, and every activity rule (the current
    config's too) is valued from the occurrences dated before each decision moment."""
    notes: list[str] = []
    flat, with_history = flat_share(timelines)
    point_in_time = True
    if with_history and flat / with_history >= FLAT_SHARE:
        if not options.allow_flat:
            raise CalibrationRefused(
                f"{flat:,} of {with_history:,} contacts have all their history at one instant: "
                "this portal's history looks imported, so no contact can be rebuilt as it was "
                "when it was judged. Rerun with --allow-flat-history to learn from today's "
                "values anyway (the backtest will not be point-in-time).")
        point_in_time = False
        examples, left_out = _flat_examples(timelines, options.outcome, read_at)
        notes.append("NOT POINT-IN-TIME: the history is flat (imported), so each contact's "
                     "values today stand in for its values when it was judged, and its outcome "
                     "as known today. Older contacts have had more time to engage and to "
                     "convert: expect these numbers to flatter the model.")
    else:
        examples, left_out = judge_all(timelines, options.outcome, read_at, current_rules.handoff)
    positives = sum(e.converted for e in examples)
    counts = {"contacts": len(timelines), "examples": len(examples), "converted": positives,
              "left_out": left_out, "flat_history": flat,
              "rejections": rejection_counts(examples, current_rules, point_in_time),
              "outcome": f"{' or '.join(options.outcome.stages)} within "
                         f"{options.outcome.window_days:g} days"}
    if not examples:
        raise CalibrationRefused(f"no contact can be judged: {_left_out_text(left_out)}")
    if positives < options.min_outcomes:
        raise CalibrationRefused(
            f"only {positives} of {len(examples):,} judged contacts reached "
            f"{' or '.join(options.outcome.stages)} within {options.outcome.window_days:g} days "
            f"(at least {options.min_outcomes} are needed to learn points that mean anything); "
            f"left out: {_left_out_text(left_out)}. Widen the time range or the window, or add "
            "outcome stages.")

    cut = int(len(examples) * (1 - options.holdout))
    train, test = examples[:cut], examples[cut:]
    y_train = np.array([e.converted for e in train], dtype=int)
    y_test = np.array([e.converted for e in test], dtype=int)
    if y_train.sum() < options.folds or y_test.sum() == 0 or y_test.sum() == len(y_test):
        raise CalibrationRefused(
            f"the time split leaves {int(y_train.sum())} conversions to train on and "
            f"{int(y_test.sum())} of {len(test)} to test on: not enough on one side")
    split = {"kind": "time", "train": len(train), "holdout": len(test),
             "train_converted": int(y_train.sum()), "holdout_converted": int(y_test.sum()),
             "train_from": train[0].decided_at, "train_to": train[-1].decided_at,
             "holdout_from": test[0].decided_at, "holdout_to": test[-1].decided_at}

    snapshots = {id(e): _snapshot(e, point_in_time) for e in examples}
    snap = snapshots.__getitem__

    def snapshot(e: Example) -> dict:
        return snap(id(e))

    names = options.properties or tuple(sorted(definitions))
    eligible = [n for n in names if cands.eligible(n, definitions.get(n) or {}) is None]
    skipped = {n: why for n in names
               if (why := cands.eligible(n, definitions.get(n) or {})) is not None} \
        if options.properties else {}
    values = {n: [snapshot(e).get(n) for e in train] for n in eligible}
    counted = {r.property: r.name for r in current_rules.counters}
    candidates, not_used = cands.propose(definitions, eligible, values,
                                         min_coverage=options.min_coverage, counted=counted)
    skipped.update(not_used if options.properties else {})
    if activity is not None:
        candidates = [*candidates, *act.candidates()]
    features = features_of(current, candidates)
    if activity is not None:
        read = activity(sorted({e.timeline.id for e in examples}))
        features = _with_activity(current, features, examples, train, snapshots, read, options.min_coverage)
    x_train = matrix(current, features, train, snapshot)
    signs = [_sign(f) for f in features]
    model = learn.fit(x_train, y_train, signs, options.budget, folds=options.folds)
    points, scale = learn.integer_points(model.coef, np.array([f.max_value for f in features]),
                                         [f.family for f in features])

    draft = _candidate_config(current, features, points)
    draft_rules = parse_rules(draft, "<candidate>")
    train_scores = score(draft_rules, train, snapshot)
    draft["grade"] = {"fit": _bands(train_scores.fit), "engagement": _bands(train_scores.engagement)}
    weeks_train = measure.weeks_between([e.decided_at for e in train])
    chosen = measure.choose_threshold(train_scores.total.astype(float), y_train,
                                      train_scores.hand_raise, weeks_train, options.target)
    if chosen is None:
        raise CalibrationRefused(f"no MQL line reaches the target ({options.target.describe()}) "
                                 "on the training contacts")
    _set_threshold(draft["policy"], int(chosen["threshold"]), current_rules)
    candidate_rules = parse_rules(draft, "<candidate>")

    weeks_test = measure.weeks_between([e.decided_at for e in test])
    compare = {}
    for label, rules in (("current", current_rules), ("candidate", candidate_rules)):
        s = score(rules, test, snapshot)
        auc, low, high = measure.auc_with_interval(s.total.astype(float), y_test)
        t = rules.policy.mql_threshold
        by_score = (s.total >= t) & (s.fit >= rules.policy.fit_minimum)
        paths = ["hand-raise" if h else "score" if q else "not an MQL"
                 for h, q in zip(s.hand_raise, by_score, strict=True)]
        line = measure.at_threshold(np.where(s.fit >= rules.policy.fit_minimum, s.total, -1.0),
                                    y_test, s.hand_raise, t, weeks_test)
        compare[label] = {"auc": auc, "auc_low": low, "auc_high": high,
                          "lift": measure.lift_by_decile(s.total.astype(float), y_test),
                          "grades": measure.by_group(s.grade, y_test),
                          "paths": measure.by_group(paths, y_test), "at_threshold": line}
    threshold = {"target": options.target.describe(), "train": chosen,
                 "holdout": compare["candidate"]["at_threshold"]}
    cv = {"folds": model.folds, "scale": scale, "auc": model.cv_auc, "sd": model.cv_sd, "c": model.c,
          "path": [{"c": c, "rules": n, "auc": a} for c, n, a in model.path]}
    rules_out = [{"name": f.name, "section": f.section, "points": int(p),
                  "per_unit": f.counted, "current": f.current, "why": f.why,
                  "coefficient": float(b)}
                 for f, p, b in zip(features, points, model.coef, strict=True) if p != 0]
    counts["train"], counts["holdout"] = len(train), len(test)
    return Result(draft, point_in_time, counts, split, cv,
                  threshold, compare, rules_out, skipped, notes)


def score(rules: RuleSet, examples: Sequence[Example], snapshot) -> Scored:
    """Every example scored by the engine at its decision moment, as a first sight."""
    n = len(examples)
    total, fit, eng = np.zeros(n), np.zeros(n), np.zeros(n)
    hand, grade = np.zeros(n, dtype=bool), []
    empty = History.empty()
    for i, e in enumerate(examples):
        card = tally(Contact(e.timeline.id, snapshot(e)), empty, rules, e.decided_at)
        total[i], fit[i], eng[i] = card.total, card.fit, card.engagement
        hand[i] = card.hand_raise is not None
        grade.append(card.grade)
    return Scored(total, fit, eng, grade, hand)


def _with_activity(current: Mapping, features: list[Feature], examples: Sequence[Example],
                   train: Sequence[Example], snapshots: dict[int, dict],
                   activity: Mapping[str, Mapping[str, Sequence[Occurrence]]], min_coverage: float) -> list[Feature]:
    """Put every activity rule's count as of each example's decision moment into its snapshot (in
    place); the features left after dropping activity candidates that fire for too few training contacts."""
    activities = parse_rules(unit_config(current, features), "<calibration features>").activities
    for e in examples:
        snapshots[id(e)].update(act.as_of(activities, activity.get(e.timeline.id, {}), e.decided_at))
    candidate_keys = [a.key for a in activities if any(f.name == a.rule and not f.current for f in features)]
    kept = act.covered(candidate_keys, [snapshots[id(e)] for e in train], min_coverage)
    return [f for f in features if f.current or "activity" not in f.spec or f"activity:{f.name}" in kept]


def _snapshot(e: Example, point_in_time: bool) -> dict:
    return e.timeline.as_of(e.decided_at) if point_in_time else e.timeline.latest()


def _sign(f: Feature) -> int:
    """A current rule keeps the direction its author gave it; a candidate may go either way."""
    if not f.current:
        return 0
    value = f.spec.get("per_unit", f.spec.get("points", 0))
    return 1 if float(value) > 0 else -1


def _candidate_config(current: Mapping, features: Sequence[Feature], points: np.ndarray) -> dict:
    data = copy.deepcopy(dict(current))
    sections: dict[str, list[dict]] = {"fit": [], "engagement": []}
    for f, p in zip(features, points, strict=True):
        if p == 0:
            continue
        spec = {k: v for k, v in f.spec.items() if k not in ("group", "points", "per_unit", "max")}
        if f.counted:  # its sign is kept positive (_sign): max stays as many units as before
            spec["per_unit"] = int(p)
            spec["max"] = _whole(int(p) * f.max_value)
        else:
            spec["points"] = int(p)
        sections[f.section].append(spec)
    rules = dict(data.get("rules") or {})
    rules["fit"], rules["engagement"] = sections["fit"], sections["engagement"]
    data["rules"] = rules
    data.pop("groups", None)  # learned points already account for rules that fire together
    alerts = data.get("alerts")
    if isinstance(alerts, dict) and alerts.get("for_mqls"):
        kept = {spec["name"] for specs in sections.values() for spec in specs}
        alerts["for_mqls"] = [n for n in alerts["for_mqls"] if n in kept]  # a rule dropped alerts no one
    data["caps"] = {"total": 100}
    policy = dict(data.get("policy") or {})
    policy["fit_minimum"] = 0  # the learned points weigh fit already; no separate gate was learned
    data["policy"] = policy
    return data


def _set_threshold(policy: dict, threshold: int, current: RuleSet) -> None:
    """The new line; hysteresis and the recycle floor keep their proportion to it."""
    old = current.policy.mql_threshold or 1.0
    policy["mql_threshold"] = threshold
    policy["hysteresis"] = round(current.policy.hysteresis * threshold / old)
    recycle = policy.get("recycle")
    if isinstance(recycle, dict) and "below" in recycle:
        floor = threshold - policy["hysteresis"]
        recycle["below"] = min(floor, round(float(recycle["below"]) * threshold / old))


def _whole(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 3)


def _bands(values: np.ndarray) -> list[int]:
    """Grade bands: A/1 about the top 20 % of training contacts, B/2 about the next 30 %. Where
    most contacts score 0, A and B start at 2 and 1 points, so a 0 is never an A."""
    high = max(2, int(np.ceil(np.quantile(values, 0.8))))
    mid = min(high - 1, max(1, int(np.ceil(np.quantile(values, 0.5)))))
    return [high, mid]


def _flat_examples(timelines: Sequence[Timeline], rule: OutcomeRule,
                   read_at: float) -> tuple[list[Example], dict[str, int]]:
    examples = []
    for t in timelines:
        reached = [x for x in (stage_entered(t, s) for s in rule.stages) if x is not None]
        examples.append(Example(t, read_at, "today", bool(reached), min(reached) if reached else None))
    examples.sort(key=lambda e: (e.timeline.created_at or 0, e.timeline.id))
    return examples, {}


def _left_out_text(left_out: Mapping[str, int]) -> str:
    return ", ".join(f"{n:,} {why}" for why, n in sorted(left_out.items(), key=lambda kv: -kv[1])) \
        or "none"
