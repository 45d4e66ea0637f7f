"""Liveness and readiness probes (for process managers and Kubernetes)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text

from productpilot.api.deps import StoreDep
from productpilot.api.problems import ApiError

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The store answers", responses={503: {}})
async def readyz(store: StoreDep) -> dict[str, str]:
    def ping() -> None:
        with store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception as exc:
        raise ApiError(
            503, f"store unavailable: {type(exc).__name__}", headers={"Retry-After": "5"}
        ) from None
    return {"status": "ready", "store": store.dialect}
