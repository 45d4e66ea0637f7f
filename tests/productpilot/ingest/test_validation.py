"""What an event must look like to be stored, and the reason given when it does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from productpilot.ingest.validation import RowError, parse_event

NOW = datetime(2026, 9, 1, 12, tzinfo=UTC)
GOOD = {"event": "signup", "distinct_id": "u1", "timestamp": "2026-08-01T09:00:00Z"}


def parse(**changes: object):
    record = {**GOOD, **changes}
    return parse_event({k: v for k, v in record.items() if v is not ...}, now=NOW)


def test_a_minimal_event_is_accepted_with_empty_properties() -> None:
    row = parse()
    assert (row.event, row.distinct_id, row.properties_json) == ("signup", "u1", "{}")
    assert row.timestamp == datetime(2026, 8, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2026-08-01T11:00:00+02:00", datetime(2026, 8, 1, 9, tzinfo=UTC)),
        ("2026-08-01T09:00:00", datetime(2026, 8, 1, 9, tzinfo=UTC)),  # no offset: UTC
        (1785574800, datetime(2026, 8, 1, 9, tzinfo=UTC)),  # epoch seconds
        (1785574800000, datetime(2026, 8, 1, 9, tzinfo=UTC)),  # epoch milliseconds
        (1785574800.5, datetime(2026, 8, 1, 9, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_timestamps_are_read_in_every_common_form_and_kept_in_utc(timestamp, expected) -> None:
    assert parse(timestamp=timestamp).timestamp == expected


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"event": ...}, "event is missing"),
        ({"event": "  "}, "event is empty"),
        ({"event": "x" * 201}, "event is longer than 200"),
        ({"event": ["a"]}, "event must be a string"),
        ({"event": 7}, "event must be a string"),
        ({"distinct_id": ...}, "distinct_id is missing"),
        ({"distinct_id": True}, "distinct_id must be a string"),
        ({"timestamp": ...}, "timestamp is missing"),
        ({"timestamp": "yesterday"}, "is not ISO 8601"),
        ({"timestamp": {}}, "timestamp must be a string"),
        ({"timestamp": "2026-09-03T00:00:00Z"}, "is in the future"),
        ({"timestamp": "1999-12-31T23:59:59Z"}, "is before 2000-01-01"),
        ({"timestamp": 1e20}, "out of range"),
        ({"properties": [1, 2]}, "properties must be a JSON object"),
        ({"properties": {"big": "x" * 40_000}}, "properties are larger than"),
        ({"uuid": "u" * 65}, "uuid is longer than 64"),
        ({"colour": "red"}, "unknown field 'colour'"),
    ],
)
def test_each_kind_of_bad_event_is_refused_with_its_reason(changes, reason) -> None:
    with pytest.raises(RowError, match=reason):
        parse(**changes)


def test_a_non_object_is_refused() -> None:
    with pytest.raises(RowError, match="must be a JSON object"):
        parse_event(["signup"], now=NOW)  # type: ignore[arg-type]


def test_the_future_tolerance_allows_for_clock_skew() -> None:
    skewed = (NOW + timedelta(hours=3)).isoformat()
    assert parse(timestamp=skewed).timestamp > NOW


def test_numeric_distinct_ids_are_kept_as_text() -> None:
    assert parse(distinct_id=42).distinct_id == "42"


def test_the_client_uuid_is_the_idempotency_key() -> None:
    assert parse(uuid="0b7e-1").idempotency_key == "0b7e-1"


def test_events_without_uuid_get_a_key_derived_from_their_content() -> None:
    first = parse(properties={"b": 1, "a": 2})
    same = parse(properties={"a": 2, "b": 1})  # key order does not matter
    other = parse(properties={"a": 3, "b": 1})
    assert first.idempotency_key == same.idempotency_key != other.idempotency_key
    assert first.idempotency_key.startswith("sha256:")
    assert len(first.idempotency_key) <= 64
