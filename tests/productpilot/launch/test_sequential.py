"""Specification of sequential tests: group-sequential designs, mSPRT, and daily peeking."""

from __future__ import annotations

import doctest
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import stats

from productpilot.errors import ValidationError
from productpilot.launch import sequential as module
from productpilot.launch.sequential import (
    ArmTotals,
    GroupSequentialDesign,
    SequentialLook,
    crossing_probability,
    group_sequential_test,
    msprt,
    msprt_latest,
)

EXPERIMENTS, DAYS, USERS_PER_DAY = 4000, 30, 500


def daily_conversions(
    seed: int, rates: tuple[float, float], experiments: int = EXPERIMENTS
) -> tuple[ArmTotals, ArmTotals]:
    """Control and treatment of ``experiments`` experiments over 30 days of 500 users."""
    rng = np.random.default_rng(seed)
    trials = np.full((experiments, DAYS), USERS_PER_DAY)
    control = rng.binomial(USERS_PER_DAY, rates[0], size=(experiments, DAYS))
    treatment = rng.binomial(USERS_PER_DAY, rates[1], size=(experiments, DAYS))
    return (
        ArmTotals.daily_conversions(trials, control),
        ArmTotals.daily_conversions(trials, treatment),
    )


def daily_normal_metric(seed: int, lift: float = 0.0) -> tuple[ArmTotals, ArmTotals]:
    """A N(5 + lift, 2^2) per-user metric, drawn as exact daily sums and sums of squares."""
    rng = np.random.default_rng(seed)
    n, sd = USERS_PER_DAY, 2.0
    shape = (2, EXPERIMENTS, DAYS)
    means = np.array([5.0, 5.0 + lift])[:, None, None]
    sums = n * means + math.sqrt(n) * sd * rng.standard_normal(shape)
    # sum x^2 = (n - 1) s^2 + sum^2 / n, and (n - 1) s^2 / sd^2 is chi-square(n - 1).
    squares = sd**2 * rng.chisquare(n - 1, size=shape) + sums**2 / n
    users = np.full(shape[1:], n)
    return (
        ArmTotals.from_daily(users, sums[0], squares[0]),
        ArmTotals.from_daily(users, sums[1], squares[1]),
    )


def naive_daily_rejections(control: ArmTotals, treatment: ArmTotals) -> np.ndarray:
    """Welch's t-test at every look, read at 0.05 each day (what the dashboards used to do)."""
    p_values = stats.ttest_ind_from_stats(
        treatment.mean,
        np.sqrt(treatment.variance),
        treatment.n,
        control.mean,
        np.sqrt(control.variance),
        control.n,
        equal_var=False,
    ).pvalue
    return (p_values < 0.05).any(axis=-1)


# --- the acceptance test: A/A with daily peeking -------------------------------------------------


def test_aa_conversion_with_daily_peeking_keeps_the_false_positive_rate_at_alpha() -> None:
    control, treatment = daily_conversions(seed=2024, rates=(0.1, 0.1))
    sequential = group_sequential_test(control, treatment)  # 30 looks, O'Brien-Fleming
    pocock = group_sequential_test(control, treatment, design=GroupSequentialDesign(DAYS, "pocock"))
    always_valid = msprt(control, treatment)
    naive = naive_daily_rejections(control, treatment)
    # 4000 experiments: the Monte Carlo standard error of a 5% rate is 0.0034.
    assert 0.04 <= sequential.ever_rejected.mean() <= 0.06  # 0.0535
    assert 0.04 <= pocock.ever_rejected.mean() <= 0.06  # 0.0575
    assert naive.mean() > 0.2  # 0.281: peeking daily at a fixed-horizon test
    assert always_valid.ever_rejected.mean() <= 0.05  # 0.018: valid, conservative


def test_aa_mean_metric_with_daily_peeking_keeps_the_false_positive_rate_at_alpha() -> None:
    control, treatment = daily_normal_metric(seed=7)
    sequential = group_sequential_test(control, treatment)
    assert 0.04 <= sequential.ever_rejected.mean() <= 0.06
    assert naive_daily_rejections(control, treatment).mean() > 0.2
    assert msprt(control, treatment).ever_rejected.mean() <= 0.05


def test_with_a_real_lift_both_tests_detect_it_and_the_design_keeps_most_power() -> None:
    # +1 pp on 10% with 15000 users per arm: z ~ 2.8 at day 30, a fixed-horizon power of 80%.
    control, treatment = daily_conversions(seed=3, rates=(0.10, 0.11), experiments=1000)
    sequential = group_sequential_test(control, treatment)
    always_valid = msprt(control, treatment)
    fixed_horizon = 2 * stats.norm.sf(np.abs(sequential.z[:, -1])) < 0.05
    assert fixed_horizon.mean() > 0.75  # 0.826
    assert sequential.ever_rejected.mean() > fixed_horizon.mean() - 0.05  # 0.810
    assert always_valid.ever_rejected.mean() > 0.45  # 0.549: the price of open-endedness
    # Stopping at the first rejection is early on average (the point of looking daily).
    first = np.argmax(sequential.rejected, axis=-1)[sequential.ever_rejected]
    assert first.mean() < DAYS - 5


def test_confidence_sequences_cover_the_true_lift_at_every_look_at_once() -> None:
    control, treatment = daily_normal_metric(seed=9, lift=0.05)
    for result in (group_sequential_test(control, treatment), msprt(control, treatment)):
        missed = ((result.ci_low > 0.05) | (result.ci_high < 0.05)).any(axis=-1)
        assert missed.mean() <= 0.06
        assert (np.diff(result.p_value, axis=-1) <= 1e-15).all()  # p never increases


# --- group-sequential design ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("looks", "pocock", "obrien_fleming"),
    # Jennison and Turnbull (2000), Tables 2.1 and 2.3: C_P(K, 0.05) and C_B(K, 0.05).
    [
        (2, 2.178, 1.977),
        (3, 2.289, 2.004),
        (4, 2.361, 2.024),
        (5, 2.413, 2.040),
        (10, 2.555, 2.087),
    ],
)
def test_design_constants_match_the_published_tables(
    looks: int, pocock: float, obrien_fleming: float
) -> None:
    assert GroupSequentialDesign(looks, "pocock").critical_value(0.05) == pytest.approx(
        pocock, abs=6e-4
    )
    assert GroupSequentialDesign(looks).critical_value(0.05) == pytest.approx(
        obrien_fleming, abs=6e-4
    )


def test_crossing_probability_agrees_with_the_multivariate_normal() -> None:
    # Uneven looks; corr(Z_i, Z_j) = sqrt(t_i / t_j) for i < j.
    fractions = np.array([0.2, 0.45, 0.7, 1.0])
    correlation = np.sqrt(
        np.minimum.outer(fractions, fractions) / np.maximum.outer(fractions, fractions)
    )
    for delta, level in ((0.0, 2.3), (0.5, 2.0)):
        bounds = level * fractions ** (-delta)
        staying = stats.multivariate_normal(np.zeros(4), correlation).cdf(
            bounds, lower_limit=-bounds, rng=np.random.default_rng(0)
        )
        assert crossing_probability(level, fractions, delta) == pytest.approx(1 - staying, abs=2e-4)


def test_one_look_is_the_ordinary_two_sided_z_test() -> None:
    design = GroupSequentialDesign(1)
    assert design.critical_value(0.05) == pytest.approx(stats.norm.ppf(0.975), abs=1e-5)
    assert float(design.p_value(2.5)) == pytest.approx(2 * stats.norm.sf(2.5), rel=1e-4)


def test_tabulated_p_values_match_the_exact_integral() -> None:
    design = GroupSequentialDesign(30)
    for level in (0.3, 1.1, 2.14, 2.9, 4.2, 6.5):
        exact = crossing_probability(level, design.fractions, design.delta)
        assert float(design.p_value(level)) == pytest.approx(exact, rel=1e-3)


def test_p_value_is_below_alpha_exactly_when_the_boundary_is_crossed() -> None:
    control, treatment = daily_conversions(seed=4, rates=(0.1, 0.106), experiments=500)
    result = group_sequential_test(control, treatment)
    crossed = np.maximum.accumulate(np.abs(result.z) >= result.z_boundary, axis=-1)
    assert crossed.any()
    assert not crossed.all()
    assert (crossed == result.rejected).all()


def test_boundaries_follow_the_shape() -> None:
    obf = GroupSequentialDesign(30).boundaries(0.05)
    assert obf[0] == pytest.approx(obf[-1] * math.sqrt(30))  # strict early, near 1.96 at the end
    assert obf[-1] == pytest.approx(2.145, abs=1e-3)
    pocock = GroupSequentialDesign(30, "pocock").boundaries(0.05)
    assert np.ptp(pocock) == 0
    assert pocock[0] == pytest.approx(2.731, abs=1e-3)


def test_a_partial_schedule_uses_the_boundaries_of_the_looks_so_far() -> None:
    control, treatment = daily_conversions(seed=5, rates=(0.1, 0.1), experiments=1)
    full = group_sequential_test(control, treatment)
    week = group_sequential_test(
        ArmTotals(control.n[:, :7], control.total[:, :7], control.total_squares[:, :7]),
        ArmTotals(treatment.n[:, :7], treatment.total[:, :7], treatment.total_squares[:, :7]),
    )
    assert np.allclose(week.p_value, full.p_value[:, :7])
    assert np.allclose(week.z_boundary, full.z_boundary[:, :7])


def test_design_and_inputs_are_validated() -> None:
    with pytest.raises(ValidationError, match="looks must be a whole number"):
        GroupSequentialDesign(0)
    with pytest.raises(ValidationError, match="shape must be one of"):
        GroupSequentialDesign(5, "haybittle")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="information_fractions must be 3 increasing"):
        GroupSequentialDesign(3, information_fractions=(0.5, 0.4, 1.0))
    with pytest.raises(ValidationError, match="ending at 1"):
        GroupSequentialDesign(2, information_fractions=(0.5, 0.9))
    control, treatment = daily_conversions(seed=0, rates=(0.1, 0.1), experiments=1)
    with pytest.raises(ValidationError, match="30 looks observed but the design plans 10"):
        group_sequential_test(control, treatment, design=GroupSequentialDesign(10))
    with pytest.raises(ValidationError, match="alpha must be in"):
        group_sequential_test(control, treatment, alpha=1.0)


# --- mSPRT ---------------------------------------------------------------------------------------


def test_msprt_single_look_worked_by_hand() -> None:
    control = ArmTotals.conversions([1000], [100])
    treatment = ArmTotals.conversions([1000], [130])
    result = msprt(control, treatment, mixture_sd=0.02)
    v = (100 * 900 / 1000 / 999) / 1000 + (130 * 870 / 1000 / 999) / 1000  # s^2 / n, ddof 1
    tau2 = 0.02**2
    likelihood_ratio = math.sqrt(v / (v + tau2)) * math.exp(0.03**2 * tau2 / (2 * v * (v + tau2)))
    assert result.p_value[0] == pytest.approx(min(1.0, 1 / likelihood_ratio))
    radius = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(20) + math.log((v + tau2) / v)))
    assert (result.ci_low[0], result.ci_high[0]) == (
        pytest.approx(0.03 - radius),
        pytest.approx(0.03 + radius),
    )
    assert result.z_boundary[0] == pytest.approx(radius / math.sqrt(v))


def test_msprt_p_value_is_the_running_minimum_and_the_interval_the_running_intersection() -> None:
    control, treatment = daily_conversions(seed=8, rates=(0.1, 0.104), experiments=200)
    result = msprt(control, treatment)
    assert (np.diff(result.p_value, axis=-1) <= 0).all()
    assert (np.diff(result.ci_low, axis=-1) >= 0).all()
    assert (np.diff(result.ci_high, axis=-1) <= 0).all()
    assert ((result.p_value > 0) & (result.p_value <= 1)).all()


def test_msprt_mixture_scale_trades_early_for_late_detection() -> None:
    control = ArmTotals.conversions([20000], [2000])
    big = ArmTotals.conversions([20000], [2300])  # +1.5 pp, z ~ 7
    small = ArmTotals.conversions([20000], [2180])  # +0.9 pp, z ~ 2.9
    wide, narrow = {"effect_size": 0.2}, {"effect_size": 0.01}
    assert msprt(control, big, **wide).p_value[0] < msprt(control, big, **narrow).p_value[0]
    assert msprt(control, small, **narrow).p_value[0] < msprt(control, small, **wide).p_value[0]


def test_msprt_latest_chained_daily_equals_the_full_history() -> None:
    control, treatment = daily_conversions(seed=6, rates=(0.1, 0.108), experiments=1)
    history = msprt(
        ArmTotals.conversions(control.n[0], control.total[0]),
        ArmTotals.conversions(treatment.n[0], treatment.total[0]),
        metric="Conversion",
    )
    look: SequentialLook | None = None
    for day in range(DAYS):
        look = msprt_latest(
            ArmTotals.conversions(control.n[0, day], control.total[0, day]),
            ArmTotals.conversions(treatment.n[0, day], treatment.total[0, day]),
            previous=look,
            metric="Conversion",
        )
    assert look == history.look()
    assert look.look == DAYS


def test_msprt_rejects_bad_settings() -> None:
    control, treatment = ArmTotals(10, 5, 5), ArmTotals(10, 6, 6)
    with pytest.raises(ValidationError, match="mixture_sd must be a positive number"):
        msprt(control, treatment, mixture_sd=0.0)
    with pytest.raises(ValidationError, match="effect_size must be a positive number"):
        msprt(control, treatment, effect_size=-1.0)
    with pytest.raises(ValidationError, match="alpha must be in"):
        msprt(control, treatment, alpha=0.0)
    with pytest.raises(ValidationError, match="one look per arm"):
        msprt_latest(ArmTotals([10, 20], [5, 9], [5, 9]), ArmTotals([10, 20], [5, 9], [5, 9]))


def test_looks_without_any_variation_carry_no_evidence() -> None:
    control = ArmTotals.daily_conversions([50, 50, 50], [0, 0, 5])
    treatment = ArmTotals.daily_conversions([50, 50, 50], [0, 0, 9])
    for result in (msprt(control, treatment), group_sequential_test(control, treatment)):
        assert result.p_value[:2].tolist() == [1.0, 1.0]
        assert result.z[:2].tolist() == [0.0, 0.0]
        assert np.isinf(result.ci_high[:2]).all()
        assert math.isfinite(result.ci_high[2])


# --- inputs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ArmTotals([10, 5], [1, 1], [1, 1]), "must not decrease"),
        (lambda: ArmTotals([1, 5], [1, 1], [1, 1]), "at least 2 users"),
        (lambda: ArmTotals([10, 20], [1, 2], [1, -2]), "must not be negative"),
        (lambda: ArmTotals([10, 20], [1, 2, 3], [1, 2]), "differ in shape"),
        (lambda: ArmTotals([10], [10.0], [5.0]), "sum of squares is smaller"),
        (lambda: ArmTotals([10], [float("nan")], [5.0]), "NaN"),
        (lambda: ArmTotals.conversions([10, 20], [11, 12]), "must not exceed trials"),
        (lambda: ArmTotals.conversions([10, 20], [-1, 2]), "must not be negative"),
        (lambda: ArmTotals.conversions([10, 20], [1]), "differ in shape"),
        (lambda: ArmTotals.daily_conversions([10, 10], [3, 11]), "between 0 and the day's"),
    ],
)
def test_arm_totals_reject_impossible_summaries(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build()


def test_arms_must_have_the_same_looks() -> None:
    with pytest.raises(ValidationError, match="control and treatment differ in looks"):
        msprt(ArmTotals([10, 20], [5, 9], [5, 9]), ArmTotals([10], [5], [5]))


def test_daily_totals_accumulate() -> None:
    # Day 1: users with 1, 2, 3 (sum 6, squares 14); day 2: 1, 1, 3, 3 (sum 8, squares 20).
    totals = ArmTotals.from_daily([3, 4], [6.0, 8.0], [14.0, 20.0])
    assert totals.n.tolist() == [3.0, 7.0]
    assert totals.mean.tolist() == [2.0, 2.0]
    assert totals.variance.tolist() == pytest.approx([1.0, np.var([1, 2, 3, 1, 1, 3, 3], ddof=1)])
    assert not totals.binary
    assert ArmTotals.daily_conversions([10], [3]).binary


# --- reporting -----------------------------------------------------------------------------------


def test_latest_look_summary_and_json() -> None:
    control = ArmTotals.daily_conversions([5000] * 10, [500] * 10)
    treatment = ArmTotals.daily_conversions([5000] * 10, [560] * 10)
    result = group_sequential_test(
        control, treatment, design=GroupSequentialDesign(30), metric="Conversion"
    )
    assert result.summary() == (
        # Look 10 of 30 uses the O'Brien-Fleming boundary 2.145 * sqrt(3) = 3.71, not 1.96.
        "Look 10 of 30: Conversion +1.2 pp (+12.0%, 95% CI +0.5 to +1.9 pp), sequential "
        "p < 0.001 (group sequential (O'Brien-Fleming, 30 looks)): significant"
    )
    data = json.loads(json.dumps(result.look().to_dict(), allow_nan=False))
    assert (data["look"], data["planned_looks"], data["rejected"]) == (10, 30, True)
    history = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert len(history["p_value"]) == 10
    open_ended = msprt(control, treatment, metric="Conversion").look(2)
    assert open_ended.summary().startswith("Look 3: Conversion +1.2")
    assert open_ended.summary().endswith("(mSPRT): significant")


def test_batches_have_no_single_summary() -> None:
    control, treatment = daily_conversions(seed=1, rates=(0.1, 0.1), experiments=3)
    result = msprt(control, treatment)
    assert result.ever_rejected.shape == (3,)
    with pytest.raises(ValueError, match="single experiment"):
        result.summary()


def test_doctests() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
