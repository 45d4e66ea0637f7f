"""Specification of progressive rollouts: the plan model and every step of the state machine."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from productpilot.errors import ValidationError
from productpilot.launch import rollout as module
from productpilot.launch.flags import evaluate, rollout_percentage, set_rollout_percentage
from productpilot.launch.rollout import (
    OFF,
    Advance,
    Complete,
    Guardrail,
    GuardrailResult,
    Hold,
    Observations,
    Rollback,
    RolloutPlan,
    RolloutState,
    apply,
    guardrail_breach,
    next_action,
    parse_plan,
)

START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def plan_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "stages": [
            {"percentage": 1, "min_duration_minutes": 60, "min_exposure": 100},
            {"percentage": 5, "min_duration_minutes": 60, "min_exposure": 500},
            {"percentage": 25, "min_duration_minutes": 120, "min_exposure": 2000},
            {"percentage": 100, "min_duration_minutes": 60},
        ],
        "guardrails": [
            {"metric": "errors", "kind": "error_rate", "max_relative_change": 0.1},
            {"metric": "checkout", "kind": "conversion", "max_relative_change": 0.05},
            {"metric": "latency", "kind": "latency_p95", "threshold": 800},
        ],
        "success_goal": {"metric": "adoption", "target": 0.3},
    }
    data.update(overrides)
    return data


PLAN = parse_plan(plan_data())


def healthy(exposure: int = 10_000, **overrides: Any) -> Observations:
    """A stage with enough users and every guardrail fine."""
    fields: dict[str, Any] = {
        "exposure": exposure,
        "srm_p_value": 0.4,
        "guardrails": (
            GuardrailResult("errors", p_value=0.5, relative_change=0.02),
            GuardrailResult("checkout", p_value=0.6, relative_change=-0.01),
            GuardrailResult("latency", treatment_value=420.0),
        ),
    }
    fields.update(overrides)
    return Observations(**fields)


def at_stage(index: int, **fields: Any) -> RolloutState:
    return RolloutState(stage_index=index, stage_started_at=START, **fields)


def later(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def with_result(result: GuardrailResult, **overrides: Any) -> Observations:
    others = tuple(r for r in healthy().guardrails if r.metric != result.metric)
    return healthy(guardrails=(*others, result), **overrides)


# --- the plan ------------------------------------------------------------------------------


def test_guardrail_direction_and_test_default_from_the_kind() -> None:
    errors, checkout, latency = PLAN.guardrails
    assert (errors.direction, errors.test) == ("increase_is_bad", "two_proportion")
    assert (checkout.direction, checkout.test) == ("decrease_is_bad", "two_proportion")
    assert (latency.direction, latency.test) == ("increase_is_bad", "welch")
    assert PLAN.rollback_to == "previous_stage"
    assert RolloutPlan.model_validate(PLAN.model_dump()) == PLAN


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stages": []}, "at stages: List should have at least 1 item"),
        (
            {"stages": [{"percentage": 10}, {"percentage": 10}]},
            "stage percentages must increase, got [10.0, 10.0]",
        ),
        ({"stages": [{"percentage": 0}]}, "at stages.0.percentage: Input should be greater than 0"),
        ({"stages": [{"percentage": 120}]}, "at stages.0.percentage"),
        ({"stages": [{"percentage": 10, "wait": 3}]}, "at stages.0.wait: Extra inputs"),
        (
            {"guardrails": [{"metric": "e", "kind": "error_rate"}]},
            "exactly one of max_relative_change or threshold",
        ),
        (
            {"guardrails": [{"metric": "e", "kind": "custom", "threshold": 3}]},
            "a custom guardrail needs direction",
        ),
        (
            {"guardrails": [{"metric": "e", "kind": "error_rate", "max_relative_change": -1}]},
            "max_relative_change: Input should be greater than 0",
        ),
        (
            {
                "guardrails": [
                    {"metric": "e", "kind": "error_rate", "threshold": 0.1},
                    {"metric": "e", "kind": "error_rate", "threshold": 0.2},
                ]
            },
            "each guardrail metric may appear once",
        ),
        ({"rollback_to": "stage_0"}, "at rollback_to"),
    ],
)
def test_a_bad_plan_is_refused_with_one_line_naming_the_field(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_plan(plan_data(**overrides))
    assert message in str(raised.value)
    assert str(raised.value).startswith("invalid rollout plan")


# --- waiting -------------------------------------------------------------------------------


def test_a_stage_waits_for_its_exposure() -> None:
    action = next_action(PLAN, at_stage(1), healthy(exposure=120), later(600))
    assert action == Hold("stage 2 (5%) has 120 of 500 users exposed")


def test_a_stage_waits_for_every_guardrail_result() -> None:
    partial = healthy(guardrails=(GuardrailResult("errors", p_value=0.5, relative_change=0.0),))
    action = next_action(PLAN, at_stage(0), partial, later(600))
    assert action == Hold("stage 1 (1%) waits for guardrail results: checkout, latency")
    incomplete = with_result(GuardrailResult("checkout", p_value=None, relative_change=0.0))
    assert "checkout" in next_action(PLAN, at_stage(0), incomplete, later(600)).reason


def test_a_stage_waits_out_its_minimum_duration() -> None:
    assert next_action(PLAN, at_stage(2), healthy(), later(119.5)) == Hold(
        "stage 3 (25%) needs 1 more minute"
    )
    assert next_action(PLAN, at_stage(2), healthy(), later(30)) == Hold(
        "stage 3 (25%) needs 90 more minutes"
    )


def test_a_stage_that_passed_its_checks_advances_to_the_next_percentage() -> None:
    action = next_action(PLAN, at_stage(2), healthy(), later(120))
    assert action == Advance(to_stage=3, percentage=100.0, reason="stage 3 (25%) passed its checks")
    assert apply(at_stage(2), action, later(120)) == RolloutState(3, later(120))


def test_comparisons_with_control_are_not_awaited_at_100_percent_but_thresholds_are() -> None:
    only_latency = healthy(guardrails=(GuardrailResult("latency", treatment_value=500.0),))
    assert next_action(PLAN, at_stage(3), only_latency, later(60)) == Complete(
        "stage 4 (100%) passed its checks"
    )
    nothing = healthy(guardrails=())
    assert next_action(PLAN, at_stage(3), nothing, later(60)) == Hold(
        "stage 4 (100%) waits for guardrail results: latency"
    )


def test_the_last_stage_completes_and_a_completed_rollout_stays_complete() -> None:
    action = next_action(PLAN, at_stage(3), healthy(), later(60))
    assert isinstance(action, Complete)
    done = apply(at_stage(3), action, later(60))
    assert done.status == "completed"
    assert isinstance(next_action(PLAN, done, healthy(), later(90)), Complete)


# --- success goal --------------------------------------------------------------------------


def test_reaching_the_success_goal_early_advances_without_waiting_out_the_stage() -> None:
    early = later(10)
    assert isinstance(next_action(PLAN, at_stage(1), healthy(), early), Hold)
    action = next_action(PLAN, at_stage(1), healthy(success_value=0.31), early)
    assert action == Advance(2, 25.0, "success goal adoption reached (0.31)")
    # ... but not without the stage's exposure: the guardrails need users to mean anything
    thin = healthy(exposure=50, success_value=0.5)
    assert isinstance(next_action(PLAN, at_stage(1), thin, early), Hold)
    below = healthy(success_value=0.29)
    assert isinstance(next_action(PLAN, at_stage(1), below, early), Hold)


def test_a_success_goal_reached_at_the_last_stage_completes_early() -> None:
    action = next_action(PLAN, at_stage(3), healthy(success_value=0.4), later(5))
    assert action == Complete("success goal adoption reached (0.4)")


def test_an_at_most_success_goal_is_reached_from_below() -> None:
    plan = parse_plan(
        plan_data(success_goal={"metric": "tickets", "target": 10, "direction": "at_most"})
    )
    assert isinstance(next_action(plan, at_stage(0), healthy(success_value=8), later(1)), Advance)
    assert isinstance(next_action(plan, at_stage(0), healthy(success_value=12), later(1)), Hold)


# --- rollbacks -----------------------------------------------------------------------------


def test_a_breach_injected_at_stage_3_rolls_back_to_stage_2s_percentage() -> None:
    breach = with_result(GuardrailResult("errors", p_value=0.001, relative_change=0.35))
    action = next_action(PLAN, at_stage(2), breach, later(30))
    assert action == Rollback(
        "guardrail breached at stage 3 (25%): errors +35.0% (limit +10.0%, p = 0.001)",
        to_percentage=5.0,
        to_stage=1,
    )
    assert not action.off
    state = apply(at_stage(2), action, later(30))
    assert (state.status, state.stage_index, state.stage_started_at) == (
        "rolled_back",
        1,
        later(30),
    )


def test_a_breach_rolls_back_to_off_when_the_plan_says_so_or_from_the_first_stage() -> None:
    breach = with_result(GuardrailResult("errors", p_value=0.001, relative_change=0.35))
    off_plan = parse_plan(plan_data(rollback_to="off"))
    action = next_action(off_plan, at_stage(2), breach, later(30))
    assert (action.to_percentage, action.to_stage, action.off) == (0.0, None, True)
    first = next_action(PLAN, at_stage(0), breach, later(30))
    assert (first.to_percentage, first.off) == (0.0, True)
    assert apply(at_stage(0), first, later(30)).stage_index == OFF


def test_a_conversion_drop_breaches_a_decrease_is_bad_guardrail() -> None:
    drop = with_result(GuardrailResult("checkout", p_value=0.01, relative_change=-0.08))
    action = next_action(PLAN, at_stage(1), drop, later(5))
    assert isinstance(action, Rollback)
    assert action.reason.endswith("checkout -8.0% (limit -5.0%, p = 0.01)")
    rise = with_result(GuardrailResult("checkout", p_value=0.01, relative_change=0.08))
    assert not isinstance(next_action(PLAN, at_stage(1), rise, later(5)), Rollback)


@pytest.mark.parametrize(
    ("result", "breached"),
    [
        (GuardrailResult("errors", p_value=0.001, relative_change=0.35), True),
        (GuardrailResult("errors", p_value=0.2, relative_change=0.35), False),  # not significant
        (GuardrailResult("errors", p_value=0.001, relative_change=0.08), False),  # within limit
        (GuardrailResult("errors", p_value=0.001, relative_change=-0.35), False),  # better
        (GuardrailResult("latency", treatment_value=801.0), True),
        (GuardrailResult("latency", treatment_value=800.0), False),
    ],
)
def test_a_guardrail_breaches_only_when_worse_than_its_limit(
    result: GuardrailResult, breached: bool
) -> None:
    guardrail = next(g for g in PLAN.guardrails if g.metric == result.metric)
    assert (guardrail_breach(guardrail, result) is not None) is breached
    action = next_action(PLAN, at_stage(1), with_result(result), later(5))
    assert isinstance(action, Rollback) is breached


def test_a_threshold_breach_says_which_side_it_crossed() -> None:
    floor = Guardrail(metric="uptime", kind="custom", direction="decrease_is_bad", threshold=0.99)
    assert guardrail_breach(floor, GuardrailResult("uptime", treatment_value=0.98)) == (
        "uptime 0.98 is below its threshold 0.99"
    )
    assert guardrail_breach(floor, None) is None


def test_a_sample_ratio_mismatch_rolls_back() -> None:
    action = next_action(PLAN, at_stage(2), healthy(srm_p_value=0.0002), later(200))
    assert action == Rollback(
        "sample ratio mismatch at stage 3 (25%): p = 0.0002 < 0.001", to_percentage=5.0, to_stage=1
    )
    assert isinstance(
        next_action(PLAN, at_stage(2), healthy(srm_p_value=0.002), later(200)), Advance
    )


def test_abort_rolls_back_to_off_from_any_stage_even_when_complete() -> None:
    for state in (
        at_stage(0),
        at_stage(2),
        at_stage(3, status="completed"),
        at_stage(1, status="held"),
    ):
        action = next_action(PLAN, state, healthy(command="abort"), later(5))
        assert action == Rollback("aborted by an operator", to_percentage=0.0, to_stage=None)
    fallen_back = RolloutState(1, START, "rolled_back", "guardrail breached")
    assert next_action(PLAN, fallen_back, healthy(command="abort"), later(5)).off
    off = RolloutState(OFF, START, "rolled_back", "aborted by an operator")
    assert next_action(PLAN, off, healthy(command="abort"), later(5)) == Hold(
        "already rolled back to off", kind="stopped"
    )


def test_a_rolled_back_rollout_stays_stopped_whatever_is_observed() -> None:
    state = RolloutState(1, START, "rolled_back", "guardrail breached")
    for observations in (healthy(), healthy(command="approve"), healthy(success_value=1.0)):
        action = next_action(PLAN, state, observations, later(500))
        assert action == Hold(
            "rolled back: guardrail breached; start a new rollout", kind="stopped"
        )
        assert apply(state, action, later(500)) == state


# --- operators -----------------------------------------------------------------------------


def test_hold_holds_until_approve_then_the_stage_goes_on() -> None:
    action = next_action(PLAN, at_stage(1), healthy(command="hold"), later(5))
    assert action == Hold("held by an operator; approve to resume", kind="manual")
    held = apply(at_stage(1), action, later(5))
    assert held.status == "held"
    # a held stage does not advance, however long and healthy
    assert next_action(PLAN, held, healthy(), later(600)).kind == "manual"
    assert apply(held, next_action(PLAN, held, healthy(), later(600)), later(600)) == held
    # approve lifts the hold: the stage's own checks decide again
    assert isinstance(next_action(PLAN, held, healthy(command="approve"), later(600)), Advance)
    waiting = next_action(PLAN, held, healthy(command="approve"), later(30))
    assert waiting == Hold("stage 2 (5%) needs 30 more minutes")
    assert apply(held, waiting, later(30)).status == "running"


def test_a_held_rollout_still_rolls_back_on_a_breach() -> None:
    held = at_stage(2, status="held", note="held by an operator")
    breach = with_result(GuardrailResult("latency", treatment_value=1500.0))
    action = next_action(PLAN, held, breach, later(5))
    assert isinstance(action, Rollback)
    assert action.reason.endswith("latency 1500 is above its threshold 800")


def test_a_stage_that_requires_approval_waits_for_it() -> None:
    stages = [{"percentage": 10, "requires_approval": True}, {"percentage": 100}]
    plan = parse_plan({"stages": stages})
    assert next_action(plan, at_stage(0), Observations(), later(1)) == Hold(
        "stage 1 (10%) passed its checks; waiting for approval"
    )
    action = next_action(plan, at_stage(0), Observations(command="approve"), later(1))
    assert action == Advance(1, 100.0, "stage 1 (10%) passed its checks")


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "observations", "now", "message"),
    [
        (at_stage(4), healthy(), later(1), "stage 4 is not a stage of the plan (0 to 3)"),
        (
            at_stage(0),
            healthy(guardrails=(GuardrailResult("typo"),)),
            later(1),
            "unknown metric 'typo'",
        ),
        (
            at_stage(0),
            with_result(GuardrailResult("errors", p_value=1.5, relative_change=0.0)),
            later(1),
            "p-value 1.5 not in [0, 1]",
        ),
        (at_stage(0), healthy(srm_p_value=-0.1), later(1), "SRM p-value -0.1 not in [0, 1]"),
        (at_stage(0), healthy(exposure=-1), later(1), "exposure must be >= 0"),
        (at_stage(0), healthy(), datetime(2026, 9, 1, 10), "mix aware and naive"),
    ],
)
def test_bad_state_or_observations_are_refused(
    state: RolloutState, observations: Observations, now: datetime, message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        next_action(PLAN, state, observations, now)
    assert message in str(raised.value)


# --- a rollout driven end to end over a flag document --------------------------------------


def test_a_rollout_walks_a_flag_up_and_a_stage_3_breach_falls_back_to_stage_2() -> None:
    flags: Any = {
        "flags": {
            "new-checkout": {
                "state": "ENABLED",
                "variants": {"on": True, "off": False},
                "defaultVariant": "off",
            }
        }
    }
    state = RolloutState.start(START)
    flags = set_rollout_percentage(flags, "new-checkout", PLAN.stages[0].percentage, "on", "off")
    now = START
    history = []
    for step in range(3):
        now += timedelta(minutes=150)
        breach = step == 2
        observations = (
            with_result(GuardrailResult("errors", p_value=0.0001, relative_change=0.5))
            if breach
            else healthy()
        )
        action = next_action(PLAN, state, observations, now)
        history.append(type(action).__name__)
        if isinstance(action, Advance):
            flags = set_rollout_percentage(flags, "new-checkout", action.percentage, "on", "off")
        elif isinstance(action, Rollback):
            flags = set_rollout_percentage(flags, "new-checkout", action.to_percentage, "on", "off")
        state = apply(state, action, now)
    assert history == ["Advance", "Advance", "Rollback"]
    assert (state.status, state.stage_index) == ("rolled_back", 1)
    assert rollout_percentage(flags, "new-checkout", "on") == 5.0
    served = sum(
        evaluate(flags, "new-checkout", {"targetingKey": f"user-{i}"}, False).value
        for i in range(2000)
    )
    assert 40 < served < 170  # about 5 % of 2000


def test_module_examples_run() -> None:
    assert doctest.testmod(module).failed == 0
