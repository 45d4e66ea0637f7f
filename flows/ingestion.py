"""Event ingestion flows."""

from __future__ import annotations

from typing import Any

from prefect import flow

from tasks.fairness import fair_share
from tasks.ingestion import import_events_file, publish_import_report


@flow(name="import-events", log_prints=True)
@fair_share
def import_events_flow(
    product_id: int, path: str, rejects_path: str | None = None
) -> dict[str, Any]:
    """Import a CSV or JSON Lines file of events into a product.

    Idempotent: events already stored (same uuid, or same content when they have none)
    are counted as duplicates, so re-running after a failure is safe.

    Args:
        product_id: The product to import into (its tenant scopes the write).
        path: The file, readable by the worker that runs this flow.
        rejects_path: Where to list every rejected row (line number and reason).
    """
    report = import_events_file(product_id, path, rejects_path)
    publish_import_report(report)
    print(
        f"{report['inserted']} new events, {report['duplicates']} duplicates, "
        f"{report['rejected']} rejected"
    )
    return report
