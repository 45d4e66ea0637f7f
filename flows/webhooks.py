"""Webhook flows: the reconciler that emits deliveries Prefect missed."""

from __future__ import annotations

from prefect import flow

from tasks.webhooks import reemit_pending_deliveries


@flow(name="reemit-webhook-deliveries", log_prints=True)
def reemit_webhook_deliveries_flow(limit: int = 500, grace_seconds: float = 60.0) -> dict[str, int]:
    """Emit the events of webhook deliveries that were stored but not emitted.

    A receiver stores every delivery before emitting its event; when Prefect was unreachable
    the delivery stays pending (answered ``queued``). Run this every few minutes: it is
    idempotent, since an emitted delivery is no longer pending.

    Args:
        limit: At most this many deliveries per run, oldest first.
        grace_seconds: Deliveries younger than this are left to the request handling them.
    """
    report = reemit_pending_deliveries(limit, grace_seconds)
    print(
        f"{report['examined']} pending deliveries: {report['processed']} emitted, "
        f"{report['ignored']} ignored, {report['queued']} still pending"
    )
    return report
