"""User lifecycle per period: new, returning, resurrected and dormant users.

Example:
    >>> import pandas as pd
    >>> from datetime import date
    >>> activity = pd.DataFrame({
    ...     "day": [date(2026, 8, 1), date(2026, 8, 2), date(2026, 8, 2), date(2026, 8, 4)],
    ...     "distinct_id": ["a", "a", "b", "a"],
    ... })
    >>> for p in lifecycle(activity, start=date(2026, 8, 1), end=date(2026, 8, 4), period="day"):
    ...     print(p.period, p.new, p.returning, p.resurrected, p.dormant, p.active)
    2026-08-01 1 0 0 0 1
    2026-08-02 1 1 0 0 2
    2026-08-03 0 0 0 2 0
    2026-08-04 0 0 1 0 1
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd

from productpilot.analytics.activity import (
    activity_arrays,
    date_range,
    day_number,
    period_first_day,
    period_index,
    sorted_unique,
)

LifecycleGranularity = Literal["day", "week", "month"]


@dataclass(frozen=True, slots=True)
class LifecyclePeriod:
    """The lifecycle counts of one period.

    Attributes:
        period: first day of the period.
        new: users whose first active day ever is in this period.
        returning: users active in this period and the previous one (never new).
        resurrected: users active in this period, not in the previous one, and seen before.
        dormant: users active in the previous period but not in this one (a positive count
            of users lost; charts usually draw it below zero).
        active: ``new + returning + resurrected``, the distinct users active in the period.
    """

    period: date
    new: int
    returning: int
    resurrected: int
    dormant: int
    active: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.isoformat(),
            "new": self.new,
            "returning": self.returning,
            "resurrected": self.resurrected,
            "dormant": self.dormant,
            "active": self.active,
        }


def lifecycle(
    activity: pd.DataFrame,
    *,
    start: date,
    end: date,
    period: LifecycleGranularity = "week",
) -> list[LifecyclePeriod]:
    """Lifecycle counts for every period overlapping ``[start, end]``.

    Periods are whole periods (weeks start on Monday, months are calendar months), also at
    the edges: the first period counts activity from its first day even if ``start`` is
    later, and "previous period" always means the whole period before. Days after ``end`` are
    unknown, so the period containing ``end`` holds activity up to ``end`` only.

    Args:
        activity: columns ``day`` and ``distinct_id``, one row per user per active day
            (duplicates tolerated), the full history up to ``end`` (first-seen days depend
            on it: a user active before ``start`` is never new in the range).
        start: first day of the range.
        end: last day of the range.
        period: ``"day"``, ``"week"`` or ``"month"``.

    Returns:
        One entry per period, oldest first, zero-filled.

    Raises:
        ValueError: ``start > end``, an unknown period or missing columns.

    Example:
        >>> import pandas as pd
        >>> from datetime import date
        >>> activity = pd.DataFrame({"day": [date(2026, 6, 1), date(2026, 8, 20)],
        ...                          "distinct_id": ["a", "a"]})
        >>> months = lifecycle(activity, start=date(2026, 8, 1), end=date(2026, 8, 31),
        ...                    period="month")
        >>> (months[0].new, months[0].resurrected, months[0].dormant)
        (0, 1, 0)
    """
    start, end = date_range(start, end)
    first = int(period_index(day_number(start), period))  # also validates `period`
    last = int(period_index(day_number(end), period))
    n_periods = last - first + 1

    arrays = activity_arrays(activity, until=end)
    periods = period_index(arrays.days, period)
    low = int(periods.min()) if len(periods) else 0
    width = int(periods.max()) - low + 2 if len(periods) else 1
    # Distinct (user, period) pairs, sorted by user then period.
    pairs = sorted_unique(arrays.users * width + (periods - low))
    users, periods = pairs // width, pairs % width + low

    seen_before = np.zeros(len(users), dtype=bool)
    seen_before[1:] = users[1:] == users[:-1]
    previous = np.empty_like(periods)
    previous[1:] = periods[:-1]
    returning = seen_before & (previous == periods - 1)
    resurrected = seen_before & ~returning
    new = ~seen_before
    # A user goes dormant in the period after one they were active in, unless active then too.
    continues = np.zeros(len(users), dtype=bool)
    continues[:-1] = returning[1:]

    def count(mask: np.ndarray, shift: int = 0) -> np.ndarray:
        index = periods[mask] + shift - first
        index = index[(index >= 0) & (index < n_periods)]
        return np.bincount(index, minlength=n_periods)

    counts_new, counts_returning = count(new), count(returning)
    counts_resurrected, counts_dormant = count(resurrected), count(~continues, shift=1)
    return [
        LifecyclePeriod(
            period=period_first_day(first + i, period),
            new=int(counts_new[i]),
            returning=int(counts_returning[i]),
            resurrected=int(counts_resurrected[i]),
            dormant=int(counts_dormant[i]),
            active=int(counts_new[i] + counts_returning[i] + counts_resurrected[i]),
        )
        for i in range(n_periods)
    ]
