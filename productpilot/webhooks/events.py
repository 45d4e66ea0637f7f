"""What a stored delivery becomes outside the store: an event, sent through an emitter.

The core defines the interface; ``integrations.prefect_events.PrefectEventEmitter`` implements
it with Prefect's events, tests with a list. An event's id is derived from the delivery, so a
re-emission (by the reconciler, after Prefect was down) is recognisably the same event.

Example:
    >>> delivery_event_id("github", 1, "abc") == delivery_event_id("github", 1, "abc")
    True
    >>> product_resource_id(7)
    'productpilot.product.7'
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

#: Namespace of webhook event ids (uuid5). Never change it: ids would stop matching.
WEBHOOK_EVENT_NAMESPACE = uuid.UUID("8d0c3a4e-5f1b-4b7e-9a59-2f6c1d8e4b10")

#: Resource label carrying the product's tenant on every emitted event.
TENANT_LABEL = "productpilot.tenant"


class EventEmitter(Protocol):
    """Sends one event; raises when it could not be delivered (the caller keeps it pending)."""

    def emit(
        self,
        name: str,
        resource_id: str,
        payload: dict[str, Any],
        event_id: uuid.UUID,
        *,
        labels: Mapping[str, str] | None = None,
        occurred: datetime | None = None,
    ) -> None:
        """Emit ``name`` about ``resource_id`` (plus resource ``labels``), identified by
        ``event_id``; ``occurred`` defaults to now."""
        ...


class WebhookEvent(Protocol):
    """A normalised delivery, as vendor normalisers produce it (``NormalisedEvent``)."""

    @property
    def name(self) -> str: ...

    @property
    def payload(self) -> dict[str, Any]: ...


def delivery_event_id(vendor: str, tenant_id: int, delivery_id: str) -> uuid.UUID:
    """The id of the event a delivery becomes: the same however often it is emitted.

    Example:
        >>> delivery_event_id("github", 1, "a") != delivery_event_id("github", 2, "a")
        True
    """
    return uuid.uuid5(WEBHOOK_EVENT_NAMESPACE, f"{vendor}:{tenant_id}:{delivery_id}")


def product_resource_id(product_id: int) -> str:
    """The Prefect resource id of a product (what deployment triggers match on)."""
    return f"productpilot.product.{product_id}"
