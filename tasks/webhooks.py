"""Tasks over stored webhook deliveries."""

from __future__ import annotations

from datetime import timedelta

from prefect import task

from integrations.prefect_events import PrefectEventEmitter
from integrations.webhooks import normalise_delivery
from productpilot.webhooks import reemit_pending
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on
from tasks.store import task_store


@task(
    name="reemit-pending-webhook-deliveries",
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def reemit_pending_deliveries(limit: int = 500, grace_seconds: float = 60.0) -> dict[str, int]:
    """Emit the events of up to ``limit`` stored deliveries that were never emitted.

    One task over the whole batch (a task per delivery would cost more than the work).
    A delivery that still cannot be emitted stays pending for the next run; the re-emitted
    event keeps the id it would have had, so consumers can tell a repeat.

    Example:
        >>> reemit_pending_deliveries(limit=100)  # doctest: +SKIP
        {'examined': 2, 'processed': 2, 'ignored': 0, 'queued': 0}

    Returns:
        How many deliveries were examined, and how many were processed, ignored or queued.
    """
    report = reemit_pending(
        task_store(),
        normalise=normalise_delivery,
        # A worker can wait longer than a webhook sender, and retry a dropped connection.
        emitter=PrefectEventEmitter(timeout_seconds=15, reconnection_attempts=2),
        limit=limit,
        grace=timedelta(seconds=grace_seconds),
    )
    return report.as_dict()
