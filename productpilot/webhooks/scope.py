"""Whether an event belongs to the product whose webhook URL received it.

One webhook can cover more than the product: a GitHub organisation webhook sends every
repository's events, a Jira admin webhook every project's. When the product's configuration
names its place in the tool (``integrations.github_repository``, ``jira_project``,
``linear_team``, ``figma_files``), events about anything else are stored but not emitted.
Without such a mapping, or when an event does not say where it comes from, it belongs.

The check reads the normalised payload's fields (``repository``, ``project_key``,
``team_key``/``team_id``, ``file_key``), which are part of ProductPilot's event contract
(docs/webhooks.md).

Example:
    >>> mapping = IntegrationMapping(github_repository="acme/web")
    >>> out_of_scope("github", {"repository": "acme/web"}, mapping) is None
    True
    >>> out_of_scope("github", {"repository": "acme/api"}, mapping)
    "repository 'acme/api' is not this product's ('acme/web')"
"""

from __future__ import annotations

from typing import Any

from productpilot.products.configuration import IntegrationMapping


def _same(a: str, b: str) -> bool:
    # Repository names, project and team keys are case-insensitive in their tools.
    return a.casefold() == b.casefold()


def out_of_scope(vendor: str, payload: dict[str, Any], mapping: IntegrationMapping) -> str | None:
    """Why the event is not about this product, or ``None`` when it is."""
    if vendor == "github":
        return _single("repository", payload.get("repository"), mapping.github_repository)
    if vendor == "jira":
        return _single("Jira project", payload.get("project_key"), mapping.jira_project)
    if vendor == "linear":
        team = mapping.linear_team
        sent = [value for value in (payload.get("team_key"), payload.get("team_id")) if value]
        # linear_team may name the team by key (ENG) or by id; either matches.
        if team and sent and not any(_same(value, team) for value in sent):
            return f"Linear team {sent[0]!r} is not this product's ({team!r})"
        return None
    if vendor == "figma":
        file_key = payload.get("file_key")
        if mapping.figma_files and file_key and file_key not in mapping.figma_files:
            return f"Figma file {file_key!r} is not one of this product's files"
        return None
    return None


def _single(what: str, sent: Any, configured: str | None) -> str | None:
    if not configured or not isinstance(sent, str) or _same(sent, configured):
        return None
    return f"{what} {sent!r} is not this product's ({configured!r})"
