"""Cohort retention over a product's daily user activity.

A user's cohort is the period (day, or ISO week starting on Monday) in which they were first
seen anywhere in the product's history. For each cohort whose period overlaps
``[start, end]`` we report its size and the share of its users active ``N`` periods later,
for ``N = 0 .. horizon``, plus one overall curve weighted by cohort size.

Example:
    >>> import pandas as pd
    >>> from datetime import date
    >>> activity = pd.DataFrame({
    ...     "day": [date(2026, 8, 1), date(2026, 8, 2), date(2026, 8, 1)],
    ...     "distinct_id": ["a", "a", "b"],
    ... })
    >>> result = retention(activity, start=date(2026, 8, 1), end=date(2026, 8, 3), horizon=2)
    >>> result.cohorts[0].shares
    (1.0, 0.5, 0.0)
    >>> result.curve
    (1.0, 0.5, 0.0)
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
    first_days,
    json_float,
    period_first_day,
    period_index,
    sorted_unique,
)

RetentionPeriod = Literal["day", "week"]


# --- retention ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cohort:
    """One cohort: users first seen in the same period.

    Attributes:
        period: first day of the cohort's period.
        size: users first seen in that period.
        active: users of the cohort active ``N`` periods later, for ``N = 0 .. horizon``;
            ``None`` where that period is not observed (after ``end``).
        shares: ``active[N] / size`` (``None`` where ``active[N]`` is).
    """

    period: date
    size: int
    active: tuple[int | None, ...]
    shares: tuple[float | None, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.isoformat(),
            "size": self.size,
            "active": list(self.active),
            "shares": [json_float(share) for share in self.shares],
        }


@dataclass(frozen=True, slots=True)
class Retention:
    """Retention cohorts and the overall curve.

    Attributes:
        period: ``"day"`` or ``"week"``.
        start: first day asked.
        end: last day asked, the last observed day.
        horizon: the largest ``N`` reported.
        cohorts: non-empty cohorts, oldest first.
        curve: for each ``N``, retained users over cohort users, summed over the cohorts that
            observe their ``N``-th period (``None`` when none does).
        curve_users: the denominator of ``curve[N]``: users of the cohorts that observe ``N``.
    """

    period: RetentionPeriod
    start: date
    end: date
    horizon: int
    cohorts: tuple[Cohort, ...]
    curve: tuple[float | None, ...]
    curve_users: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "horizon": self.horizon,
            "cohorts": [cohort.to_dict() for cohort in self.cohorts],
            "curve": [json_float(value) for value in self.curve],
            "curve_users": list(self.curve_users),
        }


def retention(
    activity: pd.DataFrame,
    *,
    start: date,
    end: date,
    period: RetentionPeriod = "day",
    horizon: int = 30,
    include_partial: bool = True,
) -> Retention:
    """Cohort retention by first-seen period.

    A user belongs to the cohort of the period of their first active day in the whole
    history. Cohorts are the periods overlapping ``[start, end]`` (whole periods: with
    ``period="week"`` and a Wednesday ``start``, that week's cohort also holds users first
    seen on its Monday and Tuesday). A user counts as active ``N`` periods later if they
    have at least one active day in the cohort's period plus ``N``; so ``shares[0]`` is 1.0.

    Args:
        activity: columns ``day`` and ``distinct_id``, one row per user per active day
            (duplicates tolerated), the full history up to ``end``; days after ``end`` are
            ignored.
        start: first day of the range of cohorts.
        end: last day of the range, and the last observed day.
        period: ``"day"`` or ``"week"`` (weeks start on Monday).
        horizon: the largest ``N`` reported (>= 0).
        include_partial: whether a period that contains ``end`` but ends after it counts as
            observed (its share is then a lower bound). With ``False`` it is ``None`` too.

    Returns:
        The cohorts (empty ones left out) and the cohort-size-weighted curve.

    Raises:
        ValueError: ``start > end``, ``horizon < 0``, an unknown period, or missing columns.

    Example:
        >>> import pandas as pd
        >>> from datetime import date
        >>> activity = pd.DataFrame({"day": [date(2026, 8, 3), date(2026, 8, 11)],
        ...                          "distinct_id": ["a", "a"]})
        >>> weekly = retention(activity, start=date(2026, 8, 3), end=date(2026, 8, 16),
        ...                    period="week", horizon=2)
        >>> weekly.cohorts[0].active
        (1, 1, None)
    """
    start, end = date_range(start, end)
    if period not in ("day", "week"):
        raise ValueError(f"period must be 'day' or 'week', got {period!r}")
    if horizon < 0:
        raise ValueError(f"horizon must be >= 0, got {horizon}")
    width = horizon + 1
    first_period = int(period_index(day_number(start), period))
    last_period = int(period_index(day_number(end), period))
    # The last period observed: the one containing `end`, unless it must be complete.
    last_observed = last_period
    if not include_partial and period_index(day_number(end) + 1, period) == last_period:
        last_observed -= 1
    n_cohorts = last_period - first_period + 1

    arrays = activity_arrays(activity, until=end)
    if len(arrays) == 0:
        return Retention(period, start, end, horizon, (), (None,) * width, (0,) * width)

    cohort_of_user = period_index(first_days(arrays), period)
    cohort = cohort_of_user[arrays.users]
    offset = period_index(arrays.days, period) - cohort
    kept = (cohort >= first_period) & (offset <= horizon)  # cohorts after `end` cannot exist
    # One (user, N) pair per user and offset: a user active on several days of a week counts once.
    pairs = sorted_unique(arrays.users[kept] * width + offset[kept])
    users, offsets = pairs // width, pairs % width
    cells = (cohort_of_user[users] - first_period) * width + offsets
    counts = np.bincount(cells, minlength=n_cohorts * width).reshape(n_cohorts, width)
    sizes = counts[:, 0]  # every user is active in their first period
    # Cohort i observes N while first_period + i + N <= last_observed.
    observable = (last_observed - first_period - np.arange(n_cohorts))[:, None] >= np.arange(width)[
        None, :
    ]

    cohorts = []
    for i in np.flatnonzero(sizes):
        size = int(sizes[i])
        active = tuple(int(counts[i, n]) if observable[i, n] else None for n in range(width))
        shares = tuple(None if a is None else a / size for a in active)
        cohorts.append(
            Cohort(period_first_day(first_period + int(i), period), size, active, shares)
        )

    seen = observable & (sizes[:, None] > 0)
    retained = np.where(seen, counts, 0).sum(axis=0)
    denominators = np.where(seen, sizes[:, None], 0).sum(axis=0)
    curve = tuple(
        float(r) / float(d) if d else None for r, d in zip(retained, denominators, strict=True)
    )
    return Retention(
        period, start, end, horizon, tuple(cohorts), curve, tuple(int(d) for d in denominators)
    )
