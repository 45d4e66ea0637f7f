"""``productpilot events``: getting product events into the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from productpilot.cli.output import console, err_console
from productpilot.ingest.importer import ImportProgress, ImportReport, import_events
from productpilot.ingest.readers import FileFormat
from productpilot.products import locate_product
from productpilot.runtime import open_store
from productpilot.settings import get_settings

app = typer.Typer(help="Import product events.")


def print_report(report: ImportReport) -> None:
    console.print(
        f"Read {report.rows_read:,} rows in {report.seconds:.1f} s "
        f"({report.rows_per_second:,.0f} rows/s): {report.inserted:,} new, "
        f"{report.duplicates:,} already imported, {report.rejected:,} rejected."
    )
    for row in report.rejected_sample:
        err_console.print(f"  line {row.line}: {row.reason}", highlight=False)
    if report.rejected > len(report.rejected_sample):
        err_console.print(f"  ... and {report.rejected - len(report.rejected_sample):,} more")
    if report.rejects_path:
        err_console.print(f"Every rejected row is listed in {report.rejects_path}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV or JSON Lines file (optionally .gz).")],
    product: Annotated[str, typer.Option("--product", "-p", help="Product id (or slug).")],
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Tenant id or slug (for a slug).")
    ] = None,
    file_format: Annotated[
        FileFormat | None, typer.Option("--format", help="Override the format from the name.")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=100, max=1_000_000, help="Rows per database round trip.")
    ] = None,
) -> None:
    """Import events from FILE, keeping every good row and reporting every bad one.

    JSON Lines: one object per line with event, distinct_id, timestamp (ISO 8601 or Unix
    epoch) and optional uuid and properties. CSV: a header with event, distinct_id and
    timestamp; optional uuid and properties (JSON) columns; other columns become
    properties. Re-running an import adds nothing twice: events are keyed by uuid, or by
    their content when they have none.
    """
    store = open_store()
    target = locate_product(store, product, tenant)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    rejects = get_settings().home / "imports" / f"{file.name}.{stamp}.rejected.jsonl"
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(f"Importing {file.name}", total=None, rows=0)

        def advance(update: ImportProgress) -> None:
            progress.update(
                task, completed=update.bytes_read, total=update.bytes_total, rows=update.rows_read
            )

        report = import_events(
            store,
            target,
            file,
            file_format=file_format,
            batch_size=batch_size,
            rejects_path=rejects,
            on_progress=advance,
        )
    print_report(report)
