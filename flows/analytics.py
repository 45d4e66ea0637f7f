"""Analytics flows."""

from __future__ import annotations

from typing import Any

from prefect import flow

from tasks.analytics import fold_new_events


@flow(name="realtime-rollup", log_prints=True)
def realtime_rollup_flow(
    product_ids: list[int] | None = None, settle_seconds: float | None = None
) -> list[dict[str, Any]]:
    """Fold new events into the daily rollups (every minute, and on demand).

    Exactly once even when runs overlap or one crashes: each chunk and its watermark move
    in one transaction, under a lock on the watermark row.

    Args:
        product_ids: Products to fold (default: all).
        settle_seconds: Leave events received this recently for the next run (default 5).
    """
    results = fold_new_events(product_ids, settle_seconds)
    print(f"folded {sum(r['events'] for r in results)} events for {len(results)} products")
    return results
