"""The FastAPI application.

Run it with ``productpilot api`` (uvicorn), or build one in tests with :func:`create_app`.

Example:
    >>> from fastapi.testclient import TestClient
    >>> client = TestClient(create_app(store))  # doctest: +SKIP
    >>> client.get("/healthz").json()  # doctest: +SKIP
    {'status': 'ok'}
"""

from __future__ import annotations

from fastapi import FastAPI

from productpilot import __version__
from productpilot.api.cache import TtlCache
from productpilot.api.prefect_gateway import PrefectGateway
from productpilot.api.problems import PROBLEM_RESPONSE, install_problem_handlers
from productpilot.api.routers import (
    analytics,
    configuration,
    deadletters,
    events,
    flags,
    health,
    metrics,
    ofrep,
    operations,
    rollouts,
    workflows,
)
from productpilot.db.store import Store
from productpilot.eventbus import EventEmitter
from productpilot.runtime import open_store
from productpilot.settings import Settings, get_settings

DESCRIPTION = """
ProductPilot's REST API. Every `/api/v1` endpoint is scoped to the tenant of the API key in
`Authorization: Bearer <key>`; another tenant's product answers 404. Errors are RFC 9457
problem documents (`application/problem+json`).
"""


def create_app(
    store: Store | None = None,
    *,
    settings: Settings | None = None,
    gateway: PrefectGateway | None = None,
    emitter: EventEmitter | None = None,
) -> FastAPI:
    """Build the application around ``store`` (default: the store the settings name)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="ProductPilot API",
        version=__version__,
        description=DESCRIPTION,
        responses={
            400: PROBLEM_RESPONSE,
            401: PROBLEM_RESPONSE,
            404: PROBLEM_RESPONSE,
            422: PROBLEM_RESPONSE,
            500: PROBLEM_RESPONSE,
        },
    )
    app.state.settings = settings
    app.state.store = store or open_store(settings)
    app.state.workflows = gateway or PrefectGateway(settings.prefect_api_url)
    app.state.key_cache = TtlCache[int](settings.api_cache_seconds)
    app.state.product_cache = TtlCache[bool](settings.api_cache_seconds)
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(operations.router)
    app.include_router(events.router)
    app.include_router(configuration.router)
    app.include_router(metrics.router)
    app.include_router(analytics.router)
    app.include_router(workflows.router)
    app.include_router(deadletters.router)
    app.include_router(flags.router)
    app.include_router(ofrep.router)
    app.include_router(rollouts.router)
    # Imported here: the receivers pull in every vendor integration.
    from integrations.prefect_events import PrefectEventEmitter
    from productpilot.api.routers import webhooks

    app.state.emitter = emitter or PrefectEventEmitter()
    app.include_router(webhooks.router)
    return app
