"""The Prefect block that holds a Figma access token, and hands out hooks that use it."""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from integrations.figma.client import FIGMA_API_URL, FigmaHook


class FigmaCredentials(Block):
    """A Figma personal access token, for the flows that read design files and register
    webhooks.

    Attributes:
        token: A personal access token (Figma: Settings > Security > Personal access
            tokens) with the scopes the calls need (``file_versions:read``,
            ``file_comments:write``, ``webhooks:write``...).
        base_url: Where the REST API is; only tests point it elsewhere.

    Example:
        Store the token once, then use it from a flow:
        ```python
        from integrations.figma.credentials import FigmaCredentials

        FigmaCredentials(token="figd_...").save("figma")
        with FigmaCredentials.load("figma").get_hook() as hook:
            versions = hook.file_versions("FILEKEY")
        ```
    """

    _block_type_name = "ProductPilot Figma Credentials"
    _documentation_url = "https://developers.figma.com/docs/rest-api/"

    token: SecretStr = Field(default=..., description="A Figma personal access token.")
    base_url: str = Field(
        default=FIGMA_API_URL, description="The Figma REST API.", title="API base URL"
    )

    def get_hook(self, **kwargs: Any) -> FigmaHook:
        """A :class:`FigmaHook` with this token.

        Args:
            **kwargs: Passed on to :class:`FigmaHook` (``timeout``, ``policy``, ``sleep``).
        """
        kwargs.setdefault("credential", self.credential_name())
        return FigmaHook(self.token.get_secret_value(), self.base_url, **kwargs)

    def credential_name(self) -> str:
        """How errors name this block, so whoever reads them knows what to fix."""
        name = self._block_document_name
        return f"the Figma credentials block '{name}'" if name else "an unsaved Figma block"
