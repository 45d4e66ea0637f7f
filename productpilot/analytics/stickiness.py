"""Stickiness: how often users come back, as daily DAU/MAU and a days-active histogram.

Example:
    >>> import pandas as pd
    >>> from datetime import date
    >>> activity = pd.DataFrame({
    ...     "day": [date(2026, 8, 1), date(2026, 8, 2), date(2026, 8, 2)],
    ...     "distinct_id": ["a", "a", "b"],
    ... })
    >>> result = stickiness(activity, start=date(2026, 8, 1), end=date(2026, 8, 2))
    >>> [(d.dau, d.mau, d.dau_mau) for d in result.days]
    [(1, 1, 1.0), (2, 2, 1.0)]
    >>> result.histogram  # one user active on exactly 1 day, one on exactly 2
    (1, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from productpilot.analytics.activity import (
    activity_arrays,
    date_range,
    day_from_number,
    day_number,
    json_float,
)


@dataclass(frozen=True, slots=True)
class StickinessDay:
    """One day's DAU, MAU and their ratio.

    Attributes:
        day: the day.
        dau: distinct users active that day.
        mau: distinct users active in the trailing window (30 days by default) ending that
            day, the day included.
        dau_mau: ``dau / mau``, ``None`` when ``mau`` is 0.
    """

    day: date
    dau: int
    mau: int
    dau_mau: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "dau": self.dau,
            "mau": self.mau,
            "dau_mau": json_float(self.dau_mau),
        }


@dataclass(frozen=True, slots=True)
class Stickiness:
    """DAU/MAU per day and the days-active histogram over ``[start, end]``.

    Attributes:
        start: first day.
        end: last day.
        mau_window: days in the trailing MAU window.
        days: one entry per day of ``[start, end]``, in order.
        histogram: ``histogram[k - 1]`` users were active on exactly ``k`` days of
            ``[start, end]``, for ``k = 1 .. n_days``.
        users: distinct users active in ``[start, end]`` (the histogram's total).
        mean_dau_mau: mean of the defined daily ratios, ``None`` if there is none.
    """

    start: date
    end: date
    mau_window: int
    days: tuple[StickinessDay, ...]
    histogram: tuple[int, ...]
    users: int
    mean_dau_mau: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "mau_window": self.mau_window,
            "days": [day.to_dict() for day in self.days],
            "histogram": [
                {"days": k, "users": users} for k, users in enumerate(self.histogram, start=1)
            ],
            "users": self.users,
            "mean_dau_mau": json_float(self.mean_dau_mau),
        }


def stickiness(
    activity: pd.DataFrame, *, start: date, end: date, mau_window: int = 30
) -> Stickiness:
    """Daily DAU/MAU and how many users were active on exactly k days.

    MAU on day ``d`` counts distinct users with an active day in ``[d - 29, d]`` (with the
    default 30-day window), so it needs the history before ``start``: pass the full activity.
    Days after ``end`` are ignored.

    Args:
        activity: columns ``day`` and ``distinct_id``, one row per user per active day
            (duplicates tolerated).
        start: first day reported.
        end: last day reported.
        mau_window: length of the trailing MAU window in days, the day itself included.

    Returns:
        The per-day series (zero-filled; ratio ``None`` when MAU is 0), the histogram and the
        mean ratio.

    Raises:
        ValueError: ``start > end``, ``mau_window < 1`` or missing columns.

    Example:
        >>> import pandas as pd
        >>> from datetime import date
        >>> activity = pd.DataFrame({"day": [date(2026, 7, 10), date(2026, 8, 1)],
        ...                          "distinct_id": ["a", "b"]})
        >>> day = stickiness(activity, start=date(2026, 8, 1), end=date(2026, 8, 1)).days[0]
        >>> (day.dau, day.mau)  # "a" was active 22 days before, inside the 30-day window
        (1, 2)
    """
    start, end = date_range(start, end)
    if mau_window < 1:
        raise ValueError(f"mau_window must be >= 1, got {mau_window}")
    first, last = day_number(start), day_number(end)
    n_days = last - first + 1
    arrays = activity_arrays(activity, until=end)
    users, days = arrays.users, arrays.days

    # Each active day (u, d) keeps u in the MAU of days [d, d + window), cut short at u's next
    # active day: per user the intervals are disjoint, so summing them counts distinct users.
    same_user_next = np.zeros(len(users), dtype=bool)
    same_user_next[:-1] = users[1:] == users[:-1]
    until = days + mau_window
    if len(days):
        until[:-1] = np.where(same_user_next[:-1], np.minimum(until[:-1], days[1:]), until[:-1])
    low, high = np.maximum(days, first) - first, np.minimum(until, last + 1) - first
    covers = low < high
    delta = (
        np.bincount(low[covers], minlength=n_days + 1)[: n_days + 1]
        - np.bincount(high[covers], minlength=n_days + 1)[: n_days + 1]
    )
    mau = np.cumsum(delta)[:n_days]

    in_range = days >= first
    dau = np.bincount(days[in_range] - first, minlength=n_days)
    per_user = np.bincount(users[in_range], minlength=arrays.n_users)
    histogram = np.bincount(per_user, minlength=n_days + 1)[1:]

    series = []
    ratios = []
    for i in range(n_days):
        ratio = float(dau[i]) / float(mau[i]) if mau[i] else None
        if ratio is not None:
            ratios.append(ratio)
        series.append(StickinessDay(day_from_number(first + i), int(dau[i]), int(mau[i]), ratio))
    return Stickiness(
        start=start,
        end=end,
        mau_window=mau_window,
        days=tuple(series),
        histogram=tuple(int(count) for count in histogram),
        users=int(histogram.sum()),
        mean_dau_mau=float(np.mean(ratios)) if ratios else None,
    )
