"""``GET /metrics``: operational metrics in Prometheus's text format, for scrapers.

Unauthenticated, like ``/healthz``: it reports how much waits (backlogs, queue depths),
never whose. It is left out of the OpenAPI document: its format is Prometheus's, not the
API's, and no API client calls it. What each metric means: :mod:`productpilot.api.metrics`.

Example:
    >>> client.get("/metrics").text  # doctest: +SKIP
    '# HELP productpilot_store_up 1 if the store answered this scrape, else 0.\\n...'
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST

from productpilot.api.metrics import api_metrics

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Read the store and Prefect now and answer every metric (200 even when one is down)."""
    # Collecting blocks (database and Prefect calls), so it runs off the event loop.
    body = await run_in_threadpool(api_metrics(request.app).exposition)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
