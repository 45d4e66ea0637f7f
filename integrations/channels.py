"""The channels and trackers a product's configuration names, built from its Prefect Blocks.

``integrations.blocks`` in a product's configuration names the Block document holding each
vendor's credentials; :class:`ConfiguredTargets` is the dispatcher's resolver: asked for a
product and a channel, it loads that Block and wraps it in the vendor's channel or tracker.
A vendor without a configured Block gives ``None``, and the dispatcher keeps the
notification in the outbox ("held"). A Block that is configured but cannot be loaded is a
:class:`~productpilot.vendors.CredentialError` naming it, so the notification fails with a
message that says what to fix.

Example:
    >>> targets = ConfiguredTargets(store)  # doctest: +SKIP
    >>> targets(product_id, "slack")  # doctest: +SKIP
    <integrations.slack.channel.SlackChannel object at ...>
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.notify.dispatch import Target
from productpilot.products import current_configuration
from productpilot.products.configuration import IntegrationMapping
from productpilot.vendors import CredentialError

BlockLoader = Callable[[type, str], Any]


def load_block(block_type: type, name: str) -> Any:
    """``block_type.load(name)`` from the Prefect API, as a CredentialError when it fails."""
    try:
        return block_type.load(name)
    except (ValueError, KeyError) as exc:
        raise CredentialError(
            block_type.__name__, f"cannot load the block {name!r}: {exc}"
        ) from exc


def _slack(mapping: IntegrationMapping, load: BlockLoader) -> Target | None:
    name = mapping.blocks.get("slack")
    if not name:
        return None
    from prefect_slack import SlackCredentials

    from integrations.slack.channel import SlackChannel
    from integrations.slack.client import SlackHook

    options = {"base_url": mapping.api_urls["slack"]} if "slack" in mapping.api_urls else {}
    hook = SlackHook.from_credentials(load(SlackCredentials, name), block_name=name, **options)
    return SlackChannel(hook)


def _email(mapping: IntegrationMapping, load: BlockLoader) -> Target | None:
    name = mapping.blocks.get("email")
    if not name:
        return None
    if not mapping.email_sender:
        raise CredentialError("email", "integrations.email_sender is not configured")
    from prefect_email import EmailServerCredentials

    from integrations.email.channel import EmailChannel

    credentials = load(EmailServerCredentials, name)
    return EmailChannel(credentials, mapping.email_sender, block_name=name)


def _teams(mapping: IntegrationMapping, load: BlockLoader) -> Target | None:
    if not mapping.teams_webhooks:
        return None
    from integrations.teams.channel import TeamsChannel
    from integrations.teams.credentials import TeamsWebhook

    hooks = {
        recipient: load(TeamsWebhook, block).get_hook()
        for recipient, block in mapping.teams_webhooks.items()
    }
    return TeamsChannel(hooks)


def _jira(mapping: IntegrationMapping, load: BlockLoader) -> Target | None:
    name = mapping.blocks.get("jira")
    if not name:
        return None
    from integrations.jira.credentials import JiraCredentials
    from integrations.jira.tracker import JiraTracker

    return JiraTracker(load(JiraCredentials, name).get_hook())


def _linear(mapping: IntegrationMapping, load: BlockLoader) -> Target | None:
    name = mapping.blocks.get("linear")
    if not name:
        return None
    from integrations.linear.credentials import LinearCredentials
    from integrations.linear.tracker import LinearTracker

    return LinearTracker(load(LinearCredentials, name).get_hook())


def _github(mapping: IntegrationMapping, load: BlockLoader) -> Target | None:
    name = mapping.blocks.get("github")
    if not name:
        return None
    from prefect_github import GitHubCredentials

    from integrations.github.client import GitHubHook
    from integrations.github.tracker import GitHubIssuesTracker

    options = {"base_url": mapping.api_urls["github"]} if "github" in mapping.api_urls else {}
    hook = GitHubHook.from_credentials(load(GitHubCredentials, name), block_name=name, **options)
    return GitHubIssuesTracker(hook)


BUILDERS: dict[str, Callable[[IntegrationMapping, BlockLoader], Target | None]] = {
    "slack": _slack,
    "email": _email,
    "teams": _teams,
    "jira": _jira,
    "linear": _linear,
    "github": _github,
}


class ConfiguredTargets:
    """The dispatcher's resolver: (product, channel) → the channel or tracker, or ``None``.

    Built targets are kept for the life of the object (one delivery pass), so a pass loads
    each Block once however many notifications it sends.

    Args:
        store: Where products' configurations are read.
        load: Loads a Block by type and name (default: from the Prefect API); tests pass
            one that returns Blocks pointed at fake servers.
    """

    def __init__(self, store: Store, load: BlockLoader = load_block) -> None:
        self._store = store
        self._load = load
        self._built: dict[tuple[int | None, str], Target | None] = {}

    def __call__(self, product_id: int | None, channel: str) -> Target | None:
        key = (product_id, channel)
        if key not in self._built:
            self._built[key] = self._build(product_id, channel)
        return self._built[key]

    def _build(self, product_id: int | None, channel: str) -> Target | None:
        builder = BUILDERS.get(channel)
        if builder is None or product_id is None:
            return None
        with self._store.system_session() as session:
            product = session.get(Product, product_id)
            if product is None:
                return None
            mapping = current_configuration(session, product).integrations
        return builder(mapping, self._load)
