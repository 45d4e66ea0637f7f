"""The Prefect block that holds a Jira Cloud login, and makes the hook that uses it.

No official Prefect Jira collection exists, so this block follows ``prefect_slack``'s
``SlackCredentials``: the secret in a ``SecretStr``, a method that returns the client.

Example:
    >>> credentials = JiraCredentials(
    ...     url="https://acme.atlassian.net", email="bot@acme.com", api_token="api-token"
    ... )
    >>> credentials.get_hook().credential_name
    'an unsaved Jira credentials block'
"""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from integrations.jira.client import JiraHook


class JiraCredentials(Block):
    """A Jira Cloud site and the account ProductPilot acts as there.

    Jira Cloud's REST API takes basic auth with the account's e-mail and an API token
    (https://id.atlassian.com/manage-profile/security/api-tokens).

    Attributes:
        url: The site, e.g. ``https://acme.atlassian.net``.
        email: The account's e-mail address.
        api_token: An API token of that account.

    Example:
        Load saved credentials and make the hook:
        ```python
        from integrations.jira.credentials import JiraCredentials

        hook = JiraCredentials.load("jira").get_hook()
        hook.comment("OPS-12", adf_document)
        ```
    """

    _block_type_name = "ProductPilot Jira Credentials"
    _description = "A Jira Cloud site, and the e-mail and API token ProductPilot signs in with."

    url: str = Field(
        default=...,
        description="The Jira Cloud site, e.g. https://acme.atlassian.net.",
    )
    email: str = Field(
        default=...,
        description="The e-mail address of the Atlassian account the API token belongs to.",
    )
    api_token: SecretStr = Field(
        default=...,
        description="An API token of that account.",
    )

    def get_hook(self, **kwargs: Any) -> JiraHook:
        """A :class:`~integrations.jira.client.JiraHook` signed in with these credentials.

        Args:
            **kwargs: Passed to the hook: ``policy``, ``sleep``, ``timeout`` (and
                ``credential_name``, which defaults to this block's name).

        Example:
            >>> JiraCredentials(
            ...     url="https://acme.atlassian.net", email="bot@acme.com", api_token="t"
            ... ).get_hook(timeout=10).url
            'https://acme.atlassian.net'
        """
        kwargs.setdefault("credential_name", self.credential_name)
        return JiraHook(self.url, self.email, self.api_token.get_secret_value(), **kwargs)

    @property
    def credential_name(self) -> str:
        """How a refused login names this block, so the message says what to fix."""
        # The name is known once the block was saved or loaded.
        name = self._block_document_name
        return (
            f"the Jira credentials block '{name}'" if name else "an unsaved Jira credentials block"
        )
