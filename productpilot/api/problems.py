"""RFC 9457 problem details: every error the API answers has this shape.

Example response::

    HTTP/1.1 404 Not Found
    Content-Type: application/problem+json

    {"type": "urn:productpilot:problem:not-found", "title": "Not Found", "status": 404,
     "detail": "no product 42"}
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from productpilot.errors import (
    ConflictError,
    NotFoundError,
    ProductPilotError,
    TenantScopeError,
    UnavailableError,
    ValidationError,
)

MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger("productpilot.api")


class Problem(BaseModel):
    """An RFC 9457 problem document (extension members allowed)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="A URI identifying the problem type.")
    title: str
    status: int
    detail: str | None = None


#: Documented on every operation, so the OpenAPI document says what errors look like.
PROBLEM_RESPONSE: dict[str, Any] = {"model": Problem, "content": {MEDIA_TYPE: {}}}


class ApiError(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    title = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"urn:productpilot:problem:{kind}" if kind else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extensions)
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


_DOMAIN_STATUS: list[tuple[type[ProductPilotError], int, str]] = [
    (NotFoundError, 404, "not-found"),
    (TenantScopeError, 404, "not-found"),
    (ConflictError, 409, "conflict"),
    (ValidationError, 422, "invalid-input"),
]


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error, expected or not, as problem+json."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return problem_response(
            exc.status, exc.detail, kind=exc.kind, headers=exc.headers, **exc.extensions
        )

    @app.exception_handler(ProductPilotError)
    async def _domain(_request: Request, exc: ProductPilotError) -> JSONResponse:
        if isinstance(exc, UnavailableError):
            return problem_response(
                503,
                str(exc),
                kind="unavailable",
                headers={"Retry-After": str(exc.retry_after_seconds)},
            )
        for error_type, status, kind in _DOMAIN_STATUS:
            if isinstance(exc, error_type):
                return problem_response(status, str(exc), kind=kind)
        logger.error("unmapped ProductPilotError: %r", exc)
        return problem_response(500, "internal error")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": ".".join(str(p) for p in error["loc"]), "message": error["msg"]}
            for error in exc.errors()
        ]
        first = errors[0] if errors else {"location": "request", "message": "invalid"}
        return problem_response(
            422,
            f"{first['location']}: {first['message']}",
            kind="invalid-input",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(exc.status_code, detail, headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return problem_response(500, "internal error; it has been logged")
