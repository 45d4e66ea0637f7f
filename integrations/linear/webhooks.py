"""Linear webhooks: signature and freshness check, normalisation of issues, comments, projects
and cycles.

Linear sends ``Linear-Signature: <hex HMAC-SHA256 of the raw body>`` and, in the payload,
``webhookTimestamp`` (Unix milliseconds); a delivery more than a minute away from our clock is
refused so a captured request cannot be replayed later. The kind is the payload's ``type``
(``Issue``, ``Comment``...), refined by ``action`` (``create``, ``update``, ``remove``); the
delivery id is the ``Linear-Delivery`` header. See https://linear.app/developers/webhooks.

Handled kinds become ``productpilot.linear.<type>.<action>`` for ``Issue``, ``Comment``,
``Project`` and ``Cycle``, e.g. ``productpilot.linear.issue.update``.

Example:
    >>> event = normalise("Issue", {"action": "create", "data": {"identifier": "ENG-1"}})
    >>> event.name, event.payload["identifier"]
    ('productpilot.linear.issue.create', 'ENG-1')
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.webhooks import (
    Envelope,
    NormalisedEvent,
    SignatureError,
    WebhookReceiver,
    WebhookRequest,
    delivery_key,
    dig,
    event_name,
    integer,
    names,
    number,
    obj,
    parse_json_object,
    pick_headers,
    require_hmac_sha256,
    stored_kind,
    text,
)

VENDOR = "linear"
SIGNATURE_HEADER = "linear-signature"
DELIVERY_HEADER = "linear-delivery"
STORED_HEADERS = (DELIVERY_HEADER, "linear-event")
#: How far ``webhookTimestamp`` may be from our clock (Linear recommends a minute).
MAX_CLOCK_SKEW = timedelta(seconds=60)
MAX_BODY_TEXT = 10_000


def verify(secret: str, request: WebhookRequest) -> None:
    """Check ``Linear-Signature``, then that ``webhookTimestamp`` is within a minute of now.

    "Now" is ``request.received_at``, so tests control the clock.

    Raises:
        SignatureError: the signature is missing or wrong, or the delivery is stale.
        PayloadError: the (authentic) body is not a JSON object.
    """
    require_hmac_sha256(secret, request.body, request.header(SIGNATURE_HEADER))
    sent = number(parse_json_object(request.body).get("webhookTimestamp"))
    if sent is None:
        raise SignatureError("the payload has no webhookTimestamp")
    try:
        sent_at = datetime.fromtimestamp(sent / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise SignatureError("webhookTimestamp is not a valid time") from None
    if abs(request.received_at - sent_at) > MAX_CLOCK_SKEW:
        raise SignatureError("webhookTimestamp is more than 60 seconds from now")


def read(request: WebhookRequest) -> Envelope:
    """The delivery: kind from ``type``, id from ``Linear-Delivery``.

    Raises:
        PayloadError: the body is not a JSON object.
    """
    payload = parse_json_object(request.body)
    return Envelope(
        delivery_id=delivery_key(request.header(DELIVERY_HEADER), request.body),
        kind=stored_kind(payload.get("type")),
        payload=payload,
        headers=pick_headers(request, STORED_HEADERS),
    )


def normalise(kind: str, payload: dict[str, Any]) -> NormalisedEvent | None:
    """The ProductPilot event for a Linear delivery, ``None`` for a type not handled."""
    build = _BUILDERS.get(kind)
    if build is None:
        return None
    data = obj(payload.get("data"))
    action = text(payload.get("action"), 64)
    updated_from = obj(payload.get("updatedFrom"))
    fields = {
        "action": action,
        "id": text(data.get("id"), 100),
        "url": text(payload.get("url")) or text(data.get("url")),
        "actor": text(dig(payload, "actor", "name"), 200),
        "organization_id": text(payload.get("organizationId"), 100),
        "updated_fields": sorted(updated_from)[:100],
        **build(data, updated_from),
    }
    return NormalisedEvent(event_name(VENDOR, kind, action), fields)


def _issue(data: dict[str, Any], updated_from: dict[str, Any]) -> dict[str, Any]:
    return {
        "identifier": text(data.get("identifier"), 50),
        "number": integer(data.get("number")),
        "title": text(data.get("title")),
        "state": text(dig(data, "state", "name"), 100),
        "state_type": text(dig(data, "state", "type"), 40),
        "state_id": text(data.get("stateId"), 100),
        # Linear sends the previous state's id only; its name needs an API call.
        "previous_state_id": text(updated_from.get("stateId"), 100),
        "priority": integer(data.get("priority")),
        "priority_label": text(data.get("priorityLabel"), 40),
        "estimate": number(data.get("estimate")),
        "labels": names(data.get("labels")),
        "assignee": text(dig(data, "assignee", "name"), 200),
        "team_key": text(dig(data, "team", "key"), 50),
        "team_id": text(data.get("teamId"), 100),
        "project_id": text(data.get("projectId"), 100),
        "cycle_id": text(data.get("cycleId"), 100),
        "due_date": text(data.get("dueDate"), 40),
        "completed_at": text(data.get("completedAt"), 40),
    }


def _comment(data: dict[str, Any], _updated_from: dict[str, Any]) -> dict[str, Any]:
    issue = obj(data.get("issue"))
    return {
        "body": text(data.get("body"), MAX_BODY_TEXT),
        "user": text(dig(data, "user", "name"), 200),
        "issue_id": text(data.get("issueId"), 100),
        "issue_identifier": text(issue.get("identifier"), 50),
        "issue_title": text(issue.get("title")),
        "team_key": text(dig(issue, "team", "key"), 50),
        "team_id": text(issue.get("teamId"), 100),
    }


def _project(data: dict[str, Any], _updated_from: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": text(data.get("name"), 200),
        "status": text(dig(data, "status", "name"), 100),
        "status_type": text(dig(data, "status", "type"), 40),
        "health": text(data.get("health"), 40),
        "lead": text(dig(data, "lead", "name"), 200),
        "start_date": text(data.get("startDate"), 40),
        "target_date": text(data.get("targetDate"), 40),
        "completed_at": text(data.get("completedAt"), 40),
    }


def _cycle(data: dict[str, Any], _updated_from: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": integer(data.get("number")),
        "name": text(data.get("name"), 200),
        "team_id": text(data.get("teamId"), 100),
        "starts_at": text(data.get("startsAt"), 40),
        "ends_at": text(data.get("endsAt"), 40),
        "completed_at": text(data.get("completedAt"), 40),
    }


_BUILDERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]] = {
    "Issue": _issue,
    "Comment": _comment,
    "Project": _project,
    "Cycle": _cycle,
}

#: The Linear types ProductPilot emits (others are stored and answered "ignored").
HANDLED_TYPES = frozenset(_BUILDERS)

RECEIVER = WebhookReceiver(vendor=VENDOR, verify=verify, read=read, normalise=normalise)
