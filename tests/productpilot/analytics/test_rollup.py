"""Folding events into the daily rollups: right totals, exactly once, whatever happens."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import event, select

from productpilot.analytics.rollup import fold_events
from productpilot.db.models import EventCountDaily, Product, RollupWatermark, UserActivityDaily
from productpilot.db.store import Store
from productpilot.ingest.importer import import_events
from productpilot.products import create_product

NOW = datetime(2026, 9, 1, tzinfo=UTC)  # the import's clock: event timestamps are before it


def settled() -> datetime:
    """A fold clock past the settle time of everything received so far (wall clock)."""
    return datetime.now(UTC) + timedelta(minutes=1)


def load(store: Store, product: Product, tmp_path: Path, rows: list[tuple[str, str, str]]) -> None:
    """Import (event, user, timestamp) rows through the real ingest path."""
    path = tmp_path / f"batch-{len(list(tmp_path.glob('*.jsonl')))}.jsonl"
    path.write_bytes(
        b"".join(
            orjson.dumps({"event": e, "distinct_id": u, "timestamp": t, "uuid": f"{e}{u}{t}"})
            + b"\n"
            for e, u, t in rows
        )
    )
    assert import_events(store, product, path, now=NOW).rejected == 0


def counts(store: Store, product: Product) -> dict[tuple[date, str], int]:
    with store.tenant_session(product.tenant_id) as session:
        rows = session.scalars(
            select(EventCountDaily).where(EventCountDaily.product_id == product.id)
        ).all()
        return {(r.day, r.event): r.count for r in rows}


def activity(store: Store, product: Product) -> dict[tuple[date, str], int]:
    with store.tenant_session(product.tenant_id) as session:
        rows = session.scalars(
            select(UserActivityDaily).where(UserActivityDaily.product_id == product.id)
        ).all()
        return {(r.day, r.distinct_id): r.event_count for r in rows}


def fold(store: Store, product: Product, **options: object):
    return fold_events(store, product.tenant_id, product.id, now=settled(), **options)


ROWS = [
    ("signup", "u1", "2026-08-01T09:00:00Z"),
    ("pageview", "u1", "2026-08-01T09:05:00Z"),
    ("pageview", "u1", "2026-08-01T23:59:59+00:00"),
    ("pageview", "u2", "2026-08-02T00:30:00+02:00"),  # 2026-08-01 22:30 UTC
    ("pageview", "u2", "2026-08-02T08:00:00Z"),
]
EXPECTED_COUNTS = {
    (date(2026, 8, 1), "signup"): 1,
    (date(2026, 8, 1), "pageview"): 3,
    (date(2026, 8, 2), "pageview"): 1,
}
EXPECTED_ACTIVITY = {
    (date(2026, 8, 1), "u1"): 3,
    (date(2026, 8, 1), "u2"): 1,
    (date(2026, 8, 2), "u2"): 1,
}


def test_events_are_counted_per_utc_day_event_and_user(
    store: Store, product: Product, tmp_path: Path
) -> None:
    load(store, product, tmp_path, ROWS)
    result = fold(store, product)
    assert (result.events, result.chunks) == (5, 1)
    assert counts(store, product) == EXPECTED_COUNTS
    assert activity(store, product) == EXPECTED_ACTIVITY


def test_folding_again_adds_nothing_and_new_events_are_added(
    store: Store, product: Product, tmp_path: Path
) -> None:
    load(store, product, tmp_path, ROWS)
    fold(store, product)
    assert fold(store, product).events == 0
    load(store, product, tmp_path, [("signup", "u3", "2026-08-01T10:00:00Z")])
    assert fold(store, product).events == 1
    assert counts(store, product)[(date(2026, 8, 1), "signup")] == 2


def test_small_chunks_give_the_same_totals(store: Store, product: Product, tmp_path: Path) -> None:
    load(store, product, tmp_path, ROWS)
    result = fold(store, product, chunk_size=2)
    assert (result.events, result.chunks) == (5, 3)
    assert counts(store, product) == EXPECTED_COUNTS
    assert activity(store, product) == EXPECTED_ACTIVITY


def test_a_crash_inside_a_chunk_rolls_the_chunk_back_and_a_rerun_completes_it(
    store: Store, product: Product, tmp_path: Path
) -> None:
    load(store, product, tmp_path, ROWS)
    activity_inserts = []

    def crash_on_second_chunk(_conn, _cursor, statement: str, *_args: object) -> None:
        if statement.lstrip().startswith("INSERT INTO user_activity_daily"):
            activity_inserts.append(statement)
            if len(activity_inserts) == 2:
                raise RuntimeError("worker killed")

    event.listen(store.engine, "before_cursor_execute", crash_on_second_chunk)
    try:
        with pytest.raises(RuntimeError, match="worker killed"):
            fold(store, product, chunk_size=3)
    finally:
        event.remove(store.engine, "before_cursor_execute", crash_on_second_chunk)

    # Only the first chunk (3 events of 2026-08-01) is in, counts and watermark alike.
    assert sum(counts(store, product).values()) == 3
    with store.tenant_session(product.tenant_id) as session:
        assert session.scalars(select(RollupWatermark.last_event_id)).one() > 0
    fold(store, product, chunk_size=3)
    assert counts(store, product) == EXPECTED_COUNTS
    assert activity(store, product) == EXPECTED_ACTIVITY


def test_overlapping_runs_fold_each_event_once(
    store: Store, product: Product, tmp_path: Path
) -> None:
    rows = [
        ("pageview", f"u{i % 13}", f"2026-08-{1 + i % 20:02d}T10:{i % 60:02d}:00Z")
        for i in range(600)
    ]
    load(store, product, tmp_path, rows)
    start = threading.Barrier(3)
    results, errors = [], []

    def run() -> None:
        start.wait()
        try:
            results.append(fold(store, product, chunk_size=50))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(r.events for r in results) == 600
    assert sum(counts(store, product).values()) == 600
    assert sum(activity(store, product).values()) == 600


def test_events_received_within_the_settle_time_wait_for_the_next_run(
    store: Store, product: Product, tmp_path: Path
) -> None:
    load(store, product, tmp_path, ROWS)
    received = datetime.now(UTC)
    settle = timedelta(minutes=5)
    early = fold_events(store, product.tenant_id, product.id, now=received, settle=settle)
    assert early.events == 0
    later = received + timedelta(minutes=6)
    assert fold_events(store, product.tenant_id, product.id, now=later, settle=settle).events == 5


def test_only_the_products_own_events_are_folded(
    store: Store, product: Product, tmp_path: Path
) -> None:
    with store.tenant_session(product.tenant_id) as session:
        other = create_product(session, "Other App")
    load(store, other, tmp_path, ROWS)
    load(store, product, tmp_path, ROWS[:1])
    assert fold(store, product).events == 1
    assert counts(store, product) == {(date(2026, 8, 1), "signup"): 1}
