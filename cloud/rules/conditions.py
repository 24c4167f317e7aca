"""The pure core of rules: operator evaluation and the per-rule trigger state machine.

No I/O here, so every clause below is tested without a database.

Semantics: **edge-triggered with re-arm, plus cooldown**. A rule is *armed* initially. Each
value of the rule's sensor is evaluated in the order it was stored. A value that meets the
condition while the rule is armed and out of cooldown fires the rule and disarms it; a value
that does not meet it re-arms it. While disarmed, further matching values do nothing. A
matching value while armed but inside the cooldown (since ``last_triggered_at``) does nothing
and keeps the rule armed (so it fires on the first matching value after the cooldown).
Disabling a rule stops evaluation; enabling (or editing its condition) re-arms it.

Why edge-triggered: a level-triggered rule on a 10 Hz sensor that stays above its threshold
would fire ten actions a second (or one per cooldown, forever); here it fires once per
crossing. The cooldown then damps a value that flaps around the threshold.

The clock of the cooldown is the time the cloud *received* a value (the same for a whole
ingest batch), not the device's timestamp: a device clock that is wrong, or a backlog sent
after an outage, cannot hold a rule in cooldown or make it fire a burst. ``last_triggered_at``
is that receive time of the value that fired. The cooldown is over once at least
``cooldown_seconds`` have passed (so 0 means no cooldown), as in WebMACS.

Operators as WebMACS: ``gt`` >, ``lt`` <, ``gte`` >=, ``lte`` <=, ``eq`` equal within
:data:`EQ_TOLERANCE` (readings are floats), ``between`` ``threshold <= v <= threshold_high``
(bounds inclusive) and ``not_between`` its complement (``v < threshold or v >
threshold_high``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cloud.models.rule import RuleOperator

__all__ = [
    "EQ_TOLERANCE",
    "RANGE_OPERATORS",
    "REARMING_FIELDS",
    "Condition",
    "RuleSpec",
    "TriggerState",
    "after_edit",
    "condition_met",
    "evaluate",
    "in_cooldown",
    "matcher",
    "scan",
    "step",
]

EQ_TOLERANCE = 1e-9  # WebMACS's: ADC noise aside, a float read back is not bit-exact
RANGE_OPERATORS = frozenset({RuleOperator.BETWEEN, RuleOperator.NOT_BETWEEN})
# Changing one of these changes what the rule watches for: it starts armed again.
REARMING_FIELDS = frozenset({"sensor_id", "operator", "threshold", "threshold_high", "enabled"})


@dataclass(frozen=True, slots=True)
class Condition:
    operator: RuleOperator
    threshold: float
    threshold_high: float | None = None


def condition_met(condition: Condition, value: float) -> bool:
    """Whether ``value`` meets ``condition``. A range operator without its upper bound (the
    API refuses that) never matches."""
    low, high = condition.threshold, condition.threshold_high
    match condition.operator:
        case RuleOperator.GT:
            return value > low
        case RuleOperator.LT:
            return value < low
        case RuleOperator.GTE:
            return value >= low
        case RuleOperator.LTE:
            return value <= low
        case RuleOperator.EQ:
            return abs(value - low) < EQ_TOLERANCE
        case RuleOperator.BETWEEN:
            return high is not None and low <= value <= high
        case RuleOperator.NOT_BETWEEN:
            return high is not None and (value < low or value > high)


@dataclass(frozen=True, slots=True)
class TriggerState:
    """What a rule remembers between values."""

    armed: bool = True
    last_triggered_at: datetime | None = None


def in_cooldown(state: TriggerState, cooldown_seconds: int, at: datetime) -> bool:
    if state.last_triggered_at is None:
        return False
    return (at - state.last_triggered_at).total_seconds() < cooldown_seconds


def step(
    state: TriggerState, met: bool, cooldown_seconds: int, at: datetime
) -> tuple[TriggerState, bool]:
    """One value received at ``at`` that did or did not meet the condition: the next state,
    and whether the rule fires on it."""
    if not met:
        return (state if state.armed else TriggerState(True, state.last_triggered_at)), False
    if not state.armed or in_cooldown(state, cooldown_seconds, at):
        return state, False
    return TriggerState(armed=False, last_triggered_at=at), True


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What of a rule decides whether a value fires it."""

    condition: Condition
    cooldown_seconds: int
    enabled: bool = True


def evaluate(
    spec: RuleSpec, state: TriggerState, value: float, at: datetime
) -> tuple[TriggerState, bool]:
    """One value of the rule's sensor, received at ``at``: the next state and whether the
    rule fires. A disabled rule is not evaluated: its state stays as it is."""
    if not spec.enabled:
        return state, False
    return step(state, condition_met(spec.condition, value), spec.cooldown_seconds, at)


def matcher(condition: Condition) -> Callable[[float], bool]:
    """``condition_met`` for one condition, decided once: what :func:`scan` calls per value."""
    low, high = condition.threshold, condition.threshold_high
    match condition.operator:
        case RuleOperator.GT:
            return lambda value: value > low
        case RuleOperator.LT:
            return lambda value: value < low
        case RuleOperator.GTE:
            return lambda value: value >= low
        case RuleOperator.LTE:
            return lambda value: value <= low
        case RuleOperator.EQ:
            return lambda value: abs(value - low) < EQ_TOLERANCE
        case RuleOperator.BETWEEN if high is not None:
            return lambda value: low <= value <= high
        case RuleOperator.NOT_BETWEEN if high is not None:
            return lambda value: value < low or value > high
        case _:
            return lambda value: False


def scan(
    spec: RuleSpec, state: TriggerState, values: Sequence[float], times: Sequence[datetime]
) -> tuple[TriggerState, list[int]]:
    """:func:`evaluate` folded over ``values`` (received at ``times``), in order: the final
    state and the indices of the values that fired the rule.

    The evaluator's inner loop (every value of a sensor against each of its rules), so it
    avoids a call and a state object per value; tests hold it equal to the fold."""
    if not spec.enabled:
        return state, []
    met = matcher(spec.condition)
    armed, last = state.armed, state.last_triggered_at
    cooldown = spec.cooldown_seconds
    fired: list[int] = []
    for index, value in enumerate(values):
        if not met(value):
            armed = True
        elif armed and (last is None or (times[index] - last).total_seconds() >= cooldown):
            fired.append(index)
            armed, last = False, times[index]
    if (armed, last) == (state.armed, state.last_triggered_at):
        return state, fired
    return TriggerState(armed, last), fired


def after_edit(state: TriggerState, changed: Iterable[str]) -> TriggerState:
    """The state after the fields ``changed`` were edited: enabling it, or changing its
    sensor or condition, re-arms it; the cooldown still counts from the last firing."""
    if REARMING_FIELDS.isdisjoint(changed):
        return state
    return TriggerState(armed=True, last_triggered_at=state.last_triggered_at)
