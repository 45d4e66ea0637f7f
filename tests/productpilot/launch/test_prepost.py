"""Specification of pre/post launch effects against a day-of-week + trend forecast."""

from __future__ import annotations

import doctest
import json
from datetime import date, timedelta

import numpy as np
import pytest
import statsmodels.api as sm

from productpilot.errors import ValidationError
from productpilot.launch import prepost as module
from productpilot.launch.prepost import design_matrix, lag_one_autocorrelation, pre_post_effect

START = date(2026, 3, 2)  # a Monday
WEEKLY = np.array([100.0, 104.0, 103.0, 101.0, 97.0, 70.0, 62.0])  # weekend dip


def daily_series(
    seed: int,
    *,
    lift: float,
    pre_days: int = 56,
    post_days: int = 28,
    slope: float = 0.3,
    phi: float = 0.4,
    noise_sd: float = 4.0,
    start: date = START,
) -> tuple[list[date], np.ndarray, date]:
    """A weekly pattern, a trend and AR(1) noise; ``lift`` added from the launch day on."""
    rng = np.random.default_rng(seed)
    n = pre_days + post_days
    days = [start + timedelta(days=i) for i in range(n)]
    shocks = rng.normal(0, noise_sd * np.sqrt(1 - phi**2), size=n)
    noise = np.zeros(n)
    noise[0] = rng.normal(0, noise_sd)
    for i in range(1, n):
        noise[i] = phi * noise[i - 1] + shocks[i]
    weekday = np.array([day.weekday() for day in days])
    values = WEEKLY[weekday] + slope * np.arange(n) + noise
    values[pre_days:] += lift
    return days, values, days[pre_days]


def test_recovers_an_injected_lift_inside_its_interval() -> None:
    days, values, launch = daily_series(0, lift=15.0)
    result = pre_post_effect(days, values, launch, metric="Daily signups")
    assert result.ci_low < 15.0 < result.ci_high
    assert result.ci_low > 0  # and tells it apart from no effect
    assert result.significant
    assert (result.pre_days, result.post_days, result.launch) == (56, 28, launch)
    assert result.effect == pytest.approx(result.actual_mean - result.counterfactual_mean)
    assert result.total_effect == pytest.approx(28 * result.effect)


def test_without_a_lift_the_interval_covers_zero() -> None:
    days, values, launch = daily_series(1, lift=0.0)
    result = pre_post_effect(days, values, launch)
    assert result.ci_low < 0 < result.ci_high
    assert not result.significant


@pytest.mark.parametrize("phi", [0.0, 0.6])
def test_intervals_cover_the_true_lift_95_percent_of_the_time(phi: float) -> None:
    covered = []
    for seed in range(150):
        result = pre_post_effect(*daily_series(seed, lift=5.0, phi=phi))
        covered.append(result.ci_low <= 5.0 <= result.ci_high)
    # 150 experiments: about +- 2.5 standard errors of 95%. (Newey-West HAC standard errors
    # covered 0.82 at phi = 0.5: too narrow.)
    assert 0.90 <= np.mean(covered) <= 0.99


def test_seasonality_keeps_a_weekend_launch_from_looking_like_a_drop() -> None:
    # Launch on a Saturday, look at the weekend only: the raw level falls by ~35 (weekdays to
    # the weekend dip) while the seasonal forecast knows weekends are low.
    days, values, _ = daily_series(2, lift=0.0, pre_days=54, post_days=2, phi=0.0)
    launch = days[54]
    assert launch.weekday() == 5
    result = pre_post_effect(days, values, launch)
    naive_change = values[54:].mean() - values[47:54].mean()
    assert naive_change < -15
    assert result.ci_low < 0 < result.ci_high
    assert result.counterfactual == pytest.approx(
        tuple(WEEKLY[5:7] + 0.3 * np.arange(54, 56)), abs=6.0
    )


def test_the_trend_is_carried_into_the_forecast() -> None:
    days, values, launch = daily_series(3, lift=0.0, slope=2.0, phi=0.0, noise_sd=1.0)
    with_trend = pre_post_effect(days, values, launch)
    flat = pre_post_effect(days, values, launch, trend=False)
    assert with_trend.ci_low < 0 < with_trend.ci_high
    # Without the trend the growth since the pre-period looks like a lift of ~2 * 42 days.
    assert flat.effect > 60


def test_daily_forecast_has_prediction_intervals_around_each_day() -> None:
    days, values, launch = daily_series(4, lift=0.0)
    result = pre_post_effect(days, values, launch, alpha=0.1)
    assert len(result.dates) == len(result.counterfactual) == len(result.forecast_low) == 28
    assert result.dates[0] == launch
    lows, highs = np.array(result.forecast_low), np.array(result.forecast_high)
    assert (lows < np.array(result.counterfactual)).all()
    assert (np.array(result.counterfactual) < highs).all()
    inside = (np.array(result.actual) >= lows) & (np.array(result.actual) <= highs)
    assert inside.mean() >= 0.75  # 90% bands on no lift


def test_relative_lift_is_against_the_counterfactual() -> None:
    days, values, launch = daily_series(5, lift=9.0)
    result = pre_post_effect(days, values, launch)
    assert result.relative_lift == pytest.approx(result.effect / result.counterfactual_mean)
    assert result.relative_ci_low < result.relative_lift < result.relative_ci_high


def test_order_gaps_and_iso_strings_are_accepted() -> None:
    days, values, launch = daily_series(6, lift=6.0)
    keep = [i for i in range(len(days)) if i not in (10, 11, 60)]  # two pre gaps, one post
    shuffled = list(reversed(keep))
    result = pre_post_effect(
        [days[i].isoformat() for i in shuffled], values[shuffled], launch.isoformat()
    )
    assert (result.pre_days, result.post_days) == (54, 27)
    assert list(result.dates) == sorted(result.dates)
    reference = pre_post_effect([days[i] for i in keep], values[keep], launch)
    assert result.effect == pytest.approx(reference.effect)


def test_autocorrelation_is_estimated_and_widens_the_interval() -> None:
    days, values, launch = daily_series(7, lift=0.0, phi=0.7)
    modelled = pre_post_effect(days, values, launch)
    independent = pre_post_effect(days, values, launch, autocorrelation=False)
    assert modelled.autocorrelation > 0.5  # 0.94: corrected upwards on purpose
    assert independent.autocorrelation == 0.0
    # Positive autocorrelation: ignoring it makes the interval too narrow.
    assert independent.standard_error < modelled.standard_error


def test_lag_one_autocorrelation_recovers_an_ar1_coefficient() -> None:
    rng = np.random.default_rng(0)
    noise = np.zeros(5000)
    for i in range(1, 5000):
        noise[i] = 0.6 * noise[i - 1] + rng.normal()
    assert lag_one_autocorrelation(noise, np.arange(5000), 1) == pytest.approx(0.6, abs=0.03)
    white = rng.normal(size=5000)
    assert lag_one_autocorrelation(white, np.arange(5000), 1) == pytest.approx(0.0, abs=0.03)
    assert lag_one_autocorrelation(-noise[::2] * noise[1::2], np.arange(0, 5000, 2), 1) == 0.0


def test_without_autocorrelation_the_variance_is_the_classical_ols_prediction() -> None:
    # phi = 0: Var(mean actual - mean forecast) = s^2 / m + Var(mean forecast), the latter
    # being statsmodels' standard error of the predicted mean at the post days' mean row.
    days, values, launch = daily_series(8, lift=0.0, phi=0.0)
    result = pre_post_effect(days, values, launch, autocorrelation=False)
    n_pre = result.pre_days
    weekday = np.array([day.weekday() for day in days])
    x = design_matrix(np.arange(len(days)), weekday, trend=True)
    fit = sm.OLS(values[:n_pre], x[:n_pre]).fit()
    mean_row = x[n_pre:].mean(axis=0, keepdims=True)
    forecast_se = fit.get_prediction(mean_row).se_mean[0]
    assert result.standard_error == pytest.approx(
        np.sqrt(fit.scale / result.post_days + forecast_se**2)
    )
    prediction = fit.get_prediction(x[n_pre:]).summary_frame(alpha=0.05)
    assert result.forecast_low == pytest.approx(tuple(prediction["obs_ci_lower"]))
    assert result.forecast_high == pytest.approx(tuple(prediction["obs_ci_upper"]))


def test_summary_and_strict_json() -> None:
    days, values, launch = daily_series(0, lift=8.0)
    result = pre_post_effect(days, values, launch, metric="Daily signups")
    assert result.summary().startswith("Daily signups +")
    assert result.summary().endswith(
        f"over 28 days from {launch.isoformat()} against the seasonal forecast"
    )
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["launch"] == launch.isoformat()
    assert len(data["daily"]) == 28
    assert data["daily"][0]["date"] == launch.isoformat()
    with pytest.raises(AttributeError):
        result.effect = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"values": [1.0, 2.0]}, "dates and values differ in length"),
        ({"nan": True}, "NaN"),
        ({"duplicate": True}, "dates must be distinct"),
        ({"dates": ["not a date"] * 84}, "dates must be dates or ISO strings"),
        ({"launch": START + timedelta(days=10)}, "at least 14 days, got 10"),
        ({"launch": START + timedelta(days=200)}, "no data on or after the launch date"),
        ({"alpha": 1.0}, "alpha must be in"),
        ({"no_sundays": True}, "must include every day of the week"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(change: dict, message: str) -> None:
    days, values, launch = daily_series(0, lift=0.0)
    dates: list = list(days)
    if change.get("nan"):
        values[3] = np.nan
    if change.get("duplicate"):
        dates[1] = dates[0]
    if change.get("no_sundays"):
        keep = [i for i, day in enumerate(days) if day.weekday() != 6]
        dates, values = [days[i] for i in keep], values[keep]
    kwargs = {k: v for k, v in change.items() if k == "alpha"}
    with pytest.raises(ValidationError, match=message):
        pre_post_effect(
            change.get("dates", dates),
            change.get("values", values),
            change.get("launch", launch),
            **kwargs,
        )


def test_doctests() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
