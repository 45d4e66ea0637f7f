"""Tests of productpilot.analytics.forecasts."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta

import numpy as np
import pytest

from productpilot.analytics.forecasts import forecast

START = date(2026, 1, 1)


def _days(n: int) -> list[date]:
    return [START + timedelta(days=i) for i in range(n)]


def _months(n: int, first: date = date(2024, 1, 1)) -> list[date]:
    return [
        date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
        for i in range(n)
    ]


def test_linear_series_is_extrapolated_within_interval() -> None:
    rng = np.random.default_rng(3)
    n, horizon = 60, 7
    values = 100 + 2.0 * np.arange(n + horizon) + rng.normal(0, 2.0, n + horizon)
    result = forecast(_days(n), values[:n], horizon=horizon, period="day")
    assert result.method == "ets"
    assert result.model.startswith("ETS(A,Ad")
    assert len(result.points) == horizon
    assert [p.day for p in result.points] == [START + timedelta(days=n + i) for i in range(horizon)]
    for point, actual in zip(result.points, values[n:], strict=True):
        assert point.lower <= actual <= point.upper
    means = [p.mean for p in result.points]
    assert all(b > a for a, b in itertools.pairwise(means))  # the trend is carried on


def test_interval_widens_with_horizon() -> None:
    rng = np.random.default_rng(5)
    values = 50 + np.cumsum(rng.normal(0.2, 2.0, 40))
    result = forecast(_days(40), values, horizon=14, period="day")
    widths = [p.upper - p.lower for p in result.points]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(widths))
    assert widths[-1] > widths[0]


def test_coverage_on_noisy_series() -> None:
    inside = 0
    seeds = range(20)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        values = 200 + 0.5 * np.arange(31) + rng.normal(0, 5.0, 31)
        result = forecast(_months(30), values[:30], horizon=1, period="month")
        point = result.points[0]
        inside += point.lower <= values[30] <= point.upper
    assert inside >= 15  # nominal 90%: 18 of 20 expected


def test_weekly_season_for_daily_data() -> None:
    rng = np.random.default_rng(1)
    n = 56
    season = np.tile([10.0, 10.0, 10.0, 10.0, 10.0, -20.0, -20.0], 9)
    values = 100 + season[: n + 7] + rng.normal(0, 1.0, n + 7)
    result = forecast(_days(n), values[:n], horizon=7, period="day")
    assert result.model == "ETS(A,Ad,A) season 7"
    errors = [abs(p.mean - a) for p, a in zip(result.points, values[n:], strict=True)]
    assert max(errors) < 6  # the weekend dip is forecast
    short = forecast(_days(14), values[:14], horizon=7, period="day")
    assert short.model == "ETS(A,Ad,N)"


def test_monthly_season_needs_two_years() -> None:
    rng = np.random.default_rng(0)
    values = 100 + 30 * np.sin(np.arange(48) * np.pi / 6) + np.arange(48) + rng.normal(0, 2, 48)
    yearly = forecast(_months(36), values[:36], horizon=12, period="month")
    assert yearly.model == "ETS(A,Ad,A) season 12"  # chosen over the non-seasonal by AICc
    errors = [abs(p.mean - a) for p, a in zip(yearly.points, values[36:], strict=True)]
    assert max(errors) < 10
    assert forecast(_months(23), values[:23], horizon=12, period="month").model == "ETS(A,Ad,N)"


def test_short_series_is_naive() -> None:
    result = forecast(_days(5), [1.0, 2.0, 3.0, 2.0, 3.0], horizon=3, period="day")
    assert result.method == "naive"
    assert result.model == "naive"
    assert [p.mean for p in result.points] == [3.0, 3.0, 3.0]
    spread = float(np.std(np.diff([1.0, 2.0, 3.0, 2.0, 3.0]), ddof=1))
    z = 1.6448536269514722
    assert result.points[0].upper == pytest.approx(3.0 + z * spread)
    assert result.points[2].upper == pytest.approx(3.0 + z * spread * np.sqrt(3))
    assert result.points[0].lower == pytest.approx(max(3.0 - z * spread, 0.0))


def test_non_negative_series_never_forecast_negative() -> None:
    values = [50.0, 40.0, 30.0, 20.0, 12.0, 6.0, 3.0, 1.0, 0.5, 0.0, 0.0]
    result = forecast(_days(len(values)), values, horizon=20, period="day")
    assert all(p.lower >= 0 and p.mean >= 0 and p.upper >= 0 for p in result.points)
    signed = forecast(_days(len(values)), [v - 10 for v in values], horizon=20, period="day")
    assert min(p.lower for p in signed.points) < 0


def test_deterministic_and_json_safe() -> None:
    rng = np.random.default_rng(9)
    values = 10 + rng.normal(0, 1, 30)
    first = forecast(_days(30), values, horizon=5, period="day").to_dict()
    assert first == forecast(_days(30), values, horizon=5, period="day").to_dict()
    assert json.loads(json.dumps(first)) == first
    assert set(first) == {"method", "model", "period", "interval", "n", "points"}
    assert set(first["points"][0]) == {"date", "mean", "lower", "upper"}


def test_weekly_and_monthly_dates_and_gaps() -> None:
    weeks = [date(2026, 1, 7) + timedelta(weeks=i) for i in range(10) if i != 4]  # Wednesdays
    result = forecast(weeks, [float(i) for i in range(9)], horizon=2, period="week")
    assert result.n == 10  # the missing week is interpolated
    assert [p.day for p in result.points] == [date(2026, 3, 16), date(2026, 3, 23)]
    months = forecast(_months(3, date(2025, 11, 1)), [1.0, 2.0, 3.0], horizon=2, period="month")
    assert [p.day for p in months.points] == [date(2026, 2, 1), date(2026, 3, 1)]


def test_edge_cases() -> None:
    assert forecast([], [], horizon=3, period="day").points == ()
    assert forecast(_days(3), [1.0, 2.0, 3.0], horizon=0, period="day").points == ()
    constant = forecast(_days(20), [5.0] * 20, horizon=3, period="day")
    assert constant.method == "naive"
    assert [(p.mean, p.lower, p.upper) for p in constant.points] == [(5.0, 5.0, 5.0)] * 3
    with pytest.raises(ValueError, match="horizon must be"):
        forecast(_days(3), [1.0, 2.0, 3.0], horizon=-1, period="day")
    with pytest.raises(ValueError, match="period must be"):
        forecast(_days(3), [1.0, 2.0, 3.0], horizon=1, period="year")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interval must be"):
        forecast(_days(3), [1.0, 2.0, 3.0], horizon=1, period="day", interval=1.0)
    with pytest.raises(ValueError, match="distinct"):
        forecast([START, START], [1.0, 2.0], horizon=1, period="day")
