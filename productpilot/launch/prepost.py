"""Effect of a launch without a control group: actual minus a seasonal forecast.

The pre-launch days fit ``value ~ 1 + trend + day-of-week`` by OLS; the fit, carried past
the launch date, is the counterfactual ("what the metric would have done"), and the effect
is the post-launch average of actual minus counterfactual. Its interval counts both the
noise of the post-launch days and the uncertainty of the forecast, with day-to-day
autocorrelation modelled as AR(1) (see :func:`effect_covariance`).

Example:
    >>> from datetime import date, timedelta
    >>> days = [date(2026, 6, 1) + timedelta(days=i) for i in range(42)]
    >>> weekly = [100.0, 102, 101, 103, 99, 80, 75]
    >>> noise = [0.0, 1, -1, 0.5, -0.5]
    >>> values = [weekly[d.weekday()] + noise[i % 5] + (10 if i >= 28 else 0)
    ...           for i, d in enumerate(days)]
    >>> result = pre_post_effect(days, values, date(2026, 6, 29), trend=False)
    >>> round(result.effect, 1), result.ci_low < 10 < result.ci_high
    (10.1, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from productpilot.analytics.activity import json_float
from productpilot.errors import ValidationError
from productpilot.launch.stats import (
    check_alpha,
    effect_sentence,
    format_p_value,
    relative_interval,
)

MIN_PRE_DAYS = 14  # two of each weekday: the weekday effects and the trend can be told apart
MAX_AUTOCORRELATION = 0.95  # beyond this the series is a random walk: no stable forecast


@dataclass(frozen=True, slots=True)
class PrePostEffect:
    """The launch's effect on a daily metric, against the seasonal forecast.

    Attributes:
        metric: the metric's name, for :meth:`summary`.
        alpha: the intervals are at ``1 - alpha``.
        launch: first post-launch day.
        pre_days: days fitted.
        post_days: days compared.
        actual_mean: the post-launch days' mean.
        counterfactual_mean: the forecast's mean over the same days.
        effect: ``actual_mean - counterfactual_mean``, per day.
        ci_low: lower bound of the effect's interval.
        ci_high: upper bound.
        total_effect: ``effect * post_days`` (the lift summed over the post period).
        relative_lift: ``effect / counterfactual_mean``; ``None`` when that mean is 0.
        relative_ci_low: lower bound of the relative lift (delta method).
        relative_ci_high: upper bound.
        standard_error: of the effect, noise and forecast uncertainty together.
        degrees_of_freedom: pre days minus fitted coefficients (the t quantile's).
        p_value: two-sided, against no effect.
        autocorrelation: the AR(1) coefficient of the noise used (0 when switched off).
        residual_sd: standard deviation of the pre-period fit's residuals.
        dates: the post-launch dates.
        actual: the post-launch values.
        counterfactual: the forecast per post-launch day.
        forecast_low: lower bound of each day's prediction interval.
        forecast_high: upper bound.
    """

    metric: str
    alpha: float
    launch: date
    pre_days: int
    post_days: int
    actual_mean: float
    counterfactual_mean: float
    effect: float
    ci_low: float
    ci_high: float
    total_effect: float
    relative_lift: float | None
    relative_ci_low: float | None
    relative_ci_high: float | None
    standard_error: float
    degrees_of_freedom: int
    p_value: float
    autocorrelation: float
    residual_sd: float
    dates: tuple[date, ...]
    actual: tuple[float, ...]
    counterfactual: tuple[float, ...]
    forecast_low: tuple[float, ...]
    forecast_high: tuple[float, ...]

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "alpha": self.alpha,
            "launch": self.launch.isoformat(),
            "pre_days": self.pre_days,
            "post_days": self.post_days,
            "actual_mean": json_float(self.actual_mean),
            "counterfactual_mean": json_float(self.counterfactual_mean),
            "effect": json_float(self.effect),
            "ci_low": json_float(self.ci_low),
            "ci_high": json_float(self.ci_high),
            "total_effect": json_float(self.total_effect),
            "relative_lift": json_float(self.relative_lift),
            "relative_ci_low": json_float(self.relative_ci_low),
            "relative_ci_high": json_float(self.relative_ci_high),
            "standard_error": json_float(self.standard_error),
            "degrees_of_freedom": self.degrees_of_freedom,
            "p_value": json_float(self.p_value),
            "significant": self.significant,
            "autocorrelation": json_float(self.autocorrelation),
            "residual_sd": json_float(self.residual_sd),
            "daily": [
                {
                    "date": day.isoformat(),
                    "actual": json_float(actual),
                    "counterfactual": json_float(forecast),
                    "forecast_low": json_float(low),
                    "forecast_high": json_float(high),
                }
                for day, actual, forecast, low, high in zip(
                    self.dates,
                    self.actual,
                    self.counterfactual,
                    self.forecast_low,
                    self.forecast_high,
                    strict=True,
                )
            ],
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """``"Daily signups +12 per day (+8.1%, 95% CI +5 to +19), p = 0.003, over 28 days
        from 2026-08-15 against the seasonal forecast"``."""
        sentence = effect_sentence(
            self.metric,
            self.effect,
            self.ci_low,
            self.ci_high,
            alpha=self.alpha,
            percentage_points=False,
            relative=self.relative_lift,
            p_value_text=format_p_value(self.p_value),
        )
        return (
            f"{sentence}, over {self.post_days} days from {self.launch.isoformat()} "
            "against the seasonal forecast"
        )


def lag_one_autocorrelation(residuals: np.ndarray, day_index: np.ndarray, regressors: int) -> float:
    """The residuals' AR(1) coefficient over consecutive calendar days, bias-corrected.

    The lag-1 autocorrelation of regression residuals is biased towards 0 in short series,
    by about ``(1 + 3 phi) / n`` for an estimated mean (Kendall 1954); ``k / n`` more is
    added for the ``k`` fitted coefficients. That over-corrects phi by about 0.1 on purpose:
    it also pays for ``RSS / (n - k)`` under-stating the variance of autocorrelated noise and
    for plugging in an estimated phi. Measured on simulated weekly series with a trend
    (200 runs each), 95% intervals covered 94-98.5% for phi = 0 and 0.5 with 28-120
    pre-launch days and 7-28 post-launch days; uncorrected, 87-91% for phi = 0.4-0.7. Very
    persistent noise is still under-covered (phi = 0.85: 73-76% with 28 pre days, 87-94%
    with 56-120). The result is clipped to ``[0, 0.95]``: negative autocorrelation would
    narrow the interval on weak evidence.
    """
    n = len(residuals)
    consecutive = np.diff(day_index) == 1
    if not consecutive.any():
        return 0.0
    lagged = float(np.mean(residuals[:-1][consecutive] * residuals[1:][consecutive]))
    phi = lagged / float(np.mean(residuals**2))
    corrected = phi + (1 + 3 * phi) / n + regressors / n
    return float(min(max(corrected, 0.0), MAX_AUTOCORRELATION))


def effect_covariance(
    x_pre: np.ndarray,
    x_post: np.ndarray,
    pre_days: np.ndarray,
    post_days: np.ndarray,
    variance: float,
    phi: float,
) -> np.ndarray:
    """Covariance of actual minus forecast on the post-launch days, under AR(1) noise.

    With OLS on the pre period, ``y_d - yhat_d = e_d - x_d' (X'X)^-1 X' e_pre``: a linear
    map ``A`` of the noise on all days, whose covariance is ``variance * phi^|i - j|`` for
    calendar days ``i`` and ``j``. The result is ``A' Sigma A``: the post-launch noise, the
    forecast's error, and their correlation across the launch date, exactly (for the model).

    Returns:
        An ``m x m`` matrix for the ``m`` post-launch days; the mean effect's variance is the
        mean of its entries.
    """
    loadings = np.vstack([-x_pre @ np.linalg.solve(x_pre.T @ x_pre, x_post.T), np.eye(len(x_post))])
    days = np.concatenate([pre_days, post_days]).astype(float)
    noise = variance * phi ** np.abs(days[:, None] - days[None, :])
    return loadings.T @ noise @ loadings


def design_matrix(day_index: np.ndarray, weekdays: np.ndarray, *, trend: bool) -> np.ndarray:
    """Columns: intercept, [days since the first pre day], Tuesday..Sunday indicators."""
    columns = [np.ones(len(day_index))]
    if trend:
        columns.append(day_index.astype(float))
    columns += [(weekdays == weekday).astype(float) for weekday in range(1, 7)]
    return np.column_stack(columns)


def pre_post_effect(
    dates: Sequence[date | str],
    values: Sequence[float] | np.ndarray,
    launch: date | str,
    *,
    alpha: float = 0.05,
    trend: bool = True,
    autocorrelation: bool = True,
    metric: str = "Metric",
) -> PrePostEffect:
    """The launch's effect on a daily metric, as actual minus a day-of-week + trend forecast.

    The forecast is OLS on the days before ``launch`` with an intercept, a linear trend
    (``trend=True``) and weekday indicators. The effect's variance covers the post-launch
    noise and the forecast's error together, with the noise modelled as AR(1) over calendar
    days (:func:`effect_covariance`, :func:`lag_one_autocorrelation`), so autocorrelated days
    do not make the interval too narrow; the quantile is Student's with the fit's residual
    degrees of freedom. Days may have gaps; the trend counts calendar days. The daily bands
    are prediction intervals from the same covariance.

    A trend extrapolated far past the pre-period dominates the uncertainty (and can be
    wrong): keep the post period short relative to the pre period, or use ``trend=False``
    for a metric with a stable level. Very persistent day-to-day noise (AR(1) coefficient near 0.9)
    makes the interval too narrow, most with a short pre period (see
    :func:`lag_one_autocorrelation`); prefer eight or more weeks before the launch.

    Args:
        dates: one date per value (dates or ISO strings), distinct, any order.
        values: the daily metric, finite.
        launch: the first day with the launch (it belongs to the post period).
        alpha: the intervals are at ``1 - alpha``, in ``(0, 1)``.
        trend: fit a linear trend.
        autocorrelation: model day-to-day autocorrelation (``False``: independent days).
        metric: the metric's name for :meth:`PrePostEffect.summary`.

    Returns:
        The effect per day with its interval, and the daily forecast.

    Raises:
        ValidationError: lengths differ, a date repeats or does not parse, a value is NaN,
            fewer than 14 pre-launch days or no post-launch day, a weekday missing from the
            pre period, or ``alpha`` outside ``(0, 1)``.

    Example:
        >>> from datetime import date, timedelta
        >>> days = [date(2026, 6, 1) + timedelta(days=i) for i in range(21)]
        >>> values = [50.0 + (i * 7 % 5) for i in range(21)]
        >>> pre_post_effect(days, values, date(2026, 6, 15), trend=False).post_days
        7
    """
    alpha = check_alpha(alpha)
    y = np.asarray(values, dtype=float).reshape(-1)
    if len(dates) != len(y):
        raise ValidationError(f"dates and values differ in length: {len(dates)} != {len(y)}")
    if not np.isfinite(y).all():
        raise ValidationError("values must not hold NaN or infinite numbers")
    try:
        stamps = pd.to_datetime(pd.Series(list(dates), dtype=object)).dt.normalize()
        launch_stamp = pd.Timestamp(launch).normalize()
    except (ValueError, TypeError) as error:
        raise ValidationError(f"dates must be dates or ISO strings: {error}") from None
    if stamps.isna().any():
        raise ValidationError("dates must not be missing")
    if stamps.duplicated().any():
        raise ValidationError("dates must be distinct")

    order = np.argsort(stamps.to_numpy(), kind="stable")
    stamps, y = stamps.iloc[order].reset_index(drop=True), y[order]
    post = (stamps >= launch_stamp).to_numpy()
    pre_count, post_count = int((~post).sum()), int(post.sum())
    if pre_count < MIN_PRE_DAYS:
        raise ValidationError(
            f"the pre-launch period needs at least {MIN_PRE_DAYS} days, got {pre_count}"
        )
    if post_count == 0:
        raise ValidationError(f"no data on or after the launch date {launch_stamp.date()}")
    weekdays = stamps.dt.day_of_week.to_numpy()
    if len(set(weekdays[~post].tolist())) < 7:
        raise ValidationError("the pre-launch period must include every day of the week")

    day_index = ((stamps - stamps.iloc[0]).dt.days).to_numpy()
    x = design_matrix(day_index, weekdays, trend=trend)
    fit = sm.OLS(y[~post], x[~post]).fit()
    degrees_of_freedom = int(fit.df_resid)
    if degrees_of_freedom < 1:
        raise ValidationError("the pre-launch period is too short for the seasonal model")
    residual_variance = float(fit.scale)  # RSS / (n - k)
    phi = (
        lag_one_autocorrelation(fit.resid, day_index[~post], x.shape[1]) if autocorrelation else 0.0
    )

    x_post, y_post = x[post], y[post]
    forecast = x_post @ fit.params
    covariance = effect_covariance(
        x[~post], x_post, day_index[~post], day_index[post], residual_variance, phi
    )
    counterfactual_mean = float(forecast.mean())
    actual_mean = float(y_post.mean())
    se = math.sqrt(max(float(covariance.mean()), 0.0))
    effect = actual_mean - counterfactual_mean
    quantile = float(stats.t.ppf(1 - alpha / 2, degrees_of_freedom))
    p_value = float(2 * stats.t.sf(abs(effect) / se, degrees_of_freedom)) if se > 0 else 1.0
    # Split for the relative lift: the forecast mean's own variance (same AR(1) model), and
    # the rest (post-launch noise and its correlation with the forecast's error).
    forecast_loadings = x[~post] @ np.linalg.solve(x[~post].T @ x[~post], x_post.mean(axis=0))
    pre_days = day_index[~post].astype(float)
    forecast_variance = residual_variance * float(
        forecast_loadings
        @ (phi ** np.abs(pre_days[:, None] - pre_days[None, :]))
        @ forecast_loadings
    )
    noise_variance = max(se**2 - forecast_variance, 0.0)
    relative, relative_low, relative_high = relative_interval(
        counterfactual_mean, actual_mean, forecast_variance, noise_variance, quantile
    )
    band = quantile * np.sqrt(np.maximum(np.diag(covariance), 0.0))
    return PrePostEffect(
        metric=metric,
        alpha=alpha,
        launch=launch_stamp.date(),
        pre_days=pre_count,
        post_days=post_count,
        actual_mean=actual_mean,
        counterfactual_mean=counterfactual_mean,
        effect=effect,
        ci_low=effect - quantile * se,
        ci_high=effect + quantile * se,
        total_effect=effect * post_count,
        relative_lift=relative,
        relative_ci_low=relative_low,
        relative_ci_high=relative_high,
        standard_error=se,
        degrees_of_freedom=degrees_of_freedom,
        p_value=p_value,
        autocorrelation=phi,
        residual_sd=math.sqrt(residual_variance),
        dates=tuple(stamp.date() for stamp in stamps[post]),
        actual=tuple(float(value) for value in y_post),
        counterfactual=tuple(float(value) for value in forecast),
        forecast_low=tuple(float(value) for value in forecast - band),
        forecast_high=tuple(float(value) for value in forecast + band),
    )
