"""``GET /api/v1/products/{id}/metrics``: metric series from the rollups and metric tables."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from productpilot.analytics.series import BUILT_IN, Granularity, metric_series
from productpilot.api.deps import ProductDep, SessionDep
from productpilot.api.problems import PROBLEM_RESPONSE
from productpilot.api.ranges import check_range

MAX_RANGE = timedelta(days=3 * 366)
METRIC_PATTERN = r"^[A-Za-z0-9_.:\-]{1,120}$"

router = APIRouter(prefix="/api/v1/products/{product_id}", tags=["metrics"])


class PointOut(BaseModel):
    period: date = Field(description="First day of the period (weeks start on Monday).")
    value: float


class SeriesOut(BaseModel):
    metric: str
    points: list[PointOut]


class MetricsOut(BaseModel):
    product_id: int
    granularity: Granularity
    start: date = Field(alias="from", serialization_alias="from")
    end: date = Field(alias="to", serialization_alias="to")
    series: list[SeriesOut]


@router.get(
    "/metrics",
    summary="Metric series",
    response_model=MetricsOut,
    response_model_by_alias=True,
    responses={401: PROBLEM_RESPONSE, 404: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE},
)
def get_metrics(
    session: SessionDep,
    product: ProductDep,
    start: Annotated[date, Query(alias="from", description="First day (inclusive).")],
    end: Annotated[date, Query(alias="to", description="Last day (inclusive).")],
    metric: Annotated[
        list[Annotated[str, Query(pattern=METRIC_PATTERN)]],
        Query(
            max_length=20,
            description=(
                "Repeat for several. `events`, `events:<name>` and `active_users` come from "
                "the rollups; other names from the metrics the analytics flows store."
            ),
        ),
    ] = list(BUILT_IN),  # noqa: B006 (FastAPI copies query defaults)
    granularity: Granularity = "day",
) -> MetricsOut:
    """Series of the named metrics between two days, per day, week or month."""
    check_range(start, end, MAX_RANGE, "three years")
    series = metric_series(session, product.id, metric, start, end, granularity)
    return MetricsOut.model_validate(
        {
            "product_id": product.id,
            "granularity": granularity,
            "from": start,
            "to": end,
            "series": [
                {
                    "metric": s.metric,
                    "points": [{"period": p.period, "value": p.value} for p in s.points],
                }
                for s in series
            ],
        }
    )
