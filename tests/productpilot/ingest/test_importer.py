"""Bulk import: every good row kept, every bad row reported, nothing stored twice."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from productpilot.db.models import Event, Product
from productpilot.db.store import Store
from productpilot.errors import ValidationError
from productpilot.ingest.importer import ImportProgress, import_events
from productpilot.products import create_product
from productpilot.tenants import create_tenant

NOW = datetime(2026, 9, 1, tzinfo=UTC)


def event(i: int, **extra: object) -> dict[str, object]:
    return {
        "event": "pageview",
        "distinct_id": f"u{i % 7}",
        "timestamp": f"2026-08-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
        "properties": {"i": i},
        **extra,
    }


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def stored_events(store: Store, product: Product) -> int:
    with store.tenant_session(product.tenant_id) as session:
        return session.scalar(select(func.count()).select_from(Event))


@pytest.fixture
def mixed_file(tmp_path: Path) -> Path:
    """30 good rows with 4 bad ones on known lines (3, 10, 11, 20)."""
    lines = [json.dumps(event(i)) for i in range(30)]
    lines.insert(2, "{not json")
    lines.insert(9, json.dumps(event(100, timestamp="2031-01-01T00:00:00Z")))
    lines.insert(10, json.dumps({"distinct_id": "u1", "timestamp": "2026-08-01T00:00:00Z"}))
    lines.insert(19, json.dumps(event(101, properties="oops")))
    return write_jsonl(tmp_path / "events.jsonl", lines)


def test_bad_rows_are_reported_by_line_and_every_good_row_is_kept(
    store: Store, product: Product, mixed_file: Path, tmp_path: Path
) -> None:
    rejects = tmp_path / "rejects.jsonl"
    report = import_events(store, product, mixed_file, rejects_path=rejects, now=NOW, batch_size=7)

    assert (report.rows_read, report.inserted, report.rejected) == (34, 30, 4)
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected_sample] == [
        (3, "not valid JSON"),
        (10, "timestamp 2031-01-01T00"),
        (11, "event is missing"),
        (20, "properties must be a JSON object"),
    ]
    assert [orjson.loads(line)["line"] for line in rejects.read_bytes().splitlines()] == [
        3,
        10,
        11,
        20,
    ]
    assert stored_events(store, product) == 30


def test_reimporting_the_same_file_adds_nothing(
    store: Store, product: Product, mixed_file: Path
) -> None:
    import_events(store, product, mixed_file, now=NOW)
    again = import_events(store, product, mixed_file, now=NOW)
    assert (again.inserted, again.duplicates, again.rejected) == (0, 30, 4)
    assert stored_events(store, product) == 30


def test_duplicates_inside_one_file_are_stored_once(
    store: Store, product: Product, tmp_path: Path
) -> None:
    lines = [json.dumps(event(1, uuid="same")), json.dumps(event(2, uuid="same"))]
    lines += [json.dumps(event(3))] * 2  # no uuid: identical content, identical key
    report = import_events(store, product, write_jsonl(tmp_path / "d.jsonl", lines), now=NOW)
    assert (report.inserted, report.duplicates) == (2, 2)


def test_an_import_interrupted_after_a_batch_completes_on_rerun(
    store: Store, product: Product, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "e.jsonl", [json.dumps(event(i)) for i in range(25)])

    def crash(progress: ImportProgress) -> None:
        if progress.inserted >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_events(store, product, path, now=NOW, batch_size=10, on_progress=crash)
    assert stored_events(store, product) == 10  # the committed batch survives

    report = import_events(store, product, path, now=NOW, batch_size=10)
    assert (report.inserted, report.duplicates) == (15, 10)
    assert stored_events(store, product) == 25


def test_events_are_stored_with_their_values_and_in_the_products_tenant(
    store: Store, product: Product, tmp_path: Path
) -> None:
    other_tenant, _ = create_tenant(store, "Globex")
    with store.tenant_session(other_tenant.id) as session:
        create_product(session, "Other")
    line = json.dumps(event(5, uuid="abc", timestamp="2026-08-03T10:30:00.250+02:00"))
    import_events(store, product, write_jsonl(tmp_path / "one.jsonl", [line]), now=NOW)

    with store.tenant_session(product.tenant_id) as session:
        stored = session.scalars(select(Event)).one()
    assert stored.idempotency_key == "abc"
    assert stored.timestamp == datetime(2026, 8, 3, 8, 30, 0, 250000, tzinfo=UTC)
    assert stored.properties == {"i": 5}
    assert (stored.tenant_id, stored.product_id) == (product.tenant_id, product.id)
    with store.tenant_session(other_tenant.id) as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0


def test_csv_and_gzip_files_import_like_jsonl(
    store: Store, product: Product, tmp_path: Path
) -> None:
    csv_path = tmp_path / "events.csv.gz"
    csv_path.write_bytes(
        gzip.compress(
            b"uuid,event,distinct_id,timestamp,plan\n"
            b"1,signup,u1,2026-08-01T00:00:00Z,pro\n"
            b"2,signup,u2,not-a-date,free\n"
        )
    )
    report = import_events(store, product, csv_path, now=NOW)
    assert (report.file_format, report.inserted, report.rejected) == ("csv", 1, 1)
    assert report.rejected_sample[0].line == 3
    with store.tenant_session(product.tenant_id) as session:
        assert session.scalars(select(Event.properties)).one() == {"plan": "pro"}


def test_progress_is_reported_in_bytes_up_to_the_file_size(
    store: Store, product: Product, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "e.jsonl", [json.dumps(event(i)) for i in range(50)])
    seen: list[ImportProgress] = []
    import_events(store, product, path, now=NOW, batch_size=20, on_progress=seen.append)
    assert [p.rows_read for p in seen] == [20, 40, 50]
    assert seen[-1].bytes_read == seen[-1].bytes_total == path.stat().st_size


def test_a_missing_file_or_non_utf8_file_is_a_clear_error(
    store: Store, product: Product, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="no such file"):
        import_events(store, product, tmp_path / "missing.jsonl")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("event,distinct_id,timestamp\ncafé,u,2026-08-01\n".encode("latin-1"))
    with pytest.raises(ValidationError, match="not UTF-8"):
        import_events(store, product, latin, now=NOW)
