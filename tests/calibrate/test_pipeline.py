from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from connector.calibrate import config_out
from connector.calibrate.measure import Target
from connector.calibrate.outcomes import OutcomeRule
from connector.calibrate.pipeline import Options, calibrate
from connector.core.model import Contact, History
from connector.core.rules_file import load_rules, parse_rules
from connector.core.scoring import tally
from connector.errors import CalibrationRefused
from tests.calibrate.population import DEFINITIONS, NOW, population

OPTIONS = Options(outcome=OutcomeRule(("opportunity",), window_days=150, decision_age_days=30),
                  min_outcomes=50, folds=3)


def test_given_buyers_driven_by_a_custom_property_then_the_candidate_finds_it_and_ranks_better(small_config, tmp_path):
    timelines, truth = population(4000, seed=2)
    current = parse_rules(small_config, "small")
    result = calibrate(timelines, DEFINITIONS, small_config, current, OPTIONS, NOW)
    assert result.point_in_time
    rules = {r["name"]: r["points"] for r in result.rules}
    assert rules.get("learned_crm_in_use_salesforce", 0) > 0 > rules.get("learned_crm_in_use_none", 0)
    assert rules.get("email_clicks", 0) > 0  # learned through the rule's own per-unit points
    assert abs(rules.get("c_level", 0)) <= 3 and abs(rules.get("student", 0)) <= 3  # titles carry no signal here
    cand, cur = result.compare["candidate"], result.compare["current"]
    assert cand["auc"] > cur["auc"] + 0.05
    assert result.counts["left_out"]["too young: window not over"] > 0
    assert result.split["train_to"] <= result.split["holdout_from"]  # train older, test newer
    # the written file loads as SCORING_CONFIG, and scores as the report said
    path = tmp_path / "candidate.yaml"
    path.write_text(config_out.render(result.config, result, source="small.yaml", read_at=NOW))
    loaded = load_rules(path)
    assert loaded.policy.mql_threshold == result.threshold["holdout"]["threshold"]
    assert "learned +" in path.read_text() and "NOT POINT-IN-TIME" not in path.read_text()
    # against the hidden truth too, not only against the outcomes it learned from
    ids = [t.id for t in timelines]
    latest = {t.id: t.latest() for t in timelines}
    y = np.array([truth[i] for i in ids])
    cand_scores = [tally(Contact(i, latest[i]), History.empty(), loaded, NOW).total for i in ids]
    cur_scores = [tally(Contact(i, latest[i]), History.empty(), current, NOW).total for i in ids]
    assert roc_auc_score(y, cand_scores) > roc_auc_score(y, cur_scores) + 0.05


def test_given_too_few_conversions_then_calibrate_refuses_with_the_counts(small_config):
    timelines, _ = population(1500, seed=3, base=-7.0)
    with pytest.raises(CalibrationRefused, match=r"only \d+ of [\d,]+ judged contacts reached opportunity") as e:
        calibrate(timelines, DEFINITIONS, small_config, parse_rules(small_config, "s"), OPTIONS, NOW)
    assert "too young" in str(e.value)


def test_given_flat_history_then_calibrate_refuses_unless_allowed_and_then_says_it_is_not_point_in_time(small_config):
    timelines, _ = population(3000, seed=4, flat=True)
    rules = parse_rules(small_config, "s")
    with pytest.raises(CalibrationRefused, match="--allow-flat-history"):
        calibrate(timelines, DEFINITIONS, small_config, rules, OPTIONS, NOW)
    allowed = Options(outcome=OPTIONS.outcome, min_outcomes=50, folds=3, allow_flat=True)
    result = calibrate(timelines, DEFINITIONS, small_config, rules, allowed, NOW)
    assert not result.point_in_time and "NOT POINT-IN-TIME" in result.notes[0]
    assert "NOT POINT-IN-TIME" in config_out.render(result.config, result, source="s", read_at=NOW)


def test_given_a_weekly_capacity_then_the_line_keeps_mqls_within_it_on_the_training_part(small_config):
    timelines, _ = population(4000, seed=2)
    options = Options(outcome=OPTIONS.outcome, min_outcomes=50, folds=3, target=Target(mqls_per_week=5))
    result = calibrate(timelines, DEFINITIONS, small_config, parse_rules(small_config, "s"), options, NOW)
    assert result.threshold["train"]["mqls_per_week"] <= 5
    assert "at most 5 MQLs per week" in result.threshold["target"]
