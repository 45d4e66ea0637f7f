"""Rollup throughput: the exactly-once fold against one hand-written GROUP BY, same rows, same DB.

For each database: a fresh store is loaded with the benchmark's events (not timed); then the
baseline, two plain ``INSERT ... SELECT ... GROUP BY`` statements into empty rollup tables (no
watermark, no chunking, no upsert), and ProductPilot's ``fold_events`` run over the same rows,
best of ``--repeat`` each. Prints one JSON object per database. Target: the fold within 1.5x
of the baseline's time. Peak memory is the fold process's own resident set: the work is in
SQL, so it should not grow with the number of events.

Usage:
    python benchmarks/analytics.py [--events 1000000] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.import_events import DEFAULT_POSTGRES, ensure_data, postgres_reachable  # noqa: E402
from productpilot.analytics.rollup import UTC_DAY_SQL, fold_events  # noqa: E402
from productpilot.db.engine import create_store_engine  # noqa: E402
from productpilot.db.store import Store  # noqa: E402
from productpilot.ingest.importer import import_events  # noqa: E402
from productpilot.products import create_product  # noqa: E402
from productpilot.tenants import create_tenant  # noqa: E402

TARGET_RATIO = 1.5
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def _store(database: str, url: str, scratch: Path) -> Store:
    if database == "sqlite":
        return Store.from_url(f"sqlite:///{scratch / 'bench.db'}")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    store = Store(create_store_engine(url, connect_args={"options": f"-csearch_path={schema}"}))
    with store.engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    return store


def _baseline(store: Store, tenant_id: int, product_id: int) -> float:
    day = UTC_DAY_SQL[store.dialect]
    started = time.perf_counter()
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO event_counts_daily (tenant_id, product_id, day, event, count) "
            f"SELECT {tenant_id}, {product_id}, {day}, event, count(*) FROM events "
            f"WHERE product_id = {product_id} GROUP BY {day}, event"
        )
        connection.exec_driver_sql(
            "INSERT INTO user_activity_daily (tenant_id, product_id, day, distinct_id, "
            f"event_count) SELECT {tenant_id}, {product_id}, {day}, distinct_id, count(*) "
            f"FROM events WHERE product_id = {product_id} GROUP BY {day}, distinct_id"
        )
    return time.perf_counter() - started


def _reset(store: Store) -> None:
    with store.engine.begin() as connection:
        for table in ("event_counts_daily", "user_activity_daily", "rollup_watermarks"):
            connection.exec_driver_sql(f"DELETE FROM {table}")


def measure(database: str, url: str, path: Path, repeat: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch:
        store = _store(database, url, Path(scratch))
        try:
            store.upgrade()
            tenant, _ = create_tenant(store, "Bench")
            with store.tenant_session(tenant.id) as session:
                product = create_product(session, "Bench")
            events = import_events(store, product, path).inserted
            baseline, folded = [], []
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            for _ in range(repeat):
                _reset(store)
                baseline.append(_baseline(store, tenant.id, product.id))
                _reset(store)
                started = time.perf_counter()
                result = fold_events(store, tenant.id, product.id, now=FAR_FUTURE)
                folded.append(time.perf_counter() - started)
                assert result.events == events, (result.events, events)
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        finally:
            if store.dialect == "postgresql":
                with store.engine.begin() as connection:
                    schema = connection.exec_driver_sql("SELECT current_schema()").scalar()
                    connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            store.dispose()
    ratio = min(folded) / min(baseline)
    return {
        "benchmark": "rollup",
        "database": database,
        "events": events,
        "fold_seconds": round(min(folded), 3),
        "baseline_seconds": round(min(baseline), 3),
        "fold_events_per_s": round(events / min(folded)),
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "fold_rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
        "peak_rss_mb": round(rss_after / 1024, 1),
        "meets_target": ratio <= TARGET_RATIO,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / ".data")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    path = ensure_data(args.data, args.events, args.seed)
    for database in args.databases.split(","):
        if database == "postgresql" and not postgres_reachable(args.postgres_url):
            skipped = f"PostgreSQL not reachable at {args.postgres_url}"
            print(json.dumps({"benchmark": "rollup", "database": database, "skipped": skipped}))
            continue
        print(json.dumps(measure(database, args.postgres_url, path, args.repeat)), flush=True)


if __name__ == "__main__":
    main()
