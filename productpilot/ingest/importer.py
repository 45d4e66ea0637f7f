"""Bulk import of event files (CSV or JSON Lines, optionally gzipped) into a product.

Streams the file in batches, so memory stays flat whatever its size; validates every
row; keeps every good row and reports every bad one with its line number and reason;
and is idempotent, so re-running an import (after a crash, or by mistake) adds nothing.

Example:
    >>> report = import_events(store, product, Path("events.jsonl"))  # doctest: +SKIP
    >>> report.inserted, report.rejected  # doctest: +SKIP
    (99998, 2)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

import orjson

from productpilot.db.bulk import event_writer
from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.db.types import utcnow
from productpilot.errors import ValidationError
from productpilot.ingest.readers import READERS, FileFormat, detect_format, open_binary
from productpilot.ingest.validation import EventRow, RowError, parse_event

DEFAULT_BATCH_SIZE = {"sqlite": 20_000, "postgresql": 50_000}
SAMPLE_SIZE = 20


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ImportProgress:
    bytes_read: int
    bytes_total: int
    rows_read: int
    inserted: int
    rejected: int


@dataclass(slots=True)
class ImportReport:
    """What an import did. ``duplicates`` are valid rows the product already had."""

    path: Path
    file_format: FileFormat
    rows_read: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejected_sample: list[RejectedRow] = field(default_factory=list)
    rejects_path: Path | None = None
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "format": self.file_format,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejects_path": str(self.rejects_path) if self.rejects_path else None,
            "seconds": round(self.seconds, 3),
        }


class _Rejects:
    """Keeps a sample of rejected rows and writes all of them to a JSON Lines file."""

    def __init__(self, report: ImportReport, path: Path | None) -> None:
        self._report = report
        self._path = path
        self._file: IO[bytes] | None = None

    def add(self, line: int, reason: str) -> None:
        self._report.rejected += 1
        if len(self._report.rejected_sample) < SAMPLE_SIZE:
            self._report.rejected_sample.append(RejectedRow(line, reason))
        if self._path is not None:
            if self._file is None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self._path.open("wb")
                self._report.rejects_path = self._path
            self._file.write(orjson.dumps({"line": line, "reason": reason}) + b"\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def import_events(
    store: Store,
    product: Product,
    path: Path,
    *,
    file_format: FileFormat | None = None,
    batch_size: int | None = None,
    rejects_path: Path | None = None,
    now: datetime | None = None,
    on_progress: Callable[[ImportProgress], None] | None = None,
) -> ImportReport:
    """Import the events in ``path`` into ``product``.

    Args:
        store: The store to write to.
        product: A product resolved in its tenant's session (this decides the tenant).
        path: A ``.jsonl``/``.ndjson``/``.json`` or ``.csv`` file, optionally ``.gz``.
        file_format: Overrides the format guessed from the file name.
        batch_size: Rows per database round trip (and per commit).
        rejects_path: Where to write every rejected row as JSON Lines (line, reason).
        now: The clock for "timestamp in the future" checks (tests pin it).
        on_progress: Called after each batch.

    Raises:
        ValidationError: the file is missing, or its format or CSV header is unusable.
    """
    if not path.is_file():
        raise ValidationError(f"no such file: {path}")
    file_format = file_format or detect_format(path)
    batch_size = batch_size or DEFAULT_BATCH_SIZE.get(store.dialect, 20_000)
    now = now or utcnow()
    report = ImportReport(path=path, file_format=file_format)
    rejects = _Rejects(report, rejects_path)
    total = path.stat().st_size
    started = time.perf_counter()
    stream, raw = open_binary(path)
    batch: list[EventRow] = []

    with stream, event_writer(store.engine, product.tenant_id, product.id) as writer:

        def flush() -> None:
            if batch:
                report.inserted += writer.write(batch)
                batch.clear()
            if on_progress is not None:
                on_progress(
                    ImportProgress(
                        raw.tell(), total, report.rows_read, report.inserted, report.rejected
                    )
                )

        try:
            for line, record in READERS[file_format](stream):
                report.rows_read += 1
                if isinstance(record, RowError):
                    rejects.add(line, str(record))
                    continue
                try:
                    batch.append(parse_event(record, now=now))
                except RowError as exc:
                    rejects.add(line, str(exc))
                    continue
                if len(batch) >= batch_size:
                    flush()
            flush()
        except UnicodeDecodeError as exc:
            raise ValidationError(f"{path.name} is not UTF-8 text: {exc.reason}") from None
        finally:
            rejects.close()

    report.duplicates = report.rows_read - report.rejected - report.inserted
    report.seconds = time.perf_counter() - started
    return report
