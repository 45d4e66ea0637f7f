"""A :class:`~productpilot.notify.message.Message` as an Atlassian Document Format document.

Jira Cloud's REST API v3 takes issue descriptions and comment bodies only as ADF
(https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/): a ``doc`` of
block nodes (paragraphs, lists, tables) holding ``text`` nodes with marks (bold, links). The
message becomes: an optional bold subject, a line with its severity and product, the text's
paragraphs, the facts as a two-column table, a digest's findings as a bullet list, and the
link.

The text is Markdown-light: ``*bold*``, links written ``<url|label>``, ``[label](url)`` or
as a bare ``https://`` address; line breaks are kept, blank lines start a paragraph.

Example:
    >>> document = to_adf(Message(
    ...     subject="Signups dropped", text="Signups fell *40%*.", severity="critical",
    ...     kind="productpilot.anomaly.detected", idempotency_key="k1",
    ... ))
    >>> document["type"], document["version"], [node["type"] for node in document["content"]]
    ('doc', 1, ['paragraph', 'paragraph'])
    >>> document["content"][1]["content"][1]
    {'type': 'text', 'text': '40%', 'marks': [{'type': 'strong'}]}
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from productpilot.notify.message import Message, MessageItem

Node = dict[str, Any]

SEVERITY_LABELS = {"info": "Info", "warning": "Warning", "critical": "Critical"}

# One alternative per inline form; the named group tells which one matched.
_INLINE = re.compile(
    r"<(?P<angle_url>https?://[^|>\s]+)(?:\|(?P<angle_label>[^>]+))?>"
    r"|\[(?P<md_label>[^\]\n]+)\]\((?P<md_url>https?://[^)\s]+)\)"
    r"|(?P<bare_url>https?://[^\s<>]+)"
    # Bold hugs its text (*so*), so "2 * 3 * 4" stays arithmetic.
    r"|\*(?P<bold>[^*\s](?:[^*\n]*[^*\s])?)\*"
)
# A sentence's full stop or a closing bracket after a bare address is not part of it.
_URL_TAIL = ".,;:!?)]'\""


def to_adf(message: Message, *, with_subject: bool = False) -> Node:
    """``message`` as an ADF ``doc`` for an issue description or a comment body.

    Args:
        message: What to render.
        with_subject: Start with the subject in bold. A description does not need it (the
            issue's summary is the subject); a comment about a recurrence does.

    Example:
        >>> to_adf(Message(subject="s", text="", severity="info", kind="k",
        ...     idempotency_key="k1", link="https://pp.example/r/1"))["content"][-1]
        {'type': 'paragraph', 'content': [{'type': 'text', 'text': 'Details: '}, {'type': 'text', 'text': 'https://pp.example/r/1', 'marks': [{'type': 'link', 'attrs': {'href': 'https://pp.example/r/1'}}]}]}
    """  # noqa: E501 (the expected ADF is one line)
    content: list[Node] = []
    if with_subject and message.subject:
        content.append(paragraph([text(message.subject, strong())]))
    content.append(paragraph(context_line(message)))
    content += paragraphs(message.text)
    if message.facts:
        content.append(facts_table(message.facts))
    if message.items:
        content.append(digest_list(message.items))
    if message.link:
        content.append(paragraph([text("Details: "), text(message.link, link(message.link))]))
    return {"type": "doc", "version": 1, "content": content}


def context_line(message: Message) -> list[Node]:
    """The severity in bold, then the product and the kind: what a ticket reader sorts by."""
    severity = SEVERITY_LABELS.get(message.severity, message.severity)
    rest = " · ".join(part for part in (message.product, message.kind) if part)
    return [text(severity, strong()), *([text(f" · {rest}")] if rest else [])]


def paragraphs(source: str) -> list[Node]:
    """Paragraphs of Markdown-light ``source``: blank lines split them, single line breaks
    become hard breaks."""
    blocks = [block.strip("\n") for block in re.split(r"\n\s*\n", source.strip())]
    return [paragraph(_lines(block)) for block in blocks if block.strip()]


def facts_table(facts: Iterable[tuple[str, str]]) -> Node:
    """The label/value pairs as a two-column table, the labels as header cells."""
    rows = [
        {
            "type": "tableRow",
            "content": [
                {"type": "tableHeader", "content": [paragraph(_optional_text(label))]},
                {"type": "tableCell", "content": [paragraph(inline(value))]},
            ],
        }
        for label, value in facts
    ]
    return {
        "type": "table",
        "attrs": {"isNumberColumnEnabled": False, "layout": "default"},
        "content": rows,
    }


def digest_list(items: Iterable[MessageItem]) -> Node:
    """A digest's findings as a bullet list: severity, subject (linked), text, time."""
    return {
        "type": "bulletList",
        "content": [
            {"type": "listItem", "content": [paragraph(_digest_entry(item))]} for item in items
        ],
    }


def inline(source: str) -> list[Node]:
    """Text nodes for one line of Markdown-light ``source`` (bold and links marked)."""
    nodes: list[Node] = []
    position = 0
    for match in _INLINE.finditer(source):
        nodes += _optional_text(source[position : match.start()])
        position = match.end()
        if match["bold"] is not None:
            nodes.append(text(match["bold"], strong()))
        elif match["bare_url"] is not None:
            url = match["bare_url"].rstrip(_URL_TAIL)
            # Give back what was stripped: it is text after the address.
            position = match.start() + len(url)
            nodes.append(text(url, link(url)))
        else:
            url = match["angle_url"] or match["md_url"]
            label = match["angle_label"] or match["md_label"] or url
            nodes.append(text(label, link(url)))
    nodes += _optional_text(source[position:])
    return nodes


# --- nodes ------------------------------------------------------------------------------------


def paragraph(content: list[Node]) -> Node:
    return {"type": "paragraph", "content": content}


def text(value: str, *marks: Node) -> Node:
    """A text node; ADF refuses empty ones, so callers pass text that is not empty."""
    node: Node = {"type": "text", "text": value}
    if marks:
        node["marks"] = list(marks)
    return node


def strong() -> Node:
    return {"type": "strong"}


def link(href: str) -> Node:
    return {"type": "link", "attrs": {"href": href}}


def _optional_text(value: str) -> list[Node]:
    return [text(value)] if value else []


def _lines(block: str) -> list[Node]:
    nodes: list[Node] = []
    for number, line in enumerate(block.split("\n")):
        if number:
            nodes.append({"type": "hardBreak"})
        nodes += inline(line)
    return nodes


def _digest_entry(item: MessageItem) -> list[Node]:
    severity = SEVERITY_LABELS.get(item.severity, item.severity)
    nodes = [text(severity, strong())]
    if item.subject:
        marks = [link(item.link)] if item.link else []
        nodes += [text(" "), text(item.subject, *marks)]
    if item.text:
        nodes += [text(" — "), *inline(item.text.replace("\n", " "))]
    if item.occurred_at:
        nodes.append(text(f" ({item.occurred_at})"))
    return nodes
