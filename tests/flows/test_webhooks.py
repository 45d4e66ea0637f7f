"""The reconciler flow emits, to the real Prefect server, what was stored but never emitted."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventIDFilter
from sqlalchemy import select

from flows.webhooks import reemit_webhook_deliveries_flow
from productpilot.db.models import WebhookDelivery
from productpilot.db.types import utcnow
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from productpilot.webhooks import delivery_event_id, mark_failed, record_delivery

PUSH = {"ref": "refs/heads/main", "repository": {"full_name": "acme/web"}, "commits": []}


def test_the_reconciler_emits_pending_deliveries_to_prefect_once(home: Path) -> None:
    store = open_store()
    tenant, _key = create_tenant(store, "Acme")
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Web App")
    recorded = record_delivery(
        store,
        tenant_id=tenant.id,
        product_id=product.id,
        vendor="github",
        delivery_id="while-prefect-was-down",
        kind="push",
        payload=PUSH,
        headers={},
        received_at=utcnow() - timedelta(minutes=5),
    )
    mark_failed(store, recorded.delivery, "emission failed: ConnectionRefusedError")

    report = reemit_webhook_deliveries_flow(limit=10)
    again = reemit_webhook_deliveries_flow(limit=10)

    assert report == {"examined": 1, "processed": 1, "ignored": 0, "queued": 0}
    assert again["examined"] == 0
    with store.system_session() as session:
        row = session.scalar(select(WebhookDelivery))
        assert (row.status, row.error) == ("emitted", "")

    event_id = delivery_event_id("github", tenant.id, "while-prefect-was-down")
    with get_client(sync_client=True) as client:
        # The server confirmed receipt; it persists events in batches, so allow it a moment.
        deadline = time.monotonic() + 30
        while True:
            page = client.read_events(filter=EventFilter(id=EventIDFilter(id=[event_id])), limit=10)
            if page.events or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    [event] = page.events
    assert event.event == "productpilot.github.push"
    assert event.resource.id == f"productpilot.product.{product.id}"
    assert event.resource["productpilot.tenant"] == str(tenant.id)
    assert event.payload["ref"] == "refs/heads/main"
