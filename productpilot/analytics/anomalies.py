"""Anomalies in a metric series: a seasonal, robust, causal detector with an expected band.

For each point the detector gives an expected value, a band around it and an anomaly score
in ``[0, 1)``. It is causal: the result at row ``t`` depends on rows ``<= t`` only, so
appending points never changes earlier results and the daily flow can run it on the history
it has. Every statistic is a trailing window or a running scalar, so a streaming version
needs ``O(window)`` memory; here the whole series is processed at once in
``O(n log window)`` with numpy and pandas.

Method:

1. **Expected value.** Candidate forecasts from earlier rows: the median of the last
   ``level_window`` values, and for each season ``p`` (in rows) the median of the values
   1..``seasons_back`` seasons ago at the same phase, moved by how much the level changed
   over the last season. At each row the candidate with the smallest mean absolute error
   over the previous ``selection_window`` rows is used, so a season is followed where it
   exists and ignored where it does not. Seasons are given, or tried from the timestamps'
   spacing (one day and one week).
2. **Band.** ``expected ± band_z * scale``, with ``scale`` a robust standard deviation:
   1.4826 times the median absolute residual over the previous ``history`` rows.
3. **Score.** A point inside the band scores 0, and so does every point of the warm-up
   (``warmup`` rows, and at least 3 of the shortest season). Outside the band the score
   measures novelty, not size: how far the standardised residual ``z`` exceeds the largest
   one seen before in the same direction (a record whose memory halves every ``memory``
   rows), or, when ``|z| >= range_z``, how far the value lies beyond the whole range seen so
   far. With ``n = max(|z| / (novelty * record), 1 + excess / range)``, the score is
   ``n / (1 + n)``: at least 0.5 (the default threshold) for a new record by the ``novelty``
   margin or a surprising value outside the range seen so far.

Scoring novelty rather than size makes an incident alert once: a level shift is flagged when
it starts, not on every point until the expected value catches up; a burst is flagged by its
largest point. This is what the Numenta Anomaly Benchmark rewards (see ``nab.py`` and
``docs/analytics.md``), and what an on-call person wants.

Example:
    >>> import numpy as np, pandas as pd
    >>> days = pd.date_range("2026-08-01", periods=60, freq="D")
    >>> values = 100 + 10 * (days.day_of_week < 5) + np.tile([0.0, 1.0, -1.0], 20)
    >>> values[50] = 160.0
    >>> [a.at.date().isoformat() for a in anomalies(days, values, season=7)]
    ['2026-09-20']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from productpilot.analytics.activity import json_float

DEFAULT_THRESHOLD = 0.5
ROBUST_SIGMA = 1.4826  # median absolute deviation -> standard deviation, for normal noise
DAY_SECONDS = 86_400
WARMUP_SEASONS = 3


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """The detector's knobs, in rows (points) of the series.

    Attributes:
        level_window: values in the level forecast's median.
        seasons_back: past seasons in a seasonal forecast's median.
        selection_window: rows whose mean absolute error picks the forecast.
        history: rows whose median absolute residual gives the scale.
        band_z: half-width of the band, in scales.
        novelty: how much a residual must exceed the previous record (1.1 = by 10%).
        range_z: smallest ``|z|`` for a value beyond the range seen so far to count (so a
            growing metric's new highs are not anomalies by themselves).
        memory: half-life of the record, in rows (``None``: never forget).
        warmup: first rows that are never anomalous (the detector is still learning).
        floor: smallest scale, as a fraction of the range seen so far (flat series).
    """

    level_window: int = 24
    seasons_back: int = 3
    selection_window: int = 600
    history: int = 5000
    band_z: float = 3.0
    novelty: float = 1.1
    range_z: float = 5.0
    memory: float | None = 5000
    warmup: int = 14
    floor: float = 1e-3


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """Per-point output of :func:`detect`, arrays aligned with the input.

    Attributes:
        score: anomaly score in ``[0, 1)``; 0 inside the band and for missing values.
        expected: the forecast from earlier points (NaN before there is one).
        lower: ``expected - band_z * scale``.
        upper: ``expected + band_z * scale``.
        is_anomaly: ``score >= threshold``.
        seasons: the seasons (in rows) that were tried.
        threshold: the threshold behind ``is_anomaly``.
    """

    score: np.ndarray
    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    is_anomaly: np.ndarray
    seasons: tuple[int, ...]
    threshold: float


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One anomalous point, with the band it fell outside (what the store keeps)."""

    at: datetime
    value: float
    expected: float
    lower: float
    upper: float
    score: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe values: ``at`` in ISO 8601, floats (``None`` for NaN)."""
        return {
            "at": self.at.isoformat(),
            "value": json_float(self.value),
            "expected": json_float(self.expected),
            "lower": json_float(self.lower),
            "upper": json_float(self.upper),
            "score": json_float(self.score),
        }


def candidate_seasons(timestamps: pd.DatetimeIndex) -> tuple[int, ...]:
    """A day and a week in rows, from the median spacing; those shorter than 2 rows are left out.

    Example:
        >>> candidate_seasons(pd.date_range("2026-01-01", periods=10, freq="h"))
        (24, 168)
    """
    if len(timestamps) < 2:
        return ()
    step = float(np.median((timestamps[1:] - timestamps[:-1]).total_seconds()))
    if step <= 0:
        return ()
    rows = (round(DAY_SECONDS / step), round(7 * DAY_SECONDS / step))
    return tuple(period for period in rows if period >= 2)


def detect(
    timestamps: Sequence[Any] | pd.DatetimeIndex | np.ndarray,
    values: Sequence[float] | np.ndarray,
    *,
    season: int | Sequence[int] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    config: DetectorConfig = DetectorConfig(),
) -> DetectionResult:
    """Score every point of a series (in time order) and give its expected band.

    Args:
        timestamps: one per value, increasing (used to find seasons and label anomalies).
        values: the metric; NaN for a missing value.
        season: season length(s) in rows, e.g. 7 for a weekly pattern in daily data; ``0``
            or ``()`` for none; ``None`` tries a day and a week from the timestamps.
        threshold: score at or above which a point is anomalous.
        config: the detector's knobs.

    Returns:
        Scores, expected values, bands and flags.

    Raises:
        ValueError: timestamps and values differ in length.
    """
    stamps = pd.DatetimeIndex(timestamps)
    x = np.asarray(values, dtype=float)
    if len(stamps) != len(x):
        raise ValueError(f"{len(stamps)} timestamps for {len(x)} values")
    seasons = _seasons(season, stamps)
    series = pd.Series(x)
    residual, scale, expected = _forecast(series, seasons, config)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = residual / scale
    warmup = _warmup(seasons, config)
    beyond_range = _range_excess(series, warmup) * (np.abs(z) >= config.range_z)
    novelty = np.maximum(_record_ratio(z, config), beyond_range)
    outside = np.abs(z) >= config.band_z
    outside[:warmup] = False
    with np.errstate(divide="ignore", over="ignore"):
        score = np.where(outside, 1.0 - 1.0 / (1.0 + novelty), 0.0)
    return DetectionResult(
        score=score,
        expected=expected,
        lower=expected - config.band_z * scale,
        upper=expected + config.band_z * scale,
        is_anomaly=score >= threshold,
        seasons=seasons,
        threshold=threshold,
    )


def anomalies(
    timestamps: Sequence[Any] | pd.DatetimeIndex | np.ndarray,
    values: Sequence[float] | np.ndarray,
    *,
    season: int | Sequence[int] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    config: DetectorConfig = DetectorConfig(),
) -> list[Anomaly]:
    """The anomalous points of a series, oldest first, each with its band (see :func:`detect`)."""
    stamps = pd.DatetimeIndex(timestamps)
    x = np.asarray(values, dtype=float)
    result = detect(stamps, x, season=season, threshold=threshold, config=config)
    return [
        Anomaly(
            at=stamps[i].to_pydatetime(),
            value=float(x[i]),
            expected=float(result.expected[i]),
            lower=float(result.lower[i]),
            upper=float(result.upper[i]),
            score=float(result.score[i]),
        )
        for i in np.flatnonzero(result.is_anomaly)
    ]


def _seasons(season: int | Sequence[int] | None, stamps: pd.DatetimeIndex) -> tuple[int, ...]:
    """The seasons to try, in rows (each at least 2)."""
    if season is None:
        return candidate_seasons(stamps)
    periods = (season,) if isinstance(season, int) else tuple(season)
    return tuple(int(period) for period in periods if period >= 2)


def _warmup(seasons: tuple[int, ...], config: DetectorConfig) -> int:
    """Rows never flagged: ``config.warmup``, and 3 of the shortest season (a seasonal
    forecast needs 2 seasons of data and then a track record to be chosen)."""
    return max(config.warmup, WARMUP_SEASONS * min(seasons, default=0))


def _trailing(series: pd.Series, window: int, statistic: str, min_periods: int = 1) -> pd.Series:
    """A statistic of the ``window`` values before each row (the row itself excluded)."""
    rolling = series.rolling(window, min_periods=min_periods)
    return getattr(rolling, statistic)().shift(1)


def _forecast(
    series: pd.Series, seasons: tuple[int, ...], config: DetectorConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residual, scale and expected value of each row, from the best recent forecast."""
    level = _trailing(series, config.level_window, "median")
    forecasts = [level]
    for period in seasons:
        past = pd.concat(
            [series.shift(k * period) for k in range(1, config.seasons_back + 1)], axis=1
        )
        season_level = _trailing(series, period, "median", min_periods=period // 2 + 1)
        forecasts.append(past.median(axis=1) + season_level - season_level.shift(period))
    residuals = [series - forecast for forecast in forecasts]
    errors = np.column_stack(
        [_trailing(r.abs(), config.selection_window, "mean").to_numpy() for r in residuals]
    )
    scales = np.column_stack(
        [_trailing(r.abs(), config.history, "median").to_numpy() for r in residuals]
    )
    candidates = np.column_stack([f.to_numpy() for f in forecasts])
    errors[np.isnan(errors) | np.isnan(candidates)] = np.inf  # no forecast, or no record
    best = np.argmin(errors, axis=1)
    rows = np.arange(len(series))
    expected = candidates[rows, best]
    seen = series.expanding().max() - series.expanding().min()
    floor = config.floor * seen.shift(1).to_numpy() + 1e-12
    scale = np.maximum(ROBUST_SIGMA * scales[rows, best], floor)
    return series.to_numpy() - expected, scale, expected


def _record_ratio(z: np.ndarray, config: DetectorConfig) -> np.ndarray:
    """``|z|`` over ``novelty`` times the largest earlier ``|z|`` of the same sign.

    Records start after ``config.warmup`` rows (before, the scale is still settling).
    The record decays with half-life ``memory`` rows, so a large old incident does not mask
    a new one forever: ``record_t = max over s < t of |z_s| * 2 ** (-(t - 1 - s) / memory)``,
    a running maximum in log space.
    """
    decay = np.log(0.5) / config.memory if config.memory else 0.0
    age = np.arange(len(z)) * decay
    ratio = np.zeros(len(z))
    finite = np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)
    for signed in (finite, -finite):
        size = np.maximum(signed, 0.0)
        size[: config.warmup] = 0.0
        with np.errstate(divide="ignore"):
            best = np.maximum.accumulate(np.log(size) - age)
        record = np.full(len(z), np.inf)
        record[1:] = np.exp(best[:-1] + age[:-1])
        record[: config.warmup + 1] = np.inf
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.maximum(ratio, np.nan_to_num(size / (config.novelty * record), nan=0.0))
    return np.where(np.isinf(z), np.inf, ratio)


def _range_excess(series: pd.Series, warmup: int) -> np.ndarray:
    """``1 + excess / range`` for a value beyond the range seen so far, else 0.

    ``excess`` is the distance past the earlier maximum (or minimum); a series that has been
    flat so far has no range, and relies on the record instead.
    """
    high = series.expanding().max().shift(1).to_numpy()
    low = series.expanding().min().shift(1).to_numpy()
    width = high - low
    x = series.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.maximum(x - high, low - x) / width
    beyond = (width > 0) & (excess > 0)
    beyond[:warmup] = False
    return np.where(beyond, 1.0 + excess, 0.0)
