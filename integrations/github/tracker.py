"""GitHub issues as a ProductPilot :class:`~productpilot.notify.channels.Tracker`.

A project is a repository, ``owner/name``; a ticket is ``owner/name#<number>``. Each issue the
tracker opens carries the label ``productpilot:<12 hex>``, the start of the SHA-256 of the
message's dedupe key: a label is what GitHub can filter open issues by at once (its search
index lags behind), and a hash keeps any dedupe key within GitHub's 50 characters of a label
name. GitHub creates the label with the first issue that uses it.

The token must be allowed to set labels on new issues (push access, or the "Issues: write"
permission of a fine-grained token): GitHub silently drops the labels of anyone else, and an
unlabelled issue cannot be found again, so each recurrence would open a new one. The tracker
logs a warning when that happens.

Example:
    >>> dedupe_label("productpilot.anomaly.detected:signups")
    'productpilot:16e322d55564'
"""

from __future__ import annotations

import hashlib
import logging
import re

from integrations.github.client import GitHubHook
from productpilot.notify.channels import Ticket
from productpilot.notify.message import Message

LOGGER = logging.getLogger(__name__)
LABEL_PREFIX = "productpilot:"
#: Hex digits of the dedupe key's SHA-256 in the label: 48 bits, no collision in practice.
LABEL_HASH_LENGTH = 12

# Slack-style single-asterisk bold ("*bold*", as Finding.text is written) is italic on GitHub.
_SINGLE_STAR_BOLD = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")


def dedupe_label(dedupe_key: str) -> str:
    """The label that marks the issues about ``dedupe_key``.

    Example:
        >>> dedupe_label("gate:checkout")
        'productpilot:922f192832b2'
    """
    digest = hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()
    return LABEL_PREFIX + digest[:LABEL_HASH_LENGTH]


def message_dedupe_key(message: Message) -> str:
    """The message's dedupe key, or kind and subject as :meth:`Finding.key` defaults it."""
    return message.dedupe_key or f"{message.kind}:{message.subject}"


class GitHubIssuesTracker:
    """Opens one GitHub issue per problem and comments on it when the problem recurs.

    Args:
        hook: The GitHub connection; its errors (:mod:`productpilot.vendors`) pass through.

    Example:
        ```python
        tracker = GitHubIssuesTracker(hook)
        ticket = tracker.find_open("acme/shop", message.dedupe_key)
        if ticket is None:
            ticket = tracker.create("acme/shop", message)
        else:
            tracker.comment(ticket, message)
        ```
    """

    name = "github"

    def __init__(self, hook: GitHubHook) -> None:
        self._hook = hook

    def find_open(self, project: str, dedupe_key: str) -> Ticket | None:
        """The oldest open issue of ``project`` labelled for ``dedupe_key``, if any."""
        issues = self._hook.search_open_issues(project, dedupe_label(dedupe_key))
        if not issues:
            return None
        oldest = min(issues, key=lambda issue: issue["number"])
        return Ticket(key=f"{project}#{oldest['number']}", url=oldest["html_url"])

    def create(self, project: str, message: Message) -> Ticket:
        """Open an issue titled with the subject, labelled for the message's dedupe key."""
        label = dedupe_label(message_dedupe_key(message))
        issue = self._hook.create_issue(
            project, message.subject, render_issue_body(message), labels=[label]
        )
        if label not in issue["labels"]:
            LOGGER.warning(
                "GitHub dropped the label %s of %s#%s: the token of %s may not set labels, "
                "so the next occurrence will open another issue",
                label,
                project,
                issue["number"],
                self._hook.credential,
            )
        return Ticket(key=f"{project}#{issue['number']}", url=issue["html_url"], created=True)

    def comment(self, ticket: Ticket, message: Message) -> None:
        """Add ``message`` to the issue ``ticket`` names (``owner/name#<number>``)."""
        project, number = parse_ticket_key(ticket.key)
        self._hook.comment_issue(project, number, render_comment(message))


def parse_ticket_key(key: str) -> tuple[str, int]:
    """``("owner/name", 12)`` from ``"owner/name#12"``.

    Raises:
        ValueError: ``key`` is not a GitHub issue key.

    Example:
        >>> parse_ticket_key("acme/shop#12")
        ('acme/shop', 12)
    """
    project, _, number = key.rpartition("#")
    if "/" not in project or not number.isdigit():
        raise ValueError(f"a GitHub issue key is 'owner/name#<number>', not {key!r}")
    return project, int(number)


def render_issue_body(message: Message) -> str:
    """The issue body, in GitHub Markdown: the text, a table of facts, the digest's
    findings, the link, and a hidden footer with the keys for whoever debugs a twin.

    Example:
        >>> print(render_issue_body(Message(
        ...     subject="s", text="Signups *fell*.", severity="critical", kind="k",
        ...     idempotency_key="n1", facts=(("metric", "signups"),), dedupe_key="d",
        ... )))
        **Severity:** critical · **Kind:** `k`
        <BLANKLINE>
        Signups **fell**.
        <BLANKLINE>
        | Fact | Value |
        |---|---|
        | metric | signups |
        <BLANKLINE>
        <!-- productpilot dedupe_key=d idempotency_key=n1 -->
    """
    sections = [_header(message)]
    if message.text:
        sections.append(_markdown(message.text))
    if message.facts:
        sections.append(_facts_table(message.facts))
    if message.items:
        sections.append(_digest_items(message))
    if message.link:
        sections.append(f"[More details]({message.link})")
    sections.append(_footer(message))
    return "\n\n".join(sections)


def render_comment(message: Message) -> str:
    """A comment for a recurrence: the subject in bold (comments have no title), then the
    body as :func:`render_issue_body` renders it."""
    return f"**{_escape_inline(message.subject)}**\n\n{render_issue_body(message)}"


def _header(message: Message) -> str:
    parts = [f"**Severity:** {message.severity}", f"**Kind:** `{message.kind}`"]
    if message.product:
        parts.append(f"**Product:** {_escape_inline(message.product)}")
    return " · ".join(parts)


def _facts_table(facts: tuple[tuple[str, str], ...]) -> str:
    rows = [f"| {_cell(label)} | {_cell(value)} |" for label, value in facts]
    return "\n".join(["| Fact | Value |", "|---|---|", *rows])


def _digest_items(message: Message) -> str:
    lines = []
    for item in message.items:
        line = f"- **{item.severity}** {_escape_inline(item.subject)}"
        if item.text:
            line += f": {_markdown(item.text).replace(chr(10), ' ')}"
        if item.link:
            line += f" ([details]({item.link}))"
        lines.append(line)
    return "\n".join(lines)


def _footer(message: Message) -> str:
    # An HTML comment is invisible on GitHub but kept in the body; "--" would end it early.
    keys = f"dedupe_key={message_dedupe_key(message)} idempotency_key={message.idempotency_key}"
    return f"<!-- productpilot {keys.replace('--', '- -')} -->"


def _markdown(text: str) -> str:
    return _SINGLE_STAR_BOLD.sub(r"**\1**", text)


def _cell(value: str) -> str:
    """A table cell: a ``|`` would end it, a line break would end the row."""
    return _escape_inline(value).replace("|", "\\|").replace("\n", "<br>")


def _escape_inline(value: str) -> str:
    """Text shown as is: no accidental Markdown or HTML from a subject or a value."""
    return re.sub(r"([\\`*_<>\[\]])", r"\\\1", value)
