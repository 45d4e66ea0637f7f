"""Import throughput and peak memory of `productpilot events import`, against a hand baseline.

For each database, two fresh processes load the same JSON Lines file into an empty store:

- ``import``: ProductPilot's importer (streaming, validation, idempotency, per-batch commits);
- ``baseline``: the same rows read and inserted by hand with one ``executemany`` (SQLite)
  or one ``COPY`` (PostgreSQL), with no validation, idempotency or memory bound.

Prints one JSON object per database. Targets: import >= 0.5 x baseline rows/s, and the
import's peak RSS under 300 MB.

Usage:
    python benchmarks/import_events.py [--rows 1000000] [--data DIR] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from productpilot.db.engine import create_store_engine  # noqa: E402
from productpilot.db.store import Store  # noqa: E402
from productpilot.db.types import SQLITE_DATETIME_FORMAT  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_RATIO = 0.5
TARGET_PEAK_MB = 300


def ensure_data(directory: Path, rows: int, seed: int) -> Path:
    """A JSON Lines file of exactly ``rows`` synthetic events (generated once, then reused)."""
    from benchmarks.data import synthetic_jsonl
    from productpilot.synthetic import SyntheticConfig

    config = SyntheticConfig.for_event_count(int(rows * 1.15), seed=seed)
    return synthetic_jsonl(directory / f"events-{rows}-seed{seed}.jsonl", rows, config)


# --- worker side: one measurement in a fresh process ------------------------------------


def _open_store(database: str, url: str | None, scratch: Path) -> Store:
    if database == "sqlite":
        return Store.from_url(f"sqlite:///{scratch / 'bench.db'}")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    store = Store(create_store_engine(url, connect_args={"options": f"-csearch_path={schema}"}))
    with store.engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    return store


def _drop(store: Store) -> None:
    if store.dialect == "postgresql":
        with store.engine.begin() as connection:
            schema = connection.exec_driver_sql("SELECT current_schema()").scalar()
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    store.dispose()


def _baseline(store: Store, tenant_id: int, product_id: int, path: Path) -> int:
    received = datetime.now(UTC)
    raw = store.engine.raw_connection()
    driver = raw.driver_connection
    rows = 0
    if store.dialect == "sqlite":
        stamp = received.replace(tzinfo=None).strftime(SQLITE_DATETIME_FORMAT)
        values = []
        with path.open("rb") as lines:
            for line in lines:
                event = orjson.loads(line)
                timestamp = datetime.fromisoformat(event["timestamp"]).astimezone(UTC)
                values.append(
                    (
                        tenant_id,
                        product_id,
                        event["uuid"],
                        event["event"],
                        event["distinct_id"],
                        timestamp.replace(tzinfo=None).strftime(SQLITE_DATETIME_FORMAT),
                        orjson.dumps(event["properties"]).decode(),
                        stamp,
                    )
                )
        driver.executemany(
            "INSERT INTO events (tenant_id, product_id, idempotency_key, event, distinct_id,"
            " timestamp, properties, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        rows = len(values)
    else:
        with (
            driver.cursor() as cursor,
            path.open("rb") as lines,
            cursor.copy(
                "COPY events (tenant_id, product_id, idempotency_key, event, distinct_id,"
                " timestamp, properties, received_at) FROM STDIN"
            ) as copy,
        ):
            for line in lines:
                event = orjson.loads(line)
                copy.write_row(
                    (
                        tenant_id,
                        product_id,
                        event["uuid"],
                        event["event"],
                        event["distinct_id"],
                        event["timestamp"],
                        orjson.dumps(event["properties"]).decode(),
                        received,
                    )
                )
                rows += 1
    driver.commit()
    raw.close()
    return rows


def worker(mode: str, database: str, url: str | None, path: Path) -> None:
    from productpilot.ingest.importer import import_events
    from productpilot.products import create_product
    from productpilot.tenants import create_tenant

    with tempfile.TemporaryDirectory() as scratch:
        store = _open_store(database, url, Path(scratch))
        try:
            store.upgrade()
            tenant, _ = create_tenant(store, "Bench")
            with store.tenant_session(tenant.id) as session:
                product = create_product(session, "Bench")
            started = time.perf_counter()
            if mode == "import":
                report = import_events(store, product, path)
                if report.rejected:
                    raise SystemExit(f"{report.rejected} rows rejected: {report.rejected_sample}")
                rows = report.inserted
            else:
                rows = _baseline(store, tenant.id, product.id, path)
            seconds = time.perf_counter() - started
        finally:
            _drop(store)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak_mb}))


# --- driver side ------------------------------------------------------------------------


def measure(mode: str, database: str, url: str | None, path: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", mode, "--databases", database]
    command += ["--postgres-url", url or "", "--file", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{mode} on {database} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def postgres_reachable(url: str) -> bool:
    try:
        engine = create_store_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / ".data")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("PRODUCTPILOT_BENCH_POSTGRES_URL")
        or os.environ.get("PRODUCTPILOT_TEST_POSTGRES_URL")
        or DEFAULT_POSTGRES,
    )
    parser.add_argument("--worker", choices=["import", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        worker(args.worker, args.databases, args.postgres_url or None, args.file)
        return

    path = ensure_data(args.data, args.rows, args.seed)
    for database in args.databases.split(","):
        if database == "postgresql" and not postgres_reachable(args.postgres_url):
            skipped = f"PostgreSQL not reachable at {args.postgres_url}"
            print(
                json.dumps({"benchmark": "import_events", "database": database, "skipped": skipped})
            )
            continue
        baseline = measure("baseline", database, args.postgres_url, path)
        imported = measure("import", database, args.postgres_url, path)
        ratio = (imported["rows"] / imported["seconds"]) / (baseline["rows"] / baseline["seconds"])
        result = {
            "benchmark": "import_events",
            "database": database,
            "rows": imported["rows"],
            "import_rows_per_s": round(imported["rows"] / imported["seconds"]),
            "baseline_rows_per_s": round(baseline["rows"] / baseline["seconds"]),
            "ratio": round(ratio, 3),
            "target_ratio": TARGET_RATIO,
            "import_peak_rss_mb": round(imported["peak_rss_mb"], 1),
            "baseline_peak_rss_mb": round(baseline["peak_rss_mb"], 1),
            "target_peak_rss_mb": TARGET_PEAK_MB,
        }
        result["meets_targets"] = ratio >= TARGET_RATIO and (
            imported["peak_rss_mb"] < TARGET_PEAK_MB
        )
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
