"""Strategic analysis tasks: monthly, quarterly and annual reviews, market opportunities.

Each writes a markdown report per product (recorded in ``reports``, replaced on a re-run),
publishes it as a Prefect artifact, and returns the figures as JSON-safe dicts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson
from prefect import task
from prefect.artifacts import create_markdown_artifact

from productpilot.analytics.opportunities import market_opportunities, user_segments
from productpilot.analytics.queries import day_bounds, load_events
from productpilot.analytics.reviews import annual_plan, monthly_review, quarterly_assessment
from productpilot.analytics.series import metric_series
from productpilot.db.models import Product, Tenant
from productpilot.db.tenancy import StoreSession
from productpilot.products import current_configuration
from productpilot.reports.records import record_report
from productpilot.settings import get_settings
from tasks.store import products_in_scope, task_store

RATIO_KINDS = ("ratio", "average", "percentile", "nps")
#: Events that say who a user is (signup carries the acquisition source), when they were
#: active, and whether they converted: what market-opportunity segments need.
SEGMENT_EVENTS = ["signup", "session_start", "convert"]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _daily_series(
    session: StoreSession, product: Product, metrics: list[str], start: date, end: date
) -> dict[str, tuple[list[date], list[float]]]:
    return {
        s.metric: ([p.period for p in s.points], [p.value for p in s.points])
        for s in metric_series(session, product.id, metrics, start, end, "day")
    }


def _publish(
    session: StoreSession,
    product: Product,
    kind: str,
    period: tuple[date, date],
    markdown: str,
    figures: dict[str, Any],
) -> str:
    tenant = session.get(Tenant, product.tenant_id)
    directory = get_settings().home / "reports" / tenant.slug / product.slug
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kind}-{period[0].isoformat()}.md"
    path.write_text(markdown, encoding="utf-8")
    Path(path.with_suffix(".json")).write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))
    record_report(
        session,
        product.id,
        kind,
        datetime.combine(period[0], time.min, UTC),
        datetime.combine(period[1], time.max, UTC),
        path=str(path.absolute()),
        summary={"title": markdown.splitlines()[0].lstrip("# ")},
    )
    create_markdown_artifact(
        markdown, key=f"{kind}-product-{product.id}", description=f"{kind} for {product.name}"
    )
    return str(path.absolute())


def _month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@task(name="monthly-reviews")
def monthly_reviews(product_ids: list[int] | None, month: date) -> list[dict[str, Any]]:
    """KPIs of ``month`` against the month before and their targets, per product."""
    store, month = task_store(), month.replace(day=1)
    previous = (month - timedelta(days=1)).replace(day=1)
    done = []
    for product in products_in_scope(store, product_ids):
        with store.tenant_session(product.tenant_id) as session:
            config = current_configuration(session, product)
            series = _daily_series(
                session, product, [k.metric for k in config.kpis], previous, _month_end(month)
            )
            review = monthly_review(
                config.kpis,
                series,
                month=month,
                ratio_metrics=[m.name for m in config.metrics if m.kind in RATIO_KINDS],
            )
            lines = [
                f"# {product.name}: monthly review of {month:%B %Y}",
                "",
                "| KPI | this month | previous | change | target | attained |",
                "|---|---|---|---|---|---|",
            ] + [
                f"| {k.name} | {_number(k.current)} | {_number(k.previous)} | "
                f"{_number(k.relative_change)} | {_number(k.target)} | "
                f"{ {True: 'yes', False: 'no', None: '-'}[k.attained] } |"
                for k in review.kpis
            ]
            path = _publish(
                session, product, "monthly", (month, _month_end(month)), "\n".join(lines),
                review.to_dict(),
            )  # fmt: skip
        done.append({"product_id": product.id, "path": path, "review": review.to_dict()})
    return done


@task(name="quarterly-assessments")
def quarterly_assessments(
    product_ids: list[int] | None, quarter_start: date
) -> list[dict[str, Any]]:
    """Quarter over quarter, goal attainment and next quarter's forecast, per product."""
    store = task_store()
    end = _month_end(quarter_start.replace(day=1) + timedelta(days=62))
    done = []
    for product in products_in_scope(store, product_ids):
        with store.tenant_session(product.tenant_id) as session:
            config = current_configuration(session, product)
            history = quarter_start - timedelta(days=3 * 366)
            series = _daily_series(session, product, [k.metric for k in config.kpis], history, end)
            assessment = quarterly_assessment(config.kpis, series, quarter_start=quarter_start)
            lines = [
                f"# {product.name}: quarterly assessment from {quarter_start.isoformat()}",
                "",
                "| KPI | quarter | previous | days on target | next quarter (interval) |",
                "|---|---|---|---|---|",
            ] + [
                f"| {k.name} | {_number(k.current)} | {_number(k.previous)} | "
                f"{_number(k.days_meeting_target)} | {_number(k.next_mean)} "
                f"({_number(k.next_lower)} to {_number(k.next_upper)}) |"
                for k in assessment.kpis
            ]
            path = _publish(
                session, product, "quarterly", (quarter_start, end), "\n".join(lines),
                assessment.to_dict(),
            )  # fmt: skip
        done.append({"product_id": product.id, "path": path})
    return done


@task(name="annual-plans")
def annual_plans(product_ids: list[int] | None, year_start: date) -> list[dict[str, Any]]:
    """Twelve-month forecasts with intervals for every KPI metric, per product."""
    store = task_store()
    done = []
    for product in products_in_scope(store, product_ids):
        with store.tenant_session(product.tenant_id) as session:
            config = current_configuration(session, product)
            history = year_start - timedelta(days=3 * 366)
            end = year_start - timedelta(days=1)
            series = _daily_series(session, product, [k.metric for k in config.kpis], history, end)
            plan = annual_plan(series, year_start=year_start)
            lines = [
                f"# {product.name}: plan for the year from {year_start.isoformat()}",
                "",
                "| metric | last year | forecast | growth |",
                "|---|---|---|---|",
            ] + [
                f"| {m.metric} | {_number(m.previous_year_mean)} | {_number(m.forecast_mean)} | "
                f"{_number(m.growth)} |"
                for m in plan.metrics
            ]
            year_end = year_start.replace(year=year_start.year + 1) - timedelta(days=1)
            path = _publish(
                session, product, "annual", (year_start, year_end), "\n".join(lines),
                plan.to_dict(),
            )  # fmt: skip
        done.append({"product_id": product.id, "path": path})
    return done


@task(name="rank-market-opportunities")
def rank_market_opportunities(
    product_ids: list[int] | None, start: date, end: date
) -> list[dict[str, Any]]:
    """Segments ranked by the conversions they would add at the product's overall rate."""
    store = task_store()
    done = []
    for product in products_in_scope(store, product_ids):
        with store.tenant_session(product.tenant_id) as session:
            low, high = day_bounds(date(2000, 1, 1), end)
            events = load_events(session, product.id, SEGMENT_EVENTS, low, high, properties=True)
            users = user_segments(events, start=start, end=end)
            ranked = market_opportunities(users, start=start, end=end)
            lines = [
                f"# {product.name}: market opportunities, {start.isoformat()} to {end.isoformat()}",
                "",
                "| rank | segment | users | growth | conversion | gap | added conversions |",
                "|---|---|---|---|---|---|---|",
            ] + [
                f"| {o.rank} | {o.dimension} = {o.value} | {o.size} | {_number(o.growth)} | "
                f"{_number(o.conversion_rate)} | {_number(o.conversion_gap)} | {_number(o.score)} |"
                for o in ranked[:20]
            ]
            figures = {"opportunities": [o.to_dict() for o in ranked]}
            path = _publish(
                session, product, "market-opportunities", (start, end), "\n".join(lines), figures
            )
        done.append({"product_id": product.id, "path": path, "top": figures["opportunities"][:5]})
    return done
