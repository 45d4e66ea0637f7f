"""Date ranges in query strings: ordered, bounded, and within the years the store holds."""

from __future__ import annotations

from datetime import date, timedelta

from productpilot.api.problems import ApiError

EARLIEST = date(2000, 1, 1)  # events before 2000 are refused at ingestion too
LATEST = date(2999, 12, 31)


def check_range(start: date, end: date, longest: timedelta, what: str) -> None:
    """422 unless ``start <= end``, both within the store's years, and at most ``longest``."""
    if start < EARLIEST or end > LATEST:
        raise ApiError(422, f"dates must lie between {EARLIEST} and {LATEST}", kind="invalid-input")
    if end < start:
        raise ApiError(422, "'to' is before 'from'", kind="invalid-input")
    if end - start > longest:
        raise ApiError(422, f"ask for at most {what} at once", kind="invalid-input")
