"""Metric series over a date range at day, week or month granularity.

Three kinds of metric name:

- ``events``: how many events happened (from ``event_counts_daily``);
- ``events:<name>``: how many ``<name>`` events happened;
- ``active_users``: distinct users active in the period (from ``user_activity_daily``),
  so it is DAU, WAU or MAU by granularity;
- anything else: values stored in ``metric_values`` by the analytics flows at exactly that
  granularity (a ratio cannot be re-aggregated, so none is derived).

Counts are zero-filled (no rollup row means nothing happened); stored metrics are not (no
row means not computed). Weeks start on Monday (ISO 8601).

Example:
    >>> series = metric_series(session, product_id, ["events:signup"],
    ...                        date(2026, 8, 1), date(2026, 8, 31), "week")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Date, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from productpilot.db.models import EventCountDaily, MetricValue, UserActivityDaily
from productpilot.db.tenancy import StoreSession

Granularity = Literal["day", "week", "month"]
EVENT_PREFIX = "events:"
BUILT_IN = ("events", "active_users")


@dataclass(frozen=True, slots=True)
class Point:
    period: date
    value: float


@dataclass(frozen=True, slots=True)
class Series:
    metric: str
    points: list[Point]


def period_start(day: date, granularity: Granularity) -> date:
    """The first day of the period ``day`` falls in."""
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def periods(start: date, end: date, granularity: Granularity) -> list[date]:
    """Every period start from the one containing ``start`` to the one containing ``end``."""
    current, last, found = period_start(start, granularity), period_start(end, granularity), []
    while current <= last:
        found.append(current)
        if granularity == "day":
            current += timedelta(days=1)
        elif granularity == "week":
            current += timedelta(weeks=1)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return found


def _bucket(column: Any, granularity: Granularity, dialect: str) -> ColumnElement[Any]:
    """SQL for the period start of a DATE column, per dialect."""
    if granularity == "day":
        return column
    if dialect == "postgresql":
        return cast(func.date_trunc(granularity, column), Date)
    if granularity == "week":  # SQLite: forward to the week's Sunday, back to its Monday
        return func.date(column, "weekday 0", "-6 days")
    return func.strftime("%Y-%m-01", column)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _filled(rows: Sequence[Any], start: date, end: date, granularity: Granularity) -> list[Point]:
    values = {_as_date(period): float(value) for period, value in rows}
    return [Point(p, values.get(p, 0.0)) for p in periods(start, end, granularity)]


def _counts(
    session: StoreSession, product_id: int, metric: str, start: date, end: date, g: Granularity
) -> list[Point]:
    dialect = session.get_bind().dialect.name
    if metric == "active_users":
        bucket = _bucket(UserActivityDaily.day, g, dialect)
        query = select(bucket, func.count(func.distinct(UserActivityDaily.distinct_id))).where(
            UserActivityDaily.product_id == product_id,
            UserActivityDaily.day.between(start, end),
        )
    else:
        bucket = _bucket(EventCountDaily.day, g, dialect)
        query = select(bucket, func.sum(EventCountDaily.count)).where(
            EventCountDaily.product_id == product_id, EventCountDaily.day.between(start, end)
        )
        if metric.startswith(EVENT_PREFIX):
            query = query.where(EventCountDaily.event == metric.removeprefix(EVENT_PREFIX))
    return _filled(session.execute(query.group_by(bucket)).all(), start, end, g)


def _stored(
    session: StoreSession, product_id: int, metric: str, start: date, end: date, g: Granularity
) -> list[Point]:
    low = datetime.combine(period_start(start, g), datetime.min.time(), UTC)
    high = datetime.combine(end, datetime.max.time(), UTC)
    rows = session.execute(
        select(MetricValue.period_start, MetricValue.value)
        .where(
            MetricValue.product_id == product_id,
            MetricValue.metric == metric,
            MetricValue.granularity == g,
            MetricValue.segment == "",
            MetricValue.period_start.between(low, high),
        )
        .order_by(MetricValue.period_start)
    ).all()
    return [Point(_as_date(period), value) for period, value in rows]


def metric_series(
    session: StoreSession,
    product_id: int,
    metrics: Sequence[str],
    start: date,
    end: date,
    granularity: Granularity,
) -> list[Series]:
    """One series per metric name, in the order asked."""
    found = []
    for metric in metrics:
        if metric in BUILT_IN or metric.startswith(EVENT_PREFIX):
            points = _counts(session, product_id, metric, start, end, granularity)
        else:
            points = _stored(session, product_id, metric, start, end, granularity)
        found.append(Series(metric, points))
    return found


def observed(points: list[Point]) -> list[Point]:
    """The series from its first non-zero value: zero-filled days before a product had any
    data are not history, and growth from them would look like a run of records."""
    first = next((i for i, p in enumerate(points) if p.value != 0), len(points))
    return points[first:]
