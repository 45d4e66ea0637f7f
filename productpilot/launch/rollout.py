"""Progressive rollouts: the plan (stages, guardrails, success goal) and the step logic.

A plan walks a flag through increasing percentages. :func:`next_action` is a pure state
machine: given the current stage, when it started, what was observed (exposure, the sample
ratio mismatch test, the guardrail tests, the success metric) and an operator's command,
it answers :class:`Advance`, :class:`Hold`, :class:`Rollback` or :class:`Complete`. The
statistics are inputs (computed by :mod:`productpilot.launch.stats`), and the caller applies
the answer: set the flag's percentage (:func:`productpilot.launch.flags.set_rollout_percentage`)
and the new state (:func:`apply`).

Safety comes first: an abort, a sample ratio mismatch or a breached guardrail rolls back
even while the rollout is held. A stage advances once it has its exposure, its guardrail
results and its minimum duration (or the success goal is reached sooner), and an approval
when the stage asks for one.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> plan = parse_plan({"stages": [{"percentage": 10, "min_duration_minutes": 60},
    ...                               {"percentage": 100}]})
    >>> start = datetime(2026, 9, 1, tzinfo=UTC)
    >>> state = RolloutState.start(start)
    >>> next_action(plan, state, Observations(exposure=50), start + timedelta(minutes=30))
    Hold(reason='stage 1 (10%) needs 30 more minutes', kind='waiting')
    >>> next_action(plan, state, Observations(exposure=50), start + timedelta(minutes=60))
    Advance(to_stage=1, percentage=100.0, reason='stage 1 (10%) passed its checks')
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from productpilot.errors import ValidationError

GuardrailKind = Literal["error_rate", "latency_p95", "conversion", "custom"]
Direction = Literal["increase_is_bad", "decrease_is_bad"]
Command = Literal["approve", "hold", "abort"]
Status = Literal["running", "held", "rolled_back", "completed"]
OFF = -1  # the stage index of a rollout rolled back to off

_DEFAULT_DIRECTION: dict[str, Direction] = {
    "error_rate": "increase_is_bad",
    "latency_p95": "increase_is_bad",
    "conversion": "decrease_is_bad",
}
_DEFAULT_TEST = {"error_rate": "two_proportion", "conversion": "two_proportion"}


# --- the plan ------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RolloutStage(_Model):
    """One step: serve ``percentage`` % for at least ``min_duration_minutes`` and
    ``min_exposure`` users; ``requires_approval`` waits for an operator's approve too."""

    percentage: float = Field(gt=0, le=100)
    min_duration_minutes: int = Field(default=0, ge=0)
    min_exposure: int = Field(default=0, ge=0)
    requires_approval: bool = False


class Guardrail(_Model):
    """A metric that must not get worse, tested treatment against control.

    ``max_relative_change`` (e.g. 0.1: at most 10 % worse) breaches when the relative change
    is worse than that *and* significant (p below ``alpha``); ``threshold`` breaches when the
    treatment's value crosses it (an absolute limit, e.g. 800 ms p95 latency). ``direction``
    defaults from ``kind`` (error rate and latency: increase is bad; conversion: decrease
    is bad); ``test`` says which test the statistics run (two-proportion for rates, Welch
    for means).
    """

    metric: str = Field(min_length=1, max_length=120)
    kind: GuardrailKind
    direction: Direction | None = None
    max_relative_change: float | None = Field(default=None, gt=0)
    threshold: float | None = None
    test: Literal["two_proportion", "welch"] | None = None
    alpha: float = Field(default=0.05, gt=0, lt=1)

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_kind(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = dict(data)
            kind = data.get("kind")
            if data.get("direction") is None and kind in _DEFAULT_DIRECTION:
                data["direction"] = _DEFAULT_DIRECTION[kind]
            if data.get("test") is None and isinstance(kind, str):
                data["test"] = _DEFAULT_TEST.get(kind, "welch")
        return data

    @model_validator(mode="after")
    def _complete(self) -> Guardrail:
        if (self.max_relative_change is None) == (self.threshold is None):
            raise ValueError("a guardrail needs exactly one of max_relative_change or threshold")
        if self.direction is None:
            raise ValueError("a custom guardrail needs direction")
        return self


class SuccessGoal(_Model):
    """The outcome that proves the feature, e.g. adoption at least 0.3: once reached, a
    stage advances without waiting out its minimum duration."""

    metric: str = Field(min_length=1, max_length=120)
    target: float
    direction: Literal["at_least", "at_most"] = "at_least"

    def reached(self, value: float | None) -> bool:
        if value is None:
            return False
        return value >= self.target if self.direction == "at_least" else value <= self.target


class RolloutPlan(_Model):
    """Stages in increasing percentage, guardrails, an optional success goal.

    ``rollback_to`` is where a breach sends the flag: ``"previous_stage"`` (its
    percentage, off from the first stage) or ``"off"``. ``srm_alpha`` is the p-value under
    which a sample ratio mismatch stops the rollout (0.001 by convention: SRM tests run
    often and a false alarm stops a launch).
    """

    stages: list[RolloutStage] = Field(min_length=1)
    guardrails: list[Guardrail] = Field(default_factory=list)
    success_goal: SuccessGoal | None = None
    rollback_to: Literal["previous_stage", "off"] = "previous_stage"
    srm_alpha: float = Field(default=0.001, gt=0, lt=1)

    @model_validator(mode="after")
    def _ordered(self) -> RolloutPlan:
        percentages = [stage.percentage for stage in self.stages]
        if any(b <= a for a, b in itertools.pairwise(percentages)):
            raise ValueError(f"stage percentages must increase, got {percentages}")
        metrics = [guardrail.metric for guardrail in self.guardrails]
        if len(set(metrics)) != len(metrics):
            raise ValueError("each guardrail metric may appear once")
        return self


def parse_plan(data: Mapping[str, Any]) -> RolloutPlan:
    """Validate a rollout plan; the error names the offending field.

    Example:
        >>> parse_plan({"stages": [{"percentage": 50}, {"percentage": 20}]})
        Traceback (most recent call last):
        ...
        productpilot.errors.ValidationError: invalid rollout plan: stage percentages must increase, got [50.0, 20.0]
    """  # noqa: E501
    try:
        return RolloutPlan.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise ValidationError(
            f"invalid rollout plan{f' at {where}' if where else ''}: {message}"
        ) from None


# --- state, observations, actions ----------------------------------------------------------


@dataclass(frozen=True)
class RolloutState:
    """Where a rollout is.

    Attributes:
        stage_index: the current stage (0-based); after a rollback the stage it fell back
            to, or :data:`OFF` (-1).
        stage_started_at: when that stage (or the rollback) began.
        status: ``running``, ``held`` (by an operator, until approve), ``rolled_back`` or
            ``completed``.
        note: why it is held or rolled back.
    """

    stage_index: int
    stage_started_at: datetime
    status: Status = "running"
    note: str = ""

    @classmethod
    def start(cls, now: datetime) -> RolloutState:
        """A rollout entering its first stage at ``now``."""
        return cls(stage_index=0, stage_started_at=now)


@dataclass(frozen=True)
class GuardrailResult:
    """One guardrail's test in the current stage (from the statistics module).

    Attributes:
        metric: the guardrail's metric.
        p_value: the test's p-value (for ``max_relative_change`` guardrails).
        relative_change: ``(treatment - control) / control``.
        treatment_value: the treatment's value (for ``threshold`` guardrails).
    """

    metric: str
    p_value: float | None = None
    relative_change: float | None = None
    treatment_value: float | None = None


@dataclass(frozen=True)
class Observations:
    """What is known of the current stage.

    Attributes:
        exposure: users exposed to the flag in this stage.
        srm_p_value: p-value of the sample ratio mismatch test, if run.
        guardrails: one result per guardrail tested.
        success_value: the success goal metric's current value.
        command: an operator's ``approve``, ``hold`` or ``abort``.
    """

    exposure: int = 0
    srm_p_value: float | None = None
    guardrails: tuple[GuardrailResult, ...] = ()
    success_value: float | None = None
    command: Command | None = None


@dataclass(frozen=True)
class Advance:
    """Set the flag to ``percentage`` and start stage ``to_stage`` (0-based)."""

    to_stage: int
    percentage: float
    reason: str


@dataclass(frozen=True)
class Hold:
    """Keep the current percentage. ``kind``: ``waiting`` (for time, exposure, results or
    approval), ``manual`` (an operator's hold) or ``stopped`` (rolled back or done)."""

    reason: str
    kind: Literal["waiting", "manual", "stopped"] = "waiting"


@dataclass(frozen=True)
class Rollback:
    """Set the flag to ``to_percentage`` (0: off) and stop the rollout.

    ``to_stage`` is the stage whose percentage it falls back to, ``None`` for off.
    """

    reason: str
    to_percentage: float
    to_stage: int | None

    @property
    def off(self) -> bool:
        return self.to_stage is None


@dataclass(frozen=True)
class Complete:
    """The last stage passed: the rollout is done."""

    reason: str


Action = Advance | Hold | Rollback | Complete


# --- the step logic ------------------------------------------------------------------------


def next_action(
    plan: RolloutPlan, state: RolloutState, observations: Observations, now: datetime
) -> Action:
    """What the rollout should do now.

    Order: an abort rolls back to off; a completed or rolled-back rollout stays so; a
    sample ratio mismatch or a breached guardrail rolls back (to the previous stage's
    percentage or off, per ``plan.rollback_to``); an operator's hold holds until approve;
    then the stage waits for its exposure, its guardrail results (tests against control
    need a control group, so they are not awaited at 100 %), and its duration unless the
    success goal is reached, and its approval if it needs one; then it advances, or
    completes from the last stage.

    Args:
        plan: the rollout plan.
        state: where the rollout is.
        observations: exposure, SRM and guardrail tests, success metric, command.
        now: the current time (time zone aware like ``state.stage_started_at``).

    Returns:
        One of :class:`Advance`, :class:`Hold`, :class:`Rollback`, :class:`Complete`.

    Raises:
        ValidationError: the state names no stage of the plan, a result names no guardrail,
            a p-value is outside [0, 1], or the times mix aware and naive.

    Example:
        >>> from datetime import UTC, datetime
        >>> plan = parse_plan({"stages": [{"percentage": 5}, {"percentage": 50}]})
        >>> now = datetime(2026, 9, 1, tzinfo=UTC)
        >>> next_action(plan, RolloutState.start(now), Observations(srm_p_value=1e-6), now)
        Rollback(reason='sample ratio mismatch at stage 1 (5%): p = 1e-06 < 0.001', to_percentage=0.0, to_stage=None)
    """  # noqa: E501
    _check(plan, state, observations, now)
    command = observations.command
    if command == "abort":
        if state.status == "rolled_back" and state.stage_index == OFF:
            return Hold("already rolled back to off", kind="stopped")
        return Rollback("aborted by an operator", 0.0, None)
    if state.status == "completed":
        return Complete("the rollout has completed")
    if state.status == "rolled_back":
        return Hold(f"rolled back: {state.note}; start a new rollout", kind="stopped")

    index = state.stage_index
    stage = plan.stages[index]
    label = f"stage {index + 1} ({_percent(stage.percentage)})"
    srm = observations.srm_p_value
    if srm is not None and srm < plan.srm_alpha:
        reason = f"sample ratio mismatch at {label}: p = {srm:.3g} < {plan.srm_alpha:g}"
        return _rollback(plan, index, reason)
    results = {result.metric: result for result in observations.guardrails}
    for guardrail in plan.guardrails:
        breach = guardrail_breach(guardrail, results.get(guardrail.metric))
        if breach:
            return _rollback(plan, index, f"guardrail breached at {label}: {breach}")

    if command == "hold":
        return Hold("held by an operator; approve to resume", kind="manual")
    if state.status == "held" and command != "approve":
        return Hold(f"{state.note or 'held by an operator'}; approve to resume", kind="manual")

    if observations.exposure < stage.min_exposure:
        return Hold(f"{label} has {observations.exposure} of {stage.min_exposure} users exposed")
    missing = [
        guardrail.metric
        for guardrail in plan.guardrails
        if _awaited(guardrail, stage) and _incomplete(guardrail, results.get(guardrail.metric))
    ]
    if missing:
        return Hold(f"{label} waits for guardrail results: {', '.join(missing)}")
    goal = plan.success_goal
    goal_reached = goal is not None and goal.reached(observations.success_value)
    remaining = state.stage_started_at + timedelta(minutes=stage.min_duration_minutes) - now
    if remaining > timedelta(0) and not goal_reached:
        minutes = math.ceil(remaining.total_seconds() / 60)
        return Hold(f"{label} needs {minutes} more minute{'s' if minutes != 1 else ''}")
    if stage.requires_approval and command != "approve":
        return Hold(f"{label} passed its checks; waiting for approval")

    why = (
        f"success goal {goal.metric} reached ({observations.success_value:g})"
        if goal is not None and goal_reached
        else f"{label} passed its checks"
    )
    if index == len(plan.stages) - 1:
        return Complete(why)
    following = plan.stages[index + 1]
    return Advance(to_stage=index + 1, percentage=following.percentage, reason=why)


def apply(state: RolloutState, action: Action, now: datetime) -> RolloutState:
    """The state after carrying out ``action`` at ``now``.

    Example:
        >>> from datetime import UTC, datetime
        >>> now = datetime(2026, 9, 1, tzinfo=UTC)
        >>> apply(RolloutState.start(now), Hold("held", kind="manual"), now).status
        'held'
    """
    if isinstance(action, Advance):
        return RolloutState(stage_index=action.to_stage, stage_started_at=now)
    if isinstance(action, Rollback):
        to_stage = OFF if action.to_stage is None else action.to_stage
        return RolloutState(to_stage, now, "rolled_back", action.reason)
    if isinstance(action, Complete):
        return replace(state, status="completed", note=action.reason)
    if action.kind == "manual":
        return replace(state, status="held", note=action.reason.split(";")[0])
    if action.kind == "waiting" and state.status == "held":
        return replace(state, status="running", note="")  # approved: waiting, not held
    return state


def guardrail_breach(guardrail: Guardrail, result: GuardrailResult | None) -> str | None:
    """Why ``result`` breaches ``guardrail``, or ``None`` (also when it is incomplete).

    Example:
        >>> guard = Guardrail(metric="errors", kind="error_rate", max_relative_change=0.1)
        >>> guardrail_breach(guard, GuardrailResult("errors", p_value=0.01, relative_change=0.3))
        'errors +30.0% (limit +10.0%, p = 0.01)'
        >>> guardrail_breach(guard, GuardrailResult("errors", p_value=0.3, relative_change=0.3))
    """
    if result is None or _incomplete(guardrail, result):
        return None
    worse_up = guardrail.direction == "increase_is_bad"
    if guardrail.max_relative_change is not None:
        change, p_value = result.relative_change, result.p_value
        if change is None or p_value is None:  # not reached: _incomplete checked it
            return None
        worse = change if worse_up else -change
        if worse > guardrail.max_relative_change and p_value < guardrail.alpha:
            limit = guardrail.max_relative_change if worse_up else -guardrail.max_relative_change
            return f"{guardrail.metric} {change:+.1%} (limit {limit:+.1%}, p = {p_value:.3g})"
        return None
    value, threshold = result.treatment_value, guardrail.threshold
    if value is None or threshold is None:
        return None
    if (value > threshold) if worse_up else (value < threshold):
        side = "above" if worse_up else "below"
        return f"{guardrail.metric} {value:g} is {side} its threshold {threshold:g}"
    return None


def _incomplete(guardrail: Guardrail, result: GuardrailResult | None) -> bool:
    if result is None:
        return True
    if guardrail.max_relative_change is not None:
        return result.relative_change is None or result.p_value is None
    return result.treatment_value is None


def _awaited(guardrail: Guardrail, stage: RolloutStage) -> bool:
    # A comparison with control needs a control group; an absolute threshold does not.
    return guardrail.threshold is not None or stage.percentage < 100


def _rollback(plan: RolloutPlan, index: int, reason: str) -> Rollback:
    if plan.rollback_to == "off" or index == 0:
        return Rollback(reason, 0.0, None)
    return Rollback(reason, plan.stages[index - 1].percentage, index - 1)


def _percent(percentage: float) -> str:
    return f"{percentage:g}%"


def _check(
    plan: RolloutPlan, state: RolloutState, observations: Observations, now: datetime
) -> None:
    if state.status in ("running", "held") and not 0 <= state.stage_index < len(plan.stages):
        raise ValidationError(
            f"rollout state: stage {state.stage_index} is not a stage of the plan "
            f"(0 to {len(plan.stages) - 1})"
        )
    if (now.tzinfo is None) != (state.stage_started_at.tzinfo is None):
        raise ValidationError("rollout times: now and stage_started_at mix aware and naive")
    known = {guardrail.metric for guardrail in plan.guardrails}
    for result in observations.guardrails:
        if result.metric not in known:
            raise ValidationError(f"guardrail result for unknown metric '{result.metric}'")
        if result.p_value is not None and not 0 <= result.p_value <= 1:
            raise ValidationError(
                f"guardrail '{result.metric}': p-value {result.p_value} not in [0, 1]"
            )
    srm = observations.srm_p_value
    if srm is not None and not 0 <= srm <= 1:
        raise ValidationError(f"SRM p-value {srm} not in [0, 1]")
    if observations.exposure < 0:
        raise ValidationError(f"exposure must be >= 0, got {observations.exposure}")
