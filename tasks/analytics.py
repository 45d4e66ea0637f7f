"""Analytics tasks: coarse stages over every product of a run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import task
from sqlalchemy import select

from productpilot.analytics.rollup import DEFAULT_SETTLE, fold_events
from productpilot.db.models import Product
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on
from tasks.store import task_store


@task(
    name="fold-new-events",
    retries=3,
    retry_delay_seconds=[1, 5, 15],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def fold_new_events(
    product_ids: list[int] | None = None, settle_seconds: float | None = None
) -> list[dict[str, Any]]:
    """Fold every product's new events into the daily rollups (all products if none given).

    One task for the whole batch: a fold with nothing new costs a few queries, far less
    than a task run per product would. A retry is safe: folds are exactly-once.
    """
    store = task_store()
    settle = DEFAULT_SETTLE if settle_seconds is None else timedelta(seconds=settle_seconds)
    with store.system_session() as session:
        query = select(Product.id, Product.tenant_id).order_by(Product.id)
        if product_ids is not None:
            query = query.where(Product.id.in_(product_ids))
        products = session.execute(query).all()
    results = []
    for product_id, tenant_id in products:
        result = fold_events(store, tenant_id, product_id, settle=settle)
        results.append(
            {"product_id": product_id, "events": result.events, "watermark": result.watermark}
        )
    return results
