"""Trend of a metric series: Theil-Sen slope, Mann-Kendall test, week and month changes.

Example:
    >>> from datetime import date, timedelta
    >>> days = [date(2026, 8, 1) + timedelta(days=i) for i in range(10)]
    >>> result = trend(days, [float(i) for i in range(10)])
    >>> (result.direction, result.slope_per_day, result.mann_kendall_s)
    ('increasing', 1.0, 45)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from productpilot.analytics.activity import NAT_DAY, day_from_number, day_numbers, json_float

Direction = Literal["increasing", "decreasing", "no trend", "insufficient data"]
MIN_POINTS = 4


@dataclass(frozen=True, slots=True)
class MannKendall:
    """The Mann-Kendall test of a series (values in time order).

    Attributes:
        s: ``S = sum over i < j of sign(x_j - x_i)``.
        variance: variance of ``S`` under no trend, corrected for ties.
        z: normal score with continuity correction: ``(S - 1) / sd`` if ``S > 0``,
            ``(S + 1) / sd`` if ``S < 0``, else 0.
        p_value: two-sided p-value, ``2 * (1 - Phi(|z|))``.
        tau: Kendall's tau-a, ``S / (n (n - 1) / 2)``.
    """

    s: int
    variance: float
    z: float
    p_value: float
    tau: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "s": self.s,
            "variance": json_float(self.variance),
            "z": json_float(self.z),
            "p_value": json_float(self.p_value),
            "tau": json_float(self.tau),
        }


def mann_kendall(values: Sequence[float] | np.ndarray) -> MannKendall:
    """The Mann-Kendall trend test, with the tie-corrected variance.

    ``Var(S) = [n(n-1)(2n+5) - sum_t t(t-1)(2t+5)] / 18``, summed over groups of ``t`` equal
    values. Costs ``O(n^2)`` time and ``O(n)`` memory.

    Args:
        values: at least two values in time order, no NaN.

    Returns:
        S, its variance, z, the two-sided p-value and tau.

    Example:
        >>> mann_kendall([1.0, 2.0, 2.0, 3.0]).s  # 5 increasing pairs, 1 tie
        5
    """
    y = np.asarray(values, dtype=float)
    n = len(y)
    if n < 2:
        raise ValueError(f"the Mann-Kendall test needs at least 2 values, got {n}")
    s = 0
    for i in range(n - 1):
        s += int(np.sign(y[i + 1 :] - y[i]).sum())
    _, ties = np.unique(y, return_counts=True)
    ties = ties[ties > 1].astype(float)
    variance = (n * (n - 1) * (2 * n + 5) - float(np.sum(ties * (ties - 1) * (2 * ties + 5)))) / 18
    corrected = s - 1 if s > 0 else s + 1  # continuity correction towards 0
    z = corrected / math.sqrt(variance) if variance > 0 and s != 0 else 0.0
    p_value = float(2 * stats.norm.sf(abs(z)))
    return MannKendall(s, variance, z, p_value, s / (n * (n - 1) / 2))


@dataclass(frozen=True, slots=True)
class Trend:
    """The trend of a series.

    Attributes:
        direction: ``"increasing"`` / ``"decreasing"`` when the Mann-Kendall p-value is
            below ``alpha`` (by the sign of S), ``"no trend"`` otherwise,
            ``"insufficient data"`` with fewer than 4 points.
        n: points used (NaN values are left out).
        start: first date used (``None`` without points).
        end: last date used (``None`` without points).
        alpha: significance level of the test; the slope interval is at ``1 - alpha``.
        slope_per_day: Theil-Sen slope, value units per day.
        slope_low: lower bound of the slope's confidence interval.
        slope_high: upper bound of the slope's confidence interval.
        intercept: value of the Theil-Sen line at ``start``.
        mann_kendall_s: the S statistic.
        mann_kendall_variance: tie-corrected variance of S.
        z: continuity-corrected normal score.
        p_value: two-sided p-value.
        tau: Kendall's tau-a.
        week_over_week: sum of the last 7 days over the sum of the 7 before, minus 1.
        month_over_month: sum of the last 28 days over the sum of the 28 before, minus 1.
    """

    direction: Direction
    n: int
    start: date | None
    end: date | None
    alpha: float
    slope_per_day: float | None = None
    slope_low: float | None = None
    slope_high: float | None = None
    intercept: float | None = None
    mann_kendall_s: int | None = None
    mann_kendall_variance: float | None = None
    z: float | None = None
    p_value: float | None = None
    tau: float | None = None
    week_over_week: float | None = None
    month_over_month: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "n": self.n,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "alpha": self.alpha,
            "slope_per_day": json_float(self.slope_per_day),
            "slope_low": json_float(self.slope_low),
            "slope_high": json_float(self.slope_high),
            "intercept": json_float(self.intercept),
            "mann_kendall_s": self.mann_kendall_s,
            "mann_kendall_variance": json_float(self.mann_kendall_variance),
            "z": json_float(self.z),
            "p_value": json_float(self.p_value),
            "tau": json_float(self.tau),
            "week_over_week": json_float(self.week_over_week),
            "month_over_month": json_float(self.month_over_month),
        }


def period_change(days: np.ndarray, values: np.ndarray, length: int) -> float | None:
    """Sum of the last ``length`` days over the sum of the ``length`` days before, minus 1.

    Windows are calendar days ending on the last date: ``(last - length, last]`` and
    ``(last - 2 length, last - length]``. A date missing from the series adds nothing (count
    series are zero-filled); a NaN in either window makes the change unknown.

    Args:
        days: days since 1970-01-01, increasing.
        values: the values of those days (NaN allowed).
        length: window length in days.

    Returns:
        The relative change, or ``None`` when the series starts after the earlier window's
        first day, a window holds a NaN, or the earlier window sums to 0.
    """
    if len(days) == 0 or days[0] > days[-1] - (2 * length - 1):
        return None
    last = days[-1]
    recent = values[days > last - length]
    before = values[(days > last - 2 * length) & (days <= last - length)]
    if np.isnan(recent).any() or np.isnan(before).any():
        return None
    previous = float(before.sum())
    if previous == 0:
        return None
    return float(recent.sum()) / previous - 1


def trend(dates: Sequence[date], values: Sequence[float], *, alpha: float = 0.05) -> Trend:
    """Direction and size of the trend of a series.

    The slope is Theil-Sen (the median of pairwise slopes, with ``x`` in days, so gaps in
    the dates are respected) with its ``1 - alpha`` confidence interval
    (:func:`scipy.stats.theilslopes`). The direction is the Mann-Kendall test on the values
    in date order (:func:`mann_kendall`) at level ``alpha``. NaN values are left out of
    both. Week-over-week and month-over-month are computed by :func:`period_change` over 7
    and 28 days, independently of the number of points.

    Args:
        dates: one date per value (dates, datetimes or ISO strings; sorted here if needed).
        values: the values.
        alpha: significance level, in ``(0, 1)``.

    Returns:
        The trend; ``direction == "insufficient data"`` and no slope or test with fewer than
        4 non-NaN points.

    Raises:
        ValueError: lengths differ, a date repeats, or ``alpha`` is outside ``(0, 1)``.

    Example:
        >>> from datetime import date, timedelta
        >>> days = [date(2026, 8, 1) + timedelta(days=i) for i in range(14)]
        >>> result = trend(days, [10.0] * 7 + [12.0] * 7)
        >>> round(result.week_over_week, 2)
        0.2
        >>> trend(days[:3], [1.0, 2.0, 3.0]).direction
        'insufficient data'
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    y = np.asarray(values, dtype=float).reshape(-1)
    x = day_numbers(pd.Series(list(dates), dtype=object)) if len(dates) else np.zeros(0, int)
    if len(x) != len(y):
        raise ValueError(f"dates and values differ in length: {len(x)} != {len(y)}")
    if (x == NAT_DAY).any():
        raise ValueError("dates must not be missing")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if (np.diff(x) == 0).any():
        raise ValueError("dates must be distinct")

    changes = {
        "week_over_week": period_change(x, y, 7),
        "month_over_month": period_change(x, y, 28),
    }
    known = ~np.isnan(y)
    x, y = x[known], y[known]
    n = len(y)
    start = day_from_number(x[0]) if n else None
    end = day_from_number(x[-1]) if n else None
    if n < MIN_POINTS:
        return Trend("insufficient data", n, start, end, alpha, **changes)

    days = (x - x[0]).astype(float)
    slope, intercept, low, high = stats.theilslopes(y, days, alpha=1 - alpha)
    test = mann_kendall(y)
    direction: Direction = "no trend"
    if test.p_value < alpha:
        direction = "increasing" if test.s > 0 else "decreasing"
    return Trend(
        direction,
        n,
        start,
        end,
        alpha,
        slope_per_day=float(slope),
        slope_low=float(low),
        slope_high=float(high),
        intercept=float(intercept),
        mann_kendall_s=test.s,
        mann_kendall_variance=test.variance,
        z=test.z,
        p_value=test.p_value,
        tau=test.tau,
        **changes,
    )
