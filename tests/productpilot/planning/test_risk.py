"""Specification of delivery risk: factors, reasons, levels and monotonicity."""

from __future__ import annotations

import doctest
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from productpilot.errors import ValidationError
from productpilot.planning import risk as module
from productpilot.planning.risk import (
    FactorRule,
    PastItem,
    RiskConfig,
    RiskItem,
    TeamLoad,
    assess_risks,
    dependency_depths,
)

DAY = date(2026, 5, 1)


def history(late: int, on_time: int, overrun: float = 1.0) -> list[PastItem]:
    """Past items: ``late`` finished a day after plan, ``on_time`` on plan."""
    return [
        PastItem(DAY, DAY + timedelta(days=1 if i < late else 0), 4.0, 4.0 * overrun)
        for i in range(late + on_time)
    ]


def reasons_of(assessment) -> dict:
    return {reason.factor: reason for reason in assessment.reasons}


# --- dependency depth ---------------------------------------------------------------------------


def test_depth_is_the_longest_chain_of_unfinished_dependencies() -> None:
    items = [
        RiskItem("A", depends_on=("B", "D")),
        RiskItem("B", depends_on=("C",)),
        RiskItem("C"),
        RiskItem("D", depends_on=("E",)),
        RiskItem("E", depends_on=("F",), done=True),
        RiskItem("F"),
    ]
    # A -> B -> C is 2; A -> D -> E stops at E, which is done.
    assert dependency_depths(items) == {"A": 2, "B": 1, "C": 0, "D": 0, "E": 1, "F": 0}


def test_long_chains_do_not_hit_the_recursion_limit() -> None:
    items = [RiskItem(f"I{i}", depends_on=(f"I{i + 1}",)) for i in range(3000)]
    items.append(RiskItem("I3000"))
    assert dependency_depths(items)["I0"] == 3000


def test_cycles_and_unknown_dependencies_are_errors() -> None:
    items = [
        RiskItem("A", depends_on=("B",)),
        RiskItem("B", depends_on=("C",)),
        RiskItem("C", depends_on=("A",)),
    ]
    with pytest.raises(ValidationError, match=r"dependency cycle: (A|B|C) -> .* -> \1"):
        dependency_depths(items)
    with pytest.raises(ValidationError, match="A depends on unknown item Z"):
        dependency_depths([RiskItem("A", depends_on=("Z",))])


# --- the score and its reasons ------------------------------------------------------------------


def test_every_factor_gives_value_threshold_weight_and_a_sentence() -> None:
    items = [
        RiskItem("A", 10, 5, 30, depends_on=("B",), team="core", period="S1"),
        RiskItem("B", depends_on=("C",)),
        RiskItem("C"),
    ]
    loads = [TeamLoad("core", "S1", planned_days=38, capacity_days=40)]
    risk = assess_risks(items, loads=loads, histories={"core": history(3, 7, overrun=1.5)})["A"]
    reasons = reasons_of(risk)
    assert list(reasons) == [
        "dependency_depth", "estimate_uncertainty", "team_load", "slip_rate", "estimate_overrun",
    ]  # fmt: skip
    # Severities, by hand: depth 2 over threshold 1 of 1..4 -> 1/3; spread 25/10 = 2.5 -> 1;
    # load 0.95 of 0.85..1.2 -> 0.1/0.35; slip 0.3 of 0.2..0.6 -> 0.25; overrun 1.5 of
    # 1.2..2.0 -> 0.375.
    expected = {
        "dependency_depth": (2, 1 / 3),
        "estimate_uncertainty": (2.5, 1.0),
        "team_load": (0.95, 0.1 / 0.35),
        "slip_rate": (0.3, 0.25),
        "estimate_overrun": (1.5, 0.375),
    }
    for factor, (value, severity) in expected.items():
        assert reasons[factor].value == pytest.approx(value)
        assert reasons[factor].severity == pytest.approx(severity)
    score = 100 * (0.2 / 3 + 0.25 + 0.25 * 0.1 / 0.35 + 0.15 * 0.25 + 0.15 * 0.375)
    assert risk.score == round(score, 1)
    assert risk.level == "medium"
    assert reasons["team_load"].sentence == (
        "team core is planned at 95% of capacity in S1 (risky above 85%)"
    )
    assert reasons["slip_rate"].sentence == (
        "team core finished 3 of its last 10 items after the planned date (30%) (risky above 20%)"
    )
    assert reasons["estimate_uncertainty"].threshold == 0.5
    assert reasons["estimate_uncertainty"].weight == 0.25
    assert sum(r.points for r in risk.reasons) == pytest.approx(risk.score, abs=0.3)
    assert risk.to_dict()["reasons"][0]["factor"] == "dependency_depth"


def test_factors_without_data_are_not_assessed_and_say_why() -> None:
    items = [RiskItem("A", 10, 8, 12, team="core", period="S1")]
    risk = assess_risks(items, histories={"core": history(1, 1)})["A"]
    reasons = reasons_of(risk)
    assert reasons["team_load"].value is None
    assert reasons["team_load"].sentence == "not assessed: no capacity known for team core in S1"
    assert reasons["slip_rate"].sentence == (
        "not assessed: 2 past items with a planned date (need 5)"
    )
    # Only depth (0) and uncertainty (0.4, below 0.5) are known: low risk, not unknown.
    assert (risk.score, risk.level) == (0.0, "low")


def test_an_item_with_nothing_measurable_has_unknown_risk() -> None:
    config = RiskConfig(
        rules={**RiskConfig().rules, "dependency_depth": FactorRule(1, 4, weight=0)}
    )
    risk = assess_risks([RiskItem("A")], config=config)["A"]
    assert (risk.score, risk.level) == (0.0, "unknown")


def test_levels_follow_the_configured_boundaries() -> None:
    items = [RiskItem("A", 10, 5, 30)]  # uncertainty saturated, depth 0: 100 * .25 / .45
    assert assess_risks(items)["A"].score == pytest.approx(55.6)
    assert assess_risks(items)["A"].level == "medium"
    assert assess_risks(items, config=RiskConfig(high_from=50))["A"].level == "high"


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValidationError, match="low <= estimate <= high"):
        assess_risks([RiskItem("A", 10, 12, 30)])
    with pytest.raises(ValidationError, match="estimate_days must be positive"):
        assess_risks([RiskItem("A", 0, 0, 3)])
    with pytest.raises(ValidationError, match="capacity must be positive"):
        assess_risks([RiskItem("A")], loads=[TeamLoad("core", "S1", 3, 0)])
    with pytest.raises(ValidationError, match="saturation must exceed threshold"):
        RiskConfig(rules={"team_load": FactorRule(1.0, 0.5, 0.2)})
    with pytest.raises(ValidationError, match="unknown risk factor"):
        RiskConfig(rules={"vibes": FactorRule(0, 1, 1)})


# --- monotonicity -------------------------------------------------------------------------------


def assess_one(depth: int, spread: float, load: float, late: int, overrun: float) -> float:
    chain = [RiskItem(f"D{i}", depends_on=(f"D{i + 1}",)) for i in range(depth)]
    chain.append(RiskItem(f"D{depth}"))
    item = RiskItem("X", 10, 10, 10 + 10 * spread, depends_on=("D0",), team="core", period="S1")
    loads = [TeamLoad("core", "S1", planned_days=40 * load, capacity_days=40)]
    past = {"core": history(late, 10 - late, overrun)}
    return assess_risks([item, *chain], loads=loads, histories=past)["X"].score


@settings(max_examples=60, deadline=None)
@given(
    depth=st.integers(0, 6),
    spread=st.floats(0, 3),
    load=st.floats(0.3, 1.5),
    late=st.integers(0, 9),
    overrun=st.floats(0.5, 2.5),
    which=st.sampled_from(["depth", "spread", "load", "late", "overrun"]),
)
def test_raising_any_factor_never_lowers_the_score(
    depth: int, spread: float, load: float, late: int, overrun: float, which: str
) -> None:
    base = {"depth": depth, "spread": spread, "load": load, "late": late, "overrun": overrun}
    raised = dict(base)
    raised[which] = base[which] + (1 if which in ("depth", "late") else 0.3)
    raised["late"] = min(raised["late"], 10)
    assert assess_one(**raised) >= assess_one(**base)


def test_module_examples_run() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
