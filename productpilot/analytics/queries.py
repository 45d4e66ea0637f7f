"""Store queries that build the analytics computations' inputs, bounded by the asked range.

The activity computations need, for the range asked, each user's daily activity plus the
periods just before it (the previous lifecycle period, the trailing MAU window) and the day
each user was first seen. So instead of a product's whole history, :func:`load_activity`
reads the activity inside ``[start - LOOKBACK, end]`` and adds one row per user for their
first-seen day: the same answers at a bounded cost.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from productpilot.analytics.anomalies import Anomaly as DetectedAnomaly
from productpilot.analytics.kpis import MetricPoint
from productpilot.db.models import Anomaly, Event, MetricValue, UserActivityDaily
from productpilot.db.tenancy import StoreSession

#: Covers the previous calendar month of the month containing ``start`` (up to 62 days)
#: and the 30-day trailing MAU window.
LOOKBACK = timedelta(days=63)
UPSERT_CHUNK = 1000


def load_activity(session: StoreSession, product_id: int, start: date, end: date) -> pd.DataFrame:
    """``day``/``distinct_id`` rows: activity from ``start - LOOKBACK`` to ``end``, plus each
    user's first-seen day (which may be earlier)."""
    window = session.execute(
        select(UserActivityDaily.day, UserActivityDaily.distinct_id).where(
            UserActivityDaily.product_id == product_id,
            UserActivityDaily.day.between(start - LOOKBACK, end),
        )
    ).all()
    first_seen = session.execute(
        select(func.min(UserActivityDaily.day), UserActivityDaily.distinct_id)
        .where(UserActivityDaily.product_id == product_id, UserActivityDaily.day <= end)
        .group_by(UserActivityDaily.distinct_id)
    ).all()
    return pd.DataFrame(window + first_seen, columns=["day", "distinct_id"])


def load_events(
    session: StoreSession,
    product_id: int,
    names: list[str],
    start: datetime,
    end: datetime,
    *,
    properties: bool = False,
) -> pd.DataFrame:
    """``distinct_id``/``event``/``timestamp`` (and ``properties`` if asked) of the named
    events in ``[start, end]``."""
    columns = [Event.distinct_id, Event.event, Event.timestamp]
    if properties:
        columns.append(Event.properties)
    rows = session.execute(
        select(*columns).where(
            Event.product_id == product_id,
            Event.event.in_(names),
            Event.timestamp.between(start, end),
        )
    ).all()
    frame = pd.DataFrame(rows, columns=[column.key for column in columns])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The first and last instant (UTC) of a range of days."""
    return datetime.combine(start, time.min, UTC), datetime.combine(end, time.max, UTC)


def save_metric_points(
    session: StoreSession, product_id: int, points: list[MetricPoint], granularity: str
) -> int:
    """Insert or replace metric values (keyed by metric, granularity, period, segment)."""
    if not points:
        return 0
    tenant_id = session.require_tenant()
    computed = datetime.now(UTC)
    rows = [
        {
            "tenant_id": tenant_id,
            "product_id": product_id,
            "metric": point.metric,
            "granularity": granularity,
            "period_start": datetime.combine(point.period, time.min, UTC),
            "segment": "",
            "value": point.value,
            "computed_at": computed,
        }
        for point in points
    ]
    dialect = session.get_bind().dialect.name
    insert = postgres_insert if dialect == "postgresql" else sqlite_insert
    # Chunked: SQLite allows a limited number of bound values per statement.
    for offset in range(0, len(rows), UPSERT_CHUNK):
        statement = insert(MetricValue).values(rows[offset : offset + UPSERT_CHUNK])
        statement = statement.on_conflict_do_update(
            index_elements=["product_id", "metric", "granularity", "period_start", "segment"],
            set_={"value": statement.excluded.value, "computed_at": statement.excluded.computed_at},
        )
        session.execute(statement)
    return len(rows)


def save_new_anomalies(
    session: StoreSession, product_id: int, metric: str, found: list[DetectedAnomaly]
) -> list[Anomaly]:
    """Store anomalies not stored before (by metric and instant); returns the new rows.

    A daily run re-detects recent days, so an anomaly is recorded (and announced) once.
    """
    if not found:
        return []
    instants = [_aware(a.at) for a in found]
    known = set(
        session.scalars(
            select(Anomaly.at).where(
                Anomaly.product_id == product_id,
                Anomaly.metric == metric,
                Anomaly.segment == "",
                Anomaly.at.in_(instants),
            )
        )
    )
    rows = [
        Anomaly(
            product_id=product_id,
            metric=metric,
            at=at,
            value=a.value,
            expected=a.expected,
            lower=a.lower,
            upper=a.upper,
            score=a.score,
        )
        for a, at in zip(found, instants, strict=True)
        if at not in known
    ]
    session.add_all(rows)
    session.flush()
    return rows


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def anomaly_days(
    session: StoreSession, product_id: int, metric: str, start: date, end: date
) -> list[date]:
    """The days in ``[start, end]`` with a stored anomaly of ``metric``."""
    low, high = day_bounds(start, end)
    return [
        at.date()
        for at in session.scalars(
            select(Anomaly.at).where(
                Anomaly.product_id == product_id,
                Anomaly.metric == metric,
                Anomaly.at.between(low, high),
            )
        )
    ]


def recent_anomalies(
    session: StoreSession, product_id: int, start: date, end: date
) -> list[dict[str, object]]:
    """Stored anomalies of ``[start, end]`` as dicts (metric, at, value, band, score)."""
    low, high = day_bounds(start, end)
    rows = session.scalars(
        select(Anomaly)
        .where(Anomaly.product_id == product_id, Anomaly.at.between(low, high))
        .order_by(Anomaly.at)
    )
    return [
        {
            "metric": row.metric,
            "at": row.at,
            "value": row.value,
            "expected": row.expected,
            "lower": row.lower,
            "upper": row.upper,
            "score": row.score,
        }
        for row in rows
    ]
