"""Prefect as the event bus: :class:`PrefectEventEmitter` implements the core's ``EventEmitter``.

``prefect.events.emit_event`` hands an event to a background worker and never reports a
failure, so a delivery would be marked emitted although Prefect never saw it. This emitter
sends each event over its own events-client connection and waits until the server confirmed
it (the client pings after the event, like its own checkpoints): when Prefect is down the call
raises, and the delivery stays pending for the reconciler.

Example:
    >>> emitter = PrefectEventEmitter(timeout_seconds=3)
    >>> emitter.emit(  # doctest: +SKIP
    ...     "productpilot.github.push", "productpilot.product.7", {"ref": "refs/heads/main"},
    ...     uuid.uuid4(), labels={"productpilot.tenant": "1"},
    ... )
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from prefect.events import Event


class EventsClient(Protocol):
    """The part of Prefect's events client this emitter uses."""

    async def emit(self, event: Event) -> None: ...


ClientFactory = Callable[[], AbstractAsyncContextManager[EventsClient]]


def build_event(
    name: str,
    resource_id: str,
    payload: dict[str, Any],
    event_id: uuid.UUID,
    *,
    labels: Mapping[str, str] | None = None,
    occurred: datetime | None = None,
) -> Event:
    """The Prefect event: ``resource_id`` and ``labels`` make its resource.

    Example:
        >>> event = build_event("a.b", "productpilot.product.1", {}, uuid.uuid4())
        >>> event.resource.id
        'productpilot.product.1'
    """
    from prefect.events import Event

    return Event(
        event=name,
        resource={"prefect.resource.id": resource_id, **(labels or {})},
        payload=payload,
        id=event_id,
        occurred=occurred or datetime.now(UTC),
    )


class PrefectEventEmitter:
    """Emits events to the Prefect API of this process (``PREFECT_API_URL``), confirmed.

    Args:
        timeout_seconds: Longest wait for connecting and confirming; webhook senders time out
            after a few seconds (Slack after 3), and the reconciler retries anyway.
        reconnection_attempts: Extra connection attempts before giving up.
        client_factory: Builds the events client (a context manager); tests pass a fake.
            Default: Prefect's ``get_events_client``, confirming every event.
    """

    def __init__(
        self,
        *,
        timeout_seconds: float = 2.5,
        reconnection_attempts: int = 0,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.reconnection_attempts = reconnection_attempts
        self._client_factory = client_factory or self._prefect_client

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
        """Send one event and wait for Prefect to confirm it.

        Raises:
            Exception: whatever kept the event from Prefect (connection refused, a timeout).
        """
        # Imported here: the API builds an emitter at start-up, and most processes never emit.
        from prefect.utilities.asyncutils import run_coro_as_sync

        event = build_event(name, resource_id, payload, event_id, labels=labels, occurred=occurred)
        run_coro_as_sync(self._send(event))

    async def _send(self, event: Event) -> None:
        async with asyncio.timeout(self.timeout_seconds), self._client_factory() as client:
            await client.emit(event)

    def _prefect_client(self) -> AbstractAsyncContextManager[EventsClient]:
        from prefect.events.clients import get_events_client

        # checkpoint_every=1: the client pings after each event and waits for the pong, so
        # a returning emit() means the server has the event.
        return get_events_client(
            reconnection_attempts=self.reconnection_attempts, checkpoint_every=1
        )
