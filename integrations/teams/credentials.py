"""The Prefect block holding a Teams webhook URL (there is no official Teams block to reuse).

Example:
    >>> block = TeamsWebhook(url="https://example.webhook.office.com/webhookb2/abc")
    >>> block.get_hook(block_name="ops-alerts")
    TeamsHook(block_name='ops-alerts')
"""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from integrations.teams.client import TeamsHook


class TeamsWebhook(Block):
    """A Teams channel's webhook URL, for posting Adaptive Cards into that channel.

    Either a classic incoming-webhook URL (``https://<tenant>.webhook.office.com/...``) or
    the HTTP URL of a Power Automate "Workflows" flow that posts to a channel (the successor
    Microsoft recommends since it retired Office 365 connectors). Whoever holds the URL can
    post to the channel, so it is a secret.

    Attributes:
        url: The webhook or Workflows URL.

    Example:
        Post a card to the channel behind the block ``ops-alerts``:
        ```python
        from integrations.teams.cards import render_card
        from integrations.teams.credentials import TeamsWebhook

        with TeamsWebhook.load("ops-alerts").get_hook() as hook:
            hook.post_card(render_card(message))
        ```
    """

    _block_type_name = "ProductPilot Teams Webhook"

    url: SecretStr = Field(
        default=...,
        title="Webhook URL",
        description="A Teams incoming-webhook URL or a Power Automate Workflows URL.",
        examples=["https://contoso.webhook.office.com/webhookb2/..."],
    )

    def get_hook(self, **kwargs: Any) -> TeamsHook:
        """A :class:`~integrations.teams.client.TeamsHook` posting to :attr:`url`.

        Args:
            **kwargs: Passed to :class:`~integrations.teams.client.TeamsHook` (``timeout``,
                ``policy``, ``sleep``, ``client``); ``block_name`` defaults to the name
                the block was saved under.
        """
        kwargs.setdefault("block_name", self._block_document_name or "teams")
        return TeamsHook(self.url.get_secret_value(), **kwargs)
