"""Deliveries are stored once, marked with their outcome, and found again while pending."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from productpilot.db.models import Product, WebhookDelivery
from productpilot.db.store import Store
from productpilot.products import create_product
from productpilot.tenants import create_tenant
from productpilot.webhooks import (
    DeliveryStatus,
    Recorded,
    find_delivery,
    mark_emitted,
    mark_failed,
    mark_ignored,
    pending_deliveries,
    record_delivery,
)

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


def record(
    store: Store,
    product: Product,
    delivery_id: str = "d-1",
    *,
    vendor: str = "github",
    received_at: datetime = NOW,
) -> Recorded:
    return record_delivery(
        store,
        tenant_id=product.tenant_id,
        product_id=product.id,
        vendor=vendor,
        delivery_id=delivery_id,
        kind="push",
        payload={"ref": "refs/heads/main"},
        headers={"x-github-event": "push"},
        received_at=received_at,
    )


def rows(store: Store) -> list[WebhookDelivery]:
    with store.system_session() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_a_delivery_is_stored_as_received(store: Store, product: Product) -> None:
    recorded = record(store, product)

    assert not recorded.duplicate
    [row] = rows(store)
    assert (row.vendor, row.delivery_id, row.kind, row.status) == (
        "github",
        "d-1",
        "push",
        "received",
    )
    assert (row.tenant_id, row.product_id) == (product.tenant_id, product.id)
    assert row.payload == {"ref": "refs/heads/main"}
    assert row.received_at == NOW


def test_a_repeated_delivery_is_reported_as_the_stored_one(store: Store, product: Product) -> None:
    first = record(store, product)
    again = record(store, product, received_at=NOW + timedelta(minutes=5))

    assert again.duplicate
    assert again.delivery.id == first.delivery.id
    assert again.delivery.received_at == NOW
    assert len(rows(store)) == 1


def test_the_same_id_from_another_vendor_or_tenant_is_another_delivery(
    store: Store, product: Product
) -> None:
    other_tenant, _key = create_tenant(store, "Globex")
    with store.tenant_session(other_tenant.id) as session:
        other_product = create_product(session, "Globex App")

    results = [
        record(store, product),
        record(store, product, vendor="jira"),
        record(store, other_product),
    ]

    assert [result.duplicate for result in results] == [False, False, False]
    assert len(rows(store)) == 3


def test_concurrent_redeliveries_are_stored_exactly_once(store: Store, product: Product) -> None:
    senders = 6
    barrier = threading.Barrier(senders)
    results: list[Recorded] = []

    def deliver() -> None:
        barrier.wait()
        results.append(record(store, product, "raced"))

    threads = [threading.Thread(target=deliver) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(result.duplicate for result in results) == [False] + [True] * (senders - 1)
    assert len({result.delivery.id for result in results}) == 1
    assert len(rows(store)) == 1


def test_outcomes_are_recorded_on_the_delivery(store: Store, product: Product) -> None:
    emitted, ignored, failed = (record(store, product, f"d-{i}").delivery for i in range(3))

    mark_emitted(store, emitted, at=NOW)
    mark_ignored(store, ignored)
    mark_failed(store, failed, "ConnectionError: " + "x" * 5000)

    by_id = {row.delivery_id: row for row in rows(store)}
    assert (by_id["d-0"].status, by_id["d-0"].emitted_at) == ("emitted", NOW)
    assert (by_id["d-1"].status, by_id["d-1"].emitted_at) == ("ignored", None)
    assert by_id["d-2"].status == "failed"
    assert by_id["d-2"].error.startswith("ConnectionError")
    assert len(by_id["d-2"].error) == 2000


def test_pending_means_received_past_the_grace_period_or_failed_received_first(
    store: Store, product: Product
) -> None:
    failed_early = record(store, product, "failed", received_at=NOW - timedelta(hours=2)).delivery
    mark_failed(store, failed_early, "down")
    record(store, product, "old", received_at=NOW - timedelta(minutes=10))
    record(store, product, "young", received_at=NOW)
    done = record(store, product, "done", received_at=NOW - timedelta(hours=1)).delivery
    mark_emitted(store, done)
    skipped = record(store, product, "skipped", received_at=NOW - timedelta(hours=1)).delivery
    mark_ignored(store, skipped)

    pending = pending_deliveries(store, limit=10, received_before=NOW - timedelta(minutes=1))

    assert [delivery.delivery_id for delivery in pending] == ["old", "failed"]
    assert pending[1].status == DeliveryStatus.FAILED
    assert pending_deliveries(store, limit=1, received_before=NOW)[0].delivery_id == "old"


def test_pending_deliveries_of_every_tenant_are_found(store: Store, product: Product) -> None:
    other_tenant, _key = create_tenant(store, "Globex")
    with store.tenant_session(other_tenant.id) as session:
        other_product = create_product(session, "Globex App")
    record(store, product, "a", received_at=NOW - timedelta(hours=1))
    record(store, other_product, "b", received_at=NOW - timedelta(hours=1))

    pending = pending_deliveries(store, limit=10, received_before=NOW)

    assert {(d.tenant_id, d.delivery_id) for d in pending} == {
        (product.tenant_id, "a"),
        (other_tenant.id, "b"),
    }


def test_a_tenant_finds_only_its_own_deliveries(store: Store, product: Product) -> None:
    other_tenant, _key = create_tenant(store, "Globex")
    record(store, product, "mine")

    assert find_delivery(store, product.tenant_id, "github", "mine") is not None
    assert find_delivery(store, other_tenant.id, "github", "mine") is None
