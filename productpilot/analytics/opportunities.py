"""Market opportunities: user segments ranked by the conversions they could add.

A segment is one value of one dimension (``country = "DE"``, ``platform = "ios"``, ...). For
each segment of at least ``min_users`` active users, :func:`market_opportunities` measures
its size, growth, penetration and conversion gap, and scores it by the conversions it would
add if it converted at the overall rate. :func:`user_segments` builds its one-row-per-user
input from raw events. Pure pandas/numpy.

Example:
    >>> import pandas as pd
    >>> from datetime import date
    >>> users = pd.DataFrame({
    ...     "distinct_id": [f"u{i}" for i in range(40)],
    ...     "first_seen": [date(2026, 8, 1)] * 40,
    ...     "active_days": [1] * 40,
    ...     "converted": [i % 2 == 0 for i in range(20)] + [i % 10 == 0 for i in range(20)],
    ...     "platform": ["web"] * 20 + ["ios"] * 20,
    ... })
    >>> best = market_opportunities(users, dimensions=["platform"],
    ...                             start=date(2026, 8, 1), end=date(2026, 8, 31))[0]
    >>> (best.value, best.conversion_rate, round(best.conversion_gap, 9), round(best.score, 9))
    ('ios', 0.1, 0.2, 4.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from productpilot.analytics.activity import (
    NAT_DAY,
    date_range,
    day_from_number,
    day_number,
    day_numbers,
    json_float,
)

DIMENSIONS = ("country", "platform", "plan", "source")
UNKNOWN = "unknown"
USER_COLUMNS = ("distinct_id", "first_seen", "active_days", "converted")


@dataclass(frozen=True, slots=True)
class Opportunity:
    """One segment's size, growth, penetration, conversion gap and opportunity score.

    Attributes:
        dimension: the dimension (e.g. ``"country"``).
        value: the segment's value (``"unknown"`` for missing values).
        size: users of the segment active in ``[start, end]``.
        penetration: ``size / total active users``.
        new_first_half: users of the segment first seen in the first half of the window.
        new_second_half: users first seen in the second half.
        growth: ``new_second_half / new_first_half - 1`` (``None`` when the first half has
            no new user).
        conversions: active users of the segment who converted.
        conversion_rate: ``conversions / size``.
        conversion_gap: overall conversion rate minus the segment's (positive = upside).
        score: expected additional conversions if the segment converted at the overall rate,
            ``size * max(conversion_gap, 0)``.
        rank: position in the ranking, from 1.
    """

    dimension: str
    value: str
    size: int
    penetration: float
    new_first_half: int
    new_second_half: int
    growth: float | None
    conversions: int
    conversion_rate: float
    conversion_gap: float
    score: float
    rank: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "value": self.value,
            "size": self.size,
            "penetration": json_float(self.penetration),
            "new_first_half": self.new_first_half,
            "new_second_half": self.new_second_half,
            "growth": json_float(self.growth),
            "conversions": self.conversions,
            "conversion_rate": json_float(self.conversion_rate),
            "conversion_gap": json_float(self.conversion_gap),
            "score": json_float(self.score),
            "rank": self.rank,
        }


def _labels(values: pd.Series) -> pd.Series:
    """Segment labels: strings, with missing or blank values as ``"unknown"``."""
    labels = values.astype(object).where(values.notna(), UNKNOWN).astype(str).str.strip()
    return labels.where(labels != "", UNKNOWN)


def market_opportunities(
    users: pd.DataFrame,
    *,
    dimensions: Sequence[str] = DIMENSIONS,
    start: date,
    end: date,
    min_users: int = 20,
) -> list[Opportunity]:
    """Segments ranked by the conversions they would add at the overall conversion rate.

    Only users active in the window (``active_days > 0``) count. The window's halves are its
    first and last ``n // 2`` days (``n`` days in all; the middle day of an odd window is in
    neither), so growth compares equal spans. The score is
    ``size * max(overall rate - segment rate, 0)``; ties (e.g. every segment at or above the
    overall rate scores 0) are broken by growth (``None`` last), then size.

    Args:
        users: one row per user: ``distinct_id``, ``first_seen`` (date of first activity
            ever), ``active_days`` (active days in the window), ``converted`` (bool), and the
            dimension columns (missing values, or a missing column, count as ``"unknown"``).
        dimensions: the columns to segment by.
        start: first day of the window.
        end: last day of the window (included).
        min_users: segments with fewer active users are skipped.

    Returns:
        The segments, best opportunity first (empty without active users).

    Raises:
        ValueError: ``start > end``, ``min_users < 1``, or a required column missing from a
            non-empty frame.
    """
    first, last = date_range(start, end)
    if min_users < 1:
        raise ValueError(f"min_users must be >= 1, got {min_users}")
    if users.empty:
        return []
    missing = [column for column in USER_COLUMNS if column not in users.columns]
    if missing:
        raise ValueError(f"users is missing columns: {', '.join(missing)}")
    active = users[pd.to_numeric(users["active_days"], errors="coerce").fillna(0) > 0]
    active = active.drop_duplicates("distinct_id")
    total = len(active)
    if total == 0:
        return []
    converted = active["converted"].fillna(False).astype(bool).to_numpy()
    overall = float(converted.mean())
    seen = day_numbers(active["first_seen"])
    lo, hi = day_number(first), day_number(last)
    half = (hi - lo + 1) // 2
    in_first = (seen != NAT_DAY) & (seen >= lo) & (seen < lo + half)
    in_second = (seen != NAT_DAY) & (seen > hi - half) & (seen <= hi)
    frame = pd.DataFrame(
        {
            "size": np.ones(total, dtype=np.int64),
            "conversions": converted.astype(np.int64),
            "new_first_half": in_first.astype(np.int64),
            "new_second_half": in_second.astype(np.int64),
        }
    )
    found: list[tuple[Any, ...]] = []
    for dimension in dimensions:
        if dimension in active.columns:
            labels = _labels(active[dimension]).to_numpy()
        else:
            labels = np.full(total, UNKNOWN, dtype=object)
        sums = frame.groupby(labels, sort=True).sum()
        for value, row in sums.iterrows():
            size = int(row["size"])
            if size < min_users:
                continue
            early, late = int(row["new_first_half"]), int(row["new_second_half"])
            rate = int(row["conversions"]) / size
            gap = overall - rate
            found.append(
                (
                    dimension,
                    str(value),
                    size,
                    size / total,
                    early,
                    late,
                    late / early - 1 if early else None,
                    int(row["conversions"]),
                    rate,
                    gap,
                    size * max(gap, 0.0),
                )
            )
    found.sort(key=lambda r: (-r[10], r[6] is None, -(r[6] or 0.0), -r[2], r[0], r[1]))
    return [Opportunity(*row, rank=i) for i, row in enumerate(found, start=1)]


def _property(events: pd.DataFrame, name: str) -> pd.Series:
    if name in events.columns:
        return events[name]
    if "properties" in events.columns:
        return events["properties"].map(lambda p: p.get(name) if isinstance(p, dict) else None)
    return pd.Series(None, index=events.index, dtype=object)


def user_segments(
    events: pd.DataFrame,
    *,
    start: date,
    end: date,
    dimensions: Sequence[str] = DIMENSIONS,
    conversion_event: str = "convert",
) -> pd.DataFrame:
    """The one-row-per-user frame :func:`market_opportunities` reads, from raw events.

    ``first_seen`` is the user's first event day in ``events`` (pass the full history up to
    ``end``); ``active_days`` the distinct days with an event in ``[start, end]``;
    ``converted`` whether the user has a ``conversion_event`` event up to ``end``; each
    dimension the user's first non-missing value of that property (the segment they were
    acquired in: a plan changed by converting would otherwise leak the outcome into the
    segment), read from a column of that name, else from the ``properties`` dicts;
    ``"unknown"`` if none. Events after ``end`` are ignored.

    Args:
        events: ``distinct_id``, ``event``, ``timestamp`` and ``properties`` (dicts) or one
            column per dimension.
        start: first day of the window.
        end: last day of the window (included).
        dimensions: the properties to keep as segment columns.
        conversion_event: the event marking a conversion.

    Returns:
        One row per user seen up to ``end``: ``distinct_id``, ``first_seen``,
        ``active_days``, ``converted`` and the dimension columns.

    Example:
        >>> import pandas as pd
        >>> from datetime import date
        >>> events = pd.DataFrame({
        ...     "distinct_id": ["a", "a"], "event": ["signup", "convert"],
        ...     "timestamp": pd.to_datetime(["2026-08-01", "2026-08-03"], utc=True),
        ...     "properties": [{"country": "DE"}, {}]})
        >>> row = user_segments(events, start=date(2026, 8, 1), end=date(2026, 8, 31),
        ...                     dimensions=["country"]).iloc[0]
        >>> (int(row.active_days), bool(row.converted), row.country)
        (2, True, 'DE')
    """
    first, last = date_range(start, end)
    columns = [*USER_COLUMNS, *dimensions]
    if events.empty:
        return pd.DataFrame(columns=columns)
    days = day_numbers(events["timestamp"])
    keep = (days != NAT_DAY) & (days <= day_number(last)) & events["distinct_id"].notna().to_numpy()
    selected = events[keep]
    days = days[keep]
    users = selected["distinct_id"].astype(str).to_numpy()
    frame = pd.DataFrame(
        {
            "distinct_id": users,
            "day": days,
            "in_window": days >= day_number(first),
            "convert": (selected["event"] == conversion_event).to_numpy(),
        }
    )
    order = np.argsort(days, kind="stable")
    for dimension in dimensions:
        frame[dimension] = _property(selected, dimension).to_numpy()
    frame = frame.iloc[order]
    grouped = frame.groupby("distinct_id", sort=True)
    result = pd.DataFrame(
        {
            "first_seen": grouped["day"].min().map(day_from_number),
            "active_days": frame[frame["in_window"]]
            .groupby("distinct_id")["day"]
            .nunique()
            .reindex(grouped["day"].min().index, fill_value=0)
            .astype(int),
            "converted": grouped["convert"].any(),
        }
    )
    for dimension in dimensions:
        result[dimension] = _labels(grouped[dimension].first().reindex(result.index))
    return result.rename_axis("distinct_id").reset_index()[columns]
