"""The dead-letter flow: a run that failed after its retries becomes a dead letter.

A deployment trigger on ``prefect.flow-run.Failed`` / ``Crashed`` / ``TimedOut`` starts
:func:`dead_letter_flow` with ``{{ event.resource.id }}``; it records the run for each tenant
it served and routes a critical ``productpilot.run.failed`` finding to each product the run
named. The CLI (``productpilot dlq replay``) replays through :func:`replay_dead_letter`.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from productpilot.operations.deadletters import DEAD_LETTER_FLOW, normalize_flow_run_id
from tasks.deadletters import read_failed_run, record_dead_letters, replay_dead_letter
from tasks.notify import deliver_through_vendors, route_findings

__all__ = ["dead_letter_flow", "replay_dead_letter"]


@flow(name=DEAD_LETTER_FLOW, log_prints=True)
def dead_letter_flow(flow_run_id: str) -> dict[str, Any]:
    """Record a failed run in the dead-letter queue and tell the people of its products.

    Args:
        flow_run_id: The failed run's id, bare or as the event resource id
            ``prefect.flow-run.<uuid>`` a deployment trigger passes.

    Returns:
        ``{"flow_run_id", "recorded": [{dead_letter_id, tenant_id, created, product_ids}],
        "skipped": reason or None}``.

    Example:
        >>> dead_letter_flow(f"prefect.flow-run.{run_id}")  # doctest: +SKIP
        {'flow_run_id': '...', 'recorded': [{'dead_letter_id': 1, ...}], 'skipped': None}
    """
    run_id = normalize_flow_run_id(flow_run_id)
    failed = read_failed_run(run_id)
    if failed is None:
        return {"flow_run_id": run_id, "recorded": [], "skipped": "not a failed top-level run"}
    if failed.flow_name == DEAD_LETTER_FLOW:
        # Its own failure would start it again, which could fail again: never loop.
        print(f"run {run_id} is a dead-letter run itself: not recorded")
        return {"flow_run_id": run_id, "recorded": [], "skipped": "a dead-letter run"}
    recorded = record_dead_letters(failed)
    if recorded.findings:
        route_findings(recorded.findings)
        deliver_through_vendors(sorted({f.product_id for f in recorded.findings}))
    new = sum(1 for letter in recorded.letters if letter["created"])
    print(
        f"{failed.flow_name} run {run_id}: {new} dead letter(s) recorded, "
        f"{len(recorded.letters) - new} already recorded, {len(recorded.findings)} finding(s)"
    )
    return {"flow_run_id": run_id, "recorded": recorded.letters, "skipped": None}
