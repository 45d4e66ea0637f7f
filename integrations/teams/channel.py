"""The Teams channel: delivers outbox messages as Adaptive Cards through named webhooks.

A route's recipient for Teams is the *name* of a configured webhook (usually the name of its
:class:`~integrations.teams.credentials.TeamsWebhook` block), never the URL itself, so
routes can be shown and stored without leaking secrets.

Delivery through Teams webhooks is **at least once**. A webhook answers neither with an id
of the posted message nor lets anything look messages up later, so this channel is not a
:class:`~productpilot.notify.channels.RecoverableChannel`: when a worker crashes between
Teams' answer and the outbox's record of it, the retry posts the card a second time. Nor do
webhooks post into threads: a follow-up about the same problem is a new card.

Example:
    >>> channel = TeamsChannel({})
    >>> channel.name
    'teams'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.teams.cards import render_card
from integrations.teams.client import VENDOR, TeamsHook
from integrations.teams.credentials import TeamsWebhook
from productpilot.notify.channels import Delivery
from productpilot.notify.message import Message
from productpilot.vendors import RejectedRequestError


class TeamsChannel:
    """Posts messages into Teams channels, one configured webhook per recipient name.

    Args:
        hooks: The webhooks messages can go to, by the name routes use as recipient.

    Example:
        ```python
        channel = TeamsChannel.from_blocks(
            {"ops-alerts": TeamsWebhook.load("ops-alerts")}, policy=RetryPolicy(attempts=3)
        )
        delivery = channel.send("ops-alerts", message)
        ```
    """

    name = "teams"

    def __init__(self, hooks: Mapping[str, TeamsHook]) -> None:
        self._hooks = dict(hooks)

    @classmethod
    def from_blocks(cls, blocks: Mapping[str, TeamsWebhook], **hook_options: Any) -> TeamsChannel:
        """A channel with a hook for each of ``blocks`` (by recipient name).

        Args:
            blocks: The webhook blocks by the name routes use.
            **hook_options: Passed to every hook (``timeout``, ``policy``, ``sleep``).
        """
        return cls(
            {
                name: block.get_hook(block_name=block._block_document_name or name, **hook_options)
                for name, block in blocks.items()
            }
        )

    def close(self) -> None:
        """Close every hook's HTTP client."""
        for hook in self._hooks.values():
            hook.close()

    def send(self, recipient: str, message: Message, *, thread: Delivery | None = None) -> Delivery:
        """Post ``message`` as a card through the webhook named ``recipient``.

        Args:
            recipient: The name of a configured webhook.
            message: The notification.
            thread: Ignored: Teams webhooks cannot reply in a thread.

        Returns:
            The delivery, identified by the message's idempotency key (Teams gives no id).

        Raises:
            productpilot.vendors.RejectedRequestError: no webhook is configured under
                ``recipient``, or Teams refused the card.
            productpilot.vendors.VendorError: any other failure of the post.
        """
        hook = self._hooks.get(recipient)
        if hook is None:
            known = ", ".join(sorted(self._hooks)) or "none"
            raise RejectedRequestError(
                VENDOR, f"no Teams webhook is configured as {recipient!r} (configured: {known})"
            )
        hook.post_card(render_card(message))
        return Delivery(external_id=message.idempotency_key)
