"""The reconciler emits what was stored but not emitted, with the event's original id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from integrations.webhooks import normalise_delivery
from productpilot.db.models import Product, WebhookDelivery
from productpilot.db.store import Store
from productpilot.products import update_configuration
from productpilot.webhooks import (
    StoredDelivery,
    delivery_event_id,
    pending_deliveries,
    record_delivery,
    reemit_pending,
)
from tests.productpilot.webhooks.fakes import RecordingEmitter

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
PUSH = {"ref": "refs/heads/main", "repository": {"full_name": "acme/web"}, "commits": []}


def stored(
    store: Store, product: Product, delivery_id: str, received_at: datetime, kind: str = "push"
) -> StoredDelivery:
    return record_delivery(
        store,
        tenant_id=product.tenant_id,
        product_id=product.id,
        vendor="github",
        delivery_id=delivery_id,
        kind=kind,
        payload=PUSH,
        headers={},
        received_at=received_at,
    ).delivery


def statuses(store: Store) -> dict[str, str]:
    with store.system_session() as session:
        return {row.delivery_id: row.status for row in session.scalars(select(WebhookDelivery))}


def reemit(store: Store, emitter: RecordingEmitter):
    return reemit_pending(store, normalise=normalise_delivery, emitter=emitter, now=NOW)


def test_pending_deliveries_are_emitted_once_with_the_id_of_their_first_attempt(
    store: Store, product: Product
) -> None:
    stored(store, product, "crashed", NOW - timedelta(minutes=5))
    stored(store, product, "label", NOW - timedelta(minutes=5), kind="label")
    stored(store, product, "in-flight", NOW - timedelta(seconds=5))
    emitter = RecordingEmitter()

    report = reemit(store, emitter)
    again = reemit(store, emitter)

    assert report.as_dict() == {"examined": 2, "processed": 1, "ignored": 1, "queued": 0}
    assert again.examined == 0
    [event] = emitter.events
    assert event.name == "productpilot.github.push"
    assert event.event_id == delivery_event_id("github", product.tenant_id, "crashed")
    assert event.occurred == NOW - timedelta(minutes=5)
    assert statuses(store) == {"crashed": "emitted", "label": "ignored", "in-flight": "received"}


def test_while_prefect_stays_down_deliveries_stay_pending(store: Store, product: Product) -> None:
    stored(store, product, "d-1", NOW - timedelta(minutes=5))

    report = reemit(store, RecordingEmitter(failing=True))

    assert report.as_dict() == {"examined": 1, "processed": 0, "ignored": 0, "queued": 1}
    assert [d.delivery_id for d in pending_deliveries(store, limit=5, received_before=NOW)] == [
        "d-1"
    ]


def test_the_products_current_configuration_decides_the_scope(
    store: Store, product: Product
) -> None:
    stored(store, product, "d-1", NOW - timedelta(minutes=5))
    with store.tenant_session(product.tenant_id) as session:
        current = session.get(Product, product.id)
        update_configuration(
            session, current, {"integrations": {"github_repository": "acme/api"}}, actor="t"
        )
    emitter = RecordingEmitter()

    report = reemit(store, emitter)

    assert report.as_dict()["ignored"] == 1
    assert emitter.events == []


def test_a_batch_is_limited(store: Store, product: Product) -> None:
    for number in range(5):
        stored(store, product, f"d-{number}", NOW - timedelta(minutes=5))

    report = reemit_pending(
        store, normalise=normalise_delivery, emitter=RecordingEmitter(), limit=2, now=NOW
    )

    assert report.examined == 2
    assert sorted(statuses(store).values()).count("emitted") == 2
