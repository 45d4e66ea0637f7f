"""Figma webhooks (v2): passcode check and normalisation of file, comment, library and Dev Mode
events.

Figma does not sign requests; each payload carries the ``passcode`` given when the webhook was
created, compared here in constant time and never stored. The kind is ``event_type``; the
delivery id is ``webhook_id``, ``timestamp`` and ``file_key`` together (Figma retries with the
same values). See https://developers.figma.com/docs/rest-api/webhooks/.

Handled kinds become ``productpilot.figma.<event_type in lower case>``: ``FILE_UPDATE``,
``FILE_VERSION_UPDATE``, ``FILE_DELETE``, ``LIBRARY_PUBLISH``, ``FILE_COMMENT`` and
``DEV_MODE_STATUS_UPDATE``. ``PING`` (sent when a webhook is created) is stored and ignored.

Example:
    >>> event = normalise("FILE_UPDATE", {"file_key": "k1", "file_name": "Checkout"})
    >>> event.name, event.payload["file_key"]
    ('productpilot.figma.file_update', 'k1')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from integrations.webhooks import (
    Envelope,
    NormalisedEvent,
    PayloadError,
    SignatureError,
    WebhookReceiver,
    WebhookRequest,
    constant_time_equal,
    delivery_key,
    dig,
    event_name,
    names,
    obj,
    parse_json_object,
    pick_headers,
    stored_kind,
    text,
    without_keys,
)

VENDOR = "figma"
PASSCODE_FIELD = "passcode"
MAX_COMMENT_LENGTH = 10_000


def verify(secret: str, request: WebhookRequest) -> None:
    """Check that the payload's ``passcode`` is the configured secret.

    Raises:
        SignatureError: the body has no passcode (or is not JSON), or it does not match.
    """
    try:
        passcode = parse_json_object(request.body).get(PASSCODE_FIELD)
    except PayloadError:
        # Without a readable body there is no passcode: unauthenticated, not malformed.
        raise SignatureError("the payload has no passcode") from None
    if not isinstance(passcode, str) or not constant_time_equal(passcode, secret):
        raise SignatureError("the passcode does not match")


def read(request: WebhookRequest) -> Envelope:
    """The delivery, without its passcode: kind from ``event_type``.

    Raises:
        PayloadError: the body is not a JSON object.
    """
    payload = parse_json_object(request.body)
    parts = [text(payload.get(key), 100) for key in ("webhook_id", "timestamp", "file_key")]
    # webhook_id + timestamp identify a delivery (file_key disambiguates team webhooks).
    identity = ":".join(part or "" for part in parts) if parts[0] and parts[1] else None
    return Envelope(
        delivery_id=delivery_key(identity, request.body),
        kind=stored_kind(payload.get("event_type")),
        payload=without_keys(payload, PASSCODE_FIELD),
        headers=pick_headers(request, ()),
    )


def normalise(kind: str, payload: dict[str, Any]) -> NormalisedEvent | None:
    """The ProductPilot event for a Figma delivery, ``None`` for a kind not handled."""
    build = _BUILDERS.get(kind)
    if build is None:
        return None
    fields = {
        "webhook_id": text(payload.get("webhook_id"), 100),
        "timestamp": text(payload.get("timestamp"), 40),
        "file_key": text(payload.get("file_key"), 100),
        "file_name": text(payload.get("file_name"), 500),
        "triggered_by": text(dig(payload, "triggered_by", "handle"), 200),
        "triggered_by_id": text(dig(payload, "triggered_by", "id"), 100),
        **build(payload),
    }
    return NormalisedEvent(event_name(VENDOR, kind), fields)


def _nothing_more(_payload: dict[str, Any]) -> dict[str, Any]:
    return {}


def _file_version_update(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "version_id": text(payload.get("version_id"), 100),
        "description": text(payload.get("description")),
        "created_at": text(payload.get("created_at"), 40),
    }


def _comment_text(fragments: Any) -> str | None:
    if not isinstance(fragments, list):
        return None
    parts = []
    for fragment in map(obj, fragments):
        if isinstance(fragment.get("text"), str):
            parts.append(fragment["text"])
        elif isinstance(fragment.get("mention"), str):
            parts.append(f"@{fragment['mention']}")
    return "".join(parts)[:MAX_COMMENT_LENGTH]


def _file_comment(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "comment_id": text(payload.get("comment_id"), 100),
        "comment": _comment_text(payload.get("comment")),
        "mentions": names(payload.get("mentions"), key="handle"),
        "created_at": text(payload.get("created_at"), 40),
    }


def _library_publish(payload: dict[str, Any]) -> dict[str, Any]:
    def count(key: str) -> int:
        items = payload.get(key)
        return len(items) if isinstance(items, list) else 0

    return {
        "description": text(payload.get("description")),
        "changes": {
            item: {
                change: count(f"{change}_{item}") for change in ("created", "modified", "deleted")
            }
            for item in ("components", "styles", "variables")
        },
    }


def _dev_mode_status_update(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "node_id": text(payload.get("node_id"), 100),
        "status": text(payload.get("status"), 40),
    }


_BUILDERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "FILE_UPDATE": _nothing_more,
    "FILE_DELETE": _nothing_more,
    "FILE_VERSION_UPDATE": _file_version_update,
    "FILE_COMMENT": _file_comment,
    "LIBRARY_PUBLISH": _library_publish,
    "DEV_MODE_STATUS_UPDATE": _dev_mode_status_update,
}

#: The Figma event types ProductPilot emits (``PING`` and others are answered "ignored").
HANDLED_EVENT_TYPES = frozenset(_BUILDERS)

RECEIVER = WebhookReceiver(vendor=VENDOR, verify=verify, read=read, normalise=normalise)
