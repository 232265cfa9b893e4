from __future__ import annotations

import pytest

from connector.calibrate.shadow_compare import MIN_OUTCOMES, compare
from connector.store import ShadowSighting, Store


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 's.db'}")
    s.upgrade()
    return s


def sighting(cid: str, live: int, shadow: int, stage: str = "lead") -> ShadowSighting:
    return ShadowSighting(cid, live, shadow, live >= 50, shadow >= 50, stage,
                          stage in ("opportunity", "customer"))


def test_given_first_and_later_sightings_then_first_scores_are_kept_and_the_outcome_is_dated_once(store):
    store.record_shadow("k", [sighting("1", 80, 10), sighting("2", 10, 90, "customer")], now=1_000)
    store.record_shadow("k", [sighting("1", 5, 70, "opportunity"), sighting("2", 10, 90, "customer")], now=2_000)
    store.record_shadow("k", [sighting("1", 5, 70, "customer")], now=3_000)
    rows = {r["contact_id"]: r for r in store.shadow_rows("k")}
    assert (rows["1"]["live_total"], rows["1"]["shadow_total"], rows["1"]["latest_shadow_total"]) == (80, 10, 70)
    assert rows["1"]["outcome_at"] == 2_000 and rows["1"]["stage_at_start"] == "lead"
    assert rows["2"]["outcome_at"] == 1_000  # already a customer when first seen (compare leaves it out)
    assert store.shadow_keys() == [("k", 2, 1_000)] and store.shadow_rows("other") == []


def _rows(n: int, converted: set[int], live, shadow, stage_at_start=lambda i: "lead"):
    return [{"contact_id": str(i), "live_total": live(i), "shadow_total": shadow(i),
             "live_mql": live(i) >= 50, "shadow_mql": shadow(i) >= 50, "stage_at_start": stage_at_start(i),
             "outcome_at": 5 if i in converted else None} for i in range(n)]


def test_given_outcomes_then_the_config_that_ranked_them_higher_is_named_and_disagreements_counted():
    converted = set(range(0, 400, 10))  # 40 of 400
    rows = _rows(400, converted, live=lambda i: (i * 37) % 100, shadow=lambda i: 95 if i in converted else i % 60,
                 stage_at_start=lambda i: "customer" if i == 1 else "lead")
    result = compare(rows)
    assert result["better"] == "shadow" and result["shadow"]["auc"] > 0.95 > result["live"]["auc"]
    assert result["judged"] == 399 and result["already_converted"] == 1
    cells = result["agreement"]
    assert sum(c["contacts"] for c in cells.values()) == 399
    assert cells["live not / shadow MQL"]["converted"] > 0
    assert "within the noise" not in result["verdict"]


def test_given_too_few_outcomes_then_it_says_too_early_and_names_no_winner():
    rows = _rows(300, set(range(MIN_OUTCOMES - 1)), live=lambda i: i, shadow=lambda i: -i)
    result = compare(rows)
    assert result["better"] is None and result["verdict"].startswith("too early")
