"""Notification flows."""

from __future__ import annotations

from typing import Any

from prefect import flow

from productpilot.eventbus import product_id_of
from tasks.fairness import fair_share
from tasks.notify import acknowledge_delivery, deliver_through_vendors


@flow(name="deliver-notifications", log_prints=True)
@fair_share
def deliver_notifications_flow(product_ids: list[int] | None = None) -> dict[str, Any]:
    """Send every due notification in the outbox, and escalate unacknowledged critical
    alerts (every minute): digests whose wait is over, deferred ones whose quiet hours
    ended, retries whose backoff passed.

    Args:
        product_ids: Only these products' tenants (default: all).
    """
    report = deliver_through_vendors(product_ids)
    print(
        f"{report['sent']} sent, {report['retrying']} to retry, {report['failed']} failed, "
        f"{report['held']} held for credentials, {report['escalated']} escalated"
    )
    return report


@flow(name="acknowledge-alert", log_prints=True)
@fair_share
def acknowledge_alert_flow(product: str, channel: str, ts: str) -> int:
    """Someone reacted to a message in Slack: if it is one of our alerts, it is acknowledged
    and will not be escalated (started by the ``productpilot.slack.reaction_added`` trigger).

    Args:
        product: The product's id, or its event resource id (``productpilot.product.<id>``).
        channel: The Slack channel id of the message reacted to.
        ts: The message's ``ts``.
    """
    covered = acknowledge_delivery(product_id_of(product), "slack", f"{channel}:{ts}")
    print(f"{covered} notification(s) acknowledged")
    return covered
