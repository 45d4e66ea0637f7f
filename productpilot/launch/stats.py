"""Fixed-horizon A/B statistics for launch reports: conversion and mean tests, CUPED and SRM.

Every test compares a treatment arm with a control arm and returns an :class:`EffectEstimate`
(absolute and relative lift with confidence intervals, p-value, the test's name) whose
``summary()`` is a sentence for a launch report.

Example:
    >>> result = two_proportion_test(1000, 10000, 1120, 10000)
    >>> result.summary()
    'Conversion +1.2 pp (+12.0%, 95% CI +0.3 to +2.1 pp), p = 0.006'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from productpilot.analytics.activity import json_float
from productpilot.errors import ValidationError

SRM_THRESHOLD = 0.001


# --- input checks shared by the launch modules -------------------------------------------------


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float, or :class:`ValidationError` when it is outside ``(0, 1)``."""
    if not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise ValidationError(f"alpha must be in (0, 1), got {alpha!r}")
    return float(alpha)


def check_count(value: Any, name: str, *, minimum: int = 0) -> int:
    """A whole number ``>= minimum`` (ints, integral floats, numpy integers), else an error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(f"{name} must be a whole number, got {value!r}")
    if not math.isfinite(value) or value != int(value):
        raise ValidationError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise ValidationError(f"{name} must be at least {minimum}, got {int(value)}")
    return int(value)


def check_sample(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    """A 1-D float array of at least 2 finite values, else :class:`ValidationError`."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValidationError(f"{name} must be a flat list of numbers, got {array.ndim} dimensions")
    if len(array) < 2:
        raise ValidationError(f"{name} needs at least 2 values, got {len(array)}")
    if not np.isfinite(array).all():
        raise ValidationError(f"{name} must not hold NaN or infinite values")
    return array


# --- report formatting ---------------------------------------------------------------------------


def format_p_value(p_value: float) -> str:
    """``"p < 0.001"`` or ``"p = 0.042"``."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def confidence_label(alpha: float) -> str:
    """``"95%"`` for ``alpha = 0.05``."""
    return f"{100 * (1 - alpha):g}%"


def display_decimals(half_width: float, *, minimum: int = 0) -> int:
    """Decimals worth showing for an estimate whose interval has this half-width.

    The Particle Data Group's rounding rule: the uncertainty keeps two significant digits
    when its leading digits are below 355 (0.12 -> 2 decimals), else one (0.8 -> 1 decimal);
    more digits of the estimate would be noise.
    """
    if not math.isfinite(half_width) or half_width <= 0:
        return max(minimum, 2)
    exponent = math.floor(math.log10(half_width))
    leading = half_width / 10.0**exponent
    decimals = -exponent + (1 if leading < 3.55 else 0)
    return int(min(10, max(minimum, decimals)))


def signed(value: float, decimals: int) -> str:
    """``value`` with a sign, and no ``-0.0``."""
    rounded = round(value, decimals)
    return f"{rounded + 0.0:+.{decimals}f}"


def effect_sentence(
    metric: str,
    effect: float,
    low: float,
    high: float,
    *,
    alpha: float,
    percentage_points: bool,
    relative: float | None,
    p_value_text: str,
) -> str:
    """``"Conversion +1.2 pp (+8.1%, 95% CI +0.4 to +2.0 pp), p = 0.003"``."""
    scale = 100.0 if percentage_points else 1.0
    unit = " pp" if percentage_points else ""
    decimals = display_decimals(scale * (high - low) / 2, minimum=1 if percentage_points else 0)
    relative_text = f"{signed(100 * relative, 1)}%, " if relative is not None else ""
    return (
        f"{metric} {signed(scale * effect, decimals)}{unit} ({relative_text}"
        f"{confidence_label(alpha)} CI {signed(scale * low, decimals)} to "
        f"{signed(scale * high, decimals)}{unit}), {p_value_text}"
    )


# --- two-arm tests -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EffectEstimate:
    """Treatment versus control on one metric.

    Attributes:
        test: the test's name (``"two-proportion z-test"``, ``"Welch t-test"``, ...).
        metric: the metric's name, used in :meth:`summary`.
        alpha: the intervals are at ``1 - alpha``.
        control: control's mean (a rate for conversions).
        treatment: treatment's mean.
        n_control: users (trials) in control.
        n_treatment: users in treatment.
        absolute_lift: ``treatment - control``.
        ci_low: lower bound of the absolute lift's interval.
        ci_high: upper bound of the absolute lift's interval.
        relative_lift: ``treatment / control - 1``; ``None`` when control is 0.
        relative_ci_low: lower bound of the relative lift's interval (delta method).
        relative_ci_high: upper bound of the relative lift's interval.
        statistic: the z or t statistic.
        p_value: two-sided p-value.
        standard_error: standard error of the absolute lift used by the interval.
        degrees_of_freedom: Welch-Satterthwaite degrees of freedom; ``None`` for z-tests.
        percentage_points: the metric is a rate: :meth:`summary` speaks in pp.
    """

    test: str
    metric: str
    alpha: float
    control: float
    treatment: float
    n_control: int
    n_treatment: int
    absolute_lift: float
    ci_low: float
    ci_high: float
    relative_lift: float | None
    relative_ci_low: float | None
    relative_ci_high: float | None
    statistic: float
    p_value: float
    standard_error: float
    degrees_of_freedom: float | None = None
    percentage_points: bool = False

    @property
    def significant(self) -> bool:
        """The p-value is below ``alpha``."""
        return self.p_value < self.alpha

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "metric": self.metric,
            "alpha": self.alpha,
            "control": json_float(self.control),
            "treatment": json_float(self.treatment),
            "n_control": self.n_control,
            "n_treatment": self.n_treatment,
            "absolute_lift": json_float(self.absolute_lift),
            "ci_low": json_float(self.ci_low),
            "ci_high": json_float(self.ci_high),
            "relative_lift": json_float(self.relative_lift),
            "relative_ci_low": json_float(self.relative_ci_low),
            "relative_ci_high": json_float(self.relative_ci_high),
            "statistic": json_float(self.statistic),
            "p_value": json_float(self.p_value),
            "standard_error": json_float(self.standard_error),
            "degrees_of_freedom": json_float(self.degrees_of_freedom),
            "significant": self.significant,
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """One sentence: ``"Conversion +1.2 pp (+8.1%, 95% CI +0.4 to +2.0 pp), p = 0.003"``."""
        return effect_sentence(
            self.metric,
            self.absolute_lift,
            self.ci_low,
            self.ci_high,
            alpha=self.alpha,
            percentage_points=self.percentage_points,
            relative=self.relative_lift,
            p_value_text=format_p_value(self.p_value),
        )


def relative_interval(
    control: float, treatment: float, control_var: float, treatment_var: float, quantile: float
) -> tuple[float | None, float | None, float | None]:
    """``treatment / control - 1`` and its interval by the delta method.

    ``Var(T / C) ~ Var(T) / C^2 + T^2 Var(C) / C^4`` for independent arm means ``T`` and ``C``
    with variances ``treatment_var`` and ``control_var``.
    """
    if control == 0:
        return None, None, None
    ratio = treatment / control
    se = math.sqrt(treatment_var / control**2 + treatment**2 * control_var / control**4)
    return ratio - 1, ratio - 1 - quantile * se, ratio - 1 + quantile * se


def two_proportion_test(
    control_successes: int,
    control_trials: int,
    treatment_successes: int,
    treatment_trials: int,
    *,
    alpha: float = 0.05,
    metric: str = "Conversion",
) -> EffectEstimate:
    """Difference in conversion between two arms: the two-proportion z-test.

    The test uses the pooled standard error (the variance under "no difference",
    :func:`statsmodels.stats.proportion.proportions_ztest`); the interval uses the unpooled
    Wald standard error (:func:`~statsmodels.stats.proportion.confint_proportions_2indep`),
    since it describes the difference that is there, not the null.

    Args:
        control_successes: converted users in control.
        control_trials: users in control, at least 1.
        treatment_successes: converted users in treatment.
        treatment_trials: users in treatment, at least 1.
        alpha: the interval is at ``1 - alpha``, in ``(0, 1)``.
        metric: the metric's name for :meth:`EffectEstimate.summary`.

    Returns:
        The lift in conversion rate, in rate units (0.012 is 1.2 pp).

    Raises:
        ValidationError: a count is negative or not whole, successes exceed trials, a trial
            count is 0, or ``alpha`` is outside ``(0, 1)``.

    Example:
        >>> result = two_proportion_test(100, 1000, 130, 1000)
        >>> round(result.absolute_lift, 3), round(result.p_value, 3)
        (0.03, 0.035)
    """
    alpha = check_alpha(alpha)
    c_trials = check_count(control_trials, "control trials", minimum=1)
    t_trials = check_count(treatment_trials, "treatment trials", minimum=1)
    c_succ = check_count(control_successes, "control successes")
    t_succ = check_count(treatment_successes, "treatment successes")
    if c_succ > c_trials:
        raise ValidationError(f"control successes ({c_succ}) exceed control trials ({c_trials})")
    if t_succ > t_trials:
        raise ValidationError(
            f"treatment successes ({t_succ}) exceed treatment trials ({t_trials})"
        )
    p_c, p_t = c_succ / c_trials, t_succ / t_trials
    pooled = (c_succ + t_succ) / (c_trials + t_trials)
    if pooled in (0.0, 1.0):
        # Every user converted (or none did) in both arms: no variation, no evidence.
        statistic, p_value = 0.0, 1.0
    else:
        z, p = proportions_ztest([t_succ, c_succ], [t_trials, c_trials])
        statistic, p_value = float(z), float(p)
    low, high = confint_proportions_2indep(
        t_succ, t_trials, c_succ, c_trials, method="wald", compare="diff", alpha=alpha
    )
    var_c, var_t = p_c * (1 - p_c) / c_trials, p_t * (1 - p_t) / t_trials
    quantile = float(stats.norm.ppf(1 - alpha / 2))
    relative, rel_low, rel_high = relative_interval(p_c, p_t, var_c, var_t, quantile)
    return EffectEstimate(
        test="two-proportion z-test",
        metric=metric,
        alpha=alpha,
        control=p_c,
        treatment=p_t,
        n_control=c_trials,
        n_treatment=t_trials,
        absolute_lift=p_t - p_c,
        ci_low=float(low),
        ci_high=float(high),
        relative_lift=relative,
        relative_ci_low=rel_low,
        relative_ci_high=rel_high,
        statistic=statistic,
        p_value=p_value,
        standard_error=math.sqrt(var_c + var_t),
        percentage_points=True,
    )


def welch_test_from_stats(
    control_mean: float,
    control_sd: float,
    control_n: int,
    treatment_mean: float,
    treatment_sd: float,
    treatment_n: int,
    *,
    alpha: float = 0.05,
    metric: str = "Metric",
    test_name: str = "Welch t-test",
) -> EffectEstimate:
    """Difference of means from each arm's mean, standard deviation and size: Welch's t-test.

    The statistic and p-value are :func:`scipy.stats.ttest_ind_from_stats` with
    ``equal_var=False``; the interval uses the same Welch-Satterthwaite degrees of freedom
    ``(v_c + v_t)^2 / (v_c^2 / (n_c - 1) + v_t^2 / (n_t - 1))`` with ``v = sd^2 / n``.

    Args:
        control_mean: control's mean.
        control_sd: control's sample standard deviation (``ddof=1``).
        control_n: users in control, at least 2.
        treatment_mean: treatment's mean.
        treatment_sd: treatment's sample standard deviation.
        treatment_n: users in treatment, at least 2.
        alpha: the interval is at ``1 - alpha``, in ``(0, 1)``.
        metric: the metric's name for :meth:`EffectEstimate.summary`.
        test_name: the name stored in the result.

    Returns:
        The lift in the metric's units.

    Raises:
        ValidationError: a size below 2, a negative or non-finite statistic, both standard
            deviations 0, or ``alpha`` outside ``(0, 1)``.

    Example:
        >>> result = welch_test_from_stats(10.0, 4.0, 400, 11.0, 5.0, 400)
        >>> round(result.absolute_lift, 2), round(result.relative_lift, 2), result.p_value < 0.01
        (1.0, 0.1, True)
    """
    alpha = check_alpha(alpha)
    n_c = check_count(control_n, "control size", minimum=2)
    n_t = check_count(treatment_n, "treatment size", minimum=2)
    for name, value in (
        ("control mean", control_mean),
        ("treatment mean", treatment_mean),
        ("control standard deviation", control_sd),
        ("treatment standard deviation", treatment_sd),
    ):
        if not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValidationError(f"{name} must be a finite number, got {value!r}")
    if control_sd < 0 or treatment_sd < 0:
        raise ValidationError("standard deviations must not be negative")
    var_c, var_t = control_sd**2 / n_c, treatment_sd**2 / n_t
    if var_c + var_t == 0:
        raise ValidationError(f"{metric} does not vary in either arm: no test is possible")
    result = stats.ttest_ind_from_stats(
        treatment_mean, treatment_sd, n_t, control_mean, control_sd, n_c, equal_var=False
    )
    df = (var_c + var_t) ** 2 / (var_c**2 / (n_c - 1) + var_t**2 / (n_t - 1))
    se = math.sqrt(var_c + var_t)
    quantile = float(stats.t.ppf(1 - alpha / 2, df))
    diff = float(treatment_mean) - float(control_mean)
    relative, rel_low, rel_high = relative_interval(
        float(control_mean), float(treatment_mean), var_c, var_t, quantile
    )
    return EffectEstimate(
        test=test_name,
        metric=metric,
        alpha=alpha,
        control=float(control_mean),
        treatment=float(treatment_mean),
        n_control=n_c,
        n_treatment=n_t,
        absolute_lift=diff,
        ci_low=diff - quantile * se,
        ci_high=diff + quantile * se,
        relative_lift=relative,
        relative_ci_low=rel_low,
        relative_ci_high=rel_high,
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        standard_error=se,
        degrees_of_freedom=float(df),
    )


def welch_test(
    control: Sequence[float] | np.ndarray,
    treatment: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.05,
    metric: str = "Metric",
) -> EffectEstimate:
    """Welch's t-test on per-user values of the two arms (see :func:`welch_test_from_stats`).

    Args:
        control: control's per-user values, at least 2, finite.
        treatment: treatment's per-user values, at least 2, finite.
        alpha: the interval is at ``1 - alpha``.
        metric: the metric's name for :meth:`EffectEstimate.summary`.

    Returns:
        The lift in the metric's units.

    Raises:
        ValidationError: fewer than 2 values in an arm, NaN or infinite values, no variation
            at all, or ``alpha`` outside ``(0, 1)``.

    Example:
        >>> welch_test([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0]).absolute_lift
        2.0
    """
    c = check_sample(control, "control")
    t = check_sample(treatment, "treatment")
    return welch_test_from_stats(
        float(c.mean()),
        float(c.std(ddof=1)),
        len(c),
        float(t.mean()),
        float(t.std(ddof=1)),
        len(t),
        alpha=alpha,
        metric=metric,
    )


# --- CUPED ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CupedResult:
    """Welch's test on the CUPED-adjusted metric, next to the unadjusted test.

    Attributes:
        adjusted: the test on ``Y - theta (X - mean X)``.
        unadjusted: the test on ``Y``.
        theta: ``cov(Y, X) / var(X)`` over both arms pooled.
        correlation: the pooled correlation of ``Y`` and ``X``.
        variance_reduction: ``1 - Var_adjusted / Var_unadjusted`` of the lift estimate;
            about ``rho^2`` (the interval narrows by ``sqrt(1 - rho^2)``).
    """

    adjusted: EffectEstimate
    unadjusted: EffectEstimate
    theta: float
    correlation: float
    variance_reduction: float

    @property
    def interval_width_ratio(self) -> float:
        """Adjusted interval width over the unadjusted one (``sqrt(1 - rho^2)`` expected)."""
        return (self.adjusted.ci_high - self.adjusted.ci_low) / (
            self.unadjusted.ci_high - self.unadjusted.ci_low
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "adjusted": self.adjusted.to_dict(),
            "unadjusted": self.unadjusted.to_dict(),
            "theta": json_float(self.theta),
            "correlation": json_float(self.correlation),
            "variance_reduction": json_float(self.variance_reduction),
            "interval_width_ratio": json_float(self.interval_width_ratio),
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """The adjusted test's sentence and the variance CUPED removed."""
        return f"{self.adjusted.summary()} (CUPED: variance {-self.variance_reduction:+.0%})"


def cuped_test(
    control: Sequence[float] | np.ndarray,
    control_pre: Sequence[float] | np.ndarray,
    treatment: Sequence[float] | np.ndarray,
    treatment_pre: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.05,
    metric: str = "Metric",
) -> CupedResult:
    """Welch's t-test after CUPED variance reduction with a pre-period covariate.

    ``theta = cov(Y, X) / var(X)`` is estimated on both arms pooled (the covariate was
    measured before assignment, so it is independent of the treatment and the adjustment
    adds no bias); each user's metric becomes ``Y - theta (X - mean X)``, with ``mean X``
    pooled too, so the adjusted arm means stay on the metric's scale.

    Args:
        control: control's per-user metric during the experiment.
        control_pre: the same users' pre-period metric, same length.
        treatment: treatment's per-user metric.
        treatment_pre: treatment users' pre-period metric, same length.
        alpha: the intervals are at ``1 - alpha``.
        metric: the metric's name for the summaries.

    Returns:
        The adjusted and unadjusted tests, ``theta`` and the variance reduction.

    Raises:
        ValidationError: an arm and its covariate differ in length, fewer than 2 users, NaN
            values, a constant covariate, or ``alpha`` outside ``(0, 1)``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> pre = rng.normal(10, 2, size=(2, 500))
        >>> post = pre + rng.normal(0, 1, size=(2, 500)) + [[0.0], [0.5]]
        >>> result = cuped_test(post[0], pre[0], post[1], pre[1])
        >>> round(result.variance_reduction, 1), result.adjusted.p_value < 0.001
        (0.8, True)
    """
    y_c, x_c = check_sample(control, "control"), check_sample(control_pre, "control pre-period")
    y_t = check_sample(treatment, "treatment")
    x_t = check_sample(treatment_pre, "treatment pre-period")
    if len(y_c) != len(x_c):
        raise ValidationError(
            f"control and its pre-period differ in length: {len(y_c)} != {len(x_c)}"
        )
    if len(y_t) != len(x_t):
        raise ValidationError(
            f"treatment and its pre-period differ in length: {len(y_t)} != {len(x_t)}"
        )
    y, x = np.concatenate([y_c, y_t]), np.concatenate([x_c, x_t])
    covariance = np.cov(y, x)
    if covariance[1, 1] == 0:
        raise ValidationError("the pre-period covariate is constant: CUPED needs it to vary")
    theta = float(covariance[0, 1] / covariance[1, 1])
    correlation = (
        float(covariance[0, 1] / math.sqrt(covariance[0, 0] * covariance[1, 1]))
        if covariance[0, 0] > 0
        else 0.0
    )
    x_mean = float(x.mean())
    unadjusted = welch_test(y_c, y_t, alpha=alpha, metric=metric)
    adjusted_control = y_c - theta * (x_c - x_mean)
    adjusted_treatment = y_t - theta * (x_t - x_mean)
    adjusted = welch_test_from_stats(
        float(adjusted_control.mean()),
        float(adjusted_control.std(ddof=1)),
        len(adjusted_control),
        float(adjusted_treatment.mean()),
        float(adjusted_treatment.std(ddof=1)),
        len(adjusted_treatment),
        alpha=alpha,
        metric=metric,
        test_name="CUPED Welch t-test",
    )
    reduction = 1 - adjusted.standard_error**2 / unadjusted.standard_error**2
    return CupedResult(adjusted, unadjusted, theta, correlation, reduction)


# --- sample-ratio mismatch -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SampleRatioCheck:
    """Observed arm sizes against the planned allocation.

    Attributes:
        counts: users per arm.
        expected: users per arm the allocation predicts for the total.
        planned_shares: the planned allocation, normalised to sum to 1.
        observed_shares: ``counts / total``.
        statistic: Pearson's chi-square.
        degrees_of_freedom: arms minus 1.
        p_value: the chi-square goodness-of-fit p-value.
        threshold: mismatch when ``p_value < threshold`` (0.001: SRM checks run on every
            experiment every day, so a loose threshold would cry wolf).
    """

    counts: tuple[int, ...]
    expected: tuple[float, ...]
    planned_shares: tuple[float, ...]
    observed_shares: tuple[float, ...]
    statistic: float
    degrees_of_freedom: int
    p_value: float
    threshold: float

    @property
    def mismatch(self) -> bool:
        """The assignment is broken: the p-value is below the threshold."""
        return self.p_value < self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": list(self.counts),
            "expected": [json_float(value) for value in self.expected],
            "planned_shares": list(self.planned_shares),
            "observed_shares": list(self.observed_shares),
            "statistic": json_float(self.statistic),
            "degrees_of_freedom": self.degrees_of_freedom,
            "p_value": json_float(self.p_value),
            "threshold": self.threshold,
            "mismatch": self.mismatch,
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """``"Sample ratio mismatch: 5,200 / 4,800 users, planned 50% / 50% (chi-square
        p < 0.001)"``."""
        verdict = "Sample ratio mismatch" if self.mismatch else "Sample ratio OK"
        counts = " / ".join(f"{count:,}" for count in self.counts)
        shares = " / ".join(f"{100 * share:.4g}%" for share in self.planned_shares)
        return (
            f"{verdict}: {counts} users, planned {shares} "
            f"(chi-square {format_p_value(self.p_value)})"
        )


def sample_ratio_mismatch(
    counts: Sequence[int],
    planned: Sequence[float] | None = None,
    *,
    threshold: float = SRM_THRESHOLD,
) -> SampleRatioCheck:
    """Chi-square goodness-of-fit of the arm sizes against the planned allocation.

    A mismatch means users were lost or duplicated unevenly between arms (a redirect that
    drops some, a bot filter, a crash in one variant), which biases every metric of the
    experiment, so it is checked before any result is read.

    Args:
        counts: users per arm, two or more arms.
        planned: the allocation weights, one per arm (any positive scale: ``[1, 1]``,
            ``[0.9, 0.1]``); equal shares when omitted.
        threshold: flag a mismatch below this p-value, in ``(0, 1)``.

    Returns:
        The check (:func:`scipy.stats.chisquare`) with ``mismatch`` set.

    Raises:
        ValidationError: fewer than 2 arms, a negative or fractional count, no users at all,
            weights that are not positive or do not match the arms, or a threshold outside
            ``(0, 1)``.

    Example:
        >>> sample_ratio_mismatch([5000, 5000]).mismatch
        False
        >>> sample_ratio_mismatch([5200, 4800]).mismatch
        True
    """
    if not 0 < threshold < 1:
        raise ValidationError(f"the SRM threshold must be in (0, 1), got {threshold!r}")
    observed = [check_count(count, f"arm {i} count") for i, count in enumerate(counts)]
    if len(observed) < 2:
        raise ValidationError(f"a sample-ratio check needs at least 2 arms, got {len(observed)}")
    total = sum(observed)
    if total == 0:
        raise ValidationError("a sample-ratio check needs at least one user")
    weights = np.ones(len(observed)) if planned is None else np.asarray(planned, dtype=float)
    if weights.shape != (len(observed),):
        raise ValidationError(
            f"planned allocation has {weights.size} weights for {len(observed)} arms"
        )
    if not np.isfinite(weights).all() or (weights <= 0).any():
        raise ValidationError("planned allocation weights must be positive numbers")
    shares = weights / weights.sum()
    expected = total * shares
    statistic, p_value = stats.chisquare(observed, expected)
    return SampleRatioCheck(
        counts=tuple(observed),
        expected=tuple(float(value) for value in expected),
        planned_shares=tuple(float(share) for share in shares),
        observed_shares=tuple(count / total for count in observed),
        statistic=float(statistic),
        degrees_of_freedom=len(observed) - 1,
        p_value=float(p_value),
        threshold=float(threshold),
    )
