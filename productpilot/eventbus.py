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


def product_resource_id(product_id: int) -> str:
    """The Prefect resource id of a product (what deployment triggers match on)."""
    return f"productpilot.product.{product_id}"
