"""Slack as a notification :class:`~productpilot.notify.channels.Channel`.

A recipient is a channel name (``#product-alerts``), a conversation id (``C0ALERTS01``) or a
person's e-mail address, who gets a direct message from the app. Every message carries Slack
message metadata::

    {"event_type": "productpilot_notification",
     "event_payload": {"idempotency_key": "...", "dedupe_key": "..."}}

so :meth:`SlackChannel.find_sent` can tell, after a crash between Slack's answer and the
outbox's record of it, that a notification is already there, and the retry does not post it
twice. A follow-up about the same problem (``thread``: the first delivery) is posted as a
reply in that message's thread, and the first message is updated to the latest state, so the
channel shows one alert per problem with its history underneath.

Example:
    >>> channel = SlackChannel(SlackHook.from_credentials(SlackCredentials(token="xoxb-1")))
    >>> channel.name
    'slack'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from prefect_slack import SlackCredentials  # noqa: F401 (used by the doctest)
from slack_sdk.models.metadata import Metadata

from integrations.slack.client import PostedMessage, SlackHook
from integrations.slack.messages import render
from productpilot.notify.channels import Delivery
from productpilot.notify.message import Message
from productpilot.vendors import RejectedRequestError

METADATA_EVENT_TYPE = "productpilot_notification"
#: How far back ``find_sent`` looks: longer than the outbox keeps retrying a notification.
DEFAULT_RECOVERY_WINDOW = timedelta(days=7)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def notification_metadata(message: Message) -> Metadata:
    """The Slack metadata that marks a posted ``message`` as ours, findable by its keys.

    Example:
        >>> metadata = notification_metadata(Message("s", "", "info", "k", "k1", dedupe_key="d1"))
        >>> metadata.event_type, metadata.event_payload
        ('productpilot_notification', {'idempotency_key': 'k1', 'dedupe_key': 'd1'})
    """
    return Metadata(
        event_type=METADATA_EVENT_TYPE,
        event_payload={
            "idempotency_key": message.idempotency_key,
            "dedupe_key": message.dedupe_key,
        },
    )


class SlackChannel:
    """Posts notifications to Slack channels and people, threading follow-ups.

    Args:
        hook: The Slack Web API client.
        recovery_window: How far back :meth:`find_sent` searches a conversation.
        clock: The current time (tests fix it).

    Example:
        >>> hook = SlackHook.from_credentials(SlackCredentials(token="xoxb-1"))
        >>> channel = SlackChannel(hook)
        >>> delivery = channel.send("#product-alerts", message)  # doctest: +SKIP
        >>> channel.send("#product-alerts", follow_up, thread=delivery)  # doctest: +SKIP
        Delivery(external_id='C0ALERTS01:1785000002.000200', thread_id='1785000001.000100')
    """

    name = "slack"

    def __init__(
        self,
        hook: SlackHook,
        *,
        recovery_window: timedelta = DEFAULT_RECOVERY_WINDOW,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._hook = hook
        self._recovery_window = recovery_window
        self._clock = clock
        # Ids of names and addresses already looked up: they do not change within a run, and
        # Slack rate-limits the lookups (conversations.list, users.lookupByEmail) tightly.
        self._conversation_ids: dict[str, str] = {}
        self._user_ids: dict[str, str] = {}

    def send(self, recipient: str, message: Message, *, thread: Delivery | None = None) -> Delivery:
        """Post ``message`` to ``recipient``, or into ``thread`` when it is a follow-up.

        Args:
            recipient: ``#channel-name``, a conversation id, or an e-mail address.
            message: The notification.
            thread: The first delivery about the same problem: the message is posted as a
                reply in its thread (in the conversation it is in), and the first message is
                updated to show the latest state.

        Returns:
            ``external_id`` ``<conversation id>:<ts>``; ``thread_id`` the thread's root
            ``ts`` (the message's own for a new thread).

        Raises:
            productpilot.vendors.VendorError: Slack refused or could not be reached.
        """
        rendered = render(message)
        metadata = notification_metadata(message)
        if thread is not None:
            root = thread_root(thread)
            reply = self._hook.post_message(
                root.channel_id,
                rendered.text,
                rendered.blocks,
                thread_ts=root.ts,
                metadata=metadata,
            )
            latest = render(message, updated=True)
            self._hook.update_message(root.channel_id, root.ts, latest.text, latest.blocks)
            return Delivery(external_id=reply.external_id, thread_id=root.ts)
        posted = self._hook.post_message(
            self._destination(recipient), rendered.text, rendered.blocks, metadata=metadata
        )
        self._conversation_ids.setdefault(recipient, posted.channel_id)
        return Delivery(external_id=posted.external_id, thread_id=posted.ts)

    def find_sent(self, recipient: str, message: Message) -> Delivery | None:
        """The delivery of ``message`` if an earlier attempt posted it, found by its
        idempotency key in the conversation's recent history, or, for a follow-up, among the
        replies to the latest message about the same problem (its ``dedupe_key``).

        Raises:
            productpilot.vendors.VendorError: Slack refused or could not be reached;
                ``RejectedRequestError`` for a channel name that does not exist.
        """
        channel_id = self._conversation_id(recipient)
        oldest = (self._clock() - self._recovery_window).timestamp()
        key = message.idempotency_key
        found = self._hook.find_message_by_metadata(
            channel_id, METADATA_EVENT_TYPE, "idempotency_key", key, oldest=oldest
        )
        if found is not None:
            return Delivery(external_id=found.external_id, thread_id=found.ts)
        if not message.dedupe_key:
            return None
        root = self._hook.find_message_by_metadata(
            channel_id, METADATA_EVENT_TYPE, "dedupe_key", message.dedupe_key, oldest=oldest
        )
        if root is None:
            return None
        reply = self._hook.find_reply_by_metadata(
            channel_id, root.ts, METADATA_EVENT_TYPE, "idempotency_key", key
        )
        if reply is None:
            return None
        return Delivery(external_id=reply.external_id, thread_id=root.ts)

    # --- recipients -------------------------------------------------------------------------

    def _destination(self, recipient: str) -> str:
        """What chat.postMessage takes for ``recipient``: Slack resolves channel names
        itself and posts to a user id in the app's direct message with that user."""
        if recipient in self._conversation_ids:
            return self._conversation_ids[recipient]
        if is_email(recipient):
            return self._user_id(recipient)
        return recipient

    def _conversation_id(self, recipient: str) -> str:
        """The conversation id of ``recipient``, which conversations.history needs."""
        if recipient in self._conversation_ids:
            return self._conversation_ids[recipient]
        if is_email(recipient):
            conversation_id = self._hook.open_direct_message(self._user_id(recipient))
        elif recipient.startswith("#"):
            found = self._hook.find_channel_id(recipient)
            if found is None:
                raise RejectedRequestError("slack", f"no channel named {recipient}")
            conversation_id = found
        else:
            conversation_id = recipient
        self._conversation_ids[recipient] = conversation_id
        return conversation_id

    def _user_id(self, email: str) -> str:
        if email not in self._user_ids:
            self._user_ids[email] = self._hook.lookup_user_by_email(email)
        return self._user_ids[email]


def thread_root(thread: Delivery) -> PostedMessage:
    """The thread's first message, from a delivery's ``<conversation id>:<ts>`` and
    ``thread_id``.

    Example:
        >>> thread_root(Delivery("C0ALERTS01:1785000001.000100", thread_id="1785000001.000100"))
        PostedMessage(channel_id='C0ALERTS01', ts='1785000001.000100')
    """
    channel_id, _, ts = thread.external_id.partition(":")
    if not channel_id or not (thread.thread_id or ts):
        raise ValueError(f"not a Slack delivery: {thread.external_id!r}")
    return PostedMessage(channel_id=channel_id, ts=thread.thread_id or ts)


def is_email(recipient: str) -> bool:
    """Whether ``recipient`` is an e-mail address (rather than a channel).

    Example:
        >>> is_email("ada@example.com"), is_email("#alerts")
        (True, False)
    """
    return bool(_EMAIL.match(recipient))
