"""Strategic analysis flows: monthly, quarterly and annual reviews; market opportunities."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from prefect import flow

from tasks.fairness import fair_share
from tasks.strategic import (
    annual_plans,
    monthly_reviews,
    quarterly_assessments,
    rank_market_opportunities,
)


def _today() -> date:
    return datetime.now(UTC).date()


@flow(name="monthly-review", log_prints=True)
@fair_share
def monthly_review_flow(
    product_ids: list[int] | None = None, month: date | None = None
) -> list[dict[str, Any]]:
    """KPIs against targets and the month before (default: last month)."""
    month = month or (_today().replace(day=1) - timedelta(days=1))
    return monthly_reviews(product_ids, month)


@flow(name="quarterly-assessment", log_prints=True)
@fair_share
def quarterly_assessment_flow(
    product_ids: list[int] | None = None, quarter_start: date | None = None
) -> list[dict[str, Any]]:
    """Quarter over quarter, attainment, next-quarter forecast (default: last quarter)."""
    if quarter_start is None:
        today = _today()
        this_quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        quarter_start = (this_quarter - timedelta(days=1)).replace(day=1)
        quarter_start = quarter_start.replace(month=3 * ((quarter_start.month - 1) // 3) + 1)
    return quarterly_assessments(product_ids, quarter_start)


@flow(name="annual-plan", log_prints=True)
@fair_share
def annual_plan_flow(
    product_ids: list[int] | None = None, year_start: date | None = None
) -> list[dict[str, Any]]:
    """Twelve-month forecasts with intervals (default: the year starting next January)."""
    return annual_plans(product_ids, year_start or date(_today().year + 1, 1, 1))


@flow(name="market-opportunity", log_prints=True)
@fair_share
def market_opportunity_flow(
    product_ids: list[int] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[dict[str, Any]]:
    """Segments (country, platform, plan, acquisition source) ranked by opportunity
    (default: the last 28 days)."""
    end = end or _today() - timedelta(days=1)
    return rank_market_opportunities(product_ids, start or end - timedelta(days=27), end)
