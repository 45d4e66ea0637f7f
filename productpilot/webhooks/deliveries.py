"""Webhook deliveries in the store: recorded first, then marked emitted, ignored or failed.

A delivery is stored (and committed) before anything else is done with it, so a delivery the
vendor saw acknowledged is never lost. The unique constraint on ``(tenant_id, vendor,
delivery_id)`` makes recording idempotent even when the vendor redelivers concurrently: the
second insert fails, and :func:`record_delivery` reports the first as a duplicate.

Statuses: ``received`` (stored, not settled yet), ``emitted``, ``ignored`` (a kind ProductPilot
does not handle, or another repository/project than the product's) and ``failed`` (the emitter
failed; the error is kept). ``received`` and ``failed`` deliveries are *pending*: the reconciler
emits them again.

Example:
    >>> recorded = record_delivery(store, tenant_id=1, product_id=2, vendor="github",
    ...     delivery_id="d-1", kind="push", payload={}, headers={})  # doctest: +SKIP
    >>> recorded.duplicate  # doctest: +SKIP
    False
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.exc import IntegrityError

from productpilot.db.models import WebhookDelivery
from productpilot.db.store import Store
from productpilot.db.types import utcnow

#: Stored error messages are cut to this length (an exception's text can be huge).
MAX_ERROR_LENGTH = 2000


class DeliveryStatus(StrEnum):
    RECEIVED = "received"
    EMITTED = "emitted"
    IGNORED = "ignored"
    FAILED = "failed"


@dataclass(frozen=True)
class StoredDelivery:
    """A delivery as stored, detached from any session."""

    id: int
    tenant_id: int
    product_id: int | None
    vendor: str
    delivery_id: str
    kind: str
    payload: dict[str, Any]
    status: str
    received_at: datetime

    @classmethod
    def from_row(cls, row: WebhookDelivery) -> StoredDelivery:
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            product_id=row.product_id,
            vendor=row.vendor,
            delivery_id=row.delivery_id,
            kind=row.kind,
            payload=row.payload,
            status=row.status,
            received_at=row.received_at,
        )


@dataclass(frozen=True)
class Recorded:
    """The outcome of :func:`record_delivery`: the stored delivery, and whether it was there."""

    delivery: StoredDelivery
    duplicate: bool


def record_delivery(
    store: Store,
    *,
    tenant_id: int,
    product_id: int,
    vendor: str,
    delivery_id: str,
    kind: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    received_at: datetime | None = None,
) -> Recorded:
    """Store a delivery and commit, or find the one already stored under the same id.

    Runs in its own transaction: on PostgreSQL a failed insert poisons the transaction it
    ran in, and the delivery must be committed before it is acknowledged anyway.

    Raises:
        IntegrityError: the insert failed for another reason than a duplicate (e.g. the
            product was deleted meanwhile).
    """
    row = WebhookDelivery(
        tenant_id=tenant_id,
        product_id=product_id,
        vendor=vendor,
        delivery_id=delivery_id,
        kind=kind,
        payload=payload,
        headers=headers,
        status=DeliveryStatus.RECEIVED,
        received_at=received_at or utcnow(),
    )
    try:
        with store.tenant_session(tenant_id) as session:
            session.add(row)
            session.flush()
            stored = StoredDelivery.from_row(row)
    except IntegrityError:
        # Rely on the unique constraint rather than a prior SELECT: two concurrent
        # redeliveries would both pass a SELECT, but only one insert can succeed.
        existing = find_delivery(store, tenant_id, vendor, delivery_id)
        if existing is None:
            raise
        return Recorded(existing, duplicate=True)
    return Recorded(stored, duplicate=False)


def find_delivery(
    store: Store, tenant_id: int, vendor: str, delivery_id: str
) -> StoredDelivery | None:
    """The tenant's delivery with this vendor id, if stored."""
    with store.tenant_session(tenant_id) as session:
        row = session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.vendor == vendor, WebhookDelivery.delivery_id == delivery_id
            )
        )
        return StoredDelivery.from_row(row) if row is not None else None


def _set(store: Store, delivery: StoredDelivery, **values: Any) -> None:
    with store.tenant_session(delivery.tenant_id) as session:
        session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(**values)
        )


def mark_emitted(store: Store, delivery: StoredDelivery, *, at: datetime | None = None) -> None:
    """Record that the delivery's event was emitted."""
    _set(store, delivery, status=DeliveryStatus.EMITTED, emitted_at=at or utcnow(), error="")


def mark_ignored(store: Store, delivery: StoredDelivery) -> None:
    """Record that the delivery needs no event (it stays stored for inspection)."""
    _set(store, delivery, status=DeliveryStatus.IGNORED, error="")


def mark_failed(store: Store, delivery: StoredDelivery, error: str) -> None:
    """Record that emitting failed; the delivery stays pending for the reconciler."""
    _set(store, delivery, status=DeliveryStatus.FAILED, error=error[:MAX_ERROR_LENGTH])


def pending_deliveries(
    store: Store, *, limit: int, received_before: datetime
) -> list[StoredDelivery]:
    """Deliveries of every tenant whose event still has to be emitted, oldest first.

    ``received`` deliveries count only once older than ``received_before``: younger ones are
    probably still being handled by the request that stored them. Failed ones always count;
    they come after the received ones so deliveries that keep failing cannot starve the rest.
    """
    status = WebhookDelivery.status
    statement = (
        select(WebhookDelivery)
        .where(
            or_(
                status == DeliveryStatus.FAILED,
                and_(
                    status == DeliveryStatus.RECEIVED,
                    WebhookDelivery.received_at <= received_before,
                ),
            )
        )
        .order_by(case((status == DeliveryStatus.RECEIVED, 0), else_=1), WebhookDelivery.id)
        .limit(limit)
    )
    # Across tenants by design: the reconciler is an operator-level worker.
    with store.system_session() as session:
        return [StoredDelivery.from_row(row) for row in session.scalars(statement)]
