"""Notification flows."""

from __future__ import annotations

from typing import Any

from prefect import flow

from tasks.notify import deliver_notifications


@flow(name="deliver-notifications", log_prints=True)
def deliver_notifications_flow(product_ids: list[int] | None = None) -> dict[str, Any]:
    """Send every due notification in the outbox, and escalate unacknowledged critical
    alerts (every minute): digests whose wait is over, deferred ones whose quiet hours
    ended, retries whose backoff passed.

    Args:
        product_ids: Only these products' tenants (default: all).
    """
    report = deliver_notifications(product_ids)
    print(
        f"{report['sent']} sent, {report['retrying']} to retry, {report['failed']} failed, "
        f"{report['held']} held for credentials, {report['escalated']} escalated"
    )
    return report
