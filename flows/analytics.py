"""Analytics flows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from prefect import flow, unmapped

from tasks.analytics import (
    build_daily_reports,
    compute_kpis,
    detect_anomalies,
    evaluate_performance_rules,
    fold_new_events,
    products_at_local_hour,
)
from tasks.events import emit_findings
from tasks.fairness import fair_share
from tasks.fanout import product_ids_in_scope, shards
from tasks.notify import deliver_through_vendors, route_findings


@flow(name="realtime-rollup", log_prints=True)
@fair_share
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


@flow(name="daily-analysis", log_prints=True)
@fair_share
def daily_analysis_flow(
    product_ids: list[int] | None = None,
    day: date | None = None,
    backfill_days: int = 3,
    local_hour: int | None = None,
    shard_size: int | None = None,
) -> dict[str, Any]:
    """Compute the configured KPIs and write each product's daily report.

    Args:
        product_ids: Products to analyse (default: all).
        day: The day to report on (default: yesterday, UTC).
        backfill_days: Recompute this many days up to ``day``, for late events.
        local_hour: Only the products whose time zone reads this hour now; an hourly
            schedule with ``local_hour=6`` reports at 06:00 in every product's time zone.
        shard_size: Compute the KPIs as one task per this many products, concurrently on
            the flow's task runner (a Dask cluster in ``flows/fanout.py``); default: one
            task for all.
    """
    day = day or (datetime.now(UTC).date() - timedelta(days=1))
    if local_hour is not None:
        due = products_at_local_hour(local_hour)
        product_ids = due if product_ids is None else sorted(set(product_ids) & set(due))
        if not product_ids:
            return {"day": day.isoformat(), "metric_values": {}, "anomalies": [], "reports": []}
    stored = compute_kpis_in_shards(product_ids, day, backfill_days, shard_size)
    findings = detect_anomalies(product_ids, day, recent_days=backfill_days)
    if findings:
        emit_findings(findings)
    reports = build_daily_reports(product_ids, day)
    # The report is handed to the router like every finding; routes decide who gets it,
    # grouped into digests with whatever else happened.
    routed = route_findings(
        [f["notification"] for f in findings] + [r["notification"] for r in reports]
    )
    delivered = deliver_through_vendors(product_ids)
    print(
        f"{sum(stored.values())} metric values stored, {len(findings)} new anomalies, "
        f"{len(reports)} reports written, {delivered['sent']} notifications sent"
    )
    return {
        "day": day.isoformat(),
        "metric_values": stored,
        "anomalies": [f["payload"] for f in findings],
        "reports": [{k: v for k, v in r.items() if k != "notification"} for r in reports],
        "notifications": {"routed": routed, "delivered": delivered},
    }


def compute_kpis_in_shards(
    product_ids: list[int] | None, day: date, backfill_days: int, shard_size: int | None
) -> dict[int, int]:
    """The KPI stage in the calling flow: one ``compute-kpis`` task run, or one per shard of
    ``shard_size`` products submitted to the flow's task runner together."""
    if shard_size is None:
        return compute_kpis(product_ids, day, backfill_days)
    parts = compute_kpis.map(
        shards(product_ids_in_scope(product_ids), shard_size),
        unmapped(day),
        unmapped(backfill_days),
    )
    return {product: count for part in parts.result() for product, count in part.items()}


@flow(name="performance-monitor", log_prints=True)
@fair_share
def performance_monitor_flow(product_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Check the performance rules of every product; a breach is emitted as
    ``productpilot.performance.degraded`` for the reaction flows (every few minutes)."""
    findings = evaluate_performance_rules(product_ids)
    if findings:
        emit_findings(findings)
        route_findings([f["notification"] for f in findings])
        deliver_through_vendors(product_ids)
    print(f"{len(findings)} performance rules breached")
    return [{k: v for k, v in f.items() if k != "notification"} for f in findings]
