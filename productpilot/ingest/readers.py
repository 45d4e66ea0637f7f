"""Stream records out of event files without holding them in memory.

Each reader yields ``(line_number, record_or_error)``; a line that cannot be decoded is
yielded as a :class:`RowError` so the importer reports it and goes on.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson

from productpilot.errors import ValidationError
from productpilot.ingest.validation import RowError

FileFormat = Literal["jsonl", "csv"]
Record = tuple[int, dict[str, Any] | RowError]
_CORE_COLUMNS = ("uuid", "event", "distinct_id", "timestamp")
# A CSV field can be a whole properties document; the default 128 KiB cap is too small.
csv.field_size_limit(16 * 1024 * 1024)


def detect_format(path: Path) -> FileFormat:
    """``jsonl`` for .jsonl/.ndjson/.json, ``csv`` for .csv (a trailing .gz is allowed)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValidationError(f"cannot tell the format of {path.name}: use .jsonl or .csv, or --format")


def open_binary(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """Open ``path`` for reading; returns (stream to parse, underlying file for progress)."""
    raw = path.open("rb")
    if path.suffix.lower() == ".gz":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
    return raw, raw


def read_jsonl(stream: BinaryIO) -> Iterator[Record]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, RowError(f"not valid JSON: {exc.msg}")


def read_csv(stream: BinaryIO) -> Iterator[Record]:
    """CSV with a header. ``event``, ``distinct_id`` and ``timestamp`` are required columns;
    ``uuid`` and ``properties`` (a JSON object) are optional; any other column becomes a
    property (empty cells are left out)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration:
        return
    missing = [c for c in ("event", "distinct_id", "timestamp") if c not in header]
    if missing:
        raise ValidationError(f"CSV header lacks required column(s): {', '.join(missing)}")
    extra = [(i, c) for i, c in enumerate(header) if c not in (*_CORE_COLUMNS, "properties")]
    core = [(i, c) for i, c in enumerate(header) if c in _CORE_COLUMNS]
    props_index = header.index("properties") if "properties" in header else None
    width = len(header)
    for cells in reader:
        number = reader.line_num
        if not cells or cells == [""]:
            continue
        if len(cells) != width:
            yield number, RowError(f"expected {width} columns, found {len(cells)}")
            continue
        record: dict[str, Any] = {c: cells[i] for i, c in core if cells[i] != "" or c != "uuid"}
        properties: dict[str, Any] = {}
        if props_index is not None and cells[props_index].strip():
            try:
                properties = orjson.loads(cells[props_index])
            except orjson.JSONDecodeError as exc:
                yield number, RowError(f"properties column is not valid JSON: {exc.msg}")
                continue
            if not isinstance(properties, dict):
                yield number, RowError("properties column must be a JSON object")
                continue
        properties.update({c: cells[i] for i, c in extra if cells[i] != ""})
        record["properties"] = properties
        yield number, record


READERS: dict[FileFormat, Callable[[BinaryIO], Iterator[Record]]] = {
    "jsonl": read_jsonl,
    "csv": read_csv,
}
