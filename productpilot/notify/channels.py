"""The interfaces the outbox delivers through. ``integrations/`` implements them; the core only
knows these shapes (dependencies point inward).

A :class:`Channel` posts a message to a recipient (Slack, Teams, e-mail). A :class:`Tracker`
opens tickets (Jira, Linear, GitHub issues) and is asked first whether an open ticket for the
same problem exists, so a recurring finding gets a comment rather than a twin.

Both raise :mod:`productpilot.vendors` errors; the outbox decides from them whether the
notification is retried later or has failed for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from productpilot.notify.message import Message


@dataclass(frozen=True)
class Delivery:
    """Where a sent message landed.

    Attributes:
        external_id: The vendor's id of the message (Slack ``<channel>:<ts>``, an e-mail's
            ``Message-ID``, a Jira issue key), kept to update or thread on it later.
        thread_id: The thread later messages about the same problem go into, if the vendor
            has threads (Slack: the first message's ``ts``).
        url: A link to it, where the vendor gives one.
    """

    external_id: str
    thread_id: str | None = None
    url: str | None = None


@runtime_checkable
class Channel(Protocol):
    """Posts messages to people (``name`` is the route's channel: slack, teams, email)."""

    name: str

    def send(self, recipient: str, message: Message, *, thread: Delivery | None = None) -> Delivery:
        """Post ``message`` to ``recipient`` (a Slack channel, a Teams webhook name, an
        address). ``thread`` is an earlier delivery about the same problem: channels with
        threads reply in it (and may update the original), others ignore it.

        Raises:
            productpilot.vendors.VendorError: the vendor refused or could not be reached.
        """
        ...


@runtime_checkable
class RecoverableChannel(Channel, Protocol):
    """A channel that can tell whether a message was already posted, by its idempotency key.

    The outbox asks before re-sending a notification whose previous attempt crashed between
    the vendor's answer and the outbox's record of it, so a retry never posts twice.
    """

    def find_sent(self, recipient: str, message: Message) -> Delivery | None: ...


@dataclass(frozen=True)
class Ticket:
    """A ticket in a tracker: ``key`` such as ``OPS-12``, ``ENG-7`` or ``owner/repo#3``."""

    key: str
    url: str | None = None
    created: bool = False


@runtime_checkable
class Tracker(Protocol):
    """Opens tickets for problems, once per problem (``name``: jira, linear, github)."""

    name: str

    def find_open(self, project: str, dedupe_key: str) -> Ticket | None:
        """An open (not done, not cancelled) ticket in ``project`` marked with ``dedupe_key``."""
        ...

    def create(self, project: str, message: Message) -> Ticket:
        """Open a ticket for ``message``, marked with its ``dedupe_key`` for ``find_open``."""
        ...

    def comment(self, ticket: Ticket, message: Message) -> None:
        """Add ``message`` to an existing ticket (the problem happened again)."""
        ...


@runtime_checkable
class TransitioningTracker(Tracker, Protocol):
    """A tracker that can also move an issue to another status (Jira, Linear): what the
    development flows' workflow rules ask for (a pull request opened → "In Review")."""

    def transition(self, key: str, status: str) -> None:
        """Move issue ``key`` (``PAY-12``, ``ENG-42``) to the status named ``status``.

        Raises:
            productpilot.vendors.RejectedRequestError: no way leads to that status.
        """
        ...
