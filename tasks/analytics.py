"""Analytics tasks: coarse stages over every product of a run."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prefect import task
from prefect.artifacts import create_markdown_artifact

from productpilot.analytics.adoption import adoption_change
from productpilot.analytics.anomalies import anomalies
from productpilot.analytics.kpis import compute_metrics, needed_events
from productpilot.analytics.performance import EVENT_NAME as PERFORMANCE_EVENT
from productpilot.analytics.performance import evaluate_rules
from productpilot.analytics.queries import (
    anomaly_days,
    day_bounds,
    load_events,
    recent_anomalies,
    save_metric_points,
    save_new_anomalies,
)
from productpilot.analytics.recommendations import Recommendation, recommend
from productpilot.analytics.rollup import DEFAULT_SETTLE, fold_events
from productpilot.analytics.series import BUILT_IN, metric_series, observed, period_start
from productpilot.analytics.trends import trend
from productpilot.db.models import Product, Tenant
from productpilot.db.tenancy import StoreSession
from productpilot.notify.findings import anomaly_finding, daily_report_finding, performance_finding
from productpilot.products import current_configuration
from productpilot.products.configuration import KPI
from productpilot.reports.daily import DailyReport, KpiStatus, write_report
from productpilot.reports.records import record_report
from productpilot.settings import get_settings
from tasks.concurrency import exclusive
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on
from tasks.store import products_in_scope, task_store

#: The global concurrency limit rollup runs hold (one slot: one fold at a time).
ROLLUP_LIMIT = "productpilot-rollup"
#: How long a run waits for a fold in progress before leaving its events to the next run.
ROLLUP_WAIT_SECONDS = 45


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

    Runs hold the one slot of the ``productpilot-rollup`` concurrency limit: a run that
    finds it taken for longer than :data:`ROLLUP_WAIT_SECONDS` (a slow fold of a burst)
    folds nothing and leaves the events to the next run. Exactly-once does not rest on the
    limit (each chunk moves with its watermark under a row lock); the limit keeps runs
    from queueing up behind each other on the same rows.
    """
    store = task_store()
    settle = DEFAULT_SETTLE if settle_seconds is None else timedelta(seconds=settle_seconds)
    results = []
    with exclusive(ROLLUP_LIMIT, ROLLUP_WAIT_SECONDS) as mine:
        if not mine:
            print(f"another rollup holds {ROLLUP_LIMIT}; the next run folds these events")
            return results
        for product in products_in_scope(store, product_ids):
            result = fold_events(store, product.tenant_id, product.id, settle=settle)
            results.append(
                {"product_id": product.id, "events": result.events, "watermark": result.watermark}
            )
    return results


ANOMALY_EVENT = "productpilot.anomaly.detected"
#: Namespace of anomaly event ids (uuid5). Never change it: ids would stop matching.
ANOMALY_NAMESPACE = uuid.UUID("0f3c6f7e-2d4a-4b1e-9c8d-7a5b3e1f2c90")
WEEKLY = 7
ADOPTION_WINDOW_DAYS = 7
ADOPTION_SEGMENTS = (None, "platform", "plan")
MAX_RECOMMENDATIONS = 10
#: Three weeks: the detector warms up on three seasons before it judges a point.
MIN_HISTORY_DAYS = 21


@task(name="products-at-local-hour")
def products_at_local_hour(hour: int, now: datetime | None = None) -> list[int]:
    """The products whose own time zone reads ``hour`` o'clock now (for hourly schedules)."""
    moment = now or datetime.now(UTC)
    return [
        product.id
        for product in products_in_scope(task_store(), None)
        if moment.astimezone(ZoneInfo(product.timezone)).hour == hour
    ]


@task(
    name="compute-kpis",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def compute_kpis(
    product_ids: list[int] | None, day: date, backfill_days: int = 3
) -> dict[int, int]:
    """Compute every product's configured metrics per day, week and month, and store them.

    Recomputes ``backfill_days`` days up to ``day`` (late events change recent days) and the
    weeks and months those days fall in. Returns how many values each product stored.
    """
    store = task_store()
    start = day - timedelta(days=backfill_days - 1)
    stored: dict[int, int] = {}
    for product in products_in_scope(store, product_ids):
        with store.tenant_session(product.tenant_id) as session:
            definitions = current_configuration(session, product).metrics
            if not definitions:
                continue
            # Widen to whole weeks and months so their values are complete.
            first = min(period_start(start, "week"), period_start(start, "month"))
            low, high = day_bounds(first, day)
            events = load_events(
                session, product.id, needed_events(definitions), low, high, properties=True
            )
            count = 0
            for granularity, since in (("day", start), ("week", first), ("month", first)):
                points = compute_metrics(events, definitions, granularity, start=since, end=day)
                # A period that began before the loaded events would be partial: skip it.
                kept = [p for p in points if p.period >= since]
                count += save_metric_points(session, product.id, kept, granularity)
            stored[product.id] = count
    return stored


@task(name="detect-anomalies")
def detect_anomalies(
    product_ids: list[int] | None, day: date, recent_days: int = 1, history_days: int = 182
) -> list[dict[str, Any]]:
    """Run the seasonal detector over each watched daily series; store new anomalies.

    Watched: every KPI's metric, daily active users and the event count. Only anomalies on
    the ``recent_days`` up to ``day`` are recorded (older days were judged by earlier runs),
    each once; the new ones are returned as findings to emit (each with its
    ``notification`` for the router).
    """
    store = task_store()
    start = day - timedelta(days=history_days - 1)
    recent = day - timedelta(days=recent_days - 1)
    findings = []
    for product in products_in_scope(store, product_ids):
        with store.tenant_session(product.tenant_id) as session:
            configuration = current_configuration(session, product)
            watched = list(dict.fromkeys([k.metric for k in configuration.kpis] + list(BUILT_IN)))
            for series in metric_series(session, product.id, watched, start, day, "day"):
                points = observed(series.points)
                if len(points) <= MIN_HISTORY_DAYS:
                    continue
                found = anomalies(
                    [p.period for p in points], [p.value for p in points], season=WEEKLY
                )
                # Nothing is judged before the detector has seen three weeks of the product.
                judged_from = max(recent, points[MIN_HISTORY_DAYS].period)
                found = [a for a in found if a.at.date() >= judged_from]
                for row in save_new_anomalies(session, product.id, series.metric, found):
                    payload = {
                        "anomaly_id": row.id,
                        "metric": row.metric,
                        "at": row.at.isoformat(),
                        "value": row.value,
                        "expected": row.expected,
                        "lower": row.lower,
                        "upper": row.upper,
                        "score": row.score,
                    }
                    findings.append(
                        {
                            "name": ANOMALY_EVENT,
                            "product_id": product.id,
                            "tenant_id": product.tenant_id,
                            "event_id": str(
                                uuid.uuid5(ANOMALY_NAMESPACE, f"{product.id}:{row.metric}:{row.at}")
                            ),
                            "payload": payload,
                            "notification": anomaly_finding(product.id, payload),
                        }
                    )
    return findings


def _recommendations(
    session: StoreSession,
    product: Product,
    definitions: Sequence[KPI],
    kpis: Sequence[KpiStatus],
    day: date,
) -> list[Recommendation]:
    """Recommendations from the KPIs' trends, last week's anomalies and feature adoption
    this week against last week (overall and per platform and plan)."""
    week_start = day - timedelta(days=ADOPTION_WINDOW_DAYS - 1)
    before_start = week_start - timedelta(days=ADOPTION_WINDOW_DAYS)
    low, high = day_bounds(before_start, day)
    events = load_events(
        session, product.id, ["feature_used", "session_start"], low, high, properties=True
    )
    current = day_bounds(week_start, day)
    previous = day_bounds(before_start, week_start - timedelta(days=1))
    changes = [
        change
        for segment in ADOPTION_SEGMENTS
        for change in adoption_change(events, current=current, previous=previous, segment=segment)
    ]
    return recommend(
        trends={k.metric: k.trend.to_dict() for k in kpis},
        anomalies=recent_anomalies(session, product.id, week_start, day),
        adoption_changes=changes,
        kpis=definitions,
        latest={k.metric: k.latest for k in kpis if k.latest is not None},
        as_of=high,
    )[:MAX_RECOMMENDATIONS]


@task(name="build-daily-reports")
def build_daily_reports(
    product_ids: list[int] | None, day: date, history_days: int = 56
) -> list[dict[str, Any]]:
    """Write each product's daily HTML report, record it, and publish its KPI table."""
    store = task_store()
    settings = get_settings()
    start = day - timedelta(days=history_days - 1)
    written = []
    for product in products_in_scope(store, product_ids):
        with store.tenant_session(product.tenant_id) as session:
            configuration = current_configuration(session, product)
            names = [kpi.metric for kpi in configuration.kpis]
            series = {
                s.metric: s for s in metric_series(session, product.id, names, start, day, "day")
            }
            kpis = [
                KpiStatus(
                    name=kpi.name,
                    metric=kpi.metric,
                    target=kpi.target,
                    direction=kpi.direction,
                    days=[p.period for p in series[kpi.metric].points],
                    values=[p.value for p in series[kpi.metric].points],
                    trend=trend(
                        [p.period for p in series[kpi.metric].points],
                        [p.value for p in series[kpi.metric].points],
                    ),
                    anomalies=anomaly_days(session, product.id, kpi.metric, start, day),
                )
                for kpi in configuration.kpis
            ]
            report = DailyReport(
                product=product.name,
                day=day,
                kpis=kpis,
                recommendations=_recommendations(session, product, configuration.kpis, kpis, day),
            )
            tenant = session.get(Tenant, product.tenant_id)
            directory = settings.home / "reports" / tenant.slug / product.slug
            path = write_report(report, directory)
            record_report(
                session,
                product.id,
                "daily",
                datetime.combine(day, time.min, UTC),
                datetime.combine(day, time.max, UTC),
                path=str(path.absolute()),
                summary={k.name: k.latest for k in kpis},
            )
        create_markdown_artifact(
            report.markdown() + f"\n\nFull report: `{path.absolute()}`",
            key=f"daily-report-product-{product.id}",
            description=f"Daily report for {product.name}, {day.isoformat()}",
        )
        written.append(
            {
                "product_id": product.id,
                "path": str(path.absolute()),
                "kpis": len(kpis),
                "notification": daily_report_finding(product.id, report, path),
            }
        )
    return written


@task(name="evaluate-performance-rules")
def evaluate_performance_rules(
    product_ids: list[int] | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Check every product's performance rules; returns the breaches as findings to emit
    (each with its ``notification`` for the router)."""
    store = task_store()
    moment = now or datetime.now(UTC)
    findings = []
    for product in products_in_scope(store, product_ids):
        with store.tenant_session(product.tenant_id) as session:
            rules = current_configuration(session, product).performance_rules
            if not rules:
                continue
            longest = max(rule.window_minutes for rule in rules)
            events = load_events(
                session,
                product.id,
                sorted({rule.event for rule in rules}),
                moment - timedelta(minutes=2 * longest + longest),
                moment,
                properties=True,
            )
        for breach in evaluate_rules(events, rules, moment):
            findings.append(
                {
                    "name": PERFORMANCE_EVENT,
                    "product_id": product.id,
                    "tenant_id": product.tenant_id,
                    "event_id": str(breach.event_id(product.id)),
                    "payload": breach.payload(),
                    "notification": performance_finding(product.id, breach.payload()),
                }
            )
    return findings
