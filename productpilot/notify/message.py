"""What people are told, before any vendor's format: a finding, and the message it becomes.

A :class:`Finding` is what a flow has to say (an anomaly, a failed gate, a daily digest). The
router turns findings into outbox rows; a row's body is a :class:`Message`, which each channel
renders its own way (Slack Block Kit, a Teams Adaptive Card, an HTML e-mail, a Jira issue).

Example:
    >>> message = Message(
    ...     subject="Signups dropped 40%", text="Signups fell below the expected band.",
    ...     severity="critical", kind="productpilot.anomaly.detected",
    ...     idempotency_key="k1", facts=(("metric", "signups"),),
    ... )
    >>> Message.from_dict(message.to_dict()) == message
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for critical (for "at least warning" comparisons)."""
    return SEVERITIES.index(severity)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Finding:
    """Something a flow wants people to know.

    Attributes:
        kind: What happened, usually the event name (``productpilot.anomaly.detected``).
        severity: ``info``, ``warning`` or ``critical``; critical findings are never grouped
            into digests and are escalated when nobody acknowledges them.
        product_id: The product it is about.
        subject: One line, e.g. "Signups 40% below expected on 2026-11-30".
        text: A few sentences of plain text (Markdown-light: ``*bold*`` and links allowed).
        dedupe_key: Findings with the same key are one problem: within the route's window
            only the first is sent, and a ticket is opened once. Default: kind + subject.
        facts: Label/value pairs shown as a table (metric, value, expected band, ...).
        link: Where to see more (a report, a run in the Prefect UI).
        occurred_at: When it happened (default: when it was routed).
        ticket: Whether routes that open tickets (Jira, Linear, GitHub) apply to it.
        resolves: A follow-up saying the problem with this ``dedupe_key`` is over (a gate
            that passes again): it is never folded into the alert it resolves, is sent at
            once into that alert's thread (or as a comment on its open ticket), and goes
            only to recipients who were told about the problem.
    """

    kind: str
    severity: Severity
    product_id: int
    subject: str
    text: str = ""
    dedupe_key: str = ""
    facts: tuple[tuple[str, str], ...] = ()
    link: str | None = None
    occurred_at: datetime | None = None
    ticket: bool = False
    resolves: bool = False

    def key(self) -> str:
        """The dedupe key, defaulting to kind and subject."""
        return self.dedupe_key or f"{self.kind}:{self.subject}"


@dataclass(frozen=True)
class MessageItem:
    """One finding inside a digest."""

    subject: str
    severity: Severity
    kind: str
    text: str = ""
    link: str | None = None
    occurred_at: str | None = None


@dataclass(frozen=True)
class Message:
    """One notification as every channel receives it.

    Attributes:
        subject: One line (e-mail subject, Slack fallback text, card title, ticket summary).
        text: The body in plain text.
        severity: The highest severity it carries.
        kind: The finding's kind, or ``digest`` for a group of findings.
        idempotency_key: Unique per notification; channels that can (Slack metadata, e-mail
            ``Message-ID``, GitHub ``external_id``) attach it so a retry is recognised.
        facts: Label/value pairs.
        link: Where to see more.
        items: The findings of a digest, oldest first.
        dedupe_key: The problem this message is about; follow-ups share it (Slack threads).
        product: The product's name, for the header.
    """

    subject: str
    text: str
    severity: Severity
    kind: str
    idempotency_key: str
    facts: tuple[tuple[str, str], ...] = ()
    link: str | None = None
    items: tuple[MessageItem, ...] = ()
    dedupe_key: str = ""
    product: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_digest(self) -> bool:
        return self.kind == "digest"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, stored as the outbox row's body."""
        return {
            "subject": self.subject,
            "text": self.text,
            "severity": self.severity,
            "kind": self.kind,
            "idempotency_key": self.idempotency_key,
            "facts": [list(pair) for pair in self.facts],
            "link": self.link,
            "items": [item.__dict__ for item in self.items],
            "dedupe_key": self.dedupe_key,
            "product": self.product,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        return cls(
            subject=data["subject"],
            text=data.get("text", ""),
            severity=data.get("severity", "info"),
            kind=data.get("kind", ""),
            idempotency_key=data["idempotency_key"],
            facts=tuple((str(k), str(v)) for k, v in data.get("facts", [])),
            link=data.get("link"),
            items=tuple(MessageItem(**item) for item in data.get("items", [])),
            dedupe_key=data.get("dedupe_key", ""),
            product=data.get("product", ""),
            extra=dict(data.get("extra", {})),
        )
