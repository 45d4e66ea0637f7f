"""Webhook receivers: ``POST /webhooks/{github,jira,linear,figma,slack}?product=<id>``.

Every request goes through the same steps (docs/webhooks.md has the per-vendor set-up):

1. The body is read, at most 1 MiB (413 beyond).
2. The product named by ``?product=`` is looked up and the vendor's secret taken from its
   current configuration. An unknown product, a vendor without a secret and a bad (or stale)
   signature all answer the same 401, so product ids cannot be probed. A missing or malformed
   ``product`` parameter is a malformed request: 422.
3. The body is parsed (400 unless it is a JSON object) and the delivery stored and committed
   before anything else. A delivery id seen before answers 200 ``duplicate`` and does nothing.
4. The delivery is normalised and its event emitted to Prefect: 200 ``processed``; 202
   ``ignored`` for a kind ProductPilot does not handle or an event about another
   repository/project than the product's (stored with status ``ignored``); 202 ``queued`` when
   emitting failed: the delivery stays pending and the reconciler flow emits it later.

Slack's URL verification is answered with its ``challenge`` and not stored.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from integrations.webhooks import (
    PayloadError,
    SignatureError,
    WebhookReceiver,
    WebhookRequest,
    normalise_delivery,
    receiver_for,
)
from productpilot.api.body import read_limited_body
from productpilot.api.deps import StoreDep
from productpilot.api.problems import PROBLEM_RESPONSE, ApiError
from productpilot.db.store import Store
from productpilot.db.types import utcnow
from productpilot.eventbus import EventEmitter
from productpilot.webhooks import (
    Outcome,
    WebhookTarget,
    record_delivery,
    settle_delivery,
    webhook_target,
)

MAX_BODY_BYTES = 1024 * 1024
logger = logging.getLogger("productpilot.api.webhooks")
router = APIRouter(prefix="/webhooks", tags=["webhooks"])

#: Verified against when the product is unknown or has no secret, so that a refusal costs the
#: same time whatever the reason. Random per process: it can never be a valid signature.
_DECOY_SECRET = secrets.token_hex(32)


class WebhookReceipt(BaseModel):
    """What became of a delivery."""

    status: Literal["processed", "duplicate", "ignored", "queued"] = Field(
        description="processed: its event was emitted; duplicate: this delivery id was "
        "received before; ignored: stored, no event (a kind not handled, or not this "
        "product's); queued: stored, its event will be emitted later."
    )
    delivery_id: str = Field(description="The id the delivery is stored under.")
    event: str | None = Field(
        default=None,
        description="The event emitted (or to be emitted), e.g. "
        "productpilot.github.pull_request.opened.",
    )
    detail: str | None = Field(default=None, description="Why, in words.")


class SlackChallenge(BaseModel):
    """The answer to Slack's URL verification."""

    challenge: str


# --- dependencies -------------------------------------------------------------------------------


def get_emitter(request: Request) -> EventEmitter:
    """The application's event emitter (``create_app(emitter=...)``)."""
    return request.app.state.emitter


def get_clock() -> Callable[[], datetime]:
    """The receivers' clock; tests override this dependency to pin "now"."""
    return utcnow


EmitterDep = Annotated[EventEmitter, Depends(get_emitter)]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]
ProductParam = Annotated[
    int,
    Query(
        alias="product",
        ge=1,
        le=2**31 - 1,
        description="The id of the product the webhook belongs to.",
    ),
]


# --- the steps --------------------------------------------------------------------------------


async def receive(
    vendor: str,
    request: Request,
    product_id: int,
    store: Store,
    emitter: EventEmitter,
    clock: Callable[[], datetime],
) -> JSONResponse:
    """Read the body within its limit, then handle the delivery off the event loop."""
    body = await read_limited_body(request, MAX_BODY_BYTES, MAX_BODY_BYTES)
    webhook = WebhookRequest.build(request.headers.items(), body, clock())
    return await run_in_threadpool(
        _handle, receiver_for(vendor), webhook, product_id, store, emitter
    )


def _handle(
    receiver: WebhookReceiver,
    webhook: WebhookRequest,
    product_id: int,
    store: Store,
    emitter: EventEmitter,
) -> JSONResponse:
    """Authenticate, store, settle: the steps of the module docstring, in order."""
    target = _authenticate(receiver, webhook, webhook_target(store, product_id, receiver.vendor))
    try:
        envelope = receiver.read(webhook)
    except PayloadError as exc:
        raise ApiError(400, str(exc), kind="invalid-payload") from None
    reply = receiver.handshake(envelope)
    if reply is not None:
        return JSONResponse(reply)

    recorded = record_delivery(
        store,
        tenant_id=target.tenant_id,
        product_id=target.product_id,
        vendor=receiver.vendor,
        delivery_id=envelope.delivery_id,
        kind=envelope.kind,
        payload=envelope.payload,
        headers=envelope.headers,
        received_at=webhook.received_at,
    )
    if recorded.duplicate:
        return _receipt(
            200, "duplicate", envelope.delivery_id, detail="this delivery was received before"
        )
    settlement = settle_delivery(
        store,
        recorded.delivery,
        normalise=normalise_delivery,
        emitter=emitter,
        integrations=target.integrations,
    )
    status = 200 if settlement.outcome is Outcome.PROCESSED else 202
    return _receipt(
        status,
        settlement.outcome.value,
        envelope.delivery_id,
        event=settlement.event,
        detail=settlement.detail,
    )


def _authenticate(
    receiver: WebhookReceiver, webhook: WebhookRequest, target: WebhookTarget | None
) -> WebhookTarget:
    """The target, if the request is signed with its secret; the same 401 otherwise."""
    secret = target.secret if target is not None and target.secret else _DECOY_SECRET
    try:
        receiver.verify(secret, webhook)
    except SignatureError as exc:
        raise _unauthorized(receiver.vendor, str(exc)) from None
    except PayloadError as exc:
        raise ApiError(400, str(exc), kind="invalid-payload") from None
    # Defence in depth: the decoy secret cannot verify, but do not rely on that alone.
    if target is None or not target.secret:
        raise _unauthorized(receiver.vendor, "the signature does not match")
    return target


def _unauthorized(vendor: str, reason: str) -> ApiError:
    logger.info("refused a %s webhook: %s", vendor, reason)
    return ApiError(
        401,
        f"{reason}; check the webhook URL's product and its {vendor} secret",
        kind="invalid-signature",
        headers={"WWW-Authenticate": f'Signature realm="webhooks/{vendor}"'},
    )


def _receipt(status_code: int, status: str, delivery_id: str, **extra: str | None) -> JSONResponse:
    """A :class:`WebhookReceipt` body (fields without a value left out)."""
    body = {"status": status, "delivery_id": delivery_id}
    body |= {name: value for name, value in extra.items() if value is not None}
    return JSONResponse(body, status_code=status_code)


# --- the OpenAPI description ------------------------------------------------------------------


def _operation(*headers: tuple[str, str], ok: Any = WebhookReceipt) -> dict[str, Any]:
    """Route options: the responses, the raw JSON body and the headers a receiver reads."""
    return {
        "response_model": ok,
        "responses": {
            200: {"description": "Processed (its event was emitted), or a duplicate delivery."},
            202: {
                "model": WebhookReceipt,
                "description": "Stored and ignored, or queued: the event will be emitted later.",
            },
            400: {**PROBLEM_RESPONSE, "description": "The body is not a JSON object."},
            401: {
                **PROBLEM_RESPONSE,
                "description": "Unknown product, no secret for this vendor, or a bad or stale "
                "signature (one answer for all, so product ids cannot be probed).",
            },
            413: {**PROBLEM_RESPONSE, "description": "The body is larger than 1 MiB."},
            415: {**PROBLEM_RESPONSE, "description": "Unsupported Content-Encoding."},
            422: {**PROBLEM_RESPONSE, "description": "Missing or malformed ?product=."},
        },
        "openapi_extra": {
            # The body is read raw (signatures cover its exact bytes), so declare it here.
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "parameters": [
                {
                    "name": name,
                    "in": "header",
                    "required": False,
                    "description": description,
                    "schema": {"type": "string"},
                }
                for name, description in headers
            ],
        },
    }


# --- the receivers ------------------------------------------------------------------------------


@router.post(
    "/github",
    summary="Receive a GitHub webhook",
    **_operation(
        ("X-Hub-Signature-256", "sha256=<hex HMAC-SHA256 of the body>"),
        ("X-GitHub-Event", "The event, e.g. pull_request."),
        ("X-GitHub-Delivery", "The delivery id (kept on redelivery)."),
    ),
)
async def github(
    request: Request,
    product: ProductParam,
    store: StoreDep,
    emitter: EmitterDep,
    clock: ClockDep,
) -> JSONResponse:
    """Pull requests, reviews, checks, workflow runs, deployments, issues, security alerts,
    pushes, releases and commit statuses become `productpilot.github.<event>.<action>`."""
    return await receive("github", request, product, store, emitter, clock)


@router.post(
    "/jira",
    summary="Receive a Jira webhook",
    **_operation(
        ("X-Hub-Signature", "sha256=<hex HMAC-SHA256 of the body>"),
        ("X-Atlassian-Webhook-Identifier", "The delivery id (kept on retries)."),
    ),
)
async def jira(
    request: Request,
    product: ProductParam,
    store: StoreDep,
    emitter: EmitterDep,
    clock: ClockDep,
) -> JSONResponse:
    """Issue, comment and issue-link events become `productpilot.jira.<object>.<action>`."""
    return await receive("jira", request, product, store, emitter, clock)


@router.post(
    "/linear",
    summary="Receive a Linear webhook",
    **_operation(
        ("Linear-Signature", "<hex HMAC-SHA256 of the body>"),
        ("Linear-Delivery", "The delivery id."),
    ),
)
async def linear(
    request: Request,
    product: ProductParam,
    store: StoreDep,
    emitter: EmitterDep,
    clock: ClockDep,
) -> JSONResponse:
    """Issues, comments, projects and cycles become `productpilot.linear.<type>.<action>`.
    `webhookTimestamp` must be within a minute of the server's clock."""
    return await receive("linear", request, product, store, emitter, clock)


@router.post(
    "/figma",
    summary="Receive a Figma webhook",
    **_operation(),
)
async def figma(
    request: Request,
    product: ProductParam,
    store: StoreDep,
    emitter: EmitterDep,
    clock: ClockDep,
) -> JSONResponse:
    """File, version, comment, library and Dev Mode events become
    `productpilot.figma.<event_type>`. The payload's `passcode` is the secret."""
    return await receive("figma", request, product, store, emitter, clock)


@router.post(
    "/slack",
    summary="Receive a Slack Events API request",
    **_operation(
        ("X-Slack-Signature", "v0=<hex HMAC-SHA256 of v0:<timestamp>:<body>>"),
        ("X-Slack-Request-Timestamp", "Unix seconds; at most five minutes old."),
        ok=WebhookReceipt | SlackChallenge,
    ),
)
async def slack(
    request: Request,
    product: ProductParam,
    store: StoreDep,
    emitter: EmitterDep,
    clock: ClockDep,
) -> JSONResponse:
    """Mentions, messages and reactions become `productpilot.slack.<event type>`; a URL
    verification is answered with its challenge."""
    return await receive("slack", request, product, store, emitter, clock)
