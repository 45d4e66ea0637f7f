"""One event, checked at the edge: what every ingestion path (file import, API) accepts.

Example:
    >>> from datetime import UTC, datetime
    >>> row = parse_event(
    ...     {"event": "signup", "distinct_id": "u1", "timestamp": "2026-08-01T09:00:00Z"},
    ...     now=datetime(2026, 9, 1, tzinfo=UTC),
    ... )
    >>> row.event, row.timestamp.isoformat()
    ('signup', '2026-08-01T09:00:00+00:00')
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

MAX_NAME_LENGTH = 200
MAX_KEY_LENGTH = 64
MAX_PROPERTIES_BYTES = 32_768
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
DEFAULT_FUTURE_TOLERANCE = timedelta(days=1)
FIELDS = frozenset({"uuid", "event", "distinct_id", "timestamp", "properties"})
# Epoch numbers above this are milliseconds: 1e11 seconds is the year 5138.
_EPOCH_MILLIS_THRESHOLD = 100_000_000_000


class RowError(ValueError):
    """Why one event was rejected (the message is shown to the user as is)."""


@dataclass(slots=True, frozen=True)
class EventRow:
    """A valid event, ready to store. ``properties_json`` is canonical JSON text."""

    idempotency_key: str
    event: str
    distinct_id: str
    timestamp: datetime
    properties_json: str


def _text(value: Any, field: str, *, numbers: bool = False) -> str:
    """A non-empty, bounded string; ``numbers`` also accepts integers (numeric user ids)."""
    accepted = str | int if numbers else str
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise RowError(f"{field} must be a string")
    text = str(value).strip()
    if not text:
        raise RowError(f"{field} is empty")
    if len(text) > MAX_NAME_LENGTH:
        raise RowError(f"{field} is longer than {MAX_NAME_LENGTH} characters")
    return text


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 (an offset or ``Z``; none means UTC) or Unix epoch seconds/milliseconds."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise RowError(f"timestamp {value[:40]!r} is not ISO 8601") from None
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= _EPOCH_MILLIS_THRESHOLD else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise RowError(f"timestamp {value} is out of range") from None
    raise RowError("timestamp is missing" if value is None else "timestamp must be a string")


def derived_key(event: str, distinct_id: str, timestamp: datetime, properties_json: str) -> str:
    """An idempotency key for an event sent without one: the same event, the same key."""
    digest = hashlib.sha256(
        f"{event}\x1f{distinct_id}\x1f{timestamp.isoformat()}\x1f{properties_json}".encode()
    )
    return "sha256:" + digest.hexdigest()[:40]


def parse_event(
    data: Mapping[str, Any],
    *,
    now: datetime,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
    earliest: datetime = EARLIEST,
) -> EventRow:
    """Validate one event. Raises :class:`RowError` with the first reason it is unusable."""
    if not isinstance(data, Mapping):
        raise RowError("an event must be a JSON object")
    unknown = data.keys() - FIELDS
    if unknown:
        raise RowError(f"unknown field {sorted(unknown)[0]!r}")
    event = _text(data.get("event"), "event") if data.get("event") is not None else None
    if event is None:
        raise RowError("event is missing")
    raw_id = data.get("distinct_id")
    if raw_id is None:
        raise RowError("distinct_id is missing")
    distinct_id = _text(raw_id, "distinct_id", numbers=True)

    timestamp = parse_timestamp(data.get("timestamp"))
    if timestamp > now + future_tolerance:
        raise RowError(f"timestamp {timestamp.isoformat()} is in the future")
    if timestamp < earliest:
        raise RowError(f"timestamp {timestamp.isoformat()} is before {earliest.date()}")

    properties = data.get("properties")
    if properties is None:
        properties = {}
    elif not isinstance(properties, Mapping):
        raise RowError("properties must be a JSON object")
    try:
        properties_json = orjson.dumps(properties, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError as exc:
        raise RowError(f"properties are not JSON: {exc}") from None
    if len(properties_json) > MAX_PROPERTIES_BYTES:
        raise RowError(f"properties are larger than {MAX_PROPERTIES_BYTES} bytes")

    key = data.get("uuid")
    if key is None:
        key = derived_key(event, distinct_id, timestamp, properties_json)
    else:
        key = _text(key, "uuid")
        if len(key) > MAX_KEY_LENGTH:
            raise RowError(f"uuid is longer than {MAX_KEY_LENGTH} characters")
    return EventRow(key, event, distinct_id, timestamp, properties_json)
