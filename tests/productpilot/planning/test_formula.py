"""Specification of the safe formula evaluator: the whitelist, errors, contributions."""

from __future__ import annotations

import doctest
import math

import pytest

from productpilot.errors import ValidationError
from productpilot.planning import formula as module
from productpilot.planning.formula import FormulaEvaluationError, compile_formula

RICE = "reach * impact * confidence / effort"
RICE_INPUTS = ["reach", "impact", "confidence", "effort"]


# --- the whitelist ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("__import__('os')", "call of '__import__' is not allowed"),
        ("__import__('os').system('true')", "call of \"__import__('os').system\" is not allowed"),
        ("a.__class__", "attribute access 'a.__class__' is not allowed"),
        ("(lambda: 1)()", "call of 'lambda: 1' is not allowed"),
        ("lambda: a", "lambda is not allowed"),
        ("[a for a in b]", "comprehension is not allowed"),
        ("sum(x for x in b)", "call of 'sum' is not allowed"),
        ("max(a, (x for x in b))", "comprehension is not allowed"),
        ("a ** 9", "exponent 9 is beyond the limit of 8"),
        ("2 ** 10 ** 10", "exponent '10 ** 10' must be a number"),
        ("a ** b", "exponent 'b' must be a number"),
        ("a[0]", "Subscript 'a[0]' is not allowed"),
        ("a < b", "Compare 'a < b' is not allowed"),
        ("a if b else 1", "IfExp"),
        ("'text'", "literal 'text' is not a number"),
        ("True + a", "literal True is not a number"),
        ("1j * a", "literal 1j is not a real number"),
        ("a // b", "operator '//'"),
        ("a % b", "operator '%'"),
        ("min(a=1, b=2)", "min() takes plain positional arguments only"),
        ("max(a)", "max() takes at least 2 arguments, got 1"),
        ("clamp(a, 1)", "clamp() takes 3 arguments, got 2"),
        ("log(a, b, 2)", "log() takes 1 to 2 arguments, got 3"),
        ("a +", "invalid syntax"),
        ("a = 1", "invalid syntax"),
    ],
)
def test_disallowed_syntax_is_refused_with_the_offending_part(text: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=r"^formula: ") as error:
        compile_formula(text, ["a", "b"])
    assert problem in str(error.value)


def test_unknown_names_are_refused_with_their_column_and_the_known_names() -> None:
    with pytest.raises(ValidationError) as error:
        compile_formula("reach * impact / efort", ["reach", "impact", "effort"])
    assert str(error.value) == (
        "formula: unknown name 'efort' at column 18 (known: effort, impact, reach)"
    )


def test_errors_give_the_column_of_the_offending_node() -> None:
    with pytest.raises(ValidationError, match=r"at column 5$"):
        compile_formula("a + b.real", ["a", "b"])


def test_length_and_size_limits() -> None:
    with pytest.raises(ValidationError, match="501 characters, the limit is 500"):
        compile_formula("a" + " + a" * 125, ["a"])
    with pytest.raises(ValidationError, match="syntax nodes, the limit is 200"):
        compile_formula("+".join(["a"] * 120), ["a"], max_length=10_000)
    with pytest.raises(ValidationError, match="empty"):
        compile_formula("  ", ["a"])


def test_names_may_not_clash_or_shadow_functions() -> None:
    with pytest.raises(ValidationError, match="both inputs and constants"):
        compile_formula("a * w", ["a", "w"], constants={"w": 2})
    with pytest.raises(ValidationError, match="function names"):
        compile_formula("max + 1", ["max"])


# --- evaluation ---------------------------------------------------------------------------------


def test_arithmetic_follows_python_precedence() -> None:
    formula = compile_formula("-a + b * 2 ** 3 / 4 - (a - b)", ["a", "b"])
    assert formula.evaluate({"a": 1, "b": 3}) == -1 + 3 * 8 / 4 - (1 - 3)


def test_functions() -> None:
    formula = compile_formula(
        "min(a, b, 4) + max(a, b) + sqrt(b) + abs(-a) + log(b) + log(8, 2) + clamp(a * 10, 0, 5)",
        ["a", "b"],
    )
    assert formula.evaluate({"a": 1, "b": 9}) == pytest.approx(1 + 9 + 3 + 1 + math.log(9) + 3 + 5)


def test_constants_are_bound_at_compile_time_and_are_not_inputs() -> None:
    formula = compile_formula(
        "w_value * value - w_cost * cost",
        ["value", "cost"],
        constants={"w_value": 2, "w_cost": 0.5},
    )
    assert formula.inputs == ("value", "cost")
    assert formula.evaluate({"value": 10, "cost": 4}) == 18


def test_division_by_zero_is_an_error_naming_the_divisor() -> None:
    formula = compile_formula("value / (effort - 1)", ["value", "effort"])
    with pytest.raises(FormulaEvaluationError, match=r"division by zero: 'effort - 1' is 0"):
        formula.evaluate({"value": 3, "effort": 1})


@pytest.mark.parametrize(
    ("text", "values", "problem"),
    [
        ("log(a)", {"a": 0}, "log of 0"),
        ("sqrt(a)", {"a": -1}, "sqrt of -1"),
        ("a ** -1", {"a": 0}, "division by zero"),
        ("a ** 0.5", {"a": -4}, "negative base"),
        ("clamp(a, 2, 1)", {"a": 0}, "lower bound 2 above upper 1"),
        ("a ** 8", {"a": 1e200}, "overflows"),
        ("a * a", {"a": 1e200}, "non-finite"),
    ],
)
def test_undefined_operations_are_errors(text: str, values: dict, problem: str) -> None:
    with pytest.raises(FormulaEvaluationError, match=problem):
        compile_formula(text, ["a"]).evaluate(values)


def test_missing_values_are_an_error() -> None:
    with pytest.raises(ValidationError, match=r"missing input\(s\) \['effort'\]"):
        compile_formula(RICE, RICE_INPUTS).evaluate({"reach": 1, "impact": 1, "confidence": 1})


# --- contributions ------------------------------------------------------------------------------


def test_multiplicative_formulas_are_recognised_with_their_exponents() -> None:
    rice = compile_formula(RICE, RICE_INPUTS)
    assert rice.multiplicative
    assert rice.exponents == {"reach": 1, "impact": 1, "confidence": 1, "effort": -1}
    shaped = compile_formula("3 * a ** 2 / (b * sqrt_b)", ["a", "b", "sqrt_b"])
    assert shaped.exponents == {"a": 2, "b": -1, "sqrt_b": -1}
    for additive in ("a + b", "-a * b", "min(a, b) * b", "a * b - 1"):
        assert not compile_formula(additive, ["a", "b"]).multiplicative


def test_log_share_contributions_add_up_and_treat_factors_symmetrically() -> None:
    rice = compile_formula(RICE, RICE_INPUTS)
    neutral = dict.fromkeys(RICE_INPUTS, 1.0)
    parts = rice.contributions({"reach": 8, "impact": 2, "confidence": 0.5, "effort": 2}, neutral)
    assert parts.method == "log-share"
    assert (parts.baseline, parts.score) == (1.0, 4.0)
    assert sum(parts.by_input.values()) == pytest.approx(4.0 - 1.0)
    # ln 8 = 3 ln 2: reach gets three times impact's share; halving confidence and doubling
    # effort each take back one share.
    share = (4.0 - 1.0) / math.log(4.0)
    assert parts.by_input["reach"] == pytest.approx(share * 3 * math.log(2))
    assert parts.by_input["impact"] == pytest.approx(share * math.log(2))
    assert parts.by_input["confidence"] == pytest.approx(-share * math.log(2))
    assert parts.by_input["effort"] == pytest.approx(-share * math.log(2))


def test_an_input_at_its_neutral_value_contributes_nothing() -> None:
    rice = compile_formula(RICE, RICE_INPUTS)
    parts = rice.contributions(
        {"reach": 100, "impact": 1, "confidence": 1, "effort": 4},
        dict.fromkeys(RICE_INPUTS, 1.0),
    )
    assert parts.by_input["impact"] == 0
    assert parts.by_input["confidence"] == 0


def test_shapley_contributions_for_sums_are_the_changes_and_add_up() -> None:
    wsjf = compile_formula("(value + urgency) / size", ["value", "urgency", "size"])
    neutral = {"value": 1.0, "urgency": 1.0, "size": 1.0}
    parts = wsjf.contributions({"value": 5, "urgency": 3, "size": 2}, neutral)
    assert parts.method == "shapley"
    assert (parts.baseline, parts.score) == (2.0, 4.0)
    assert sum(parts.by_input.values()) == pytest.approx(2.0)
    # The Shapley value of value from the 8 coalitions (others held at neutral), weights
    # |S|! (n - |S| - 1)! / n! = 2/6, 1/6, 1/6, 2/6.
    v = {
        (): 2.0,
        ("value",): 6.0,
        ("urgency",): 4.0,
        ("size",): 1.0,
        ("value", "urgency"): 8.0,
        ("value", "size"): 3.0,
        ("urgency", "size"): 2.0,
        ("value", "urgency", "size"): 4.0,
    }
    value_share = (
        2 * (v[("value",)] - v[()])
        + (v[("value", "urgency")] - v[("urgency",)])
        + (v[("value", "size")] - v[("size",)])
        + 2 * (v[("value", "urgency", "size")] - v[("urgency", "size")])
    ) / 6
    assert parts.by_input["value"] == pytest.approx(value_share)


def test_multiplicative_formula_with_a_zero_falls_back_to_shapley() -> None:
    rice = compile_formula(RICE, RICE_INPUTS)
    parts = rice.contributions(
        {"reach": 0, "impact": 2, "confidence": 1, "effort": 1}, dict.fromkeys(RICE_INPUTS, 1.0)
    )
    assert parts.method == "shapley"
    assert sum(parts.by_input.values()) == pytest.approx(0 - 1.0)


def test_module_examples_run() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
