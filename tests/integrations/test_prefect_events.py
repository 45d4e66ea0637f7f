"""PrefectEventEmitter: the event it builds, and failures that must reach the caller."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from prefect.events import Event

from integrations.prefect_events import PrefectEventEmitter, build_event

EVENT_ID = uuid.UUID("7c2a5d5e-6a0c-5d8e-9d8f-0123456789ab")
OCCURRED = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


class RecordingClient:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def emit(self, event: Event) -> None:
        self.events.append(event)


def factory_for(client: object):
    @asynccontextmanager
    async def factory() -> AsyncIterator[object]:
        yield client

    return factory


def emit(emitter: PrefectEventEmitter) -> None:
    emitter.emit(
        "productpilot.github.push",
        "productpilot.product.7",
        {"ref": "refs/heads/main"},
        EVENT_ID,
        labels={"productpilot.tenant": "3"},
        occurred=OCCURRED,
    )


def test_the_event_names_the_product_its_tenant_and_keeps_the_given_id() -> None:
    client = RecordingClient()
    emit(PrefectEventEmitter(client_factory=factory_for(client)))

    [event] = client.events
    assert event.event == "productpilot.github.push"
    assert event.id == EVENT_ID
    assert dict(event.resource) == {
        "prefect.resource.id": "productpilot.product.7",
        "productpilot.tenant": "3",
    }
    assert event.payload == {"ref": "refs/heads/main"}
    assert event.occurred == OCCURRED


def test_an_event_without_an_occurrence_time_occurred_now() -> None:
    before = datetime.now(UTC)
    event = build_event("a.b", "productpilot.product.1", {}, EVENT_ID)
    assert before <= event.occurred <= datetime.now(UTC)


def test_a_client_failure_reaches_the_caller() -> None:
    class Refusing:
        async def emit(self, event: Event) -> None:
            raise ConnectionRefusedError("Prefect is down")

    with pytest.raises(ConnectionRefusedError):
        emit(PrefectEventEmitter(client_factory=factory_for(Refusing())))


def test_a_connection_that_cannot_be_opened_reaches_the_caller() -> None:
    @asynccontextmanager
    async def unreachable() -> AsyncIterator[object]:
        raise OSError("connection refused")
        yield  # pragma: no cover

    with pytest.raises(OSError, match="refused"):
        emit(PrefectEventEmitter(client_factory=unreachable))


def test_a_server_that_never_confirms_times_out() -> None:
    class Silent:
        async def emit(self, event: Event) -> None:
            await asyncio.Event().wait()

    with pytest.raises(TimeoutError):
        emit(PrefectEventEmitter(timeout_seconds=0.01, client_factory=factory_for(Silent())))


def test_with_prefects_api_unreachable_the_real_client_raises_quickly() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # A bound socket that does not listen refuses connections: Prefect is "down".
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}):
            started = time.monotonic()
            with pytest.raises(ConnectionRefusedError):
                emit(PrefectEventEmitter(timeout_seconds=5))
            assert time.monotonic() - started < 5
