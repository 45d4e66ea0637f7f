"""Notification tasks: route findings into the outbox, deliver what is due.

All are coarse: one task routes a whole batch of findings (every product of a run), and
delivery is one task per vendor over every due notification, so a daily run over a
thousand products costs a handful of task runs here, not thousands.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from prefect import task
from sqlalchemy.exc import IntegrityError

from deployments.setup import VENDOR_TAG_PREFIX
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


#: The vendor each channel talks to: its delivery task carries the ``vendor:<name>`` tag, so
#: the tag concurrency limits ``productpilot setup`` creates cap the sends to each vendor
#: across every flow and worker. The outbox channel talks to nobody.
CHANNEL_VENDORS: dict[str, str | None] = {
    "slack": "slack",
    "teams": "teams",
    "email": "email",
    "jira": "jira",
    "linear": "linear",
    "github": "github",
    "outbox": None,
}


@task(
    name="escalate-unacknowledged",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def escalate_unacknowledged(
    product_ids: list[int] | None = None, now: datetime | None = None
) -> int:
    """Record one escalation for each critical alert of the products left unacknowledged
    past its route's ``escalation.after_minutes``; returns how many."""
    moment = now or datetime.now(UTC)
    store = task_store()
    escalated = 0
    for product in products_in_scope(store, product_ids):
        with store.tenant_session(product.tenant_id) as session:
            escalated += escalate(session, session.get(Product, product.id), now=moment)
    return escalated


@task(
    name="deliver-notifications",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def deliver_notifications(
    product_ids: list[int] | None = None,
    now: datetime | None = None,
    limit: int = 500,
    channels: list[str] | None = None,
) -> dict[str, Any]:
    """Send every due notification of the products' tenants (only through ``channels``,
    when given) through the channels their configuration names.

    Vendor failures do not fail the task: each stays in the outbox (pending with a backoff,
    or failed with its reason). Only the store failing does.
    """
    moment = now or datetime.now(UTC)
    store = task_store()
    products = products_in_scope(store, product_ids)
    total = DispatchReport()
    targets = ConfiguredTargets(store)
    for tenant_id in sorted({p.tenant_id for p in products}):
        total.add(
            deliver_due(store, tenant_id, targets, now=moment, limit=limit, channels=channels)
        )
    return asdict(total)


@task(
    name="due-channels",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def due_channels(product_ids: list[int] | None = None, now: datetime | None = None) -> list[str]:
    """The channels with something due for the products' tenants."""
    moment = now or datetime.now(UTC)
    store = task_store()
    channels: set[str] = set()
    for tenant_id in sorted({p.tenant_id for p in products_in_scope(store, product_ids)}):
        with store.tenant_session(tenant_id) as session:
            channels |= outbox.due_channels(session, moment)
    return sorted(channels)


def deliver_through_vendors(
    product_ids: list[int] | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Escalate, then deliver what is due with one task per vendor that has something
    due, each tagged ``vendor:<name>`` (call it from a flow: each step is a task run).

    A vendor at its tag limit (other flows are sending to it) delays only its own task.
    """
    moment = now or datetime.now(UTC)
    total = DispatchReport(escalated=escalate_unacknowledged(product_ids, moment))
    by_vendor: dict[str | None, list[str]] = defaultdict(list)
    for channel in due_channels(product_ids, moment):
        by_vendor[CHANNEL_VENDORS.get(channel)].append(channel)
    for vendor, channels in sorted(by_vendor.items(), key=lambda item: item[0] or ""):
        deliver = deliver_notifications.with_options(
            name=f"deliver-{vendor or 'outbox'}",
            tags=[f"{VENDOR_TAG_PREFIX}{vendor}"] if vendor else [],
        )
        total.add(DispatchReport(**deliver(product_ids, moment, channels=channels)))
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
