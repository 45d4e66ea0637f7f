"""Daily user activity as numpy arrays, and the period arithmetic the analytics share.

Retention, stickiness, lifecycle and trends all start from "which user was active on which
day"; this module turns an activity frame into sorted distinct (user, day) pairs and does
the day/week/month arithmetic on day numbers (days since 1970-01-01). Pure numpy/pandas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

Period = Literal["day", "week", "month"]

EPOCH = date(1970, 1, 1)
_INT = np.int64
NAT_DAY = np.iinfo(_INT).min  # marks a missing day in day_numbers()


def json_float(value: Any) -> float | None:
    """A JSON-safe float: ``None`` for ``None``, NaN and infinities, else ``float(value)``."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (a sort and a mask: faster than ``np.unique``'s hashing
    for millions of integers)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def day_number(day: date) -> int:
    """Days since 1970-01-01 of a date (a datetime is cut to its date)."""
    if isinstance(day, datetime):
        day = day.date()
    return (day - EPOCH).days


def day_from_number(number: int) -> date:
    """The date ``number`` days after 1970-01-01."""
    return EPOCH + timedelta(days=int(number))


def day_numbers(values: Any) -> np.ndarray:
    """Days since 1970-01-01 for each value, as int64; missing values give ``NAT_DAY``.

    Accepts ``datetime.date`` objects, ISO strings and naive or tz-aware datetimes (any
    ``datetime64`` unit). Tz-aware values are converted to UTC first; times are floored to
    their day.
    """
    stamps = pd.to_datetime(pd.Series(values, copy=False), utc=True).dt.tz_localize(None)
    raw = stamps.to_numpy(dtype="datetime64[ns]")
    days = raw.astype("datetime64[D]").astype(_INT)
    days[np.isnat(raw)] = NAT_DAY
    return days


@dataclass(frozen=True, slots=True)
class ActivityArrays:
    """Distinct (user, day) pairs, sorted by user then day.

    Attributes:
        users: user codes ``0 .. n_users - 1`` (int64), every code present.
        days: days since 1970-01-01 (int64).
        ids: the ``distinct_id`` of each user code.
    """

    users: np.ndarray
    days: np.ndarray
    ids: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.ids)

    def __len__(self) -> int:
        return len(self.users)


def activity_arrays(activity: pd.DataFrame, *, until: date | None = None) -> ActivityArrays:
    """Normalise an activity frame to distinct (user, day) pairs.

    Args:
        activity: columns ``day`` (dates or datetimes) and ``distinct_id``; duplicate rows
            and extra columns are fine. Rows with a missing day or user are dropped.
        until: drop days after this one (the last observed day).

    Returns:
        The pairs, sorted by user then day.

    Raises:
        ValueError: a non-empty frame lacks ``day`` or ``distinct_id``.
    """
    empty = ActivityArrays(np.zeros(0, _INT), np.zeros(0, _INT), np.zeros(0, object))
    if len(activity) == 0:
        return empty
    missing = {"day", "distinct_id"} - set(activity.columns)
    if missing:
        raise ValueError(f"activity lacks column(s) {sorted(missing)}: needs day, distinct_id")
    days = day_numbers(activity["day"])
    ids = activity["distinct_id"].to_numpy()
    keep = (days != NAT_DAY) & ~pd.isna(ids)
    if until is not None:
        keep &= days <= day_number(until)
    if not keep.any():
        return empty
    days = days[keep]
    codes, uniques = pd.factorize(ids[keep])
    low = int(days.min())
    width = int(days.max()) - low + 1
    keys = sorted_unique(codes.astype(_INT) * width + (days - low))
    return ActivityArrays(keys // width, keys % width + low, np.asarray(uniques, dtype=object))


def first_days(arrays: ActivityArrays) -> np.ndarray:
    """Each user's first active day (indexed by user code)."""
    users = arrays.users
    first = np.ones(len(users), dtype=bool)
    first[1:] = users[1:] != users[:-1]
    return arrays.days[first]


def period_index(days: np.ndarray | int, period: Period) -> np.ndarray:
    """A running index of the period each day falls in (consecutive periods differ by 1).

    Days are days since 1970-01-01; weeks start on Monday, months are calendar months.
    """
    days = np.asarray(days, dtype=_INT)
    if period == "day":
        return days
    if period == "week":
        return (days + 3) // 7  # 1970-01-01 was a Thursday: Monday 1969-12-29 is day -3
    if period == "month":
        return days.astype("datetime64[D]").astype("datetime64[M]").astype(_INT)
    raise ValueError(f"period must be 'day', 'week' or 'month', got {period!r}")


def period_first_day(index: int, period: Period) -> date:
    """The first day of the period with running index ``index`` (see :func:`period_index`)."""
    if period == "day":
        return day_from_number(index)
    if period == "week":
        return day_from_number(index * 7 - 3)
    return np.datetime64(int(index), "M").astype("datetime64[D]").astype(date)


def date_range(start: date, end: date) -> tuple[date, date]:
    """``(start, end)`` as plain dates (datetimes are cut to their date).

    Raises:
        ValueError: ``start`` is after ``end``.
    """
    first, last = day_from_number(day_number(start)), day_from_number(day_number(end))
    if first > last:
        raise ValueError(f"start ({first}) is after end ({last})")
    return first, last
