"""OFREP evaluation of a product's flags, and the product's flagd document for flagd to sync.

OpenFeature Remote Evaluation Protocol (v1), for any OFREP provider:

* ``POST /ofrep/v1/evaluate/flags/{key}``: one flag (server-side providers);
* ``POST /ofrep/v1/evaluate/flags``: every flag, with ``ETag``/``If-None-Match`` (304) so
  client-side providers can poll cheaply.

OFREP's paths name no product, so the caller names it in the header
``X-ProductPilot-Product: <product id>``, next to its API key in
``Authorization: Bearer <key>``; providers send both as custom headers (Python:
``OFREPProvider(url, headers_factory=lambda: {...})``). A product the key's tenant does not
own answers 403 (the same for one that does not exist), a missing or malformed header
400 with OFREP's error body, so providers report the reason.

flagd can serve the same flags itself: its HTTP sync provider polls
``GET /api/v1/products/{id}/flags.json`` (``"provider": "http"``, with the key as
``authHeader``), which answers the flagd flag-definition document with an ``ETag``
(304 on ``If-None-Match``).

Example::

    provider = OFREPProvider("https://pilot.example.com", headers_factory=lambda: {
        "Authorization": "Bearer pp_...", "X-ProductPilot-Product": "7"})
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from productpilot.api.body import inline_schema, read_limited_body
from productpilot.api.deps import ProductDep, SessionDep, StoreDep, TenantId
from productpilot.api.problems import PROBLEM_RESPONSE, ApiError
from productpilot.db.store import Store
from productpilot.errors import NotFoundError
from productpilot.launch.ofrep import (
    BulkEvaluationFailure,
    BulkEvaluationSuccess,
    EvaluationFailure,
    EvaluationRequest,
    EvaluationSuccess,
    etag_matches,
    evaluate_bulk,
    evaluate_single,
)
from productpilot.launch.store import product_document
from productpilot.products import get_product

PRODUCT_HEADER = "X-ProductPilot-Product"
#: An evaluation context is a few attributes; this is generous.
MAX_BODY_BYTES = 64 * 1024
_MAX_PRODUCT_ID = 2**31 - 1

router = APIRouter(tags=["ofrep"])

ProductHeader = Annotated[
    str | None,
    Header(
        alias=PRODUCT_HEADER,
        description="The id of the product whose flags are evaluated.",
    ),
]
IfNoneMatch = Annotated[
    str | None, Header(description="The ETag of the last answer: 304 while it holds.")
]
_REQUEST_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": inline_schema(EvaluationRequest)}},
    }
}
_FORBIDDEN = {**PROBLEM_RESPONSE, "description": "The key's tenant has no such product."}


class _NoProductError(Exception):
    """The product header is missing or not an id (answered in OFREP's error shape)."""


def _product_id(header: str | None) -> int:
    if header is None or not header.strip():
        raise _NoProductError(f"name the product: send '{PRODUCT_HEADER}: <product id>'")
    text = header.strip()
    if not text.isdigit() or not 1 <= int(text) <= _MAX_PRODUCT_ID:
        raise _NoProductError(f"{PRODUCT_HEADER} must be a product id, got {text[:40]!r}")
    return int(text)


def _forbidden(product_id: int) -> ApiError:
    return ApiError(403, f"this API key cannot read product {product_id}", kind="forbidden")


def _single(
    store: Store, tenant_id: int, product_id: int, key: str, body: bytes
) -> tuple[int, dict[str, Any]]:
    with store.tenant_session(tenant_id) as session:
        try:
            product = get_product(session, product_id)
        except NotFoundError:
            raise _forbidden(product_id) from None
        document, _token = product_document(session, product)
    return evaluate_single(document, key, body)


def _bulk(
    store: Store, tenant_id: int, product_id: int, body: bytes, if_none_match: str | None
) -> tuple[int, dict[str, Any] | None, str | None]:
    with store.tenant_session(tenant_id) as session:
        try:
            product = get_product(session, product_id)
        except NotFoundError:
            raise _forbidden(product_id) from None
        document, token = product_document(session, product)
    return evaluate_bulk(document, body, if_none_match, version=token)


@router.post(
    "/ofrep/v1/evaluate/flags/{key}",
    summary="OFREP: evaluate one flag",
    response_model=EvaluationSuccess,
    responses={
        400: {"model": EvaluationFailure, "description": "Invalid context or request."},
        401: PROBLEM_RESPONSE,
        403: _FORBIDDEN,
        404: {"model": EvaluationFailure, "description": "No such flag (FLAG_NOT_FOUND)."},
        413: PROBLEM_RESPONSE,
    },
    openapi_extra=_REQUEST_BODY,
)
async def evaluate_flag(
    key: str,
    request: Request,
    store: StoreDep,
    tenant_id: TenantId,
    product: ProductHeader = None,
) -> Response:
    """The flag's value, variant and reason for the context in the body."""
    try:
        product_id = _product_id(product)
    except _NoProductError as exc:
        failure = EvaluationFailure(key=key, errorCode="GENERAL", errorDetails=str(exc))
        return JSONResponse(failure.model_dump(exclude_none=True), status_code=400)
    body = await read_limited_body(request, MAX_BODY_BYTES, MAX_BODY_BYTES)
    status, answer = await run_in_threadpool(_single, store, tenant_id, product_id, key, body)
    return JSONResponse(answer, status_code=status)


@router.post(
    "/ofrep/v1/evaluate/flags",
    summary="OFREP: evaluate every flag",
    response_model=BulkEvaluationSuccess,
    responses={
        304: {"description": "Unchanged since the ETag in If-None-Match."},
        400: {"model": BulkEvaluationFailure, "description": "Invalid context or request."},
        401: PROBLEM_RESPONSE,
        403: _FORBIDDEN,
        413: PROBLEM_RESPONSE,
    },
    openapi_extra=_REQUEST_BODY,
)
async def evaluate_flags(
    request: Request,
    store: StoreDep,
    tenant_id: TenantId,
    product: ProductHeader = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Every flag of the product for the context in the body, with an ``ETag``."""
    try:
        product_id = _product_id(product)
    except _NoProductError as exc:
        failure = BulkEvaluationFailure(errorCode="GENERAL", errorDetails=str(exc))
        return JSONResponse(failure.model_dump(), status_code=400)
    body = await read_limited_body(request, MAX_BODY_BYTES, MAX_BODY_BYTES)
    status, answer, etag = await run_in_threadpool(
        _bulk, store, tenant_id, product_id, body, if_none_match
    )
    headers = {"ETag": etag} if etag else {}
    if answer is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(answer, status_code=status, headers=headers)


@router.get(
    "/api/v1/products/{product_id}/flags.json",
    summary="The product's flags as a flagd document (flagd HTTP sync)",
    response_class=JSONResponse,
    responses={
        200: {
            "description": "The flagd flag-definition document "
            "(https://flagd.dev/schema/v0/flags.json).",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        304: {"description": "Unchanged since the ETag in If-None-Match."},
        401: PROBLEM_RESPONSE,
        404: PROBLEM_RESPONSE,
    },
)
def flagd_document(
    session: SessionDep,
    product: ProductDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Every live flag of the product in flagd's format; the ETag is the version token."""
    document, token = product_document(session, product)
    etag = f'"{token}"'
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return JSONResponse(document.to_json(), headers={"ETag": etag})
