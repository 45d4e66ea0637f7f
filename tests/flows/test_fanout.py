"""Fan-out: the daily analysis' KPI stage as one task per shard of products stores what
the single task stores, on Prefect's thread pool and on a local Dask cluster of processes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from flows.analytics import daily_analysis_flow
from productpilot.db.models import MetricValue
from productpilot.ingest.importer import import_events
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from tasks.fanout import shards

DAY = date(2026, 11, 30)
METRICS = {"metrics": [{"name": "signups", "kind": "count", "event": "signup"}]}


def test_products_are_cut_into_consecutive_shards() -> None:
    assert shards([4, 5, 6], 1) == [[4], [5], [6]]
    assert shards([], 3) == []
    with pytest.raises(ValueError, match="at least one product"):
        shards([1], 0)


@pytest.fixture
def products(home: Path, tmp_path: Path) -> list[int]:
    """Three products with a different number of signups each on ``DAY``."""
    store = open_store()
    tenant, _ = create_tenant(store, "Fan-out")
    ids = []
    for index in range(3):
        with store.tenant_session(tenant.id) as session:
            product = create_product(session, f"Shop {index}", configuration=METRICS)
        path = tmp_path / f"events-{index}.jsonl"
        moment = datetime.combine(DAY, datetime.min.time(), UTC) + timedelta(hours=9)
        path.write_text(
            "".join(
                json.dumps(
                    {"event": "signup", "distinct_id": f"u{i}", "timestamp": moment.isoformat()}
                )
                + "\n"
                for i in range(index + 2)
            )
        )
        import_events(store, product, path)
        ids.append(product.id)
    return ids


def signups_per_product() -> dict[int, float]:
    with open_store().system_session() as session:
        rows = session.scalars(
            select(MetricValue).where(
                MetricValue.granularity == "day", MetricValue.metric == "signups"
            )
        )
        return {row.product_id: row.value for row in rows if row.period_start.date() == DAY}


def test_shards_on_the_thread_pool_store_what_one_task_stores(products: list[int]) -> None:
    whole = daily_analysis_flow(products, day=DAY, backfill_days=1)["metric_values"]
    expected = signups_per_product()
    sharded = daily_analysis_flow(products, day=DAY, backfill_days=1, shard_size=1)
    assert sharded["metric_values"] == whole
    assert signups_per_product() == expected == dict(zip(products, [2.0, 3.0, 4.0], strict=True))


def test_shards_run_on_a_local_dask_cluster_of_processes(products: list[int]) -> None:
    from flows.fanout import dask_task_runner

    on_dask = daily_analysis_flow.with_options(task_runner=dask_task_runner(workers=2))
    result = on_dask(products, day=DAY, backfill_days=1, shard_size=2)
    assert sorted(result["metric_values"]) == sorted(products)
    assert signups_per_product() == dict(zip(products, [2.0, 3.0, 4.0], strict=True))
