"""The metrics a product's configuration defines, computed per period from its events.

Each :class:`~productpilot.products.configuration.MetricDefinition` becomes one value per
period (UTC day, ISO week starting Monday, or calendar month):

- ``count``: how many ``event`` events;
- ``unique_users``: how many distinct users did ``event``;
- ``ratio``: distinct users of ``event`` over distinct users of ``denominator_event`` in the
  same period (no value when the denominator is zero);
- ``average`` / ``percentile``: of a numeric ``property`` of ``event`` (booleans count as
  0/1, so the average of ``error`` is an error rate);
- ``nps``: Net Promoter Score of a 0-10 ``property``: % of 9-10 minus % of 0-6.

``filters`` keep only events whose properties equal the given values. A period with no
qualifying events has no value for averages, percentiles, ratios and NPS, and 0 for counts.

Example:
    >>> values = compute_metrics(events, definitions, "day")  # doctest: +SKIP
    >>> values[0]
    MetricPoint(metric='signups', period=datetime.date(2026, 8, 1), value=12.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from productpilot.analytics.activity import Period, day_number, period_first_day, period_index
from productpilot.products.configuration import MetricDefinition


@dataclass(frozen=True, slots=True)
class MetricPoint:
    metric: str
    period: date
    value: float


def needed_events(definitions: Sequence[MetricDefinition]) -> list[str]:
    """Every event name the definitions read (to load only those)."""
    names = {d.event for d in definitions} | {
        d.denominator_event for d in definitions if d.denominator_event
    }
    return sorted(names)


def _periods(events: pd.DataFrame, period: Period) -> pd.Series:
    days = events["timestamp"].dt.tz_convert("UTC").dt.floor("D").dt.tz_localize(None)
    numbers = days.to_numpy(dtype="datetime64[D]").astype(np.int64)
    return pd.Series(period_index(numbers, period), index=events.index)


def _matching(events: pd.DataFrame, name: str, filters: dict[str, object]) -> pd.DataFrame:
    selected = events[events["event"] == name]
    for key, wanted in filters.items():
        selected = selected[selected["properties"].map(lambda p, k=key: p.get(k)) == wanted]
    return selected


def numeric_property(selected: pd.DataFrame, name: str) -> pd.Series:
    """A property of each event as a number (booleans as 0/1; anything else as NaN)."""
    raw = selected["properties"].map(lambda p: p.get(name))
    return pd.to_numeric(raw.map(lambda v: float(v) if isinstance(v, bool) else v), errors="coerce")


def _nps(scores: pd.Series) -> float:
    return float(100.0 * ((scores >= 9).mean() - (scores <= 6).mean()))


def _metric(events: pd.DataFrame, periods: pd.Series, definition: MetricDefinition) -> pd.Series:
    selected = _matching(events, definition.event, definition.filters)
    by_period = periods.loc[selected.index]
    kind = definition.kind
    if kind == "count":
        return selected.groupby(by_period).size().astype(float)
    if kind == "unique_users":
        return selected.groupby(by_period)["distinct_id"].nunique().astype(float)
    if kind == "ratio":
        assert definition.denominator_event is not None
        base = _matching(events, definition.denominator_event, definition.filters)
        numerator = selected.groupby(by_period)["distinct_id"].nunique()
        denominator = base.groupby(periods.loc[base.index])["distinct_id"].nunique()
        return (numerator.reindex(denominator.index, fill_value=0) / denominator).astype(float)
    assert definition.property is not None
    values = numeric_property(selected, definition.property).dropna()
    grouped = values.groupby(by_period.loc[values.index])
    if kind == "average":
        return grouped.mean()
    if kind == "percentile":
        return grouped.quantile((definition.percentile or 50) / 100)
    return grouped.apply(_nps)


def compute_metrics(
    events: pd.DataFrame,
    definitions: Sequence[MetricDefinition],
    period: Period,
    *,
    start: date | None = None,
    end: date | None = None,
) -> list[MetricPoint]:
    """Every defined metric for every period that has events (counts: every period).

    Args:
        events: ``event``, ``distinct_id``, ``timestamp`` (tz-aware) and ``properties``
            (dicts) columns.
        definitions: The product's metric definitions.
        period: ``day``, ``week`` or ``month``.
        start: With ``end``, zero-fill counts over the periods from ``start`` to ``end``.
        end: See ``start``.
    """
    if events.empty and start is None:
        return []
    periods = _periods(events, period) if not events.empty else pd.Series(dtype=np.int64)
    every: list[int] = []
    if start is not None and end is not None:
        first = int(period_index(day_number(start), period))
        last = int(period_index(day_number(end), period))
        every = list(range(first, last + 1))
    points = []
    for definition in definitions:
        series = (
            _metric(events, periods, definition) if not events.empty else pd.Series(dtype=float)
        )
        if definition.kind in ("count", "unique_users") and every:
            series = series.reindex(every, fill_value=0.0)
        for index, value in series.dropna().sort_index().items():
            points.append(
                MetricPoint(definition.name, period_first_day(int(index), period), float(value))
            )
    return points
