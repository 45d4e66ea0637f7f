"""The planning flow: plans stored, charts and reports written, artifacts published, and the
summary routed to the product's digest."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from sqlalchemy import select

from flows.planning import backlog_planning_flow
from productpilot.db.models import Notification, Plan
from productpilot.planning.backlog import upsert_backlog
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from tests.productpilot.planning.test_store import backlog

OUTBOX = {
    "channel": "outbox",
    "recipients": ["pm"],
    "kinds": ["productpilot.plan.*"],
    "group_wait_minutes": 0,
}


def test_a_planning_run_publishes_each_products_plan(home: Path) -> None:
    store = open_store()
    tenant, _ = create_tenant(store, "Planning Co")
    with store.tenant_session(tenant.id) as session:
        product = create_product(
            session, "Web App", configuration={"notification_routes": [OUTBOX]}
        )
        upsert_backlog(session, product, backlog(), source="local")
        idle = create_product(session, "Nothing open")
        product_id, idle_id = product.id, idle.id

    [published] = backlog_planning_flow([product_id, idle_id], as_of=date(2026, 11, 2))

    assert published["product_id"] == product_id  # the product with no open items is skipped
    assert Path(published["chart"]).read_bytes()[:4] == b"\x89PNG"
    assert "| 1 | A | Build exports |" in Path(published["report"]).read_text()
    with store.tenant_session(tenant.id) as session:
        plan = session.get(Plan, published["plan_id"])
        assert plan.result["summary"]["items"] == 2
        [note] = session.scalars(select(Notification))
        assert note.kind == "productpilot.plan.published"
        assert note.status == "sent"  # the outbox channel
    with get_client(sync_client=True) as client:
        keys = [f"backlog-product-{product_id}", f"plan-product-{product_id}"]
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys))
        )
    assert {a.type for a in artifacts} == {"table", "markdown"}


def test_a_backlog_change_event_plans_only_its_product(home: Path) -> None:
    store = open_store()
    tenant, _ = create_tenant(store, "Event Co")
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Web App")
        upsert_backlog(session, product, backlog(), source="local")
        other = create_product(session, "Other")
        upsert_backlog(session, other, backlog(), source="local")
        product_id = product.id

    published = backlog_planning_flow(
        product=f"productpilot.product.{product_id}", as_of=date(2026, 11, 2)
    )
    assert [p["product_id"] for p in published] == [product_id]
