"""The pure core of rules (cloud.rules.conditions): every operator at its bounds and every
clause of the trigger semantics, without a database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from cloud.models import RuleOperator
from cloud.rules.conditions import (
    EQ_TOLERANCE,
    Condition,
    RuleSpec,
    TriggerState,
    after_edit,
    condition_met,
    evaluate,
    in_cooldown,
    scan,
    step,
)

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("operator", "value", "met"),
    [
        (RuleOperator.GT, 10.0, False),
        (RuleOperator.GT, 10.000001, True),
        (RuleOperator.GT, 9.0, False),
        (RuleOperator.GTE, 10.0, True),
        (RuleOperator.GTE, 9.999999, False),
        (RuleOperator.LT, 10.0, False),
        (RuleOperator.LT, 9.999999, True),
        (RuleOperator.LTE, 10.0, True),
        (RuleOperator.LTE, 10.000001, False),
        (RuleOperator.EQ, 10.0, True),
        (RuleOperator.EQ, 10.0 + EQ_TOLERANCE / 2, True),
        (RuleOperator.EQ, 10.0 + EQ_TOLERANCE * 2, False),
        (RuleOperator.EQ, 10.0 - EQ_TOLERANCE * 2, False),
    ],
)
def test_single_threshold_operators_at_their_bounds(
    operator: RuleOperator, value: float, met: bool
) -> None:
    assert condition_met(Condition(operator, 10.0), value) is met


@pytest.mark.parametrize(
    ("value", "inside"),
    [(9.999, False), (10.0, True), (15.0, True), (20.0, True), (20.001, False)],
)
def test_between_includes_both_bounds_and_not_between_is_its_complement(
    value: float, inside: bool
) -> None:
    assert condition_met(Condition(RuleOperator.BETWEEN, 10.0, 20.0), value) is inside
    assert condition_met(Condition(RuleOperator.NOT_BETWEEN, 10.0, 20.0), value) is not inside


def test_a_range_of_one_point_and_a_range_without_its_upper_bound() -> None:
    assert condition_met(Condition(RuleOperator.BETWEEN, 5.0, 5.0), 5.0)
    assert not condition_met(Condition(RuleOperator.NOT_BETWEEN, 5.0, 5.0), 5.0)
    # The API refuses these; the core still never matches rather than guessing a bound.
    assert not condition_met(Condition(RuleOperator.BETWEEN, 5.0, None), 5.0)
    assert not condition_met(Condition(RuleOperator.NOT_BETWEEN, 5.0, None), 100.0)


def test_a_rule_is_armed_initially_and_a_matching_value_fires_and_disarms_it() -> None:
    state = TriggerState()
    assert state.armed
    assert state.last_triggered_at is None
    state, fired = step(state, True, 60, at(0))
    assert fired
    assert state == TriggerState(armed=False, last_triggered_at=at(0))


def test_while_disarmed_further_matching_values_do_nothing() -> None:
    state, _ = step(TriggerState(), True, 0, at(0))
    for second in (1, 100, 10_000):  # long past any cooldown, still no second firing
        state, fired = step(state, True, 0, at(second))
        assert not fired
        assert state == TriggerState(armed=False, last_triggered_at=at(0))


def test_a_value_that_does_not_meet_the_condition_re_arms_it() -> None:
    state, _ = step(TriggerState(), True, 0, at(0))
    state, fired = step(state, False, 0, at(1))
    assert not fired
    assert state == TriggerState(armed=True, last_triggered_at=at(0))
    state, fired = step(state, True, 0, at(2))
    assert fired
    assert state == TriggerState(armed=False, last_triggered_at=at(2))


def test_a_non_matching_value_on_an_armed_rule_changes_nothing() -> None:
    state = TriggerState(armed=True, last_triggered_at=at(0))
    assert step(state, False, 60, at(5)) == (state, False)


def test_inside_the_cooldown_a_matching_value_does_nothing_and_keeps_it_armed() -> None:
    state, _ = step(TriggerState(), True, 60, at(0))
    state, _ = step(state, False, 60, at(10))  # re-armed
    state, fired = step(state, True, 60, at(59.999))
    assert not fired
    assert state == TriggerState(armed=True, last_triggered_at=at(0))
    # ... so the first matching value once the cooldown is over fires.
    state, fired = step(state, True, 60, at(60))
    assert fired
    assert state == TriggerState(armed=False, last_triggered_at=at(60))


def test_the_cooldown_ends_exactly_after_cooldown_seconds_and_zero_means_none() -> None:
    state = TriggerState(armed=True, last_triggered_at=at(0))
    assert in_cooldown(state, 60, at(59.999))
    assert not in_cooldown(state, 60, at(60))
    assert not in_cooldown(state, 0, at(0))
    assert not in_cooldown(TriggerState(), 60, at(0))
    assert step(state, True, 0, at(0))[1]


def test_a_sequence_fires_once_per_crossing() -> None:
    """Values of a sensor against ``gt 10`` with a 5 s cooldown, one per second."""
    condition = Condition(RuleOperator.GT, 10.0)
    values = [5, 11, 12, 13, 4, 11, 3, 12, 12, 2, 2, 2, 2, 15]
    state = TriggerState()
    fired_at: list[int] = []
    for second, value in enumerate(values):
        state, fired = step(state, condition_met(condition, value), 5, at(second))
        if fired:
            fired_at.append(second)
    # 1: first crossing; 5: re-armed at 4 but inside the cooldown (since 1); 7: cooldown over
    # (6 s after 1) while armed; 13: re-armed at 9, out of cooldown.
    assert fired_at == [1, 7, 13]


GT_10 = Condition(RuleOperator.GT, 10.0)


def test_a_disabled_rule_is_not_evaluated() -> None:
    spec = RuleSpec(GT_10, 0, enabled=False)
    armed = TriggerState()
    assert evaluate(spec, armed, 50.0, at(0)) == (armed, False)
    disarmed = TriggerState(armed=False, last_triggered_at=at(0))
    assert evaluate(spec, disarmed, 1.0, at(1)) == (disarmed, False)  # not re-armed either


def test_an_enabled_rule_is_evaluated() -> None:
    state, fired = evaluate(RuleSpec(GT_10, 0), TriggerState(), 50.0, at(0))
    assert fired
    assert not state.armed


@pytest.mark.parametrize(
    "field", ["enabled", "sensor_id", "operator", "threshold", "threshold_high"]
)
def test_enabling_or_editing_the_condition_re_arms_it(field: str) -> None:
    disarmed = TriggerState(armed=False, last_triggered_at=at(0))
    assert after_edit(disarmed, [field]) == TriggerState(armed=True, last_triggered_at=at(0))


@pytest.mark.parametrize("field", ["name", "action_type", "cooldown_seconds", "command_payload"])
def test_editing_anything_else_keeps_its_state(field: str) -> None:
    disarmed = TriggerState(armed=False, last_triggered_at=at(0))
    assert after_edit(disarmed, [field]) == disarmed
    assert after_edit(disarmed, []) == disarmed


def test_re_armed_by_an_edit_it_still_honours_the_cooldown() -> None:
    state = after_edit(TriggerState(armed=False, last_triggered_at=at(0)), ["threshold"])
    assert evaluate(RuleSpec(GT_10, 60), state, 50.0, at(30)) == (state, False)
    assert evaluate(RuleSpec(GT_10, 60), state, 50.0, at(60))[1]


@pytest.mark.parametrize("operator", list(RuleOperator))
@pytest.mark.parametrize("cooldown", [0, 1, 3])
@pytest.mark.parametrize("seed", range(4))
def test_scan_is_the_fold_of_evaluate(operator: RuleOperator, cooldown: int, seed: int) -> None:
    """The evaluator's fast loop decides exactly what one evaluate() per value would, on
    values that cross every bound (and receive times that sometimes go backwards)."""
    chance = random.Random(seed)
    values = [chance.choice([4.0, 5.0, 5.0 + 1e-12, 7.5, 10.0, 12.0]) for _ in range(200)]
    times = [at(chance.choice([i / 2, i / 2, i / 2 - 3])) for i in range(200)]
    spec = RuleSpec(Condition(operator, 5.0, 10.0), cooldown)
    for start in (TriggerState(), TriggerState(False, at(-1)), TriggerState(True, at(2))):
        state, expected = start, []
        for index, (value, time) in enumerate(zip(values, times, strict=True)):
            state, fired = evaluate(spec, state, value, time)
            if fired:
                expected.append(index)
        assert scan(spec, start, values, times) == (state, expected)
    disabled = RuleSpec(Condition(operator, 5.0, 10.0), cooldown, enabled=False)
    assert scan(disabled, TriggerState(), values, times) == (TriggerState(), [])
