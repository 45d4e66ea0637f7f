"""The daily analysis flow: KPIs stored per day/week/month, and a report per product."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

from flows.analytics import daily_analysis_flow
from flows.demo import demo_flow
from productpilot.analytics.kpis import compute_metrics, needed_events
from productpilot.analytics.queries import day_bounds, load_events
from productpilot.db.models import MetricValue, Report
from productpilot.products import current_configuration, get_product
from productpilot.runtime import open_store


def test_the_daily_flow_stores_kpis_that_match_a_direct_computation_and_writes_a_report(
    home: Path,
) -> None:
    summary = demo_flow(preset="tiny", seed=2)
    day = date(2026, 8, 1) + timedelta(days=34)  # the tiny preset's last day

    result = daily_analysis_flow([summary["product_id"]], day=day, backfill_days=35)

    [report] = result["reports"]
    html = Path(report["path"]).read_text()
    assert html.count("data:image/png;base64,") == report["kpis"] > 0
    store = open_store()
    with store.tenant_session(summary["tenant_id"]) as session:
        product = get_product(session, summary["product_id"])
        definitions = current_configuration(session, product).metrics
        stored = {
            (m.metric, m.period_start.date()): m.value
            for m in session.scalars(select(MetricValue).where(MetricValue.granularity == "day"))
        }
        low, high = day_bounds(date(2026, 8, 1), day)
        events = load_events(
            session, product.id, needed_events(definitions), low, high, properties=True
        )
        daily_reports = select(func.count()).select_from(Report).where(Report.kind == "daily")
        assert session.scalar(daily_reports) == 1  # the demo's report for the same day, replaced
        weekly = session.scalar(
            select(func.count()).select_from(MetricValue).where(MetricValue.granularity == "week")
        )
    expected = {
        (p.metric, p.period): p.value
        for p in compute_metrics(events, definitions, "day", start=date(2026, 8, 1), end=day)
    }
    assert stored == expected
    assert weekly > 0


def test_an_hourly_run_reports_only_products_at_their_local_six_oclock(home: Path) -> None:
    from datetime import UTC, datetime

    from productpilot.products import create_product
    from productpilot.tenants import create_tenant
    from tasks.analytics import products_at_local_hour

    store = open_store()
    tenant, _ = create_tenant(store, "Tz")
    with store.tenant_session(tenant.id) as session:
        berlin = create_product(session, "Berlin", timezone="Europe/Berlin").id
        tokyo = create_product(session, "Tokyo", timezone="Asia/Tokyo").id
    # 04:00 UTC in August: 06:00 in Berlin (CEST), 13:00 in Tokyo.
    due = products_at_local_hour.fn(6, now=datetime(2026, 8, 3, 4, tzinfo=UTC))
    assert due == [berlin]
    assert tokyo not in due
    # In January Berlin is UTC+1: 06:00 there is 05:00 UTC.
    assert products_at_local_hour.fn(6, now=datetime(2026, 1, 5, 5, tzinfo=UTC)) == [berlin]


def test_a_latency_breach_is_found_and_emitted_to_prefect(home: Path, tmp_path: Path) -> None:
    import json
    from datetime import UTC, datetime

    from flows.analytics import performance_monitor_flow
    from productpilot.ingest.importer import import_events
    from productpilot.products import create_product
    from productpilot.tenants import create_tenant

    store = open_store()
    tenant, _ = create_tenant(store, "Perf")
    rules = {"performance_rules": [{"name": "p95", "signal": "latency", "above": 500}]}
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Slow", configuration=rules)
    now = datetime.now(UTC)
    path = tmp_path / "slow.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "event": "api_request",
                    "distinct_id": f"u{i}",
                    "timestamp": (now - timedelta(seconds=20 * i + 1)).isoformat(),
                    "properties": {"latency_ms": 1200, "error": False},
                }
            )
            + "\n"
            for i in range(120)  # the last 40 minutes: every window is slow
        )
    )
    import_events(store, product, path)

    findings = performance_monitor_flow([product.id])

    assert [f["payload"]["rule"] for f in findings] == ["p95"]
    assert findings[0]["name"] == "productpilot.performance.degraded"
    assert findings[0]["payload"]["value"] == 1200
