"""``GET /api/v1/products/{id}/analytics``: insights computed on request.

``insight`` picks the computation (see docs/analytics.md for the definitions):

- ``trends``: Theil-Sen slope and Mann-Kendall test of a daily metric series, with
  week-over-week and month-over-month change (``metric``, default ``active_users``);
- ``funnel``: ordered conversion through ``steps`` within ``window_days`` of entering;
- ``retention``: cohorts by first-seen ``period`` (day or week), active N periods later;
- ``stickiness``: daily DAU/MAU and how many users were active on exactly k days;
- ``lifecycle``: new, returning, resurrected and dormant users per ``period``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from productpilot.analytics.funnels import funnel
from productpilot.analytics.lifecycle import lifecycle
from productpilot.analytics.queries import day_bounds, load_activity, load_events
from productpilot.analytics.retention import retention
from productpilot.analytics.series import metric_series
from productpilot.analytics.stickiness import stickiness
from productpilot.analytics.trends import trend
from productpilot.api.deps import ProductDep, SessionDep
from productpilot.api.problems import PROBLEM_RESPONSE, ApiError
from productpilot.api.ranges import check_range
from productpilot.db.models import Product
from productpilot.db.tenancy import StoreSession

MAX_RANGE = timedelta(days=366)
MAX_FUNNEL_RANGE = timedelta(days=92)
NAME = r"^[A-Za-z0-9_.:$\-]{1,200}$"

Insight = Literal["trends", "funnel", "retention", "stickiness", "lifecycle"]

router = APIRouter(prefix="/api/v1/products/{product_id}", tags=["analytics"])


class AnalyticsOut(BaseModel):
    product_id: int
    insight: Insight
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    result: dict[str, Any] = Field(description="The insight's result; see docs/analytics.md.")


def _trends(session: StoreSession, product: Product, start: date, end: date, metric: str) -> dict:
    [series] = metric_series(session, product.id, [metric], start, end, "day")
    return trend([p.period for p in series.points], [p.value for p in series.points]).to_dict()


def _funnel(
    session: StoreSession,
    product: Product,
    start: date,
    end: date,
    steps: list[str],
    window_days: int,
) -> dict:
    if len(steps) < 2:
        raise ApiError(422, "a funnel needs at least two steps", kind="invalid-input")
    if end - start > MAX_FUNNEL_RANGE:
        raise ApiError(422, "a funnel covers at most 92 days", kind="invalid-input")
    window = timedelta(days=window_days)
    low, high = day_bounds(start, end)
    # Users entering near the end may convert after it, within their window.
    events = load_events(session, product.id, sorted(set(steps)), low, high + window)
    return funnel(events, steps, window=window, start=low, end=high).to_dict()


@router.get(
    "/analytics",
    summary="Insights computed on request",
    response_model=AnalyticsOut,
    response_model_by_alias=True,
    responses={401: PROBLEM_RESPONSE, 404: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE},
)
def get_analytics(
    session: SessionDep,
    product: ProductDep,
    insight: Insight,
    start: Annotated[date, Query(alias="from", description="First day (inclusive).")],
    end: Annotated[date, Query(alias="to", description="Last day (inclusive).")],
    metric: Annotated[str, Query(pattern=NAME, description="trends: the series")] = (
        "active_users"
    ),
    steps: Annotated[
        list[Annotated[str, Query(pattern=NAME)]],
        Query(max_length=10, description="funnel: event names in order (2 to 10)"),
    ] = [],  # noqa: B006 (FastAPI copies query defaults)
    window_days: Annotated[int, Query(ge=1, le=90, description="funnel: window")] = 14,
    period: Annotated[
        Literal["day", "week", "month"],
        Query(description="retention (day, week) and lifecycle (day, week, month)"),
    ] = "week",
    horizon: Annotated[int, Query(ge=0, le=90, description="retention: periods followed")] = 12,
) -> AnalyticsOut:
    """Compute one insight over ``from``..``to`` (at most a year; funnels 92 days)."""
    check_range(start, end, MAX_RANGE, "a year")
    if insight == "trends":
        result = _trends(session, product, start, end, metric)
    elif insight == "funnel":
        result = _funnel(session, product, start, end, steps, window_days)
    else:
        activity = load_activity(session, product.id, start, end)
        if insight == "retention":
            if period == "month":
                raise ApiError(422, "retention periods are day or week", kind="invalid-input")
            result = retention(
                activity, start=start, end=end, period=period, horizon=horizon
            ).to_dict()
        elif insight == "stickiness":
            result = stickiness(activity, start=start, end=end).to_dict()
        else:
            periods = lifecycle(activity, start=start, end=end, period=period)
            result = {"period": period, "periods": [p.to_dict() for p in periods]}
    return AnalyticsOut(product_id=product.id, insight=insight, start=start, end=end, result=result)
