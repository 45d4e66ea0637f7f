"""Fold new events into the daily rollups, exactly once.

Each pass takes the product's watermark row with an ``UPDATE ... RETURNING`` (a row lock on
PostgreSQL, the write lock on SQLite), so overlapping runs queue instead of double
counting. It then folds one chunk of events past the watermark into ``event_counts_daily``
and ``user_activity_daily`` with ``INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE``
(adding to what is there) and moves the watermark, all in one transaction: a run that
crashes half-way rolls the whole chunk back, and the next run folds it again from the same
watermark. Cost grows with the new events, never with history.

Ids come from a sequence, so on PostgreSQL a transaction can commit a lower id after a
higher one is visible. The fold therefore stops short of any event received within
``settle`` of now: it assumes an ingest transaction commits within that time, which the
bulk writers (one commit per batch, about a second) comfortably do.

Days are UTC days.

Example:
    >>> result = fold_events(store, tenant_id, product_id)  # doctest: +SKIP
    >>> result.events
    74899
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from productpilot.db.store import Store
from productpilot.db.types import SQLITE_DATETIME_FORMAT, utcnow

ROLLUP = "daily"
DEFAULT_CHUNK = 1_000_000
DEFAULT_SETTLE = timedelta(seconds=5)

#: The UTC day of ``events.timestamp``, per dialect (SQLite stores naive UTC text).
UTC_DAY_SQL = {"sqlite": "date(timestamp)", "postgresql": "(timestamp AT TIME ZONE 'UTC')::date"}

_FOLD_COUNTS = """
INSERT INTO event_counts_daily (tenant_id, product_id, day, event, count)
SELECT :tenant, :product, {day}, event, count(*)
FROM events
WHERE product_id = :product AND id > :low AND id <= :high
GROUP BY {day}, event
ON CONFLICT (product_id, day, event)
DO UPDATE SET count = event_counts_daily.count + excluded.count
"""

_FOLD_ACTIVITY = """
INSERT INTO user_activity_daily (tenant_id, product_id, day, distinct_id, event_count)
SELECT :tenant, :product, {day}, distinct_id, count(*)
FROM events
WHERE product_id = :product AND id > :low AND id <= :high
GROUP BY {day}, distinct_id
ON CONFLICT (product_id, day, distinct_id)
DO UPDATE SET event_count = user_activity_daily.event_count + excluded.event_count
"""


@dataclass(frozen=True, slots=True)
class FoldResult:
    product_id: int
    events: int
    chunks: int
    watermark: int


def _instant(value: datetime, dialect: str) -> Any:
    # Raw SQL bypasses UTCDateTime, so compare with the stored representation.
    if dialect == "sqlite":
        return value.replace(tzinfo=None).strftime(SQLITE_DATETIME_FORMAT)
    return value


def _ensure_watermark(store: Store, tenant_id: int, product_id: int) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO rollup_watermarks (tenant_id, product_id, rollup, last_event_id,"
                " updated_at) VALUES (:tenant, :product, :rollup, 0, :now)"
                " ON CONFLICT (product_id, rollup) DO NOTHING"
            ),
            {
                "tenant": tenant_id,
                "product": product_id,
                "rollup": ROLLUP,
                "now": _instant(utcnow(), store.dialect),
            },
        )


def _next_chunk(
    connection: Connection, product_id: int, low: int, cutoff: Any, chunk_size: int
) -> tuple[int, int] | None:
    """The last id and size of the next chunk: at most ``chunk_size`` events, none too
    recent. One scan in the usual case; a second only when the chunk reaches recent events."""
    params = {"product": product_id, "low": low, "cutoff": cutoff, "n": chunk_size}
    # Usually every new event fits in one chunk: a plain aggregate, no ordering, says so.
    high, size, newest = connection.execute(
        text(
            "SELECT max(id), count(*), max(received_at) FROM events"
            " WHERE product_id = :product AND id > :low"
        ),
        params,
    ).one()
    if size > chunk_size:
        high, size, newest = connection.execute(
            text(
                "SELECT max(id), count(*), max(received_at) FROM (SELECT id, received_at"
                " FROM events WHERE product_id = :product AND id > :low ORDER BY id LIMIT :n)"
                " AS chunk"
            ),
            params,
        ).one()
    if high is None:
        return None
    if newest > cutoff:
        high, size = connection.execute(
            text(
                "SELECT max(id), count(*) FROM events WHERE product_id = :product"
                " AND id > :low AND id < (SELECT min(id) FROM events WHERE product_id = :product"
                " AND id > :low AND received_at > :cutoff)"
            ),
            params,
        ).one()
    return (high, size) if high is not None else None


def fold_events(
    store: Store,
    tenant_id: int,
    product_id: int,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    settle: timedelta = DEFAULT_SETTLE,
    now: datetime | None = None,
) -> FoldResult:
    """Fold every settled event past the watermark into the daily rollups.

    Args:
        store: The store.
        tenant_id: The product's tenant (resolve the product in a tenant session first).
        product_id: The product whose events to fold.
        chunk_size: Events per transaction.
        settle: Leave events received within this time of ``now`` for the next run.
        now: The clock (tests pin it).
    """
    dialect = store.dialect
    day = UTC_DAY_SQL[dialect]
    fold_counts, fold_activity = _FOLD_COUNTS.format(day=day), _FOLD_ACTIVITY.format(day=day)
    _ensure_watermark(store, tenant_id, product_id)
    folded = chunks = 0
    while True:
        moment = now or utcnow()
        cutoff = _instant(moment - settle, dialect)
        with store.engine.begin() as connection:
            low = connection.execute(
                text(
                    "UPDATE rollup_watermarks SET updated_at = :now"
                    " WHERE product_id = :product AND rollup = :rollup RETURNING last_event_id"
                ),
                {"now": _instant(moment, dialect), "product": product_id, "rollup": ROLLUP},
            ).scalar_one()
            chunk = _next_chunk(connection, product_id, low, cutoff, chunk_size)
            if chunk is None:
                return FoldResult(product_id, folded, chunks, low)
            high, size = chunk
            params = {"tenant": tenant_id, "product": product_id, "low": low, "high": high}
            connection.execute(text(fold_counts), params)
            connection.execute(text(fold_activity), params)
            folded += size
            connection.execute(
                text(
                    "UPDATE rollup_watermarks SET last_event_id = :high"
                    " WHERE product_id = :product AND rollup = :rollup"
                ),
                {"high": high, "product": product_id, "rollup": ROLLUP},
            )
            chunks += 1
