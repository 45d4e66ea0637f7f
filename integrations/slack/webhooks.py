"""Slack Events API: request signing, URL verification, normalisation of messages, mentions
and reactions.

Slack signs ``v0:<X-Slack-Request-Timestamp>:<raw body>`` with the app's signing secret and
sends ``X-Slack-Signature: v0=<hex HMAC-SHA256>``; a timestamp more than five minutes from our
clock is refused so a captured request cannot be replayed. ``url_verification`` (sent when the
Request URL is saved) is answered with its ``challenge``; ``event_callback`` carries one event,
whose ``event.type`` is the kind and whose ``event_id`` is the delivery id (a retry keeps it).
See https://api.slack.com/authentication/verifying-requests-from-slack.

Handled kinds become ``productpilot.slack.<event.type>``: ``app_mention``, ``message``,
``reaction_added`` and ``reaction_removed``.

Example:
    >>> wrapper = {"type": "event_callback", "event": {"type": "app_mention", "text": "hi"}}
    >>> normalise("app_mention", wrapper).name
    'productpilot.slack.app_mention'
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
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
    obj,
    parse_json_object,
    parse_timestamp,
    pick_headers,
    require_hmac_sha256,
    stored_kind,
    text,
    without_keys,
)

VENDOR = "slack"
SIGNATURE_HEADER = "x-slack-signature"
TIMESTAMP_HEADER = "x-slack-request-timestamp"
STORED_HEADERS = ("x-slack-retry-num", "x-slack-retry-reason")
URL_VERIFICATION = "url_verification"
EVENT_CALLBACK = "event_callback"
#: Slack's recommended replay window.
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_TEXT_LENGTH = 4000


def verify(secret: str, request: WebhookRequest) -> None:
    """Check that the request timestamp is fresh and the v0 signature matches.

    Raises:
        SignatureError: the timestamp is missing or stale, or the signature does not match.
    """
    timestamp = request.header(TIMESTAMP_HEADER)
    sent_at = parse_timestamp(timestamp)
    if timestamp is None or sent_at is None:
        raise SignatureError("X-Slack-Request-Timestamp is missing or not a Unix time")
    if abs(request.received_at - sent_at) > MAX_CLOCK_SKEW:
        raise SignatureError("X-Slack-Request-Timestamp is more than five minutes from now")
    base = b"v0:" + timestamp.encode() + b":" + request.body
    require_hmac_sha256(secret, base, request.header(SIGNATURE_HEADER), prefix="v0=")


def read(request: WebhookRequest) -> Envelope:
    """The delivery: kind from ``event.type`` (or the wrapper's ``type``), id from ``event_id``.

    The wrapper's legacy verification ``token`` is not stored.

    Raises:
        PayloadError: the body is not a JSON object.
    """
    payload = parse_json_object(request.body)
    kind = payload.get("type")
    if kind == EVENT_CALLBACK:
        kind = dig(payload, "event", "type")
    return Envelope(
        delivery_id=delivery_key(text(payload.get("event_id"), 200), request.body),
        kind=stored_kind(kind),
        payload=without_keys(payload, "token"),
        headers=pick_headers(request, STORED_HEADERS),
    )


def handshake(envelope: Envelope) -> dict[str, Any] | None:
    """Slack's URL verification: echo its ``challenge``. ``None`` for event deliveries.

    Example:
        >>> handshake(Envelope("d", "url_verification", {"challenge": "c"}))
        {'challenge': 'c'}
    """
    if envelope.kind != URL_VERIFICATION:
        return None
    return {"challenge": text(envelope.payload.get("challenge"), 500) or ""}


def normalise(kind: str, payload: dict[str, Any]) -> NormalisedEvent | None:
    """The ProductPilot event for a Slack event callback, ``None`` for a kind not handled."""
    build = _BUILDERS.get(kind)
    if build is None or payload.get("type") != EVENT_CALLBACK:
        return None
    event = obj(payload.get("event"))
    fields = {
        "team_id": text(payload.get("team_id"), 50),
        "event_id": text(payload.get("event_id"), 100),
        "event_time": integer(payload.get("event_time")),
        "user": text(event.get("user"), 50),
        **build(event),
    }
    return NormalisedEvent(event_name(VENDOR, kind), fields)


def _message(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "channel": text(event.get("channel"), 50),
        "channel_type": text(event.get("channel_type"), 40),
        "subtype": text(event.get("subtype"), 60),
        "text": text(event.get("text"), MAX_TEXT_LENGTH),
        "ts": text(event.get("ts"), 40),
        "thread_ts": text(event.get("thread_ts"), 40),
        "bot_id": text(event.get("bot_id"), 50),
    }


def _reaction(event: dict[str, Any]) -> dict[str, Any]:
    item = obj(event.get("item"))
    return {
        "reaction": text(event.get("reaction"), 100),
        "item_type": text(item.get("type"), 40),
        "item_channel": text(item.get("channel"), 50),
        "item_ts": text(item.get("ts"), 40),
        "item_user": text(event.get("item_user"), 50),
    }


_BUILDERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "app_mention": _message,
    "message": _message,
    "reaction_added": _reaction,
    "reaction_removed": _reaction,
}

#: The Slack event types ProductPilot emits (others are stored and answered "ignored").
HANDLED_EVENT_TYPES = frozenset(_BUILDERS)

RECEIVER = WebhookReceiver(
    vendor=VENDOR, verify=verify, read=read, normalise=normalise, handshake=handshake
)
