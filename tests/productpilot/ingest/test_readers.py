"""Reading event files: formats, line numbers and unreadable lines."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from productpilot.errors import ValidationError
from productpilot.ingest.readers import detect_format, open_binary, read_csv, read_jsonl
from productpilot.ingest.validation import RowError


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("e.jsonl", "jsonl"),
        ("e.ndjson", "jsonl"),
        ("e.JSON", "jsonl"),
        ("e.csv", "csv"),
        ("e.csv.gz", "csv"),
        ("e.2026.jsonl.gz", "jsonl"),
    ],
)
def test_the_format_follows_the_file_name(name: str, expected: str) -> None:
    assert detect_format(Path(name)) == expected


def test_an_unknown_extension_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="--format"):
        detect_format(Path("events.xlsx"))


def test_jsonl_lines_are_numbered_blank_lines_skipped_and_bad_lines_reported() -> None:
    data = b'{"event": "a"}\n\n{oops\n{"event": "b"}\n'
    records = list(read_jsonl(io.BytesIO(data)))
    assert [line for line, _ in records] == [1, 3, 4]
    assert records[0][1] == {"event": "a"}
    assert isinstance(records[1][1], RowError)
    assert "not valid JSON" in str(records[1][1])


def test_csv_extra_columns_become_properties_and_empty_cells_are_left_out() -> None:
    data = (
        b"event,distinct_id,timestamp,plan,country,properties\n"
        b'signup,u1,2026-08-01T00:00:00Z,pro,,"{""source"": ""ad""}"\n'
    )
    [(line, record)] = list(read_csv(io.BytesIO(data)))
    assert line == 2
    assert record == {
        "event": "signup",
        "distinct_id": "u1",
        "timestamp": "2026-08-01T00:00:00Z",
        "properties": {"source": "ad", "plan": "pro"},
    }


def test_csv_line_numbers_count_physical_lines_of_quoted_fields() -> None:
    data = b'event,distinct_id,timestamp,note\na,u,t,"two\nlines"\nb,u,t,x\n'
    assert [line for line, _ in read_csv(io.BytesIO(data))] == [3, 4]


def test_csv_rows_with_the_wrong_width_or_bad_properties_are_reported() -> None:
    data = b'event,distinct_id,timestamp,properties\na,u,t\na,u,t,{bad\na,u,t,"[1]"\n'
    reasons = [str(record) for _, record in read_csv(io.BytesIO(data))]
    assert reasons[0] == "expected 4 columns, found 3"
    assert reasons[1].startswith("properties column is not valid JSON")
    assert reasons[2] == "properties column must be a JSON object"


def test_a_csv_without_required_columns_is_refused_as_a_whole() -> None:
    with pytest.raises(ValidationError, match="distinct_id, timestamp"):
        list(read_csv(io.BytesIO(b"event,user\na,b\n")))


def test_gzipped_files_are_read_transparently(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"event": "a"}\n'))
    stream, raw = open_binary(path)
    with stream:
        assert list(read_jsonl(stream)) == [(1, {"event": "a"})]
        assert raw.tell() == path.stat().st_size
