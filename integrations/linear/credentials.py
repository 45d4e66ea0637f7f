"""The Prefect block that holds a Linear API key, and hands out hooks that use it."""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from integrations.linear.client import LINEAR_API_URL, LinearHook


class LinearCredentials(Block):
    """A Linear personal API key, for the flows that open and update Linear issues.

    Attributes:
        api_key: A personal API key (Linear: Settings > Security & access > Personal API keys).
        url: The GraphQL endpoint; only tests point it elsewhere.

    Example:
        Store the key once, then use it from a flow:
        ```python
        from integrations.linear.credentials import LinearCredentials

        LinearCredentials(api_key="lin_api_...").save("linear")
        with LinearCredentials.load("linear").get_hook() as hook:
            team = hook.team("ENG")
        ```
    """

    _block_type_name = "ProductPilot Linear Credentials"
    _documentation_url = "https://linear.app/developers/graphql"

    api_key: SecretStr = Field(default=..., description="A Linear personal API key (lin_api_...).")
    url: str = Field(
        default=LINEAR_API_URL, description="The Linear GraphQL endpoint.", title="GraphQL URL"
    )

    def get_hook(self, **kwargs: Any) -> LinearHook:
        """A :class:`LinearHook` with this key.

        Args:
            **kwargs: Passed on to :class:`LinearHook` (``timeout``, ``policy``, ``sleep``).
        """
        kwargs.setdefault("credential", self.credential_name())
        return LinearHook(self.api_key.get_secret_value(), self.url, **kwargs)

    def credential_name(self) -> str:
        """How errors name this block, so whoever reads them knows what to fix."""
        name = self._block_document_name
        return f"the Linear credentials block '{name}'" if name else "an unsaved Linear block"
