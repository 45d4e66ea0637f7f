"""Events ProductPilot emits for reaction flows, and the interface to whatever carries them.

Findings (a webhook from a tool, a performance breach, an anomaly) become events named
``productpilot.<area>.<kind>`` about the resource ``productpilot.product.<id>``. The core only
knows this interface; ``integrations.prefect_events.PrefectEventEmitter`` sends them to
Prefect, where deployment triggers start the flows that react.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from productpilot.errors import ValidationError

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


PRODUCT_RESOURCE_PREFIX = "productpilot.product."


def product_resource_id(product_id: int) -> str:
    """The Prefect resource id of a product (what deployment triggers match on)."""
    return f"{PRODUCT_RESOURCE_PREFIX}{product_id}"


def product_id_of(resource: str | int) -> int:
    """The product id in a resource id (``productpilot.product.7`` → 7), or a plain id.

    Deployment triggers pass ``{{ event.resource.id }}``; people pass the number.

    Raises:
        ValidationError: neither form.
    """
    text = str(resource).removeprefix(f"{PRODUCT_RESOURCE_PREFIX}")
    if not text.isdigit():
        raise ValidationError(f"not a product id or product resource id: {resource!r}")
    return int(text)
