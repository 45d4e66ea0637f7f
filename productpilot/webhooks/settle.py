"""Settling a stored delivery: normalise it, then emit its event, ignore it, or keep it pending.

Shared by the webhook receivers (right after storing a delivery) and the reconciler (for
deliveries still pending). Normalising is the vendor's business, so the caller passes the
normaliser in; the core only knows its shape.

Example:
    >>> settlement = settle_delivery(store, delivery, normalise=normalise_delivery,
    ...     emitter=emitter, integrations=IntegrationMapping())  # doctest: +SKIP
    >>> settlement.outcome  # doctest: +SKIP
    <Outcome.PROCESSED: 'processed'>
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from productpilot.db.store import Store
from productpilot.eventbus import TENANT_LABEL, EventEmitter, product_resource_id
from productpilot.products.configuration import IntegrationMapping
from productpilot.webhooks.deliveries import (
    StoredDelivery,
    mark_emitted,
    mark_failed,
    mark_ignored,
)
from productpilot.webhooks.events import WebhookEvent, delivery_event_id
from productpilot.webhooks.scope import out_of_scope

logger = logging.getLogger("productpilot.webhooks")

#: ``(vendor, kind, payload) -> event``, ``None`` for a kind that is not handled.
Normaliser = Callable[[str, str, dict[str, Any]], WebhookEvent | None]


class Outcome(StrEnum):
    PROCESSED = "processed"  # the event was emitted
    IGNORED = "ignored"  # nothing to emit: a kind not handled, or not this product's
    QUEUED = "queued"  # stored, but not emitted yet: the reconciler will try again


@dataclass(frozen=True)
class Settlement:
    """What became of a delivery: the outcome, the event's name, and why (for people)."""

    outcome: Outcome
    event: str | None = None
    detail: str | None = None


def settle_delivery(
    store: Store,
    delivery: StoredDelivery,
    *,
    normalise: Normaliser,
    emitter: EventEmitter,
    integrations: IntegrationMapping,
) -> Settlement:
    """Normalise ``delivery``, emit its event and record what happened.

    Never raises for a normaliser or emitter failure: the delivery is marked ``failed``
    (pending) so that nothing acknowledged is lost, and the outcome is ``queued``.
    """
    try:
        event = normalise(delivery.vendor, delivery.kind, delivery.payload)
    except Exception as exc:
        # A normaliser bug: keep the delivery pending, so a fixed version emits it later.
        logger.exception("could not normalise %s delivery %s", delivery.vendor, delivery.id)
        mark_failed(store, delivery, f"normalisation failed: {exc!r}")
        return Settlement(Outcome.QUEUED, detail="stored; it will be processed again later")
    if event is None:
        mark_ignored(store, delivery)
        return Settlement(
            Outcome.IGNORED, detail=f"{delivery.vendor} {delivery.kind!r} events are not handled"
        )
    reason = out_of_scope(delivery.vendor, event.payload, integrations)
    if reason is not None:
        mark_ignored(store, delivery)
        return Settlement(Outcome.IGNORED, detail=reason)
    try:
        emit_event(emitter, delivery, event)
    except Exception as exc:
        # Any emitter failure (Prefect down, a timeout) leaves the delivery pending.
        logger.warning("could not emit %s for delivery %s: %s", event.name, delivery.id, exc)
        mark_failed(store, delivery, f"emission failed: {type(exc).__name__}: {exc}")
        return Settlement(
            Outcome.QUEUED, event=event.name, detail="stored; the event will be emitted later"
        )
    mark_emitted(store, delivery)
    return Settlement(Outcome.PROCESSED, event=event.name)


def emit_event(emitter: EventEmitter, delivery: StoredDelivery, event: WebhookEvent) -> None:
    """Emit the event of ``delivery`` about its product, with the delivery's stable id.

    The payload gains ``delivery`` (vendor and id) so a flow can find the stored original.
    The event occurred when the delivery was received, also on re-emission.
    """
    resource_id = (
        product_resource_id(delivery.product_id)
        if delivery.product_id is not None
        else f"productpilot.tenant.{delivery.tenant_id}"
    )
    emitter.emit(
        event.name,
        resource_id,
        {**event.payload, "delivery": {"vendor": delivery.vendor, "id": delivery.delivery_id}},
        delivery_event_id(delivery.vendor, delivery.tenant_id, delivery.delivery_id),
        labels={TENANT_LABEL: str(delivery.tenant_id)},
        occurred=delivery.received_at,
    )
