"""Bulk event writes, by the fastest safe path each database offers.

SQLite takes a prepared ``executemany``; PostgreSQL takes ``COPY`` into a temporary
staging table and one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` per batch. Both
skip events whose idempotency key the product already has, so a re-run inserts nothing
twice, and both commit per batch, so a crash loses at most the batch in flight.

Callers must resolve the product inside a tenant session first: this module writes the
``tenant_id`` it is given and does no scoping of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Engine

from productpilot.db.types import SQLITE_DATETIME_FORMAT, utcnow
from productpilot.ingest.validation import EventRow

_COLUMNS = "tenant_id, product_id, idempotency_key, event, distinct_id, timestamp, properties"
_STAGE_READY = "productpilot.events_stage_ready"  # key in a pooled connection's ``info``


class EventWriter(Protocol):
    def write(self, rows: Sequence[EventRow]) -> int:
        """Insert ``rows`` (skipping known idempotency keys), commit, return how many were new."""
        ...


class SqliteEventWriter:
    _SQL = (
        f"INSERT INTO events ({_COLUMNS}, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (product_id, idempotency_key) DO NOTHING"
    )

    def __init__(self, dbapi_connection: Any, tenant_id: int, product_id: int) -> None:
        self._connection = dbapi_connection
        self._tenant_id = tenant_id
        self._product_id = product_id

    def write(self, rows: Sequence[EventRow]) -> int:
        tenant, product = self._tenant_id, self._product_id
        received = utcnow().replace(tzinfo=None).strftime(SQLITE_DATETIME_FORMAT)
        cursor = self._connection.cursor()
        try:
            cursor.executemany(
                self._SQL,
                [
                    (
                        tenant,
                        product,
                        row.idempotency_key,
                        row.event,
                        row.distinct_id,
                        row.timestamp.replace(tzinfo=None).strftime(SQLITE_DATETIME_FORMAT),
                        row.properties_json,
                        received,
                    )
                    for row in rows
                ],
            )
            inserted = cursor.rowcount
            self._connection.commit()
        finally:
            cursor.close()
        return inserted


class PostgresEventWriter:
    _STAGE = "productpilot_events_stage"

    def __init__(
        self, dbapi_connection: Any, tenant_id: int, product_id: int, *, stage_exists: bool = False
    ) -> None:
        self._connection = dbapi_connection
        self._tenant_id = tenant_id
        self._product_id = product_id
        if stage_exists:
            return
        with self._connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {self._STAGE} "
                "(idempotency_key text, event text, distinct_id text, "
                "timestamp timestamptz, properties jsonb) ON COMMIT DELETE ROWS"
            )
        self._connection.commit()

    def write(self, rows: Sequence[EventRow]) -> int:
        with self._connection.cursor() as cursor:
            with cursor.copy(
                f"COPY {self._STAGE} (idempotency_key, event, distinct_id, timestamp, properties)"
                " FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(
                        (
                            row.idempotency_key,
                            row.event,
                            row.distinct_id,
                            row.timestamp,
                            row.properties_json,
                        )
                    )
            cursor.execute(
                f"INSERT INTO events ({_COLUMNS}, received_at) "
                "SELECT %s, %s, idempotency_key, event, distinct_id, timestamp, properties, %s "
                f"FROM {self._STAGE} ON CONFLICT (product_id, idempotency_key) DO NOTHING",
                (self._tenant_id, self._product_id, utcnow()),
            )
            inserted = cursor.rowcount
        self._connection.commit()
        return inserted


@contextmanager
def event_writer(engine: Engine, tenant_id: int, product_id: int) -> Iterator[EventWriter]:
    """A writer on a dedicated connection, rolled back and returned to the pool on exit."""
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        if engine.dialect.name == "postgresql":
            # The staging table lives as long as the connection, and so does ``raw.info``:
            # create it once per pooled connection, not once per batch (two round trips).
            writer = PostgresEventWriter(
                driver, tenant_id, product_id, stage_exists=raw.info.get(_STAGE_READY, False)
            )
            raw.info[_STAGE_READY] = True
            yield writer
        elif engine.dialect.name == "sqlite":
            yield SqliteEventWriter(driver, tenant_id, product_id)
        else:
            raise NotImplementedError(f"no bulk event writer for {engine.dialect.name}")
    finally:
        raw.rollback()
        raw.close()
