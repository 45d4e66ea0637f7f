"""Specification of series trends: Theil-Sen slope, Mann-Kendall test, WoW and MoM changes."""

from __future__ import annotations

import doctest
import json
import math
from collections import Counter
from datetime import date, timedelta

import numpy as np
import pytest
from scipy import stats

from productpilot.analytics import trends as module
from productpilot.analytics.trends import Trend, mann_kendall, period_change, trend
from productpilot.synthetic import SyntheticConfig, generate

START = date(2026, 8, 1)


def days(n: int, start: date = START) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


# --- Mann-Kendall ------------------------------------------------------------------------------


def test_mann_kendall_with_ties_worked_by_hand() -> None:
    # Pairs of [1, 3, 2, 2, 5]: from 1: + + + +; from 3: - - +; from 2: 0 +; from 2: +.
    # S = 7 - 2 = 5. Var = [5*4*15 - 2*1*9 (one pair of tied 2s)] / 18 = 282 / 18.
    test = mann_kendall([1, 3, 2, 2, 5])
    assert test.s == 5
    assert test.variance == pytest.approx(282 / 18)
    assert test.z == pytest.approx((5 - 1) / math.sqrt(282 / 18))  # continuity correction
    assert test.p_value == pytest.approx(2 * stats.norm.sf((5 - 1) / math.sqrt(282 / 18)))
    assert test.tau == pytest.approx(5 / 10)
    assert json.loads(json.dumps(test.to_dict(), allow_nan=False))["s"] == 5


def test_mann_kendall_decreasing_and_constant() -> None:
    falling = mann_kendall([4, 3, 2, 1])
    assert (falling.s, falling.variance) == (-6, 4 * 3 * 13 / 18)
    assert falling.z == pytest.approx((-6 + 1) / math.sqrt(4 * 3 * 13 / 18))
    flat = mann_kendall([2, 2, 2, 2])  # every pair tied: variance 0, no evidence at all
    assert (flat.s, flat.variance, flat.z, flat.p_value) == (0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="at least 2"):
        mann_kendall([1.0])


@pytest.mark.parametrize("seed", range(5))
def test_mann_kendall_agrees_with_scipy_kendalltau(seed: int) -> None:
    # With time as x (no ties), Kendall's tau-b of (time, y) is S / sqrt(n0 (n0 - n_ties_y))
    # and scipy's asymptotic p-value is ours without the continuity correction.
    rng = np.random.default_rng(seed)
    y = np.round(rng.normal(size=40) + np.linspace(0, seed / 2, 40), 1)  # rounding: ties
    test = mann_kendall(y)
    reference = stats.kendalltau(np.arange(40), y, method="asymptotic")
    n0 = 40 * 39 / 2
    tied = sum(t * (t - 1) / 2 for t in Counter(y.tolist()).values())
    assert tied > 0
    assert test.s == round(reference.statistic * math.sqrt(n0 * (n0 - tied)))
    uncorrected = 2 * stats.norm.sf(abs(test.s) / math.sqrt(test.variance))
    assert uncorrected == pytest.approx(reference.pvalue)
    assert test.p_value >= reference.pvalue  # the correction is conservative


# --- trend ---------------------------------------------------------------------------------------


def test_a_straight_line() -> None:
    result = trend(days(10), [2.0 * i + 1 for i in range(10)])
    assert result.direction == "increasing"
    assert result.slope_per_day == 2.0
    assert result.slope_low == result.slope_high == 2.0
    assert result.intercept == 1.0  # value on the line at the first date
    assert result.mann_kendall_s == 45  # all 10 * 9 / 2 pairs increase
    assert result.tau == 1.0
    assert (result.n, result.start, result.end) == (10, START, START + timedelta(days=9))


def test_slope_is_per_day_even_with_gaps() -> None:
    dates = [START + timedelta(days=2 * i) for i in range(6)]  # every other day
    result = trend(dates, [3.0 * i for i in range(6)])  # +3 per point = +1.5 per day
    assert result.slope_per_day == 1.5


def test_a_strictly_decreasing_series() -> None:
    result = trend(days(8), [float(100 - i * i) for i in range(8)])
    assert result.direction == "decreasing"
    assert result.slope_per_day is not None
    assert result.slope_per_day < 0
    assert result.mann_kendall_s == -28


@pytest.mark.parametrize("seed", range(10))
def test_strictly_increasing_series_are_increasing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.cumsum(rng.uniform(0.01, 5, 20))
    result = trend(days(20), values.tolist())
    assert result.direction == "increasing"
    assert result.slope_low is not None
    assert result.slope_low > 0
    assert result.slope_low <= result.slope_per_day <= result.slope_high  # type: ignore[operator]


def test_flat_noisy_series_show_no_trend_most_of_the_time() -> None:
    # Under no trend the test rejects with probability about alpha (a little less with the
    # continuity correction): 400 fixed seeds, 60 daily points each.
    rejected = 0
    for seed in range(400):
        values = np.random.default_rng(seed).normal(100, 10, 60)
        result = trend(days(60), values.tolist())
        rejected += result.direction != "no trend"
        assert result.slope_low <= 0 <= result.slope_high or result.direction != "no trend"  # type: ignore[operator]
    assert 0.01 < rejected / 400 < 0.09


def test_alpha_decides_the_direction() -> None:
    values = [10.0, 12, 11, 13, 12, 14, 13, 12]
    loose, strict = trend(days(8), values, alpha=0.2), trend(days(8), values, alpha=0.01)
    assert loose.p_value == strict.p_value
    assert loose.p_value is not None
    assert 0.01 < loose.p_value < 0.2
    assert (loose.direction, strict.direction) == ("increasing", "no trend")
    # A smaller alpha means a wider slope interval.
    assert strict.slope_low < loose.slope_low <= loose.slope_high < strict.slope_high  # type: ignore[operator]


def test_a_constant_series_has_no_trend() -> None:
    result = trend(days(10), [5.0] * 10)
    assert result.direction == "no trend"
    assert (result.slope_per_day, result.mann_kendall_s, result.p_value) == (0.0, 0, 1.0)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_fewer_than_four_points_is_insufficient(n: int) -> None:
    result = trend(days(n), [float(i) for i in range(n)])
    assert result.direction == "insufficient data"
    assert result.n == n
    assert result.slope_per_day is None
    assert result.p_value is None
    assert result.to_dict()["slope_per_day"] is None


def test_four_points_are_enough() -> None:
    assert trend(days(4), [1.0, 2.0, 3.0, 4.0]).direction != "insufficient data"


def test_nan_values_are_left_out() -> None:
    result = trend(days(5), [1.0, math.nan, 2.0, math.nan, 3.0])
    assert (result.direction, result.n) == ("insufficient data", 3)
    with_nan = trend(days(6), [1.0, 2.0, math.nan, 4.0, 5.0, 6.0])
    assert with_nan.n == 5
    assert with_nan.slope_per_day == 1.0  # the line through the known points


def test_dates_are_sorted_and_must_be_distinct() -> None:
    dates, values = days(6), [1.0, 3.0, 2.0, 5.0, 4.0, 6.0]
    shuffled = [5, 0, 3, 1, 4, 2]
    assert trend([dates[i] for i in shuffled], [values[i] for i in shuffled]) == trend(
        dates, values
    )
    with pytest.raises(ValueError, match="distinct"):
        trend([START] * 4, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="length"):
        trend(days(4), [1.0, 2.0])
    with pytest.raises(ValueError, match="alpha"):
        trend(days(4), [1.0, 2.0, 3.0, 4.0], alpha=1.5)


# --- week over week, month over month -----------------------------------------------------------


def test_week_over_week() -> None:
    # Previous 7 days sum to 70, the last 7 to 84: +20%.
    result = trend(days(14), [10.0] * 7 + [12.0] * 7)
    assert result.week_over_week == pytest.approx(0.2)
    assert result.month_over_month is None  # 14 days cannot hold two 28-day windows
    # Only the last 14 days matter.
    longer = trend(days(20), [99.0] * 6 + [10.0] * 7 + [12.0] * 7)
    assert longer.week_over_week == pytest.approx(0.2)


def test_week_over_week_needs_14_days_and_a_non_zero_week() -> None:
    assert trend(days(13), [10.0] * 13).week_over_week is None
    assert trend(days(14), [0.0] * 7 + [5.0] * 7).week_over_week is None
    assert trend(days(14), [5.0] * 7 + [0.0] * 7).week_over_week == -1.0


def test_week_over_week_uses_calendar_days() -> None:
    # Daily points with Aug 10 missing (nothing happened) and one NaN (unknown).
    dates = [d for d in days(14) if d != date(2026, 8, 10)]
    values = [1.0] * 13
    # Last 7 days Aug 8-14: 6 points present = 6; previous 7 days Aug 1-7: 7.
    assert trend(dates, values).week_over_week == pytest.approx(6 / 7 - 1)
    values[2] = math.nan
    assert trend(dates, values).week_over_week is None


def test_month_over_month() -> None:
    values = [1.0] * 28 + [1.5] * 28
    result = trend(days(56), values)
    assert result.month_over_month == pytest.approx(0.5)
    assert result.week_over_week == 0.0
    assert trend(days(55), values[1:]).month_over_month is None


def test_period_change_directly() -> None:
    x = np.arange(10, 24)
    assert period_change(x, np.ones(14), 7) == 0.0
    assert period_change(x[1:], np.ones(13), 7) is None
    assert period_change(np.zeros(0, int), np.zeros(0), 7) is None


def test_to_dict_is_json() -> None:
    result = trend(days(14), [10.0] * 7 + [12.0] * 7)
    document = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert document["direction"] == "increasing"
    assert document["start"] == "2026-08-01"
    assert document["end"] == "2026-08-14"
    assert document["week_over_week"] == pytest.approx(0.2)
    assert document["month_over_month"] is None
    assert set(document) == {
        "direction", "n", "start", "end", "alpha", "slope_per_day", "slope_low", "slope_high",
        "intercept", "mann_kendall_s", "mann_kendall_variance", "z", "p_value", "tau",
        "week_over_week", "month_over_month",
    }  # fmt: skip
    assert all(isinstance(v, (str, int, float, type(None))) for v in document.values())
    empty = trend([], []).to_dict()
    assert empty["start"] is None
    assert empty["direction"] == "insufficient data"


# --- on synthetic data ---------------------------------------------------------------------------


def test_growth_shows_as_an_increasing_trend_of_daily_signups() -> None:
    # growth=3.0 (the default) triples expected daily signups over the period. With
    # users=500 and days=63 the trend was "increasing" for all of seeds 0-99 (largest p-value
    # 1.6e-4, slope interval always above 0); 60 users over 35 days ("tiny") was only 19 of 30.
    config = SyntheticConfig(seed=1, users=500, days=63)
    signups = Counter(
        e["timestamp"][:10] for e in generate(config).events() if e["event"] == "signup"
    )
    dates = days(config.days, config.start)
    result = trend(dates, [float(signups.get(d.isoformat(), 0)) for d in dates])
    assert isinstance(result, Trend)
    assert result.direction == "increasing"
    assert result.slope_low is not None
    assert result.slope_low > 0
    # 500 signups over 63 days growing 3x: about 4 a day at first, 12 at the end, so about
    # 8 / 63 = 0.13 more per day.
    assert 0.05 < result.slope_per_day < 0.3  # type: ignore[operator]
    assert result.month_over_month is not None
    assert result.month_over_month > 0


def test_docstring_examples_run() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
