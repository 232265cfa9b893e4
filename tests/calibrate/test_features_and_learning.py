from __future__ import annotations

import random

import numpy as np
import yaml

from connector.calibrate import candidates as cands
from connector.calibrate import learn, measure
from connector.calibrate.features import features_of, matrix
from connector.calibrate.outcomes import Example
from connector.calibrate.timeline import Timeline
from connector.core.model import Contact, History
from connector.core.rules_file import parse_rules
from connector.core.scoring import tally
from tests.support.paths import DEFAULT_CONFIG

NOW = 1_790_000_000.0
DAY = 86_400.0


def _iso(at: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _random_contact(rng: random.Random) -> dict:
    return {
        "jobtitle": rng.choice(["CEO", "VP of Sales", "Director of IT", "Marketing Manager", "Student", "Engineer",
                                ""]),
        "industry": rng.choice(["Computer Software", "Retail", "Internet", None]),
        "numemployees": rng.choice(["1-5", "25-50", "100-500", "1000+", None]),
        "annualrevenue": rng.choice(["500000", "2500000", "40000000", None]),
        "country": rng.choice(["United States", "India", None]),
        "email": rng.choice(["a@gmail.com", "b@acme.com", "c@competitor-one.example"]),
        "hs_analytics_num_page_views": str(rng.randint(0, 40)),
        "hs_analytics_num_visits": str(rng.randint(0, 12)),
        "hs_analytics_last_visit_timestamp": _iso(NOW - rng.uniform(0, 120) * DAY),
        "hs_analytics_last_url": rng.choice(["https://x.com/pricing", "https://x.com/careers", "https://x.com/"]),
        "hs_email_open": str(rng.randint(0, 9)),
        "hs_email_click": str(rng.randint(0, 6)),
        "hs_email_last_open_date": _iso(NOW - rng.uniform(0, 90) * DAY),
        "hs_email_last_click_date": _iso(NOW - rng.uniform(0, 90) * DAY),
        "num_conversion_events": str(rng.randint(0, 4)),
        "recent_conversion_event_name": rng.choice(["Ebook download", "Webinar registration", None]),
        "recent_conversion_date": _iso(NOW - rng.uniform(0, 120) * DAY),
        "hs_email_optout": rng.choice(["true", "false"]),
        "hs_email_bounce": rng.choice(["0", "1", None]),
    }


def test_given_the_default_rules_then_points_times_features_is_what_the_engine_scores_without_caps():
    """The features are the engine's own view of each rule: with the rules' own points as weights,
    the weighted sum is the fit + engagement the sync would compute (groups and caps removed)."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for rule in config["rules"]["fit"] + config["rules"]["engagement"]:
        rule.pop("group", None)
    config.pop("groups")
    config["caps"] = {"total": 10_000}
    rules = parse_rules(config, "uncapped")
    features = features_of(config, [])
    weights = np.array([float(f.spec.get("per_unit", f.spec.get("points"))) for f in features])
    rng = random.Random(3)
    contacts = [_random_contact(rng) for _ in range(400)]
    examples = [Example(Timeline(str(i), None, {}), NOW, "age", False, None) for i in range(len(contacts))]
    x = matrix(config, features, examples, lambda e: contacts[int(e.timeline.id)])
    assert x.any(axis=0).sum() >= 15  # most rules fire for some contact: the check is not vacuous
    for i, props in enumerate(contacts):
        card = tally(Contact(str(i), props), History.empty(), rules, NOW)
        assert abs(float(x[i] @ weights) - (card.fit + card.engagement)) <= 1.0, props


def test_given_outcome_properties_then_they_are_never_candidates():
    definitions = {n: {"name": n, "type": "enumeration", "options": [{"value": "a"}, {"value": "b"}]}
                   for n in ("lifecyclestage", "hs_lead_status", "hubspot_owner_id", "lsc_grade",
                             "hs_lifecyclestage_customer_date", "crm_in_use")}
    values = {n: ["a", "b"] * 50 for n in definitions}
    found, _ = cands.propose(definitions, list(definitions), values)
    assert {c.spec["property"] for c in found} == {"crm_in_use"}


def test_given_numbers_options_and_free_text_then_thresholds_groups_and_refusals():
    rng = random.Random(1)
    definitions = {
        "leads": {"name": "leads", "label": "Leads", "type": "number"},
        "plan": {"name": "plan", "label": "Plan", "type": "enumeration",
                 "options": [{"value": v} for v in ("Free", "Pro", "Team", "Rare1", "Rare2")]},
        "notes": {"name": "notes", "label": "Notes", "type": "string"},
        "sparse": {"name": "sparse", "label": "Sparse", "type": "number"},
    }
    values = {
        "leads": [str(rng.randint(0, 500)) for _ in range(1000)],
        "plan": [rng.choice(["Free", "Pro", "Team"]) for _ in range(990)] + ["Rare1"] * 6 + ["Rare2"] * 4,
        "notes": [f"note {i}" for i in range(1000)],
        "sparse": ["3"] * 10 + [None] * 990,
    }
    found, skipped = cands.propose(definitions, list(definitions), values)
    by_prop: dict[str, list] = {}
    for c in found:
        by_prop.setdefault(c.spec["property"], []).append(c.spec)
    assert [s["gte"] for s in by_prop["leads"]] == sorted(s["gte"] for s in by_prop["leads"])
    assert len(by_prop["leads"]) == 4 and all("gte" in s for s in by_prop["leads"])
    assert sorted(s["in"][0] for s in by_prop["plan"] if len(s["in"]) == 1) == ["Free", "Pro", "Team"]
    assert ["Rare1", "Rare2"] in [s["in"] for s in by_prop["plan"]]  # rare options grouped in one rule
    assert "free text" in skipped["notes"] and "1.0%" in skipped["sparse"]
    parse_rules({"version": 1, "rules": {"fit": [dict(s, points=1) for c in found for s in [c.spec]]}}, "x")


def test_given_a_penalty_rule_the_data_would_flip_then_it_is_dropped_not_reversed():
    rng = np.random.default_rng(0)
    n = 4000
    x = rng.integers(0, 2, size=(n, 3)).astype(float)
    logit = -2 + 1.5 * x[:, 0] + 0.8 * x[:, 1]  # feature 1 helps, but its rule is declared a penalty
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    fit = learn.fit(x, y, signs=[1, -1, 0], budget=3)
    assert fit.coef[0] > 0 and fit.coef[1] == 0
    small = learn.fit(x, y, signs=[0, 0, 0], budget=1)
    assert np.count_nonzero(small.coef) <= 1 and small.coef[0] > 0


def test_given_thresholds_and_options_then_the_scale_puts_the_best_contact_near_100():
    coef = np.array([1.0, 2.0, 0.5, 0.5, -1.0])
    points, _ = learn.integer_points(coef, np.ones(5), ["plan", "plan", "leads>=", "leads>=", "rule:x"])
    # best: plan's larger option (2.0) + both thresholds (1.0) = 3.0 -> 100
    assert points.tolist() == [33.0, 67.0, 17.0, 17.0, -33.0]


def test_auc_interval_lift_and_thresholds():
    rng = np.random.default_rng(1)
    y = (rng.random(5000) < 0.1).astype(int)
    s = y * 1.0 + rng.normal(0, 1, 5000)
    auc, low, high = measure.auc_with_interval(s, y)
    assert 0.7 < auc < 0.8 and low < auc < high and high - low < 0.06
    lift = measure.lift_by_decile(s, y)
    assert sum(d["contacts"] for d in lift) == 5000 and lift[0]["lift"] > 1.5 > lift[-1]["lift"]
    scores = np.round((s - s.min()) * 10)
    none = np.zeros(5000, dtype=bool)
    cap = measure.choose_threshold(scores, y, none, weeks=10, target=measure.Target(mqls_per_week=20))
    assert cap["mqls_per_week"] <= 20
    assert measure.at_threshold(scores, y, none, cap["threshold"] - 1, 10)["mqls_per_week"] > 20
    good = measure.choose_threshold(scores, y, none, weeks=10, target=measure.Target(min_conversion=0.3))
    assert good["conversion"] >= 0.3
    assert measure.choose_threshold(scores, y, none, 10, measure.Target(min_conversion=0.99)) is None
    f1 = measure.choose_threshold(scores, y, none, 10, measure.Target())
    every = [measure.at_threshold(scores, y, none, t, 10) for t in range(1, int(scores.max()) + 1)]
    assert f1["f1"] == max(c["f1"] for c in every if c["mqls"] >= measure.MIN_MQLS)
