"""``POST /api/v1/products/{id}/events``: batches of product events.

Limits (answered with 413): a body of at most 5 MiB as sent and 20 MiB decompressed, and at
most 1,000 events per batch. Events are idempotent by ``uuid`` (or, without one, by their
content): a repeated event is counted as a duplicate, not stored twice. A partly bad batch
stores the good events and lists the rejected ones by index with a reason; a batch whose
events are all rejected answers 422. Timestamps more than a day ahead or more than a year
old are rejected (older history goes through ``productpilot events import``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from productpilot.api.body import inline_schema, parse_json, read_limited_body, require_json
from productpilot.api.cache import TtlCache
from productpilot.api.deps import ProductId, StoreDep, TenantId
from productpilot.api.metrics import count_ingested
from productpilot.api.problems import PROBLEM_RESPONSE, ApiError
from productpilot.db.bulk import event_writer
from productpilot.db.store import Store
from productpilot.db.types import utcnow
from productpilot.ingest.validation import EventRow, RowError, parse_event
from productpilot.products import get_product

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_DECOMPRESSED_BYTES = 20 * 1024 * 1024
MAX_BATCH_EVENTS = 1000
MAX_EVENT_AGE = timedelta(days=365)

router = APIRouter(prefix="/api/v1/products/{product_id}", tags=["data collection"])


class EventIn(BaseModel):
    """One event, as a client sends it."""

    event: str = Field(min_length=1, max_length=200, examples=["signup"])
    distinct_id: str | int = Field(description="The user (or device) the event is about.")
    timestamp: str | float = Field(
        description="ISO 8601 (an offset or Z; none means UTC) or Unix epoch seconds/ms.",
        examples=["2026-08-01T09:00:00Z"],
    )
    properties: dict[str, Any] | None = None
    uuid: str | None = Field(
        default=None, max_length=64, description="Idempotency key; unique per product."
    )


class EventBatch(BaseModel):
    events: list[EventIn] = Field(max_length=MAX_BATCH_EVENTS)


class Rejection(BaseModel):
    index: int = Field(description="Position of the event in the batch (from 0).")
    reason: str


class IngestResult(BaseModel):
    accepted: int = Field(description="Events stored by this request.")
    duplicates: int = Field(description="Valid events the product already had.")
    rejected: list[Rejection]


def _validate(records: list[Any]) -> tuple[list[EventRow], list[Rejection]]:
    now = utcnow()
    rows, rejected = [], []
    for index, record in enumerate(records):
        try:
            rows.append(parse_event(record, now=now, earliest=now - MAX_EVENT_AGE))
        except RowError as exc:
            rejected.append(Rejection(index=index, reason=str(exc)))
    return rows, rejected


def _store_events(
    store: Store, owned: TtlCache[bool], tenant_id: int, product_id: int, rows: list[EventRow]
) -> int:
    # Resolve ownership in a short session that closes before writing, so one request
    # never holds two pooled connections; remembered briefly, as it rarely changes.
    if owned.get((tenant_id, product_id)) is None:
        with store.tenant_session(tenant_id) as session:
            get_product(session, product_id)
        owned.put((tenant_id, product_id), True)
    if not rows:
        return 0
    with event_writer(store.engine, tenant_id, product_id) as writer:
        return writer.write(rows)


@router.post(
    "/events",
    summary="Send a batch of events",
    response_model=IngestResult,
    responses={
        400: PROBLEM_RESPONSE,
        413: PROBLEM_RESPONSE,
        415: PROBLEM_RESPONSE,
        422: PROBLEM_RESPONSE,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(EventBatch)}},
        }
    },
)
async def ingest_events(
    product_id: ProductId, request: Request, store: StoreDep, tenant_id: TenantId
) -> IngestResult:
    """Store a batch of events (gzip bodies accepted); answers what was stored and rejected.

    The answer is sent only after the stored events are committed: an acknowledged event
    survives a crash, and a client that retries an unacknowledged batch creates no
    duplicates as long as its events carry a ``uuid``.
    """
    require_json(request)
    body = await read_limited_body(request, MAX_BODY_BYTES, MAX_DECOMPRESSED_BYTES)
    document = parse_json(body)
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise ApiError(422, 'the body must be {"events": [...]}', kind="invalid-input")
    records = document["events"]
    if len(records) > MAX_BATCH_EVENTS:
        raise ApiError(
            413, f"a batch holds at most {MAX_BATCH_EVENTS} events, not {len(records)}",
            kind="too-large",
        )  # fmt: skip
    rows, rejected = _validate(records)
    inserted = await run_in_threadpool(
        _store_events, store, request.app.state.product_cache, tenant_id, product_id, rows
    )
    count_ingested(
        request.app, accepted=inserted, duplicates=len(rows) - inserted, rejected=len(rejected)
    )
    if records and not rows:
        raise ApiError(
            422,
            f"all {len(records)} events were rejected",
            kind="invalid-input",
            rejected=[r.model_dump() for r in rejected],
        )
    return IngestResult(accepted=inserted, duplicates=len(rows) - inserted, rejected=rejected)
