"""A :class:`~productpilot.notify.message.Message` as Slack shows it: Block Kit plus fallback text.

The layout, top to bottom: a header (severity emoji and subject), the text, the facts as
two-column fields, a digest's findings one section each, and a context line with the
severity, the product and the link. Slack refuses a whole message when one limit is broken
(``invalid_blocks``), so every limit is kept here: at most 50 blocks, 150 characters in a
header, 3000 in a text object, 2000 in a field, 10 fields per section and 10 elements per
context. A digest too long for the blocks ends with "…and N more".

Text is Slack ``mrkdwn``: ``&``, ``<`` and ``>`` are escaped, so a finding cannot ping
``<!channel>`` or forge a link, and Markdown links ``[label](https://...)`` become Slack's
``<https://...|label>``.

Example:
    >>> message = Message(subject="Signups dropped 40%", text="Below the band.",
    ...     severity="critical", kind="productpilot.anomaly.detected", idempotency_key="k1",
    ...     facts=(("metric", "signups"),), product="Acme")
    >>> [block["type"] for block in render_blocks(message)]
    ['header', 'section', 'section', 'context']
    >>> fallback_text(message)
    'Critical: Signups dropped 40% (Acme)\\nBelow the band.'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from productpilot.notify.message import Message, MessageItem, Severity

#: Slack's Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_HEADER_CHARS = 150
MAX_TEXT_CHARS = 3000
MAX_FIELD_CHARS = 2000
MAX_FIELDS_PER_SECTION = 10
MAX_CONTEXT_ELEMENTS = 10
#: Our own caps, so text and facts always leave room for a digest's findings.
MAX_TEXT_SECTIONS = 4
MAX_FACTS = 50
ELLIPSIS = "…"

SEVERITY_EMOJI: dict[Severity, str] = {
    "info": ":information_source:",
    "warning": ":warning:",
    "critical": ":rotating_light:",
}
SEVERITY_LABEL: dict[Severity, str] = {
    "info": "Info",
    "warning": "Warning",
    "critical": "Critical",
}
DEFAULT_SUBJECT = "ProductPilot notification"
UPDATED_NOTE = (
    ":arrows_counterclockwise: Updated with the latest state; the history is in the thread."
)

Block = dict[str, Any]

_MARKDOWN_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


@dataclass(frozen=True)
class SlackMessage:
    """What chat.postMessage and chat.update take: fallback ``text`` and ``blocks``.

    Example:
        >>> SlackMessage("hi", []).text
        'hi'
    """

    text: str
    blocks: list[Block]


def render(message: Message, *, updated: bool = False) -> SlackMessage:
    """The Slack form of ``message``.

    Args:
        message: The notification.
        updated: Render the original of a thread brought up to date by a follow-up: the
            follow-up's content, with a note that the history is in the thread.

    Example:
        >>> render(Message("Disk full", "", "warning", "ops", "k1")).blocks[0]["text"]["text"]
        ':warning: Disk full'
    """
    return SlackMessage(text=fallback_text(message), blocks=render_blocks(message, updated=updated))


def render_blocks(message: Message, *, updated: bool = False) -> list[Block]:
    """The Block Kit layout of ``message``, within Slack's limits.

    Example:
        >>> blocks = render_blocks(Message("Disk full", "90% used", "warning", "ops", "k1"))
        >>> blocks[1]["text"]
        {'type': 'mrkdwn', 'text': '90% used'}
    """
    head = [header_block(message)]
    body = [*text_sections(message.text), *fact_sections(message.facts)]
    tail = [context_block(message, updated=updated)]
    room = MAX_BLOCKS - len(head) - len(body) - len(tail)
    return [*head, *body, *item_sections(message.items, room), *tail]


def fallback_text(message: Message) -> str:
    """The plain text Slack shows in notifications and where blocks cannot be shown.

    Example:
        >>> fallback_text(Message("Disk full", "", "warning", "ops", "k1"))
        'Warning: Disk full'
    """
    subject = message.subject or DEFAULT_SUBJECT
    first = f"{SEVERITY_LABEL[message.severity]}: {subject}"
    if message.product:
        first += f" ({message.product})"
    if message.is_digest and message.items:
        first += f": {len(message.items)} findings"
    lines = [escape(first)]
    if message.text:
        lines.append(mrkdwn(message.text))
    return truncate("\n".join(lines), MAX_TEXT_CHARS)


# --- blocks ----------------------------------------------------------------------------------


def header_block(message: Message) -> Block:
    """The header: severity emoji and subject, plain text (Slack renders ``:emoji:`` codes).

    Example:
        >>> header_block(Message("x" * 200, "", "info", "k", "k1"))["text"]["text"][-3:]
        'xx…'
    """
    title = f"{SEVERITY_EMOJI[message.severity]} {message.subject or DEFAULT_SUBJECT}"
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(title, MAX_HEADER_CHARS), "emoji": True},
    }


def text_sections(text: str) -> list[Block]:
    """``text`` as mrkdwn sections of at most 3000 characters each, split between words.

    Example:
        >>> [len(s["text"]["text"]) for s in text_sections("word " * 1000)]
        [2999, 1999]
    """
    if not text.strip():
        return []
    chunks = split_text(mrkdwn(text), MAX_TEXT_CHARS)
    if len(chunks) > MAX_TEXT_SECTIONS:
        last = truncate(f"{chunks[MAX_TEXT_SECTIONS - 1]}\n{ELLIPSIS}", MAX_TEXT_CHARS)
        chunks = [*chunks[: MAX_TEXT_SECTIONS - 1], last]
    return [_section(chunk) for chunk in chunks]


def fact_sections(facts: Sequence[tuple[str, str]]) -> list[Block]:
    """Facts as ``*label*`` / value fields, ten to a section (Slack's limit).

    Example:
        >>> fact_sections([("metric", "signups")])[0]["fields"]
        [{'type': 'mrkdwn', 'text': '*metric*\\nsignups'}]
    """
    texts = [f"*{escape(label)}*\n{mrkdwn(value)}" for label, value in facts[:MAX_FACTS]]
    if len(facts) > MAX_FACTS:
        texts[-1] = f"_{ELLIPSIS}and {len(facts) - MAX_FACTS + 1} more_"
    fields = [{"type": "mrkdwn", "text": truncate(text, MAX_FIELD_CHARS)} for text in texts]
    return [
        {"type": "section", "fields": fields[start : start + MAX_FIELDS_PER_SECTION]}
        for start in range(0, len(fields), MAX_FIELDS_PER_SECTION)
    ]


def item_sections(items: Sequence[MessageItem], room: int) -> list[Block]:
    """A digest's findings, one section each, in at most ``room`` blocks: when they do not
    fit, the last block says how many were left out.

    Example:
        >>> items = [MessageItem(f"finding {n}", "info", "k") for n in range(5)]
        >>> item_sections(items, 3)[-1]["text"]["text"]
        '_…and 3 more_'
    """
    if room <= 0 or not items:
        return []
    if len(items) <= room:
        return [item_section(item) for item in items]
    shown = room - 1
    more = _section(f"_{ELLIPSIS}and {len(items) - shown} more_")
    return [*(item_section(item) for item in items[:shown]), more]


def item_section(item: MessageItem) -> Block:
    """One finding of a digest: emoji, subject (linked when it has a link), time, text.

    Example:
        >>> item = MessageItem("Churn up", "warning", "k", link="https://pp.example/1")
        >>> item_section(item)["text"]["text"]
        ':warning: *<https://pp.example/1|Churn up>*'
    """
    subject = escape(item.subject)
    if item.link:
        subject = link(item.link, subject)
    line = f"{SEVERITY_EMOJI[item.severity]} *{subject}*"
    if item.occurred_at:
        line += f"  _{escape(item.occurred_at)}_"
    if item.text:
        line += f"\n{mrkdwn(item.text)}"
    return _section(truncate(line, MAX_TEXT_CHARS))


def context_block(message: Message, *, updated: bool = False) -> Block:
    """The small print: severity label, product, link, and the update note.

    Example:
        >>> block = context_block(Message("s", "", "info", "k", "k1", product="Acme"))
        >>> [element["text"] for element in block["elements"]]
        ['*Info*', 'Product: *Acme*']
    """
    texts = [f"*{SEVERITY_LABEL[message.severity]}*"]
    if message.product:
        texts.append(f"Product: *{escape(message.product)}*")
    if message.link:
        texts.append(link(message.link, "View in ProductPilot"))
    if updated:
        texts.append(UPDATED_NOTE)
    elements = [{"type": "mrkdwn", "text": truncate(text, MAX_TEXT_CHARS)} for text in texts]
    return {"type": "context", "elements": elements[:MAX_CONTEXT_ELEMENTS]}


# --- text ------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """``text`` with the three characters Slack's mrkdwn reserves escaped.

    Example:
        >>> escape("a < b & <!channel>")
        'a &lt; b &amp; &lt;!channel&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> str:
    """Markdown-light text as Slack mrkdwn: escaped, Markdown links turned into Slack's.

    Example:
        >>> mrkdwn("See [the report](https://pp.example/r?a=1&b=2) <now>")
        'See <https://pp.example/r?a=1&amp;b=2|the report> &lt;now&gt;'
    """
    return _MARKDOWN_LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", escape(text))


def link(url: str, label: str) -> str:
    """A mrkdwn link; ``label`` is mrkdwn already, the URL is escaped like any text (Slack
    writes ``&amp;`` inside links too).

    Example:
        >>> link("https://pp.example/r?a=1&b=2", "report")
        '<https://pp.example/r?a=1&amp;b=2|report>'
    """
    return f"<{escape(url)}|{label}>"


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in "…" when cut (never inside an
    ``&amp;``-style escape).

    Example:
        >>> truncate("abcdef", 4)
        'abc…'
    """
    if len(text) <= limit:
        return text
    return _PARTIAL_ENTITY.sub("", text[: limit - 1]) + ELLIPSIS


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at the last line break or
    space before the limit (anywhere, for a word longer than the limit).

    Example:
        >>> split_text("aaa bbb ccc", 7)
        ['aaa bbb', 'ccc']
    """
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = max(window.rfind("\n"), window.rfind(" "))
        if cut <= 0:
            cut = len(_PARTIAL_ENTITY.sub("", rest[:limit])) or limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].strip()
    if rest:
        pieces.append(rest)
    return pieces


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
