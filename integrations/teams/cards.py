"""A :class:`~productpilot.notify.message.Message` as the Adaptive Card Teams shows in a
channel, and the request that carries it to a webhook.

Teams webhooks (incoming webhooks and Power Automate "Workflows" URLs) take a ``message``
activity with one Adaptive Card attachment (:func:`envelope`). The card is built from the
elements every Teams client renders: a severity line, a title coloured by severity
(``attention`` for critical, ``warning`` for warning), the text, a ``FactSet`` for the facts,
one ``Container`` per digest item, and an ``Action.OpenUrl`` for the link.

A webhook refuses a request larger than about 28 KB, so :func:`render_card` keeps the whole
encoded request (envelope included) within :data:`MAX_PAYLOAD_BYTES`: when it would not fit,
a digest shows its first items and "…and N more", then the text is shortened to its
first thousand characters, then facts are left out, then the text is shortened further. See https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
and https://adaptivecards.io/explorer/.

Example:
    >>> card = render_card(Message(
    ...     subject="Checkout error rate 4%", text="Above the 1% gate.", severity="critical",
    ...     kind="productpilot.gate.failed", idempotency_key="k1", facts=(("gate", "errors"),),
    ... ))
    >>> card["type"], card["version"], card["body"][1]["color"]
    ('AdaptiveCard', '1.4', 'attention')
    >>> len(encode_payload(envelope(card))) <= MAX_PAYLOAD_BYTES
    True
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from productpilot.notify.message import Message, MessageItem

ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
#: The newest version every Teams client (desktop, web, mobile) renders.
ADAPTIVE_CARD_VERSION = "1.4"
ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
#: Teams documents "28 KB" for a webhook request; counted in bytes of the encoded request,
#: and kept a little under 28 KiB so a rounding on Microsoft's side does not bite.
MAX_PAYLOAD_BYTES = 28_000

SEVERITY_COLORS = {"info": "default", "warning": "warning", "critical": "attention"}

# Caps on single fields, so one runaway value cannot crowd out the rest of the card.
MAX_TITLE_CHARS = 300
MAX_ITEM_TEXT_CHARS = 1_000
MAX_FACT_CHARS = 500
#: The text keeps this much while the facts give way.
MIN_TEXT_CHARS = 1_000
ELLIPSIS = "…"


def envelope(card: dict[str, Any]) -> dict[str, Any]:
    """The request body a Teams webhook takes: a ``message`` with ``card`` attached."""
    return {
        "type": "message",
        "attachments": [
            {"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}
        ],
    }


def encode_payload(payload: dict[str, Any]) -> bytes:
    """``payload`` as the bytes sent: compact UTF-8 JSON (the size limit counts bytes)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def payload_size(card: dict[str, Any]) -> int:
    """Bytes of the whole request that would carry ``card``."""
    return len(encode_payload(envelope(card)))


def render_card(message: Message, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """Render ``message`` as an Adaptive Card whose request fits in ``max_bytes``.

    Args:
        message: The notification.
        max_bytes: The budget for the encoded request, envelope included.

    Returns:
        The card (the ``content`` of the attachment; wrap it with :func:`envelope`).

    Example:
        >>> digest = Message(
        ...     subject="3 findings", text="", severity="warning", kind="digest",
        ...     idempotency_key="d1",
        ...     items=tuple(MessageItem(f"finding {n}", "info", "k") for n in range(3)),
        ... )
        >>> [block["type"] for block in render_card(digest)["body"]]
        ['TextBlock', 'TextBlock', 'Container', 'Container', 'Container']
    """
    layout = _Layout(
        items=len(message.items), text_chars=len(message.text), facts=len(message.facts)
    )

    def fits(candidate: _Layout) -> bool:
        return payload_size(_card(message, candidate)) <= max_bytes

    # What gives way, in turn: the digest's tail, the text beyond its first part, the
    # facts, and the rest of the text.
    shortened_text = min(len(message.text), MIN_TEXT_CHARS)
    for part, floor in (
        ("items", 0),
        ("text_chars", shortened_text),
        ("facts", 0),
        ("text_chars", 0),
    ):
        if fits(layout):
            break
        layout = _shrunk(layout, part, floor, fits)
    return _card(message, layout)


@dataclass(frozen=True)
class _Layout:
    """How much of a message the card shows."""

    items: int
    text_chars: int
    facts: int


def _shrunk(layout: _Layout, part: str, floor: int, fits: Callable[[_Layout], bool]) -> _Layout:
    """``layout`` with ``part`` cut to the most that ``fits``, but not below ``floor``."""
    most = _largest(floor, getattr(layout, part), lambda n: fits(replace(layout, **{part: n})))
    return replace(layout, **{part: most})


def _card(message: Message, layout: _Layout) -> dict[str, Any]:
    body: list[dict[str, Any]] = [_context_line(message), _title(message)]
    text = _clip(message.text, layout.text_chars)
    if text:
        body.append({"type": "TextBlock", "text": text, "wrap": True})
    if message.facts:
        body.append(_fact_set(message.facts, layout.facts))
    body += [_item_container(item) for item in message.items[: layout.items]]
    hidden = len(message.items) - layout.items
    if hidden > 0:
        body.append({"type": "TextBlock", "text": f"{ELLIPSIS}and {hidden} more", "isSubtle": True})
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "version": ADAPTIVE_CARD_VERSION,
        "body": body,
        # Teams otherwise draws cards at a narrow fixed width, which wraps facts badly.
        "msteams": {"width": "Full"},
    }
    if _is_web_link(message.link):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "View details", "url": message.link}]
    return card


def _context_line(message: Message) -> dict[str, Any]:
    parts = [message.severity.capitalize(), message.product]
    return {
        "type": "TextBlock",
        "text": " · ".join(part for part in parts if part),
        "size": "Small",
        "isSubtle": True,
        "wrap": True,
    }


def _title(message: Message) -> dict[str, Any]:
    return {
        "type": "TextBlock",
        "text": _clip(message.subject, MAX_TITLE_CHARS),
        "size": "Large",
        "weight": "Bolder",
        "color": SEVERITY_COLORS[message.severity],
        "wrap": True,
        "spacing": "None",
    }


def _fact_set(facts: tuple[tuple[str, str], ...], shown: int) -> dict[str, Any]:
    rows = [
        {"title": _clip(label, MAX_FACT_CHARS), "value": _clip(value, MAX_FACT_CHARS)}
        for label, value in facts[:shown]
    ]
    if shown < len(facts):
        rows.append({"title": ELLIPSIS, "value": f"{len(facts) - shown} more"})
    return {"type": "FactSet", "facts": rows}


def _item_container(item: MessageItem) -> dict[str, Any]:
    details = [item.severity.capitalize(), item.kind, item.occurred_at or ""]
    blocks: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": _clip(item.subject, MAX_TITLE_CHARS),
            "weight": "Bolder",
            "color": SEVERITY_COLORS[item.severity],
            "wrap": True,
        },
        {
            "type": "TextBlock",
            "text": " · ".join(part for part in details if part),
            "size": "Small",
            "isSubtle": True,
            "spacing": "None",
            "wrap": True,
        },
    ]
    if item.text:
        blocks.append(
            {"type": "TextBlock", "text": _clip(item.text, MAX_ITEM_TEXT_CHARS), "wrap": True}
        )
    container: dict[str, Any] = {"type": "Container", "separator": True, "items": blocks}
    if _is_web_link(item.link):
        # The whole item is clickable: one link per item needs no button of its own.
        container["selectAction"] = {"type": "Action.OpenUrl", "title": "Open", "url": item.link}
    return container


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1].rstrip() + ELLIPSIS


def _largest(lower: int, upper: int, fits: Callable[[int], bool]) -> int:
    """The largest ``n`` in ``lower..upper`` with ``fits(n)`` (``lower`` when none fits),
    for a ``fits`` that holds up to some point and not beyond it."""
    low, high = lower, upper
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _is_web_link(link: str | None) -> bool:
    """Only http(s) links become buttons: another scheme from a finding is not followed."""
    return link is not None and urlsplit(link).scheme in ("http", "https")
