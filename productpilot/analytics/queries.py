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

from productpilot.db.models import Event, UserActivityDaily
from productpilot.db.tenancy import StoreSession

#: Covers the previous calendar month of the month containing ``start`` (up to 62 days)
#: and the 30-day trailing MAU window.
LOOKBACK = timedelta(days=63)


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
) -> pd.DataFrame:
    """``distinct_id``/``event``/``timestamp`` of the named events in ``[start, end]``."""
    rows = session.execute(
        select(Event.distinct_id, Event.event, Event.timestamp).where(
            Event.product_id == product_id,
            Event.event.in_(names),
            Event.timestamp.between(start, end),
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["distinct_id", "event", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The first and last instant (UTC) of a range of days."""
    return datetime.combine(start, time.min, UTC), datetime.combine(end, time.max, UTC)
