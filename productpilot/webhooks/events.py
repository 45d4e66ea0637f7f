"""What a stored delivery becomes outside the store: an event, sent through an emitter.

The core defines the interface; ``integrations.prefect_events.PrefectEventEmitter`` implements
it with Prefect's events, tests with a list. An event's id is derived from the delivery, so a
re-emission (by the reconciler, after Prefect was down) is recognisably the same event.

Example:
    >>> delivery_event_id("github", 1, "abc") == delivery_event_id("github", 1, "abc")
    True
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

#: Namespace of webhook event ids (uuid5). Never change it: ids would stop matching.
WEBHOOK_EVENT_NAMESPACE = uuid.UUID("8d0c3a4e-5f1b-4b7e-9a59-2f6c1d8e4b10")


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
