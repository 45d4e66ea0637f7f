"""Notification tasks: route findings into the outbox, deliver what is due.

Both are coarse: one task routes a whole batch of findings (every product of a run), one
delivers every due notification, so a daily run over a thousand products costs two task
runs here, not two thousand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from prefect import task
from sqlalchemy.exc import IntegrityError

from integrations.channels import ConfiguredTargets
from productpilot.db.models import Product
from productpilot.notify import outbox
from productpilot.notify.dispatch import DispatchReport, deliver_due, escalate
from productpilot.notify.message import Finding
from productpilot.notify.router import RoutingReport, route
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on
from tasks.store import products_in_scope, task_store


@task(
    name="route-findings",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_jitter_factor=0.5,
    # Two routers recording the same finding at once: the retry finds it recorded.
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS, IntegrityError),
)
def route_findings(findings: Sequence[Finding], now: datetime | None = None) -> dict[str, int]:
    """Record the notifications ``findings`` call for, per each product's routes.

    Safe to retry: a finding already recorded is recorded once.
    """
    moment = now or datetime.now(UTC)
    by_product: dict[int, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_product[finding.product_id].append(finding)
    store = task_store()
    total = RoutingReport()
    for product in products_in_scope(store, sorted(by_product)):
        with store.tenant_session(product.tenant_id) as session:
            owned = session.get(Product, product.id)
            total.add(route(session, owned, by_product[product.id], now=moment))
    return asdict(total)


@task(
    name="deliver-notifications",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def deliver_notifications(
    product_ids: list[int] | None = None, now: datetime | None = None, limit: int = 500
) -> dict[str, Any]:
    """Escalate unacknowledged critical alerts, then send every due notification of the
    products' tenants through the channels their configuration names.

    Vendor failures do not fail the task: each stays in the outbox (pending with a backoff,
    or failed with its reason). Only the store failing does.
    """
    moment = now or datetime.now(UTC)
    store = task_store()
    products = products_in_scope(store, product_ids)
    total = DispatchReport()
    for product in products:
        with store.tenant_session(product.tenant_id) as session:
            total.escalated += escalate(session, session.get(Product, product.id), now=moment)
    targets = ConfiguredTargets(store)
    for tenant_id in sorted({p.tenant_id for p in products}):
        total.add(deliver_due(store, tenant_id, targets, now=moment, limit=limit))
    return asdict(total)


@task(
    name="acknowledge-delivery",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def acknowledge_delivery(
    product_id: int, channel: str, external_id: str, now: datetime | None = None
) -> int:
    """Acknowledge what the product's ``channel`` delivered as ``external_id`` (a Slack
    alert someone reacted to): it will not be escalated. Returns how many notifications
    that covered (0 for a message ProductPilot did not send)."""
    store = task_store()
    found = products_in_scope(store, [product_id])
    if not found:
        return 0
    with store.tenant_session(found[0].tenant_id) as session:
        return outbox.acknowledge_delivery(session, channel, external_id, now or datetime.now(UTC))
