"""Time arithmetic: the generator works in integer microseconds since the period's start.

Integers keep timestamps exact and make formatting deterministic; converting to text happens
only at the edge, vectorised through numpy's datetime64.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final

import numpy as np

SECOND_US: Final = 1_000_000
HOUR_US: Final = 3600 * SECOND_US
DAY_US: Final = 24 * HOUR_US
# "Never happens" for int64 µs columns; far enough from the int64 limit that adding a few
# days to it cannot overflow.
NEVER_US: Final = np.iinfo(np.int64).max // 4


def period_origin(start: date) -> np.datetime64:
    """The period's start as a microsecond datetime64 (UTC midnight)."""
    return np.datetime64(start.isoformat(), "us")


def iso_timestamps(start: date, offsets_us: np.ndarray) -> list[str]:
    """Format µs offsets from ``start`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` strings."""
    stamps = period_origin(start) + offsets_us.astype("timedelta64[us]")
    return np.datetime_as_string(stamps, unit="us", timezone="UTC").tolist()


def iso_seconds(start: date, offset_us: int) -> str:
    """Format one µs offset from ``start`` as ``YYYY-MM-DDTHH:MM:SSZ`` (second precision)."""
    moment = datetime(start.year, start.month, start.day, tzinfo=UTC)
    moment += timedelta(microseconds=int(offset_us) // SECOND_US * SECOND_US)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def weekday_of(start: date, day: int) -> int:
    """Weekday (Monday = 0) of the period's ``day``-th day."""
    return (start.weekday() + day) % 7
