"""Decay does not depend on how often a contact is evaluated (found by review: with units rounded
to 4 places, a count evaluated every minute never decayed, and a rebuilt store, advancing from an
older copy, could end a rounding step away from the kept one)."""

from __future__ import annotations

from connector.core.decay import advance

DAY = 86400.0
HALF_LIFE = 30 * DAY


def evaluated_every(step: float, days: float, count: float = 2.0) -> float:
    state = advance(None, 0.0, count, 0.0, HALF_LIFE)
    for _ in range(int(days * DAY / step)):
        state = advance(state, step, count, 0.0, HALF_LIFE)
    return state[1]


def test_given_a_count_evaluated_every_minute_for_a_half_life_then_it_has_halved():
    assert abs(evaluated_every(60.0, 30) - 1.0) < 1e-3


def test_given_the_same_time_in_one_step_or_in_thirty_then_the_units_agree():
    once = advance(advance(None, 0.0, 2.0, 0.0, HALF_LIFE), 30 * DAY, 2.0, 0.0, HALF_LIFE)[1]
    assert abs(evaluated_every(DAY, 30) - once) < 1e-6 and abs(once - 1.0) < 1e-9
