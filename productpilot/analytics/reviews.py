"""Strategic reviews of KPIs: monthly performance review, quarterly assessment, annual plan.

Pure functions over daily metric series (one value per UTC day, as ``(dates, values)``):

- :func:`monthly_review`: each KPI's month mean against the previous month and its target,
  with the segments that drove the change;
- :func:`quarterly_assessment`: quarter over quarter, goal attainment and a next-quarter
  forecast with prediction intervals;
- :func:`annual_plan`: a 12-month forecast of each metric's monthly mean, with intervals.

Periods are calendar months and quarters (January, April, July, October); a period is named
by its first day. Means are over the days that have a value (NaN and missing days are left
out), so a partial month is the mean of its observed days.

Example:
    >>> from datetime import date, timedelta
    >>> from productpilot.products.configuration import KPI
    >>> days = [date(2026, 7, 1) + timedelta(days=i) for i in range(62)]
    >>> values = [10.0] * 31 + [12.0] * 31
    >>> kpi = KPI(name="signups", metric="signups", target=11.0)
    >>> review = monthly_review([kpi], {"signups": (days, values)}, month=date(2026, 8, 1))
    >>> row = review.kpis[0]
    >>> (row.current, row.previous, row.change, row.attained)
    (12.0, 10.0, 2.0, True)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from productpilot.analytics.activity import (
    NAT_DAY,
    day_number,
    day_numbers,
    json_float,
    period_first_day,
    period_index,
)
from productpilot.analytics.forecasts import Forecast, ForecastPoint, forecast

SeriesInput = tuple[Sequence[date], Sequence[float]]
"""A daily series: ``(dates, values)``, one value per date."""


class KPILike(Protocol):
    """What the reviews read from a KPI definition (``products.configuration.KPI``)."""

    @property
    def name(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def target(self) -> float | None: ...
    @property
    def direction(self) -> Literal["increase", "decrease"]: ...


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


# --------------------------------------------------------------------------------------------
# Series helpers


def _daily(series: SeriesInput | None) -> pd.Series:
    """A float series indexed by day number, NaN and missing dates dropped."""
    if series is None:
        return pd.Series(dtype=float)
    dates, values = series
    days = day_numbers(list(dates))
    y = np.asarray(values, dtype=float)
    if len(days) != len(y):
        raise ValueError(f"{len(days)} dates but {len(y)} values")
    keep = (days != NAT_DAY) & ~np.isnan(y)
    return pd.Series(y[keep], index=days[keep]).sort_index()


def _month(day: date) -> int:
    return int(period_index(day_number(day), "month"))


def _month_days(first_month: int, months: int) -> tuple[int, int]:
    """Day numbers ``[first, last]`` of ``months`` calendar months from ``first_month``."""
    first = day_number(period_first_day(first_month, "month"))
    last = day_number(period_first_day(first_month + months, "month")) - 1
    return first, last


def _window(daily: pd.Series, first: int, last: int) -> pd.Series:
    return daily[(daily.index >= first) & (daily.index <= last)]


def _mean(values: pd.Series) -> float | None:
    return float(values.mean()) if len(values) else None


def _change(current: float | None, previous: float | None) -> tuple[float | None, float | None]:
    if current is None or previous is None:
        return None, None
    change = current - previous
    return change, (change / previous if previous != 0 else None)


def _meets(value: float, target: float, direction: str) -> bool:
    return value <= target if direction == "decrease" else value >= target


def _target(kpi: KPILike, value: float | None) -> tuple[bool | None, float | None]:
    """``(attained, gap)``; the gap is positive while short of the target."""
    if kpi.target is None or value is None:
        return None, None
    gap = value - kpi.target if kpi.direction == "decrease" else kpi.target - value
    return _meets(value, kpi.target, kpi.direction), gap


def _monthly_means(daily: pd.Series, last_day: int) -> tuple[list[date], list[float]]:
    """Monthly means of the days up to ``last_day`` (months without a value are left out)."""
    kept = daily[daily.index <= last_day]
    if kept.empty:
        return [], []
    months = period_index(kept.index.to_numpy(), "month")
    means = kept.groupby(months).mean()
    return [period_first_day(int(m), "month") for m in means.index], [float(v) for v in means]


def _monthly_forecast(daily: pd.Series, first_month: int, months: int, interval: float) -> Forecast:
    """Forecast of the monthly means of ``months`` months from ``first_month``, fitted on
    the months before it (the horizon reaches over any months missing at the end)."""
    last_day = day_number(period_first_day(first_month, "month")) - 1
    dates, values = _monthly_means(daily, last_day)
    if not dates:
        return forecast([], [], horizon=months, period="month", interval=interval)
    horizon = first_month + months - 1 - _month(dates[-1])
    result = forecast(dates, values, horizon=horizon, period="month", interval=interval)
    points = tuple(p for p in result.points if _month(p.day) >= first_month)
    return Forecast(result.method, result.model, "month", interval, result.n, points)


# --------------------------------------------------------------------------------------------
# Monthly review


@dataclass(frozen=True, slots=True)
class Driver:
    """One segment's part in a metric's month-over-month change.

    Attributes:
        segment: the segment (e.g. ``"ios"``).
        previous: the segment's mean over the previous month (``None`` without data).
        current: the segment's mean over the month.
        change: ``current - previous`` (a missing month counts as 0 for additive metrics).
        effect: the segment's effect on the total: ``change`` for additive metrics,
            ``weight * change`` for ratio metrics.
        contribution: ``effect / sum of effects`` (``None`` when the effects sum to 0).
        weight: the segment's share used for ratio metrics (``None`` for additive ones).
    """

    segment: str
    previous: float | None
    current: float | None
    change: float | None
    effect: float
    contribution: float | None
    weight: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "previous": json_float(self.previous),
            "current": json_float(self.current),
            "change": json_float(self.change),
            "effect": json_float(self.effect),
            "contribution": json_float(self.contribution),
            "weight": json_float(self.weight),
        }


@dataclass(frozen=True, slots=True)
class KPIComparison:
    """A KPI over a period against the period before and against its target.

    Attributes:
        name: the KPI's name.
        metric: the metric it tracks.
        target: its target (``None`` if it has none).
        direction: ``"increase"`` or ``"decrease"`` (which side of the target is good).
        current: mean daily value over the period (``None`` without data).
        previous: mean daily value over the period before.
        change: ``current - previous``.
        relative_change: ``change / previous`` (``None`` when ``previous`` is 0 or missing).
        attained: whether ``current`` meets the target (``None`` without target or data).
        gap: distance still to go: ``target - current`` for ``increase``,
            ``current - target`` for ``decrease``; ``<= 0`` when attained.
        days: days with a value in the period.
    """

    name: str
    metric: str
    target: float | None
    direction: str
    current: float | None
    previous: float | None
    change: float | None
    relative_change: float | None
    attained: bool | None
    gap: float | None
    days: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metric": self.metric,
            "target": json_float(self.target),
            "direction": self.direction,
            "current": json_float(self.current),
            "previous": json_float(self.previous),
            "change": json_float(self.change),
            "relative_change": json_float(self.relative_change),
            "attained": self.attained,
            "gap": json_float(self.gap),
            "days": self.days,
        }


def _compare(
    kpi: KPILike, daily: pd.Series, now: tuple[int, int], before: tuple[int, int]
) -> tuple[pd.Series, tuple[Any, ...]]:
    """The KPI's values in ``now`` and its :class:`KPIComparison` fields, in field order."""
    this = _window(daily, *now)
    current, previous = _mean(this), _mean(_window(daily, *before))
    change, relative = _change(current, previous)
    attained, gap = _target(kpi, current)
    fields = (kpi.name, kpi.metric, kpi.target, kpi.direction, current, previous, change)
    return this, (*fields, relative, attained, gap, len(this))


@dataclass(frozen=True, slots=True)
class KPIReview(KPIComparison):
    """A KPI over one month (see :class:`KPIComparison`), with what drove its change.

    Attributes:
        drivers: segments ranked by contribution to the change (empty without breakdown).
    """

    drivers: tuple[Driver, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        # Explicit base call: zero-argument super() does not work in slotted dataclasses.
        return KPIComparison.to_dict(self) | {
            "drivers": [driver.to_dict() for driver in self.drivers]
        }


@dataclass(frozen=True, slots=True)
class MonthlyReview:
    """The monthly performance review.

    Attributes:
        month: first day of the reviewed month.
        previous_month: first day of the month it is compared with.
        kpis: one review per KPI, in the given order.
    """

    month: date
    previous_month: date
    kpis: tuple[KPIReview, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month.isoformat(),
            "previous_month": self.previous_month.isoformat(),
            "kpis": [kpi.to_dict() for kpi in self.kpis],
        }


def drivers(
    segments: Mapping[str, SeriesInput],
    *,
    month: date,
    ratio: bool = False,
    weights: Mapping[str, SeriesInput] | None = None,
) -> tuple[Driver, ...]:
    """Rank segments by their contribution to a metric's month-over-month change.

    Additive metrics (counts, sums: the total is the sum of the segments): a segment's effect
    is its change in monthly mean (a month without data counts as 0), and its contribution
    ``effect / total change``, the total change being the sum of the effects (equal to the
    metric's change when the segments partition it). Ratio metrics (rates, averages,
    percentiles, NPS; ``ratio=True``) are approximate: the effect is the change in the
    segment's value weighted by its share, ``weight * change``, where the share is the
    segment's part of ``weights`` (e.g. per-segment active users, averaged over both months)
    or equal shares without them; mix shifts between segments are not attributed. Segments
    without data in either month get no change and no effect for ratio metrics.

    Ranked by contribution, descending (segments pushing against the change come last);
    when the effects cancel out, by ``|effect|``.

    Args:
        segments: segment name -> daily series of the metric in that segment.
        month: any day of the month reviewed (compared with the month before).
        ratio: whether the metric is a ratio (non-additive).
        weights: segment name -> daily series of the segment's weight (ratio metrics only).

    Returns:
        The segments, most contributing first.

    Example:
        >>> from datetime import date
        >>> days = [date(2026, 7, 1), date(2026, 8, 1)]
        >>> ranked = drivers({"ios": (days, [5.0, 9.0]), "web": (days, [5.0, 6.0])},
        ...                  month=date(2026, 8, 1))
        >>> [(d.segment, d.contribution) for d in ranked]
        [('ios', 0.8), ('web', 0.2)]
    """
    current_month = _month(month)
    now = _month_days(current_month, 1)
    before = _month_days(current_month - 1, 1)
    rows: list[tuple[str, float | None, float | None, float | None, float | None]] = []
    shares: dict[str, float] = {}
    for name, series in segments.items():
        daily = _daily(series)
        current, previous = _mean(_window(daily, *now)), _mean(_window(daily, *before))
        if ratio:
            change, _ = _change(current, previous)
            if weights is not None:
                both = _window(_daily(weights.get(name)), before[0], now[1])
                shares[name] = float(both.mean()) if len(both) else 0.0
            else:
                shares[name] = 1.0
        else:
            change = (current or 0.0) - (previous or 0.0)
        rows.append((name, previous, current, change, None))
    total_weight = sum(shares.values())
    effects: list[tuple[str, float | None, float | None, float | None, float, float | None]] = []
    for name, previous, current, change, _ in rows:
        weight = shares[name] / total_weight if ratio and total_weight > 0 else None
        if ratio:
            effect = (weight or 0.0) * change if change is not None else 0.0
        else:
            effect = change or 0.0
        effects.append((name, previous, current, change, effect, weight))
    total = sum(e[4] for e in effects)
    result = [
        Driver(name, previous, current, change, effect, effect / total if total else None, weight)
        for name, previous, current, change, effect, weight in effects
    ]
    if total:
        result.sort(key=lambda d: (-(d.contribution or 0.0), d.segment))
    else:
        result.sort(key=lambda d: (-abs(d.effect), d.segment))
    return tuple(result)


def monthly_review(
    kpis: Sequence[KPILike],
    series: Mapping[str, SeriesInput],
    *,
    month: date,
    breakdowns: Mapping[str, Mapping[str, SeriesInput]] | None = None,
    ratio_metrics: Collection[str] = (),
    weights: Mapping[str, Mapping[str, SeriesInput]] | None = None,
) -> MonthlyReview:
    """Each KPI's month against the previous month and its target, with the change's drivers.

    Args:
        kpis: KPI definitions (``name``, ``metric``, ``target``, ``direction``).
        series: metric name -> daily ``(dates, values)``; a KPI whose metric is missing gets
            ``None`` values.
        month: any day of the month to review.
        breakdowns: metric name -> segment -> daily series of the metric in that segment
            (e.g. per platform); see :func:`drivers`.
        ratio_metrics: metrics that are not additive over segments (ratios, averages,
            percentiles, NPS): their drivers are approximate.
        weights: metric name -> segment -> daily weight series for ratio metrics' drivers.

    Returns:
        The review, one row per KPI in the given order.

    Example:
        >>> from datetime import date
        >>> from productpilot.products.configuration import KPI
        >>> kpi = KPI(name="errors", metric="error_rate", target=0.02, direction="decrease")
        >>> days = [date(2026, 7, 15), date(2026, 8, 15)]
        >>> row = monthly_review([kpi], {"error_rate": (days, [0.01, 0.03])},
        ...                      month=date(2026, 8, 1)).kpis[0]
        >>> (row.attained, round(row.gap, 3), round(row.relative_change, 3))
        (False, 0.01, 2.0)
    """
    current_month = _month(month)
    now = _month_days(current_month, 1)
    before = _month_days(current_month - 1, 1)
    rows = []
    for kpi in kpis:
        _this, compared = _compare(kpi, _daily(series.get(kpi.metric)), now, before)
        segments = (breakdowns or {}).get(kpi.metric)
        ranked = (
            drivers(
                segments,
                month=month,
                ratio=kpi.metric in ratio_metrics,
                weights=(weights or {}).get(kpi.metric),
            )
            if segments
            else ()
        )
        rows.append(KPIReview(*compared, ranked))
    return MonthlyReview(
        period_first_day(current_month, "month"),
        period_first_day(current_month - 1, "month"),
        tuple(rows),
    )


# --------------------------------------------------------------------------------------------
# Quarterly assessment


@dataclass(frozen=True, slots=True)
class KPIQuarter(KPIComparison):
    """A KPI over one quarter (see :class:`KPIComparison`), with the next quarter's forecast.

    Attributes:
        days_meeting_target: share of those days whose value meets the target.
        forecast: monthly-mean forecast of the next quarter's three months.
        next_mean: mean of the three forecast means (``None`` without forecast).
        next_lower: mean of their lower bounds (a conservative interval for the quarter's
            mean: it treats the months' errors as perfectly correlated).
        next_upper: mean of their upper bounds.
        next_attained: whether ``next_mean`` meets the target.
    """

    days_meeting_target: float | None
    forecast: Forecast
    next_mean: float | None
    next_lower: float | None
    next_upper: float | None
    next_attained: bool | None

    def to_dict(self) -> dict[str, Any]:
        return KPIComparison.to_dict(self) | {
            "days_meeting_target": json_float(self.days_meeting_target),
            "forecast": self.forecast.to_dict(),
            "next_mean": json_float(self.next_mean),
            "next_lower": json_float(self.next_lower),
            "next_upper": json_float(self.next_upper),
            "next_attained": self.next_attained,
        }


@dataclass(frozen=True, slots=True)
class QuarterlyAssessment:
    """The quarterly strategic assessment.

    Attributes:
        quarter: first day of the assessed quarter.
        previous_quarter: first day of the quarter before.
        next_quarter: first day of the forecast quarter.
        interval: nominal coverage of the forecast intervals.
        kpis: one row per KPI, in the given order.
    """

    quarter: date
    previous_quarter: date
    next_quarter: date
    interval: float
    kpis: tuple[KPIQuarter, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "quarter": self.quarter.isoformat(),
            "previous_quarter": self.previous_quarter.isoformat(),
            "next_quarter": self.next_quarter.isoformat(),
            "interval": self.interval,
            "kpis": [kpi.to_dict() for kpi in self.kpis],
        }


def _mean_of(points: Sequence[ForecastPoint], field: str) -> float | None:
    return float(np.mean([getattr(p, field) for p in points])) if points else None


def quarterly_assessment(
    kpis: Sequence[KPILike],
    series: Mapping[str, SeriesInput],
    *,
    quarter_start: date,
    interval: float = 0.9,
) -> QuarterlyAssessment:
    """Quarter over quarter, goal attainment and next-quarter forecast for each KPI.

    The quarter is the calendar quarter containing ``quarter_start``. Goal attainment is both
    the share of the quarter's days meeting the target and whether the quarter's mean does.
    The forecast is :func:`~productpilot.analytics.forecasts.forecast` over the monthly means
    up to the quarter's end (data after it is ignored), for the next quarter's three months.

    Args:
        kpis: KPI definitions (``name``, ``metric``, ``target``, ``direction``).
        series: metric name -> daily ``(dates, values)``.
        quarter_start: any day of the quarter to assess.
        interval: nominal coverage of the prediction intervals.

    Returns:
        The assessment, one row per KPI in the given order.

    Example:
        >>> from datetime import date, timedelta
        >>> from productpilot.products.configuration import KPI
        >>> days = [date(2026, 4, 1) + timedelta(days=i) for i in range(183)]
        >>> values = [10.0 if d < date(2026, 7, 1) else 12.0 for d in days]
        >>> kpi = KPI(name="signups", metric="signups", target=11.0)
        >>> result = quarterly_assessment([kpi], {"signups": (days, values)},
        ...                               quarter_start=date(2026, 7, 1))
        >>> row = result.kpis[0]
        >>> (row.current, row.previous, row.days_meeting_target, result.next_quarter)
        (12.0, 10.0, 1.0, datetime.date(2026, 10, 1))
    """
    month = _month(quarter_start)
    first_month = month - (month % 12) % 3  # January, April, July, October
    now = _month_days(first_month, 3)
    before = _month_days(first_month - 3, 3)
    rows = []
    for kpi in kpis:
        daily = _daily(series.get(kpi.metric))
        this, compared = _compare(kpi, daily, now, before)
        meeting = None
        if kpi.target is not None and len(this):
            target, direction = kpi.target, kpi.direction
            meeting = float(np.mean([_meets(v, target, direction) for v in this.to_numpy()]))
        predicted = _monthly_forecast(
            _window(daily, -(2**62), now[1]), first_month + 3, 3, interval
        )
        next_mean = _mean_of(predicted.points, "mean")
        next_attained = _target(kpi, next_mean)[0]
        rows.append(
            KPIQuarter(
                *compared,
                meeting,
                predicted,
                next_mean,
                _mean_of(predicted.points, "lower"),
                _mean_of(predicted.points, "upper"),
                next_attained,
            )
        )
    return QuarterlyAssessment(
        period_first_day(first_month, "month"),
        period_first_day(first_month - 3, "month"),
        period_first_day(first_month + 3, "month"),
        interval,
        tuple(rows),
    )


# --------------------------------------------------------------------------------------------
# Annual plan


@dataclass(frozen=True, slots=True)
class MetricPlan:
    """A metric's 12-month forecast.

    Attributes:
        metric: the metric.
        history_months: months with data before the plan year.
        previous_year_mean: mean of the monthly means of the 12 months before the plan year
            (``None`` without data there).
        forecast_mean: mean of the 12 forecast monthly means (``None`` without forecast).
        growth: ``forecast_mean / previous_year_mean - 1`` (``None`` if undefined).
        forecast: the monthly forecast, one point per month of the plan year.
    """

    metric: str
    history_months: int
    previous_year_mean: float | None
    forecast_mean: float | None
    growth: float | None
    forecast: Forecast

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "history_months": self.history_months,
            "previous_year_mean": json_float(self.previous_year_mean),
            "forecast_mean": json_float(self.forecast_mean),
            "growth": json_float(self.growth),
            "forecast": self.forecast.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class AnnualPlan:
    """The annual product plan's forecasts.

    Attributes:
        year_start: first day of the plan year (a month's first day).
        interval: nominal coverage of the forecast intervals.
        metrics: one plan per metric, in the order of ``series``.
    """

    year_start: date
    interval: float
    metrics: tuple[MetricPlan, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "year_start": self.year_start.isoformat(),
            "interval": self.interval,
            "metrics": [plan.to_dict() for plan in self.metrics],
        }


def annual_plan(
    series: Mapping[str, SeriesInput], *, year_start: date, interval: float = 0.9
) -> AnnualPlan:
    """12-month forecasts of each metric's monthly mean, with prediction intervals.

    The plan year is the 12 months from the month containing ``year_start``; the forecast is
    fitted on the monthly means of the days before it (later data is ignored). A yearly season
    is only considered with at least two years of months (see
    :func:`~productpilot.analytics.forecasts.forecast`).

    Args:
        series: metric name -> daily ``(dates, values)``.
        year_start: any day of the plan year's first month.
        interval: nominal coverage of the prediction intervals.

    Returns:
        One plan per metric.

    Example:
        >>> from datetime import date, timedelta
        >>> days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
        >>> plan = annual_plan({"dau": (days, [100.0 + i for i in range(365)])},
        ...                    year_start=date(2027, 1, 1))
        >>> metric = plan.metrics[0]
        >>> (metric.history_months, len(metric.forecast.points), metric.growth > 0)
        (12, 12, True)
    """
    first_month = _month(year_start)
    year_first_day = day_number(period_first_day(first_month, "month"))
    previous_year = _month_days(first_month - 12, 12)
    plans = []
    for metric, values in series.items():
        daily = _daily(values)
        history_dates, history = _monthly_means(daily, year_first_day - 1)
        last_year = [
            v
            for d, v in zip(history_dates, history, strict=True)
            if previous_year[0] <= day_number(d) <= previous_year[1]
        ]
        previous_mean = float(np.mean(last_year)) if last_year else None
        predicted = _monthly_forecast(daily, first_month, 12, interval)
        forecast_mean = _mean_of(predicted.points, "mean")
        growth = (
            forecast_mean / previous_mean - 1
            if forecast_mean is not None and previous_mean
            else None
        )
        plans.append(
            MetricPlan(metric, len(history_dates), previous_mean, forecast_mean, growth, predicted)
        )
    return AnnualPlan(period_first_day(first_month, "month"), interval, tuple(plans))
