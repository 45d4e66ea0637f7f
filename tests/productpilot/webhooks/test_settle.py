"""Settling a delivery: emitted once with a stable id, ignored, or kept pending on failure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from integrations.webhooks import NormalisedEvent
from productpilot.db.models import Product, WebhookDelivery
from productpilot.db.store import Store
from productpilot.products.configuration import IntegrationMapping
from productpilot.webhooks import (
    Outcome,
    StoredDelivery,
    delivery_event_id,
    pending_deliveries,
    record_delivery,
    settle_delivery,
)
from tests.productpilot.webhooks.fakes import RecordingEmitter

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


def push_event(_vendor: str, kind: str, payload: dict[str, Any]) -> NormalisedEvent | None:
    if kind != "push":
        return None
    return NormalisedEvent("productpilot.github.push", {"repository": payload["repo"]})


def stored(store: Store, product: Product, kind: str = "push") -> StoredDelivery:
    return record_delivery(
        store,
        tenant_id=product.tenant_id,
        product_id=product.id,
        vendor="github",
        delivery_id="d-1",
        kind=kind,
        payload={"repo": "acme/web"},
        headers={},
        received_at=NOW,
    ).delivery


def status_of(store: Store, delivery: StoredDelivery) -> tuple[str, str]:
    with store.system_session() as session:
        row = session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery.id))
        return row.status, row.error


def settle(
    store: Store,
    delivery: StoredDelivery,
    emitter: RecordingEmitter,
    mapping: IntegrationMapping | None = None,
    normalise: Any = push_event,
) -> Any:
    return settle_delivery(
        store,
        delivery,
        normalise=normalise,
        emitter=emitter,
        integrations=mapping or IntegrationMapping(),
    )


def test_a_handled_delivery_is_emitted_about_its_product_and_marked(
    store: Store, product: Product
) -> None:
    emitter = RecordingEmitter()
    delivery = stored(store, product)

    settlement = settle(store, delivery, emitter)

    assert (settlement.outcome, settlement.event) == (Outcome.PROCESSED, "productpilot.github.push")
    [event] = emitter.events
    assert event.name == "productpilot.github.push"
    assert event.resource_id == f"productpilot.product.{product.id}"
    assert event.labels == {"productpilot.tenant": str(product.tenant_id)}
    assert event.payload == {
        "repository": "acme/web",
        "delivery": {"vendor": "github", "id": "d-1"},
    }
    assert event.event_id == delivery_event_id("github", product.tenant_id, "d-1")
    assert event.occurred == NOW
    assert status_of(store, delivery) == ("emitted", "")


def test_a_kind_not_handled_is_ignored_and_not_emitted(store: Store, product: Product) -> None:
    emitter = RecordingEmitter()
    delivery = stored(store, product, kind="label")

    settlement = settle(store, delivery, emitter)

    assert settlement.outcome is Outcome.IGNORED
    assert "'label'" in (settlement.detail or "")
    assert emitter.events == []
    assert status_of(store, delivery) == ("ignored", "")


def test_an_event_about_another_repository_is_ignored(store: Store, product: Product) -> None:
    emitter = RecordingEmitter()
    delivery = stored(store, product)

    settlement = settle(
        store, delivery, emitter, IntegrationMapping(github_repository="acme/other")
    )

    assert settlement.outcome is Outcome.IGNORED
    assert "acme/web" in (settlement.detail or "")
    assert emitter.events == []


def test_when_the_emitter_fails_the_delivery_stays_pending_with_the_error(
    store: Store, product: Product
) -> None:
    delivery = stored(store, product)

    settlement = settle(store, delivery, RecordingEmitter(failing=True))

    assert (settlement.outcome, settlement.event) == (Outcome.QUEUED, "productpilot.github.push")
    status, error = status_of(store, delivery)
    assert status == "failed"
    assert "Prefect is unreachable" in error
    assert [d.id for d in pending_deliveries(store, limit=5, received_before=NOW)] == [delivery.id]


def test_when_normalising_fails_the_delivery_stays_pending(store: Store, product: Product) -> None:
    def broken(_vendor: str, _kind: str, _payload: dict) -> None:
        raise KeyError("a normaliser bug")

    delivery = stored(store, product)
    emitter = RecordingEmitter()

    settlement = settle(store, delivery, emitter, normalise=broken)

    assert settlement.outcome is Outcome.QUEUED
    assert emitter.events == []
    status, error = status_of(store, delivery)
    assert (status, "a normaliser bug" in error) == ("failed", True)
