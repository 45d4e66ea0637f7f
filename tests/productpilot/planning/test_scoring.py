"""Specification of priority scoring: RICE, ICE, WSJF, custom formulas, reach and ranking."""

from __future__ import annotations

import doctest
import json

import pytest
from pydantic import ValidationError as PydanticValidationError

from productpilot.planning import scoring as module
from productpilot.planning.scoring import (
    Score,
    Scorer,
    ScoringConfig,
    ScoringItem,
    rank,
)

RICE_VALUES = {"reach": 500, "impact": 2, "confidence": 0.8, "effort": 4}


def score_of(config: ScoringConfig, **values: float) -> Score:
    return Scorer(config).score(ScoringItem("PP-1", "an item", values=values))


# --- the standard methods, against hand-computed values -----------------------------------------


def test_rice_is_reach_times_impact_times_confidence_over_effort() -> None:
    result = score_of(ScoringConfig(method="rice"), **RICE_VALUES)
    assert result.score == pytest.approx(500 * 2 * 0.8 / 4)  # 200
    assert result.explanation is not None
    assert result.explanation.method == "RICE"
    assert result.explanation.formula == "reach * impact * confidence / effort"


def test_ice_is_impact_times_confidence_times_ease() -> None:
    result = score_of(ScoringConfig(method="ice"), impact=8, confidence=6, ease=3)
    assert result.score == 144


def test_wsjf_is_cost_of_delay_over_job_size() -> None:
    result = score_of(
        ScoringConfig(method="wsjf"),
        business_value=13,
        time_criticality=8,
        risk_reduction=5,
        job_size=8,
    )
    assert result.score == pytest.approx((13 + 8 + 5) / 8)  # 3.25


def test_custom_weighted_formula_with_named_weights_and_defaults() -> None:
    config = ScoringConfig(
        method="custom",
        name="weighted value",
        formula="(w_value * value + w_learning * learning) / max(cost, 1)",
        weights={"w_value": 3, "w_learning": 1},
        inputs=[
            {"name": "value", "minimum": 0, "maximum": 10},
            {"name": "learning", "default": 2},
            {"name": "cost"},
        ],
    )
    result = score_of(config, value=5, cost=0.5)
    assert result.score == pytest.approx((3 * 5 + 1 * 2) / 1)
    assert result.explanation is not None
    assert result.explanation.method == "weighted value"
    learning = next(i for i in result.explanation.inputs if i.name == "learning")
    assert (learning.value, learning.source) == (2, "default")


# --- explanations -------------------------------------------------------------------------------


def test_explanation_lists_every_input_with_value_source_and_contribution() -> None:
    config = ScoringConfig(method="rice", defaults={"confidence": 0.8})
    result = Scorer(config).score(
        ScoringItem("PP-1", values={"reach": 500, "impact": 2, "effort": 4})
    )
    assert result.explanation is not None
    inputs = {i.name: i for i in result.explanation.inputs}
    assert [i.name for i in result.explanation.inputs] == [
        "reach", "impact", "confidence", "effort",
    ]  # fmt: skip
    assert inputs["confidence"].source == "default"
    assert inputs["reach"].source == "item"
    assert result.explanation.contribution_method == "log-share"
    assert result.explanation.baseline_score == 1.0  # every input at its neutral value 1
    total = sum(i.contribution for i in inputs.values() if i.contribution is not None)
    assert total == pytest.approx(result.score - 1.0)
    assert inputs["reach"].contribution > inputs["impact"].contribution > 0
    assert inputs["effort"].contribution < 0
    summary = result.to_dict()["summary"]
    assert summary.startswith("RICE 200 = reach * impact * confidence / effort; reach=500")
    assert json.loads(json.dumps(result.to_dict()))["explanation"]["inputs"][0]["name"] == "reach"


def test_explanation_of_a_sum_uses_shapley_values() -> None:
    result = score_of(
        ScoringConfig(method="wsjf"),
        business_value=13,
        time_criticality=8,
        risk_reduction=5,
        job_size=8,
    )
    assert result.explanation is not None
    assert result.explanation.contribution_method == "shapley"
    total = sum(i.contribution for i in result.explanation.inputs)
    assert total == pytest.approx(3.25 - 3.0)  # baseline (1 + 1 + 1) / 1


def test_neutral_values_can_be_configured_for_contributions() -> None:
    config = ScoringConfig(
        method="ice", inputs=[{"name": "ease", "minimum": 1, "maximum": 10, "neutral": 3}]
    )
    result = score_of(config, impact=5, confidence=5, ease=3)
    assert result.explanation is not None
    assert result.explanation.baseline_score == 75  # 5 * 5 * 3
    assert all(i.contribution == 0 for i in result.explanation.inputs)


# --- reach --------------------------------------------------------------------------------------


def test_reach_comes_from_live_usage_when_the_item_names_a_used_feature() -> None:
    item = ScoringItem("PP-1", feature="export", values={**RICE_VALUES, "reach": 10})
    result = Scorer(ScoringConfig(method="rice")).score(item, reach_by_feature={"export": 1200})
    assert result.score == pytest.approx(1200 * 2 * 0.8 / 4)
    assert result.explanation is not None
    reach = result.explanation.inputs[0]
    assert (reach.value, reach.source) == (1200, "live usage")
    assert reach.detail == "1200 users used feature 'export' in the last 30 days"


def test_reach_window_is_named_in_the_explanation() -> None:
    item = ScoringItem("PP-1", feature="export", values=RICE_VALUES)
    result = Scorer(ScoringConfig(method="rice", reach_window_days=7)).score(
        item, reach_by_feature={"export": 3}
    )
    assert result.explanation is not None
    assert "in the last 7 days" in result.explanation.inputs[0].detail


def test_a_feature_without_usage_falls_back_to_the_items_reach_and_says_so() -> None:
    item = ScoringItem("PP-1", feature="new-thing", values=RICE_VALUES)
    result = Scorer(ScoringConfig(method="rice")).score(item, reach_by_feature={"export": 9})
    assert result.explanation is not None
    reach = result.explanation.inputs[0]
    assert (reach.value, reach.source) == (500, "item")
    assert reach.detail.startswith("no usage of feature 'new-thing' in the last 30 days")


def test_a_feature_used_by_nobody_scores_zero_reach_from_live_usage() -> None:
    item = ScoringItem("PP-1", feature="export", values=RICE_VALUES)
    result = Scorer(ScoringConfig(method="rice")).score(item, reach_by_feature={"export": 0})
    assert result.score == 0
    assert result.explanation is not None
    assert result.explanation.inputs[0].source == "live usage"


def test_reach_falls_back_to_the_default_without_item_reach() -> None:
    config = ScoringConfig(method="rice", defaults={"reach": 50})
    values = {k: v for k, v in RICE_VALUES.items() if k != "reach"}
    result = Scorer(config).score(ScoringItem("PP-1", feature="x", values=values), {})
    assert result.explanation is not None
    assert result.explanation.inputs[0].source == "default"
    assert result.score == pytest.approx(50 * 2 * 0.8 / 4)


# --- items that cannot be scored ----------------------------------------------------------------


def test_missing_required_inputs_are_named_not_scored_as_zero() -> None:
    result = score_of(ScoringConfig(method="rice"), reach=100, impact=1)
    assert result.score is None
    assert not result.scored
    assert result.missing == ("confidence", "effort")
    assert result.reason == "missing required inputs: confidence, effort"


def test_out_of_range_values_are_refused_with_the_bound() -> None:
    result = score_of(ScoringConfig(method="rice"), **{**RICE_VALUES, "confidence": 80})
    assert result.score is None
    assert result.reason == "confidence 80 is above the maximum 1"


def test_zero_effort_is_a_division_by_zero_reason() -> None:
    result = score_of(ScoringConfig(method="rice"), **{**RICE_VALUES, "effort": 0})
    assert result.score is None
    assert result.reason == "division by zero: 'effort' is 0"


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"method": "custom"}, "a custom scoring method needs formula"),
        ({"method": "rice", "formula": "reach"}, "only for method 'custom'"),
        (
            {"method": "custom", "formula": "value / cost", "inputs": [{"name": "value"}]},
            "unknown name 'cost' at column 9",
        ),
        (
            {"method": "custom", "formula": "value.real", "inputs": [{"name": "value"}]},
            "attribute access",
        ),
        (
            {"method": "custom", "formula": "a", "inputs": [{"name": "a"}, {"name": "b"}]},
            "does not use inputs ['b']",
        ),
        ({"method": "rice", "defaults": {"urgency": 1}}, "defaults for unknown inputs"),
        ({"method": "rice", "defaults": {"confidence": 2}}, "default 2 is above the maximum 1"),
        ({"method": "ice", "inputs": [{"name": "reach"}]}, "ice has no inputs ['reach']"),
        ({"method": "rice", "reach_window_days": 0}, "greater than or equal to 1"),
        ({"method": "rice", "extra": 1}, "Extra inputs are not permitted"),
    ],
)
def test_bad_configurations_are_refused_when_validated(config: dict, problem: str) -> None:
    with pytest.raises(PydanticValidationError) as error:
        ScoringConfig.model_validate(config)
    assert problem in str(error.value)


def test_configuration_round_trips_through_json() -> None:
    config = ScoringConfig(
        method="custom",
        formula="w * a",
        weights={"w": 2},
        inputs=[{"name": "a", "default": 1}],
    )
    assert ScoringConfig.model_validate_json(config.model_dump_json()) == config


# --- ranking ------------------------------------------------------------------------------------


def test_ranking_sorts_by_score_with_ties_by_key_and_unscored_last() -> None:
    scores = [
        Score("PP-3", "", 0.1 * 3),  # 0.30000000000000004: a tie with 0.3, not a win
        Score("PP-9", "", None, reason="missing"),
        Score("PP-2", "", 0.3),
        Score("PP-1", "", None, reason="missing"),
        Score("PP-7", "", 4.0),
    ]
    assert [s.key for s in rank(scores)] == ["PP-7", "PP-2", "PP-3", "PP-1", "PP-9"]
    assert [s.key for s in rank(list(reversed(scores)))] == [s.key for s in rank(scores)]


def test_score_all_keeps_the_order_and_ranks_real_items() -> None:
    scorer = Scorer(ScoringConfig(method="ice"))
    items = [
        ScoringItem("B", values={"impact": 5, "confidence": 5, "ease": 4}),
        ScoringItem("A", values={"impact": 5, "confidence": 4, "ease": 5}),
        ScoringItem("C", values={"impact": 9, "confidence": 9, "ease": 9}),
    ]
    scores = scorer.score_all(items)
    assert [s.key for s in scores] == ["B", "A", "C"]
    assert [s.key for s in rank(scores)] == ["C", "A", "B"]


def test_module_examples_run() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
