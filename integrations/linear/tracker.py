"""Linear as a :class:`~productpilot.notify.channels.Tracker`: one issue per problem.

An issue we open carries, as the last line of its description, a marker made from the
message's dedupe key (``productpilot:dedupe:<16 hex digits>``). Before opening another,
:meth:`LinearTracker.find_open` searches the team's issues that are not completed or
canceled for that marker: a problem that comes back gets a comment on its open issue, and
one whose issue was closed gets a new issue.

Example:
    >>> hook = LinearCredentials.load("linear").get_hook()  # doctest: +SKIP
    >>> tracker = LinearTracker(hook)  # doctest: +SKIP
    >>> ticket = tracker.find_open("ENG", key) or tracker.create("ENG", message)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from typing import Any

from integrations.linear.client import CLOSED_STATE_TYPES, LinearHook
from productpilot.notify.channels import Ticket
from productpilot.notify.message import Message, Severity

DEDUPE_MARKER_PREFIX = "productpilot:dedupe:"
#: Linear priorities: 1 urgent, 2 high, 3 medium (0 would be "no priority").
PRIORITY_FOR_SEVERITY: dict[str, int] = {"critical": 1, "warning": 2, "info": 3}
SEVERITY_LABEL: dict[str, str] = {"critical": "Critical", "warning": "Warning", "info": "Info"}


def dedupe_key_of(message: Message) -> str:
    """The message's dedupe key; like :meth:`Finding.key`, kind and subject when unset."""
    return message.dedupe_key or f"{message.kind}:{message.subject}"


def dedupe_marker(dedupe_key: str) -> str:
    """The line that marks an issue as ours for ``dedupe_key``.

    A digest rather than the key itself: keys may hold Markdown or be long, and Linear's
    ``contains`` filter needs an exact substring of the stored description.

    Example:
        >>> dedupe_marker("productpilot.anomaly.detected:signups")
        'productpilot:dedupe:16e322d55564de92'
    """
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()
    return f"{DEDUPE_MARKER_PREFIX}{digest[:16]}"


def open_issue_filter(team_key: str, marker: str) -> dict[str, Any]:
    """The ``IssueFilter`` for the team's not yet closed issues that carry ``marker``."""
    return {
        "team": {"key": {"eq": team_key}},
        "description": {"contains": marker},
        "state": {"type": {"nin": list(CLOSED_STATE_TYPES)}},
    }


class LinearTracker:
    """Opens and comments on Linear issues; a project is a team key (``ENG``).

    Args:
        hook: The Linear hook to call (see :meth:`LinearCredentials.get_hook`).

    Example:
        >>> tracker = LinearTracker(hook)  # doctest: +SKIP
        >>> ticket = tracker.create("ENG", message)  # doctest: +SKIP
        >>> ticket.key, ticket.created  # doctest: +SKIP
        ('ENG-42', True)
        >>> tracker.find_open("ENG", message.dedupe_key).key  # doctest: +SKIP
        'ENG-42'
    """

    name = "linear"

    def __init__(self, hook: LinearHook) -> None:
        self._hook = hook
        # Identifier -> UUID of the issues seen, so a comment right after find_open or create
        # needs no lookup (commentCreate takes the UUID).
        self._issue_ids: dict[str, str] = {}

    def find_open(self, project: str, dedupe_key: str) -> Ticket | None:
        """The team's open issue marked with ``dedupe_key``, or ``None``."""
        found = self._hook.issues(open_issue_filter(project, dedupe_marker(dedupe_key)), first=1)
        if not found:
            return None
        return self._ticket(found[0])

    def create(self, project: str, message: Message) -> Ticket:
        """Open an issue in team ``project`` for ``message``, marked for :meth:`find_open`."""
        team = self._hook.team(project)
        issue = self._hook.create_issue(
            team["id"],
            title=message.subject,
            description=render_markdown(message, marker=dedupe_marker(dedupe_key_of(message))),
            priority=PRIORITY_FOR_SEVERITY.get(message.severity),
        )
        return self._ticket(issue, created=True)

    def comment(self, ticket: Ticket, message: Message) -> None:
        """Add ``message`` to the issue ``ticket`` as a Markdown comment."""
        issue_id = self._issue_ids.get(ticket.key) or self._hook.issue(ticket.key)["id"]
        self._hook.comment(issue_id, render_markdown(message, heading=True))

    def transition(self, key: str, status: str) -> None:
        """Move issue ``key`` (``ENG-42``) to its team's workflow state named ``status``."""
        issue = self._hook.issue(key)
        self._hook.set_state(issue["id"], issue["team"]["id"], status)

    def _ticket(self, issue: dict[str, Any], *, created: bool = False) -> Ticket:
        self._issue_ids[issue["identifier"]] = issue["id"]
        return Ticket(key=issue["identifier"], url=issue.get("url"), created=created)


# --- Markdown ---------------------------------------------------------------------------------


def render_markdown(message: Message, *, marker: str | None = None, heading: bool = False) -> str:
    """``message`` as Linear Markdown: a severity line, the text, facts as a table, a
    digest's findings as a list, the link; ``marker`` as the last line.

    Args:
        message: What to render.
        marker: The dedupe marker line to end with (issue descriptions).
        heading: Start with the subject in bold (comments, which have no title of their own).

    Example:
        >>> print(render_markdown(Message(subject="Signups dropped", text="Below the band.",
        ...     severity="critical", kind="anomaly", idempotency_key="k",
        ...     facts=(("metric", "signups"),))))
        **Critical** · `anomaly`
        <BLANKLINE>
        Below the band.
        <BLANKLINE>
        | Fact | Value |
        | --- | --- |
        | metric | signups |
    """
    blocks: list[str] = []
    if heading:
        blocks.append(f"**{_inline(message.subject)}**")
    about = [f"**{_severity(message.severity)}**", f"`{message.kind}`"]
    if message.product:
        about.append(f"Product: {_inline(message.product)}")
    blocks.append(" · ".join(about))
    if message.text:
        blocks.append(message.text.strip())
    if message.facts:
        rows = [f"| {_cell(label)} | {_cell(value)} |" for label, value in message.facts]
        blocks.append("\n".join(["| Fact | Value |", "| --- | --- |", *rows]))
    if message.items:
        blocks.append("\n".join(_item_line(item) for item in message.items))
    if message.link:
        blocks.append(f"[More details]({message.link})")
    if marker:
        blocks.append(marker)
    return "\n\n".join(blocks)


def _item_line(item: Any) -> str:
    subject = f"[{_inline(item.subject)}]({item.link})" if item.link else _inline(item.subject)
    line = f"- **{_severity(item.severity)}** {subject}"
    if item.occurred_at:
        line += f" ({item.occurred_at})"
    if item.text:
        line += f": {_inline(item.text)}"
    return line


def _severity(severity: Severity | str) -> str:
    return SEVERITY_LABEL.get(severity, severity.capitalize())


def _inline(text: str) -> str:
    """One line: a newline would end a list item or a bold span."""
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|")
