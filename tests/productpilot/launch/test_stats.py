"""Specification of fixed-horizon launch statistics: z-test, Welch, CUPED, SRM, summaries."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

from productpilot.errors import ValidationError
from productpilot.launch import stats as module
from productpilot.launch.stats import (
    EffectEstimate,
    cuped_test,
    display_decimals,
    sample_ratio_mismatch,
    two_proportion_test,
    welch_test,
    welch_test_from_stats,
)

# --- two-proportion z-test -----------------------------------------------------------------------


def test_two_proportion_test_worked_by_hand() -> None:
    # 100/1000 vs 130/1000: pooled p = 0.115, SE0 = sqrt(.115 * .885 * 2/1000) for the test;
    # unpooled SE = sqrt(.1 * .9 / 1000 + .13 * .87 / 1000) for the interval.
    result = two_proportion_test(100, 1000, 130, 1000)
    pooled_se = math.sqrt(0.115 * 0.885 * 2 / 1000)
    unpooled_se = math.sqrt(0.1 * 0.9 / 1000 + 0.13 * 0.87 / 1000)
    assert result.test == "two-proportion z-test"
    assert (result.control, result.treatment) == (0.1, 0.13)
    assert result.absolute_lift == pytest.approx(0.03)
    assert result.statistic == pytest.approx(0.03 / pooled_se)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(0.03 / pooled_se))
    assert result.standard_error == pytest.approx(unpooled_se)
    assert result.ci_low == pytest.approx(0.03 - 1.959964 * unpooled_se)
    assert result.ci_high == pytest.approx(0.03 + 1.959964 * unpooled_se)
    assert result.relative_lift == pytest.approx(0.3)
    assert result.degrees_of_freedom is None


@pytest.mark.parametrize(
    ("control", "treatment"),
    [((480, 5000), (530, 5000)), ((30, 200), (21, 260)), ((5, 90), (9, 70))],
)
def test_two_proportion_test_agrees_with_statsmodels_and_chi_square(
    control: tuple[int, int], treatment: tuple[int, int]
) -> None:
    result = two_proportion_test(*control, *treatment)
    z, p = proportions_ztest([treatment[0], control[0]], [treatment[1], control[1]])
    assert result.statistic == pytest.approx(z)
    assert result.p_value == pytest.approx(p)
    # The pooled z-test is the 2x2 chi-square test without continuity correction: z^2 = chi2.
    table = [[control[0], control[1] - control[0]], [treatment[0], treatment[1] - treatment[0]]]
    chi2, chi2_p, _, _ = stats.chi2_contingency(table, correction=False)
    assert result.statistic**2 == pytest.approx(chi2)
    assert result.p_value == pytest.approx(chi2_p)


def test_two_proportion_interval_narrows_with_alpha_and_covers_the_truth_at_95() -> None:
    wide = two_proportion_test(100, 1000, 130, 1000, alpha=0.01)
    narrow = two_proportion_test(100, 1000, 130, 1000, alpha=0.2)
    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(400):
        c, t = rng.binomial(2000, 0.10), rng.binomial(2000, 0.12)
        result = two_proportion_test(c, 2000, t, 2000)
        covered += result.ci_low <= 0.02 <= result.ci_high
    assert 0.92 <= covered / 400 <= 0.98


def test_two_proportion_test_without_any_variation_has_no_evidence() -> None:
    nobody = two_proportion_test(0, 500, 0, 400)
    everybody = two_proportion_test(500, 500, 400, 400)
    for result in (nobody, everybody):
        assert (result.statistic, result.p_value, result.absolute_lift) == (0.0, 1.0, 0.0)
        assert result.ci_low == result.ci_high == 0.0
    assert nobody.relative_lift is None  # relative to a control rate of 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((-1, 100, 5, 100), "control successes must be at least 0"),
        ((5, 100, 101, 100), r"treatment successes \(101\) exceed treatment trials \(100\)"),
        ((11, 10, 5, 100), "control successes"),
        ((0, 0, 5, 100), "control trials must be at least 1"),
        ((1.5, 100, 5, 100), "control successes must be a whole number"),
        ((True, 100, 5, 100), "whole number"),
    ],
)
def test_two_proportion_test_rejects_impossible_counts(
    arguments: tuple[float, ...], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        two_proportion_test(*arguments)


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, float("nan")])
def test_every_test_rejects_alpha_outside_zero_one(alpha: float) -> None:
    with pytest.raises(ValidationError, match="alpha must be in"):
        two_proportion_test(10, 100, 12, 100, alpha=alpha)
    with pytest.raises(ValidationError, match="alpha must be in"):
        welch_test([1.0, 2.0, 3.0], [2.0, 3.0, 4.0], alpha=alpha)


# --- Welch's t-test ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_welch_test_agrees_with_statsmodels_and_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    control = rng.normal(10, 2, size=30 + 10 * seed)
    treatment = rng.normal(10.8, 4, size=45)
    result = welch_test(control, treatment, alpha=0.1)
    t, p, df = ttest_ind(treatment, control, usevar="unequal")
    assert (result.statistic, result.p_value) == (pytest.approx(t), pytest.approx(p))
    assert result.degrees_of_freedom == pytest.approx(df)
    low, high = CompareMeans(DescrStatsW(treatment), DescrStatsW(control)).tconfint_diff(
        alpha=0.1, usevar="unequal"
    )
    assert (result.ci_low, result.ci_high) == (pytest.approx(low), pytest.approx(high))
    reference = stats.ttest_ind(treatment, control, equal_var=False)
    interval = reference.confidence_interval(0.9)
    assert result.p_value == pytest.approx(reference.pvalue)
    assert (result.ci_low, result.ci_high) == (
        pytest.approx(interval.low),
        pytest.approx(interval.high),
    )
    assert result.absolute_lift == pytest.approx(treatment.mean() - control.mean())
    assert result.relative_lift == pytest.approx(treatment.mean() / control.mean() - 1)


def test_welch_from_summary_statistics_matches_the_per_user_version() -> None:
    rng = np.random.default_rng(3)
    control, treatment = rng.exponential(5, size=200), rng.exponential(5.5, size=150)
    from_values = welch_test(control, treatment, metric="Revenue")
    from_stats = welch_test_from_stats(
        control.mean(),
        control.std(ddof=1),
        200,
        treatment.mean(),
        treatment.std(ddof=1),
        150,
        metric="Revenue",
    )
    assert from_values == from_stats


def test_relative_lift_interval_is_the_delta_method() -> None:
    result = welch_test_from_stats(10.0, 4.0, 400, 11.0, 5.0, 400)
    var_c, var_t = 16 / 400, 25 / 400
    se = math.sqrt(var_t / 10**2 + 11**2 * var_c / 10**4)
    quantile = stats.t.ppf(0.975, result.degrees_of_freedom)
    assert result.relative_lift == pytest.approx(0.1)
    assert result.relative_ci_low == pytest.approx(0.1 - quantile * se)
    assert result.relative_ci_high == pytest.approx(0.1 + quantile * se)


@pytest.mark.parametrize(
    ("control", "treatment", "message"),
    [
        ([1.0], [1.0, 2.0], "control needs at least 2 values, got 1"),
        ([1.0, 2.0], [], "treatment needs at least 2 values, got 0"),
        ([1.0, float("nan")], [1.0, 2.0], "NaN"),
        ([[1.0, 2.0]], [1.0, 2.0], "flat list"),
        ([3.0, 3.0], [4.0, 4.0], "does not vary in either arm"),
    ],
)
def test_welch_test_rejects_unusable_samples(
    control: list[float], treatment: list[float], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        welch_test(control, treatment)


def test_welch_from_stats_rejects_small_or_negative_inputs() -> None:
    with pytest.raises(ValidationError, match="control size must be at least 2, got 1"):
        welch_test_from_stats(1.0, 1.0, 1, 1.0, 1.0, 10)
    with pytest.raises(ValidationError, match="must not be negative"):
        welch_test_from_stats(1.0, -1.0, 10, 1.0, 1.0, 10)
    with pytest.raises(ValidationError, match="treatment mean must be a finite number"):
        welch_test_from_stats(1.0, 1.0, 10, float("inf"), 1.0, 10)


# --- summaries -----------------------------------------------------------------------------------


def test_conversion_summary_speaks_in_percentage_points() -> None:
    result = two_proportion_test(1000, 10000, 1120, 10000)
    assert result.summary() == "Conversion +1.2 pp (+12.0%, 95% CI +0.3 to +2.1 pp), p = 0.006"
    negative = two_proportion_test(1200, 10000, 1000, 10000, alpha=0.1, metric="Checkout")
    assert negative.summary().startswith("Checkout -2.0 pp (-16.7%, 90% CI -2.")
    assert negative.summary().endswith("pp), p < 0.001")


def test_mean_summary_rounds_to_the_precision_of_the_interval() -> None:
    result = welch_test_from_stats(40.0, 30.0, 5000, 41.5, 30.0, 5000, metric="Revenue per user")
    # Half-width 1.96 * 30 * sqrt(2 / 5000) = 1.18: leading digits 118 < 355 keep two
    # significant digits (1.2), so one decimal.
    assert result.summary() == "Revenue per user +1.5 (+3.8%, 95% CI +0.3 to +2.7), p = 0.012"
    precise = welch_test_from_stats(40.0, 3.0, 5000, 41.5, 3.0, 5000, metric="Revenue per user")
    assert precise.summary() == ("Revenue per user +1.50 (+3.8%, 95% CI +1.38 to +1.62), p < 0.001")
    assert display_decimals(0.8) == 1
    assert display_decimals(0.12) == 2
    assert display_decimals(0.5, minimum=2) == 2
    assert display_decimals(250.0) == 0


def test_summary_leaves_out_the_relative_lift_when_control_is_zero() -> None:
    result = welch_test([-1.0, 1.0, -2.0, 2.0], [0.0, 2.0, 1.0, 3.0], metric="Net score")
    assert result.relative_lift is None
    assert result.summary().startswith("Net score +1.5 (95% CI ")


def test_results_are_frozen_and_serialise_to_strict_json() -> None:
    result = two_proportion_test(0, 100, 3, 100)  # control rate 0: no relative lift
    with pytest.raises(AttributeError):
        result.p_value = 0.0  # type: ignore[misc]
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["relative_lift"] is None
    assert data["summary"] == result.summary()
    assert data["significant"] == (result.p_value < 0.05)
    assert set(data) >= {f.name for f in EffectEstimate.__dataclass_fields__.values()} - {
        "percentage_points"
    }


# --- CUPED ---------------------------------------------------------------------------------------


def correlated_experiment(
    rng: np.random.Generator, n: int, rho: float, lift: float
) -> tuple[np.ndarray, ...]:
    """Pre-period X and in-experiment Y with corr(X, Y) = rho, unit variances."""
    pre = rng.standard_normal((2, n)) + 5
    post = rho * (pre - 5) + math.sqrt(1 - rho**2) * rng.standard_normal((2, n)) + 20
    post[1] += lift
    return post[0], pre[0], post[1], pre[1]


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_cuped_narrows_the_interval_by_sqrt_one_minus_rho_squared(rho: float) -> None:
    rng = np.random.default_rng(11)
    result = cuped_test(*correlated_experiment(rng, 5000, rho, lift=0.05))
    assert result.theta == pytest.approx(rho, abs=0.03)
    assert result.correlation == pytest.approx(rho, abs=0.02)
    assert result.variance_reduction == pytest.approx(rho**2, abs=0.03)
    assert result.interval_width_ratio == pytest.approx(math.sqrt(1 - rho**2), abs=0.03)
    assert result.adjusted.test == "CUPED Welch t-test"
    assert result.unadjusted.test == "Welch t-test"


def test_cuped_estimate_is_unbiased_and_less_variable() -> None:
    rng = np.random.default_rng(5)
    adjusted, unadjusted = [], []
    for _ in range(300):
        result = cuped_test(*correlated_experiment(rng, 300, 0.7, lift=0.2))
        adjusted.append(result.adjusted.absolute_lift)
        unadjusted.append(result.unadjusted.absolute_lift)
    adjusted_sd = float(np.std(adjusted, ddof=1))
    assert abs(np.mean(adjusted) - 0.2) < 3 * adjusted_sd / math.sqrt(300)
    # The spread across experiments shrinks like the reported standard error: sqrt(1 - .49).
    assert adjusted_sd / np.std(unadjusted, ddof=1) == pytest.approx(math.sqrt(0.51), abs=0.08)


def test_cuped_with_an_unrelated_covariate_changes_almost_nothing() -> None:
    rng = np.random.default_rng(2)
    y_c, y_t = rng.normal(size=2000), rng.normal(size=2000)
    result = cuped_test(y_c, rng.normal(size=2000), y_t, rng.normal(size=2000))
    assert abs(result.variance_reduction) < 0.01
    assert result.adjusted.absolute_lift == pytest.approx(result.unadjusted.absolute_lift, abs=0.01)


def test_cuped_summary_and_json() -> None:
    rng = np.random.default_rng(0)
    result = cuped_test(*correlated_experiment(rng, 1000, 0.9, lift=0.3))
    assert result.summary().startswith("Metric +0.3")
    assert result.summary().endswith("(CUPED: variance -81%)")
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["adjusted"]["test"] == "CUPED Welch t-test"
    assert data["interval_width_ratio"] == pytest.approx(result.interval_width_ratio)


def test_cuped_rejects_mismatched_or_constant_covariates() -> None:
    with pytest.raises(ValidationError, match="control and its pre-period differ in length"):
        cuped_test([1.0, 2.0, 3.0], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValidationError, match="treatment and its pre-period differ"):
        cuped_test([1.0, 2.0], [1.0, 2.0], [1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValidationError, match="covariate is constant"):
        cuped_test([1.0, 2.0], [1.0, 1.0], [3.0, 2.0], [1.0, 1.0])


# --- sample-ratio mismatch -----------------------------------------------------------------------


def test_srm_agrees_with_scipy_chisquare_and_flags_below_one_in_a_thousand() -> None:
    check = sample_ratio_mismatch([5200, 4800])
    statistic, p_value = stats.chisquare([5200, 4800], [5000, 5000])
    assert (check.statistic, check.p_value) == (pytest.approx(statistic), pytest.approx(p_value))
    assert check.p_value < 0.001
    assert check.mismatch
    assert check.degrees_of_freedom == 1
    assert check.expected == (5000.0, 5000.0)
    assert not sample_ratio_mismatch([5080, 4920]).mismatch  # p = 0.11: chance


def test_srm_uses_the_planned_allocation_for_three_arms() -> None:
    # chi2 = 50^2 / 9000 + 20^2 / 500 + 30^2 / 500 = 2.878 on 2 df: p = exp(-2.878 / 2).
    counts = [8950, 520, 530]
    check = sample_ratio_mismatch(counts, [90, 5, 5])
    assert check.planned_shares == pytest.approx((0.9, 0.05, 0.05))
    assert check.expected == pytest.approx((9000.0, 500.0, 500.0))
    assert check.degrees_of_freedom == 2
    assert check.p_value == pytest.approx(math.exp(-(50**2 / 9000 + 20**2 / 500 + 30**2 / 500) / 2))
    assert not check.mismatch
    assert sample_ratio_mismatch(counts).mismatch  # against equal thirds: broken
    assert check.summary() == (
        "Sample ratio OK: 8,950 / 520 / 530 users, planned 90% / 5% / 5% (chi-square p = 0.237)"
    )


def test_srm_false_alarm_rate_is_the_threshold() -> None:
    rng = np.random.default_rng(1)
    counts = rng.multinomial(20000, [0.5, 0.3, 0.2], size=1500)
    p_values = np.array(
        [sample_ratio_mismatch(row, [5, 3, 2], threshold=0.05).p_value for row in counts]
    )
    assert 0.035 <= (p_values < 0.05).mean() <= 0.065  # 1500 draws: +- 2 standard errors


@pytest.mark.parametrize(
    ("counts", "planned", "message"),
    [
        ([100], None, "at least 2 arms"),
        ([100, -1], None, "arm 1 count must be at least 0"),
        ([100, 2.5], None, "arm 1 count must be a whole number"),
        ([0, 0], None, "at least one user"),
        ([100, 100], [1, 1, 1], "3 weights for 2 arms"),
        ([100, 100], [1, 0], "must be positive"),
    ],
)
def test_srm_rejects_bad_counts_and_allocations(
    counts: list[float], planned: list[float] | None, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        sample_ratio_mismatch(counts, planned)


def test_srm_json_and_threshold_check() -> None:
    data = json.loads(json.dumps(sample_ratio_mismatch([10, 30]).to_dict(), allow_nan=False))
    assert data["mismatch"] is False  # p = 0.0016: suspicious, but above 0.001
    assert data["summary"].startswith("Sample ratio OK: 10 / 30 users")
    with pytest.raises(ValidationError, match="threshold must be in"):
        sample_ratio_mismatch([10, 30], threshold=0)


def test_doctests() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
