"""Jira as a ProductPilot :class:`~productpilot.notify.channels.Tracker`: one issue per problem.

An issue opened for a message carries the label ``productpilot-<16 hex digits>``, the start
of the SHA-256 of the message's ``dedupe_key``. Labels are what JQL can search exactly, and a
digest fits Jira's rules for labels (no spaces, at most 255 characters) whatever the key
holds. When the problem comes back, :meth:`JiraTracker.find_open` finds the issue by that
label (unless it is done) and the outbox comments on it instead of opening a twin.

Example:
    >>> dedupe_label("anomaly:signups:checkout")
    'productpilot-c76cb42fdc06928e'
    >>> jql_string('say "hi"')
    '"say \\\\"hi\\\\""'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from integrations.jira.adf import to_adf
from integrations.jira.client import JiraHook
from productpilot.notify.channels import Ticket
from productpilot.notify.message import Message

LABEL_PREFIX = "productpilot-"
#: Jira refuses a summary longer than this, or one with a line break.
MAX_SUMMARY_LENGTH = 255


def dedupe_label(dedupe_key: str) -> str:
    """The label that marks the issue opened for ``dedupe_key``."""
    digest = hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()
    return f"{LABEL_PREFIX}{digest[:16]}"


def jql_string(value: str) -> str:
    """``value`` as a quoted JQL string: whatever it holds stays one value.

    Inside double quotes JQL reads ``\\"`` and ``\\\\`` as the characters themselves, and
    ``\\n``/``\\r`` as line breaks; escaping these is enough for any text to stay inside.
    """
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def open_issue_jql(project: str, dedupe_key: str) -> str:
    """The JQL that finds the newest issue not done in ``project`` marked for ``dedupe_key``."""
    return (
        f"project = {jql_string(project)} AND labels = {jql_string(dedupe_label(dedupe_key))}"
        " AND statusCategory != Done ORDER BY created DESC"
    )


def one_line_summary(subject: str) -> str:
    """``subject`` as a Jira summary: on one line, and short enough."""
    line = " ".join(subject.split())
    if len(line) <= MAX_SUMMARY_LENGTH:
        return line
    return line[: MAX_SUMMARY_LENGTH - 1].rstrip() + "…"


class JiraTracker:
    """Opens a Jira issue per problem, and comments on it while it stays open.

    Args:
        hook: The Jira site to work in.
        issue_type: The type of the issues it opens.
        labels: Labels added to every issue besides the dedupe label (e.g. to filter boards).
        extra_fields: More fields for every new issue, by field id (e.g. a component).

    Example:
        >>> tracker = JiraTracker(JiraCredentials.load("jira").get_hook())  # doctest: +SKIP
        >>> ticket = tracker.find_open("OPS", message.dedupe_key)  # doctest: +SKIP
        >>> if ticket is None:  # doctest: +SKIP
        ...     ticket = tracker.create("OPS", message)
        ... else:
        ...     tracker.comment(ticket, message)
    """

    name = "jira"

    def __init__(
        self,
        hook: JiraHook,
        *,
        issue_type: str = "Task",
        labels: tuple[str, ...] = ("productpilot",),
        extra_fields: Mapping[str, Any] | None = None,
    ) -> None:
        self.hook = hook
        self.issue_type = issue_type
        self.labels = labels
        self.extra_fields = dict(extra_fields or {})

    def find_open(self, project: str, dedupe_key: str) -> Ticket | None:
        """The newest issue in ``project`` marked for ``dedupe_key`` that is not done."""
        issues = self.hook.search(
            open_issue_jql(project, dedupe_key), fields=("summary", "status"), max_results=1
        )
        if not issues:
            return None
        key = str(issues[0]["key"])
        return Ticket(key=key, url=self.hook.browse_url(key))

    def create(self, project: str, message: Message) -> Ticket:
        """Open an issue for ``message`` in ``project``, labelled for its dedupe key."""
        key = self.hook.create_issue(
            project,
            one_line_summary(message.subject),
            to_adf(message),
            issue_type=self.issue_type,
            labels=(*self.labels, dedupe_label(message.dedupe_key)),
            extra_fields=self.extra_fields,
        )
        return Ticket(key=key, url=self.hook.browse_url(key), created=True)

    def comment(self, ticket: Ticket, message: Message) -> None:
        """Add ``message`` to ``ticket``, its subject first: the problem happened again."""
        self.hook.comment(ticket.key, to_adf(message, with_subject=True))

    def transition(self, key: str, status: str) -> None:
        """Move issue ``key`` to ``status`` through the workflow transition that leads there
        (see :meth:`JiraHook.transition`)."""
        self.hook.transition(key, status)
