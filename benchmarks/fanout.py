"""Fan-out of the KPI stage: one task for every product, against one task per shard of
products on Prefect's thread pool and on a local Dask cluster of worker processes, in the
same run on the same data (ratios against the one-task baseline).

Each product gets ``--days`` days of raw events (signups, activations, sessions); the stage
recomputes every product's metrics per day, week and month over that window, which is
CPU-bound pandas work: threads share one interpreter, Dask's processes do not.

Usage:
    python benchmarks/fanout.py [--products 16] [--days 30] [--shard 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAST_DAY = date(2026, 11, 30)
CONFIG = {
    "metrics": [
        {"name": "signups", "kind": "count", "event": "signup"},
        {"name": "dau", "kind": "unique_users", "event": "session_start"},
        {"name": "activation_rate", "kind": "ratio", "event": "activate",
         "denominator_event": "signup"},
    ]
}  # fmt: skip


def seed(store, products: int, days: int, per_day: int) -> list[int]:
    """``products`` products with ``days`` days of ``per_day`` raw events of each kind."""
    from productpilot.db.bulk import event_writer
    from productpilot.ingest.validation import EventRow
    from productpilot.products import create_product
    from productpilot.tenants import create_tenant

    tenant, _ = create_tenant(store, "Fan-out bench")
    with store.tenant_session(tenant.id) as session:
        ids = [create_product(session, f"P{i}", configuration=CONFIG).id for i in range(products)]
    for product in ids:
        rows = []
        for offset in range(days):
            noon = datetime.combine(LAST_DAY - timedelta(days=offset), datetime.min.time(), UTC)
            noon += timedelta(hours=12)
            for i in range(per_day):
                user = f"u{(offset * 7 + i) % (per_day * 3)}"
                rows.append(EventRow(f"s{offset}-{i}", "session_start", user, noon, "{}"))
                if i % 3 == 0:
                    rows.append(EventRow(f"g{offset}-{i}", "signup", user, noon, "{}"))
                if i % 7 == 0:
                    rows.append(EventRow(f"a{offset}-{i}", "activate", user, noon, "{}"))
        with event_writer(store.engine, tenant.id, product) as writer:
            writer.write(rows)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=16)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=300)
    parser.add_argument("--shard", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="pp-fanout-bench-"))
    os.environ["PRODUCTPILOT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    from prefect import flow
    from prefect.testing.utilities import prefect_test_harness

    from flows.analytics import compute_kpis_in_shards
    from flows.fanout import dask_task_runner
    from productpilot.runtime import open_store

    @flow(name="kpi-stage")
    def kpi_stage(ids: list[int], shard_size: int | None) -> dict[int, int]:
        return compute_kpis_in_shards(ids, LAST_DAY, args.days, shard_size)

    store = open_store()
    ids = seed(store, args.products, args.days, args.per_day)
    variants = {
        "one task": (kpi_stage, None),
        f"shards of {args.shard}, threads": (kpi_stage, args.shard),
        f"shards of {args.shard}, dask {args.workers} processes": (
            kpi_stage.with_options(task_runner=dask_task_runner(workers=args.workers)),
            args.shard,
        ),
    }
    with prefect_test_harness(server_startup_timeout=120):
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        stored: dict[str, int] = {}
        # ABBA-style: each variant twice, in forward then reverse order.
        for order in (list(variants), list(reversed(variants))):
            for name in order:
                run, shard_size = variants[name]
                started = time.perf_counter()
                stored[name] = sum(run(ids, shard_size).values())
                seconds[name].append(time.perf_counter() - started)
    baseline = sum(seconds["one task"])
    for name, times in seconds.items():
        print(
            json.dumps(
                {
                    "benchmark": "fanout",
                    "variant": name,
                    "products": args.products,
                    "days": args.days,
                    "metric_values": stored[name],
                    "seconds": [round(t, 2) for t in times],
                    "ratio_to_one_task": round(sum(times) / baseline, 3),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
