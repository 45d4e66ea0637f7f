"""The daily analysis flow at scale: wall time and Prefect task runs for 10/100/1,000 products.

Each product gets 365 days of rollups and stored KPI values (a growing, weekly-seasonal
series), then one ``daily-analysis`` run covers all of them on a Prefect test server. The
number of task runs must not grow with the number of products: tasks are stages over the
whole batch. Prints one JSON object per product count.

Usage:
    python benchmarks/daily_flow.py [--products 10,100,1000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DAYS = 365
LAST_DAY = date(2026, 10, 31)
CONFIG = {
    "metrics": [
        {"name": "signups", "kind": "count", "event": "signup"},
        {"name": "activation_rate", "kind": "ratio", "event": "activate",
         "denominator_event": "signup"},
    ],
    "kpis": [
        {"name": "growth", "metric": "signups", "target": 120},
        {"name": "activation", "metric": "activation_rate", "target": 0.4},
    ],
}  # fmt: skip


def value(product: int, offset: int, scale: float) -> float:
    weekly = 0.6 if (LAST_DAY - timedelta(days=offset)).weekday() >= 5 else 1.0
    return scale * (1 + (DAYS - offset) / DAYS) * weekly * (1 + 0.05 * math.sin(product + offset))


def seed(store, count: int, name: str | None = None) -> list[int]:
    """``count`` products with a year of rollups and KPI values, in a new tenant ``name``."""
    from productpilot.db.bulk import event_writer
    from productpilot.db.models import EventCountDaily, MetricValue
    from productpilot.ingest.validation import EventRow
    from productpilot.products import create_product
    from productpilot.tenants import create_tenant

    tenant, _ = create_tenant(store, name or f"Scale {count}")
    ids = []
    with store.tenant_session(tenant.id) as session:
        for index in range(count):
            ids.append(create_product(session, f"P{index}", configuration=CONFIG).id)
    counts, metrics = [], []
    for product in ids:
        for offset in range(DAYS):
            day = LAST_DAY - timedelta(days=offset)
            events = int(value(product, offset, 500))
            counts.append({"tenant_id": tenant.id, "product_id": product, "day": day,
                           "event": "pageview", "count": events})  # fmt: skip
            start = datetime.combine(day, clock.min, UTC)
            for metric, scale in (("signups", 100.0), ("activation_rate", 0.4)):
                metrics.append({"tenant_id": tenant.id, "product_id": product, "metric": metric,
                                "granularity": "day", "period_start": start, "segment": "",
                                "value": value(product, offset, scale),
                                "computed_at": start})  # fmt: skip
    with store.system_session() as session:
        session.execute(EventCountDaily.__table__.insert(), counts)
        session.execute(MetricValue.__table__.insert(), metrics)
    # The flow recomputes the last day's KPIs from raw events, so that day has them.
    noon = datetime.combine(LAST_DAY, clock(12), UTC)
    for product in ids:
        signups = int(value(product, 0, 100))
        rows = [EventRow(f"s{i}", "signup", f"u{i}", noon, "{}") for i in range(signups)] + [
            EventRow(f"a{i}", "activate", f"u{i}", noon, "{}")
            for i in range(round(signups * value(product, 0, 0.4)))  # the seeded rate
        ]
        with event_writer(store.engine, tenant.id, product) as writer:
            writer.write(rows)
    return ids


def task_runs(flow_run_id) -> int:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), limit=200
        )
    return len(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", default="10,100,1000")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="pp-daily-bench-"))
    os.environ["PRODUCTPILOT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    from prefect.testing.utilities import prefect_test_harness

    from flows.analytics import daily_analysis_flow
    from productpilot.runtime import open_store

    store = open_store()
    with prefect_test_harness(server_startup_timeout=120):
        for count in (int(n) for n in args.products.split(",")):
            ids = seed(store, count)
            started = time.perf_counter()
            state = daily_analysis_flow(ids, day=LAST_DAY, backfill_days=1, return_state=True)
            seconds = time.perf_counter() - started
            result = state.result()
            print(
                json.dumps(
                    {
                        "benchmark": "daily_flow",
                        "products": count,
                        "days": DAYS,
                        "seconds": round(seconds, 2),
                        "seconds_per_product": round(seconds / count, 4),
                        "task_runs": task_runs(state.state_details.flow_run_id),
                        "reports": len(result["reports"]),
                        "new_anomalies": len(result["anomalies"]),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
