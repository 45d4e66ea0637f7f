"""In-memory channels and trackers for router and dispatcher tests (the real vendors have
their own tests against fake servers in tests/integrations)."""

from __future__ import annotations

from dataclasses import dataclass, field

from productpilot.notify.channels import Delivery, Ticket
from productpilot.notify.message import Message
from productpilot.vendors import VendorError


@dataclass
class RecordingChannel:
    """Records what it is asked to send; ``errors`` are raised by the next sends, in order."""

    name: str = "slack"
    sent: list[tuple[str, Message, Delivery | None]] = field(default_factory=list)
    errors: list[VendorError] = field(default_factory=list)

    def send(self, recipient: str, message: Message, *, thread: Delivery | None = None) -> Delivery:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append((recipient, message, thread))
        return Delivery(external_id=f"{recipient}:{len(self.sent)}", thread_id=None)


@dataclass
class RecoverableRecordingChannel(RecordingChannel):
    """A channel that can tell what it already posted (like Slack's message metadata)."""

    def find_sent(self, recipient: str, message: Message) -> Delivery | None:
        for index, (to, sent, _thread) in enumerate(self.sent, start=1):
            if to == recipient and sent.idempotency_key == message.idempotency_key:
                return Delivery(external_id=f"{recipient}:{index}")
        return None


@dataclass
class RecordingTracker:
    """A ticket tracker with open and closed tickets, found by dedupe key."""

    name: str = "jira"
    tickets: dict[str, dict[str, object]] = field(default_factory=dict)
    comments: list[tuple[str, Message]] = field(default_factory=list)

    def find_open(self, project: str, dedupe_key: str) -> Ticket | None:
        for key, ticket in self.tickets.items():
            if (
                ticket["dedupe_key"] == dedupe_key
                and ticket["open"]
                and ticket["project"] == project
            ):
                return Ticket(key)
        return None

    def create(self, project: str, message: Message) -> Ticket:
        key = f"{project}-{len(self.tickets) + 1}"
        self.tickets[key] = {"dedupe_key": message.dedupe_key, "open": True, "project": project}
        return Ticket(key, created=True)

    def comment(self, ticket: Ticket, message: Message) -> None:
        self.comments.append((ticket.key, message))
