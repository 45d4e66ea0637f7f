"""``productpilot api``: serve the REST API with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from productpilot.runtime import configure_prefect, open_store
from productpilot.settings import get_settings


def api(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Serve the /api/v1 REST API and the webhook receivers (docs at /docs).

    Uses the store and Prefect server named by the PRODUCTPILOT_ settings.
    """
    import uvicorn

    settings = get_settings()
    configure_prefect(settings)
    open_store(settings)  # migrate an embedded store once, before the workers start
    uvicorn.run(
        "productpilot.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )
