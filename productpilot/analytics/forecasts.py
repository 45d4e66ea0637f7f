"""Forecasts of a metric series with prediction intervals (statsmodels exponential smoothing).

The model is an ETS state-space model (``statsmodels.tsa.exponential_smoothing.ets.ETSModel``)
with additive errors and a damped additive trend, plus an additive season of 7 for daily
series of at least three weeks, or of 12 for monthly series of at least two years. Prediction
intervals are the model's analytic ones, so the result is deterministic. Series shorter than
:data:`MIN_MODEL_POINTS` get a naive forecast (the last value, with a random-walk interval
from the spread of the day-to-day changes).

Example:
    >>> from datetime import date, timedelta
    >>> days = [date(2026, 8, 1) + timedelta(days=i) for i in range(5)]
    >>> result = forecast(days, [1.0, 2.0, 3.0, 2.0, 3.0], horizon=2, period="day")
    >>> (result.method, result.points[0].day.isoformat(), result.points[0].mean)
    ('naive', '2026-08-06', 3.0)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from productpilot.analytics.activity import (
    NAT_DAY,
    Period,
    day_numbers,
    json_float,
    period_first_day,
    period_index,
)

Method = Literal["ets", "naive"]
MIN_MODEL_POINTS = 8
"""Below this many periods the forecast is naive."""
DAILY_SEASON, DAILY_SEASON_MIN = 7, 21
MONTHLY_SEASON, MONTHLY_SEASON_MIN = 12, 24


@dataclass(frozen=True, slots=True)
class ForecastPoint:
    """One forecast period.

    Attributes:
        day: first day of the period (the day itself for daily forecasts).
        mean: point forecast.
        lower: lower bound of the prediction interval.
        upper: upper bound of the prediction interval.
    """

    day: date
    mean: float
    lower: float
    upper: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "mean": json_float(self.mean),
            "lower": json_float(self.lower),
            "upper": json_float(self.upper),
        }


@dataclass(frozen=True, slots=True)
class Forecast:
    """A forecast of the next ``horizon`` periods.

    Attributes:
        method: ``"ets"`` (exponential smoothing) or ``"naive"`` (short or degenerate series).
        model: the fitted model, e.g. ``"ETS(A,Ad,A) season 7"`` or ``"naive"``.
        period: ``"day"``, ``"week"`` or ``"month"``.
        interval: nominal coverage of the prediction intervals (e.g. 0.9).
        n: periods of history used (from the first to the last period, gaps filled).
        points: the forecast periods, oldest first (empty without history).
    """

    method: Method
    model: str
    period: Period
    interval: float
    n: int
    points: tuple[ForecastPoint, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "model": self.model,
            "period": self.period,
            "interval": self.interval,
            "n": self.n,
            "points": [point.to_dict() for point in self.points],
        }


def _regular(
    dates: Sequence[date], values: Sequence[float], period: Period
) -> tuple[np.ndarray, int | None]:
    """Values on a regular grid of periods (first to last), gaps and NaN linearly filled."""
    days = day_numbers(list(dates))
    y = np.asarray(values, dtype=float)
    if len(days) != len(y):
        raise ValueError(f"{len(days)} dates but {len(y)} values")
    keep = days != NAT_DAY
    days, y = days[keep], y[keep]
    if len(days) == 0:
        return y, None
    index = period_index(days, period)
    if len(np.unique(index)) != len(index):
        raise ValueError(f"dates must fall in distinct {period}s")
    first = int(index.min())
    grid = np.full(int(index.max()) - first + 1, np.nan)
    grid[index - first] = y
    filled = pd.Series(grid).interpolate(limit_direction="both").to_numpy()
    if np.isnan(filled).all():
        return np.array([]), None
    return filled, int(index.max())


def _naive(y: np.ndarray, horizon: int, z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    changes = np.diff(y)
    if len(changes) >= 2:
        spread = float(np.std(changes, ddof=1))
    elif len(changes) == 1:
        spread = abs(float(changes[0]))
    else:
        spread = 0.0
    steps = np.arange(1, horizon + 1, dtype=float)
    mean = np.full(horizon, float(y[-1]))
    half = z * spread * np.sqrt(steps)
    return mean, mean - half, mean + half


def _season(n: int, period: Period) -> int | None:
    if period == "day" and n >= DAILY_SEASON_MIN:
        return DAILY_SEASON
    if period == "month" and n >= MONTHLY_SEASON_MIN:
        return MONTHLY_SEASON
    return None


def _ets(
    y: np.ndarray, horizon: int, interval: float, season: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """Fit one ETS model; ``(mean, lower, upper, aicc)`` with small-sample intervals."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = ETSModel(
                pd.Series(y),
                error="add",
                trend="add",
                damped_trend=True,
                seasonal="add" if season else None,
                seasonal_periods=season,
            )
            fitted = model.fit(disp=False)
            frame = fitted.get_prediction(start=len(y), end=len(y) + horizon - 1).summary_frame(
                alpha=1 - interval
            )
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            return None
    n, k = len(y), len(fitted.params)
    if n - k < 2:
        return None
    # The model's intervals use the ML variance (divided by n) and normal quantiles; widen
    # them to the unbiased variance (n - k) and Student-t quantiles with n - k degrees of
    # freedom, which matters for the short monthly series plans are made from.
    q = 0.5 + interval / 2
    factor = float(stats.t.ppf(q, n - k) / stats.norm.ppf(q)) * float(np.sqrt(n / (n - k)))
    mean = frame["mean"].to_numpy(dtype=float)
    lower = mean - factor * (mean - frame["pi_lower"].to_numpy(dtype=float))
    upper = mean + factor * (frame["pi_upper"].to_numpy(dtype=float) - mean)
    aicc = float(fitted.aicc)
    if not (np.isfinite(mean).all() and np.isfinite(lower).all() and np.isfinite(upper).all()):
        return None
    return mean, lower, upper, aicc if np.isfinite(aicc) else np.inf


def forecast(
    dates: Sequence[date],
    values: Sequence[float],
    *,
    horizon: int,
    period: Period,
    interval: float = 0.9,
) -> Forecast:
    """Forecast the next ``horizon`` periods of a series, with prediction intervals.

    Each date is mapped to its period (weeks start on Monday, months are calendar months);
    periods must be distinct. Missing periods between the first and the last, and NaN values,
    are filled by linear interpolation. With at least :data:`MIN_MODEL_POINTS` periods (and a
    non-constant series) the model is ETS with additive errors and a damped additive trend,
    seasonal (additive) with a period of 7 for daily data of at least 21 days and of 12 for
    monthly data of at least 24 months; otherwise (or if the fit fails) the forecast is
    naive: the last value, with ``last ± z * sd(changes) * sqrt(h)`` at ``h`` periods ahead.
    When every value in the history is ``>= 0``, means and bounds are clipped at 0.

    Args:
        dates: one date per value (any day of the period).
        values: the series.
        horizon: how many periods to forecast (0 gives no points).
        period: ``"day"``, ``"week"`` or ``"month"``.
        interval: nominal coverage of the prediction interval, in ``(0, 1)``.

    Returns:
        The forecast, with the method and model used.

    Raises:
        ValueError: negative horizon, interval outside ``(0, 1)``, unknown period, dates and
            values of different lengths, or two dates in the same period.

    Example:
        >>> from datetime import date
        >>> months = [date(2026, m, 1) for m in range(1, 4)]
        >>> result = forecast(months, [10.0, 12.0, 14.0], horizon=1, period="month")
        >>> result.points[0].to_dict()["date"], result.method
        ('2026-04-01', 'naive')
    """
    if horizon < 0:
        raise ValueError(f"horizon must be >= 0, got {horizon}")
    if not 0 < interval < 1:
        raise ValueError(f"interval must be in (0, 1), got {interval}")
    if period not in ("day", "week", "month"):
        raise ValueError(f"period must be 'day', 'week' or 'month', got {period!r}")
    y, last = _regular(dates, values, period)
    if last is None or horizon == 0:
        return Forecast("naive", "naive", period, interval, len(y), ())
    z = float(stats.norm.ppf(0.5 + interval / 2))
    best: tuple[np.ndarray, np.ndarray, np.ndarray, float] | None = None
    model = "naive"
    if len(y) >= MIN_MODEL_POINTS and np.ptp(y) > 0:
        season = _season(len(y), period)
        for candidate in (None, season) if season else (None,):
            fitted = _ets(y, horizon, interval, candidate)
            if fitted is not None and (best is None or fitted[3] < best[3]):
                best = fitted
                model = f"ETS(A,Ad,A) season {candidate}" if candidate else "ETS(A,Ad,N)"
    method: Method = "ets"
    if best is None:
        mean, lower, upper = _naive(y, horizon, z)
        method, model = "naive", "naive"
    else:
        mean, lower, upper, _ = best
    if (y >= 0).all():
        mean, lower, upper = (np.maximum(a, 0.0) for a in (mean, lower, upper))
    points = tuple(
        ForecastPoint(
            period_first_day(last + step, period), float(mean[i]), float(lower[i]), float(upper[i])
        )
        for i, step in enumerate(range(1, horizon + 1))
    )
    return Forecast(method, model, period, interval, len(y), points)
