"""Tasks that bring events into the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_table_artifact

from productpilot.ingest.importer import import_events
from productpilot.products import locate_product
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on
from tasks.store import task_store


@task(
    name="import-events-file",
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def import_events_file(
    product_id: int, path: str, rejects_path: str | None = None
) -> dict[str, Any]:
    """Import an event file into a product; a retry after a crash re-inserts nothing.

    Returns:
        The import report as a dict (counts, seconds, where rejected rows were written).
    """
    store = task_store()
    product = locate_product(store, product_id)
    report = import_events(
        store, product, Path(path), rejects_path=Path(rejects_path) if rejects_path else None
    )
    return report.as_dict() | {
        "rejected_sample": [
            {"line": row.line, "reason": row.reason} for row in report.rejected_sample
        ]
    }


@task(name="publish-import-report")
def publish_import_report(report: dict[str, Any]) -> None:
    """Show an import's outcome in the Prefect UI as a table artifact."""
    rows = [
        {"measure": name, "value": report[name]}
        for name in ("rows_read", "inserted", "duplicates", "rejected", "seconds")
    ]
    rows += [
        {"measure": f"rejected line {row['line']}", "value": row["reason"]}
        for row in report["rejected_sample"]
    ]
    create_table_artifact(
        rows, key="event-import", description=f"Import of {Path(report['path']).name}"
    )
