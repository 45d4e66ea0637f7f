"""A :class:`~productpilot.notify.message.Message` as an e-mail: headers that make retries
and follow-ups behave, and a plain-text and an HTML rendering of the same content.

* ``Message-ID`` is derived from the idempotency key (``<key@sender-domain>``), so a send
  retried after a crash carries the same id, and mail stores and clients that drop
  duplicate ids show it once.
* ``In-Reply-To`` and ``References`` point at the earlier e-mail about the same problem,
  so follow-ups thread in mail clients.
* ``Auto-Submitted: auto-generated`` (RFC 3834) keeps out-of-office replies away.
* The body is ``multipart/alternative``: plain text first, then HTML rendered with Jinja2
  with autoescaping on, because a finding's text comes from data we do not control.

Example:
    >>> email = build_email(
    ...     Message(subject="Signups dropped 40%", text="Below the band.", severity="critical",
    ...             kind="productpilot.anomaly.detected", idempotency_key="n-1"),
    ...     sender="ProductPilot <alerts@example.com>", recipient="pm@example.com",
    ... )
    >>> email["Subject"], email["Message-ID"]
    ('[critical] Signups dropped 40%', '<n-1@example.com>')
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from urllib.parse import urlsplit

import jinja2

from productpilot.notify.channels import Delivery
from productpilot.notify.message import Message, MessageItem

#: Characters kept as they are in a Message-ID's left part; others are written ``=XX``
#: (hex of each UTF-8 byte), which keeps distinct keys distinct and the id valid RFC 5322.
_MESSAGE_ID_SAFE = re.compile(r"[A-Za-z0-9_+-]")

_HTML_TEMPLATE = """\
<!DOCTYPE html>
<html>
<body style="margin:0;padding:16px;font-family:Segoe UI,Helvetica,Arial,sans-serif;color:#1f2328">
<p style="margin:0 0 4px;font-size:12px;color:#59636e">{{ context }}</p>
<h1 style="margin:0 0 12px;font-size:20px;color:{{ color }}">{{ message.subject }}</h1>
{% if message.text %}
<p style="margin:0 0 16px;white-space:pre-wrap">{{ message.text }}</p>
{% endif %}
{% if message.facts %}
<table style="border-collapse:collapse;margin:0 0 16px">
{% for label, value in message.facts %}
<tr><th style="text-align:left;padding:4px 12px 4px 0;color:#59636e">{{ label }}</th>\
<td style="padding:4px 0">{{ value }}</td></tr>
{% endfor %}
</table>
{% endif %}
{% if message.items %}
<ul style="margin:0 0 16px;padding-left:20px">
{% for item in message.items %}
<li style="margin:0 0 8px"><strong style="color:{{ colors[item.severity] }}">\
{% if item.link | web_link %}<a href="{{ item.link }}" style="color:inherit">{{ item.subject }}</a>\
{% else %}{{ item.subject }}{% endif %}</strong>
<span style="color:#59636e;font-size:12px">{{ item | item_details }}</span>
{% if item.text %}<br><span style="white-space:pre-wrap">{{ item.text }}</span>{% endif %}
</li>
{% endfor %}
</ul>
{% endif %}
{% if message.link | web_link %}
<p style="margin:16px 0"><a href="{{ message.link }}" style="display:inline-block;\
padding:8px 16px;border-radius:6px;background:#0969da;color:#ffffff;text-decoration:none;\
font-weight:600">View details</a></p>
{% endif %}
</body>
</html>
"""

SEVERITY_COLORS = {"info": "#1f2328", "warning": "#9a6700", "critical": "#d1242f"}


def build_email(
    message: Message,
    *,
    sender: str,
    recipient: str,
    thread: Delivery | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """The e-mail for ``message``, ready for :meth:`smtplib.SMTP.send_message`.

    Args:
        message: The notification.
        sender: The ``From`` address, e.g. ``"ProductPilot <alerts@example.com>"``; its
            domain ends the ``Message-ID``.
        recipient: The ``To`` address (or several, comma-separated).
        thread: The delivery of an earlier e-mail about the same problem, to reply to.
        now: The ``Date`` (default: now, in UTC).

    Returns:
        A ``multipart/alternative`` message with a ``text/plain`` and a ``text/html`` part.

    Example:
        >>> first = Delivery(external_id="<n-1@example.com>", thread_id="<n-1@example.com>")
        >>> again = build_email(
        ...     Message(subject="Signups still low", text="", severity="warning",
        ...             kind="productpilot.anomaly.detected", idempotency_key="n-2"),
        ...     sender="alerts@example.com", recipient="pm@example.com", thread=first,
        ... )
        >>> again["In-Reply-To"], again["References"]
        ('<n-1@example.com>', '<n-1@example.com>')
    """
    email = EmailMessage()
    email["From"] = sender
    email["To"] = recipient
    email["Subject"] = subject_for(message)
    email["Date"] = format_datetime(now or datetime.now(UTC))
    email["Message-ID"] = message_id_for(message.idempotency_key, sender)
    email["Auto-Submitted"] = "auto-generated"
    if thread is not None:
        email["In-Reply-To"] = thread.external_id
        email["References"] = " ".join(references_for(thread))
    email.set_content(render_text(message))
    email.add_alternative(render_html(message), subtype="html")
    return email


def subject_for(message: Message) -> str:
    """``[severity] product: subject`` on one line (mail rules can sort on the prefix)."""
    product = f"{message.product}: " if message.product else ""
    # A line break in a header would be refused (or, worse, start a new header).
    return " ".join(f"[{message.severity}] {product}{message.subject}".split())


def message_id_for(idempotency_key: str, sender: str) -> str:
    """The ``Message-ID`` of the e-mail for ``idempotency_key``, sent by ``sender``.

    Example:
        >>> message_id_for("outbox:42/email", "alerts@example.com")
        '<outbox=3A42=2Femail@example.com>'
    """
    left = "".join(
        char if _MESSAGE_ID_SAFE.fullmatch(char) else "".join(f"={b:02X}" for b in char.encode())
        for char in idempotency_key
    )
    return f"<{left}@{sender_domain(sender)}>"


def sender_domain(sender: str) -> str:
    """The domain of ``sender`` (``"Name <a@example.com>"`` or ``"a@example.com"``).

    Raises:
        ValueError: ``sender`` is not one address with a domain.
    """
    addresses = getaddresses([sender])
    if len(addresses) != 1 or "@" not in addresses[0][1]:
        raise ValueError(f"the sender {sender!r} is not one e-mail address")
    return Address(addr_spec=addresses[0][1]).domain


def references_for(thread: Delivery) -> list[str]:
    """The ``References`` of a reply in ``thread``: its first e-mail, then the one replied to."""
    root = thread.thread_id or thread.external_id
    return [root] if root == thread.external_id else [root, thread.external_id]


def render_text(message: Message) -> str:
    """The plain-text body."""
    lines = [context_line(message), message.subject, ""]
    if message.text:
        lines += [message.text, ""]
    if message.facts:
        width = max(len(label) for label, _ in message.facts)
        lines += [f"{label.ljust(width)}  {value}" for label, value in message.facts]
        lines.append("")
    for item in message.items:
        lines.append(f"- [{item.severity}] {item.subject} ({_item_details(item)})")
        lines += [f"  {line}" for line in item.text.splitlines()]
        if _is_web_link(item.link):
            lines.append(f"  {item.link}")
    if message.items:
        lines.append("")
    if _is_web_link(message.link):
        lines += [f"View details: {message.link}", ""]
    return "\n".join(lines)


def render_html(message: Message) -> str:
    """The HTML body (every value from the message escaped)."""
    return _HTML.render(
        message=message,
        context=context_line(message),
        color=SEVERITY_COLORS[message.severity],
        colors=SEVERITY_COLORS,
    )


def context_line(message: Message) -> str:
    """What the e-mail is, above its title: ``Critical · Checkout``."""
    return " · ".join(part for part in (message.severity.capitalize(), message.product) if part)


def _item_details(item: MessageItem) -> str:
    return " · ".join(part for part in (item.kind, item.occurred_at or "") if part)


def _is_web_link(link: str | None) -> bool:
    """Only http(s) links are rendered as links: another scheme from a finding is dropped."""
    return link is not None and urlsplit(link).scheme in ("http", "https")


def _html_template() -> jinja2.Template:
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    environment.filters["web_link"] = _is_web_link
    environment.filters["item_details"] = _item_details
    return environment.from_string(_HTML_TEMPLATE)


_HTML = _html_template()
