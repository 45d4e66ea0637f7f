"""The backlog sync's dispatcher: which tools it calls, with which hooks, and the priority
tiers a write-back assigns. Each tool's mapping is specified in
``tests/integrations/<vendor>/test_backlog.py``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from prefect_github import GitHubCredentials
from pydantic import SecretStr

from integrations.backlog import (
    BacklogHooks,
    SourceFields,
    backlog_hooks,
    priority_tiers,
    sync_backlog,
)
from integrations.jira.credentials import JiraCredentials
from integrations.linear.credentials import LinearCredentials
from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.errors import ValidationError
from productpilot.products.configuration import ConfigurationSections, IntegrationMapping
from productpilot.vendors import CredentialError, RetryPolicy
from tests.fakes.server import serving
from tests.integrations.github.fake import TOKEN, FakeGitHub
from tests.integrations.jira.fake import FakeJira

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(attempts=1, base_seconds=0.01, max_seconds=0.01)


def test_tiers_are_score_quartiles_with_ties_sharing_the_higher_tier() -> None:
    scores = {f"K{n}": float(n) for n in range(8)} | {"TIE": 7.0}

    tiers = priority_tiers(scores)

    assert tiers == {
        "K7": 1,
        "TIE": 1,
        "K6": 1,
        "K5": 2,
        "K4": 2,
        "K3": 3,
        "K2": 3,
        "K1": 4,
        "K0": 4,
    }
    assert priority_tiers({"ONLY": 1.0}) == {"ONLY": 1}
    assert priority_tiers({}) == {}


def test_hooks_are_built_from_the_named_blocks_for_configured_tools_only() -> None:
    loaded: list[tuple[str, str]] = []
    blocks: dict[str, Any] = {
        "jira-ops": JiraCredentials(url="https://acme.atlassian.net", email="a@b.c", api_token="t"),
        "linear-eng": LinearCredentials(api_key="lin_api_x"),
        "github-bot": GitHubCredentials(token=SecretStr(TOKEN)),
    }

    def load(block_type: type, name: str) -> Any:
        loaded.append((block_type.__name__, name))
        return blocks[name]

    mapping = IntegrationMapping(
        jira_project="OPS",
        github_repository="acme/shop",
        blocks={"jira": "jira-ops", "linear": "linear-eng", "github": "github-bot"},
    )

    with backlog_hooks(mapping, load) as hooks:
        assert hooks.linear is None  # no linear_team configured
        assert hooks.jira is not None
        assert hooks.jira.credential_name == ("the Jira credentials block 'jira-ops'")
        assert hooks.github is not None
        assert hooks.github.block_name == "github-bot"
    assert loaded == [("JiraCredentials", "jira-ops"), ("GitHubCredentials", "github-bot")]


def test_a_block_that_cannot_be_loaded_is_a_credential_error_naming_it() -> None:
    def load(block_type: type, name: str) -> Any:
        raise CredentialError(block_type.__name__, f"cannot load the block {name!r}: missing")

    mapping = IntegrationMapping(jira_project="OPS", blocks={"jira": "jira-ops"})

    with pytest.raises(CredentialError, match="'jira-ops'"):
        backlog_hooks(mapping, load)


def test_a_configured_tool_without_credentials_is_a_one_line_validation_error(
    store: Store, product: Product
) -> None:
    configuration = ConfigurationSections(integrations=IntegrationMapping(linear_team="ENG"))

    with (
        store.tenant_session(product.tenant_id) as session,
        pytest.raises(ValidationError) as raised,
    ):
        sync_backlog(session, session.get(Product, product.id), configuration, BacklogHooks())

    assert str(raised.value) == (
        "integrations.linear_team is 'ENG' but no linear credentials are available: "
        "name the Block in integrations.blocks.linear"
    )


def test_without_configured_tools_a_sync_calls_nothing_and_reports_nothing(
    store: Store, product: Product
) -> None:
    with store.tenant_session(product.tenant_id) as session:
        report = sync_backlog(
            session, session.get(Product, product.id), ConfigurationSections(), BacklogHooks()
        )

    assert report.to_dict() == {"sources": []}


def test_each_configured_tool_is_synced_under_its_own_source(
    store: Store, product: Product
) -> None:
    github = FakeGitHub()
    github.add_repository("acme/shop")
    with FakeJira(projects=("OPS",)) as jira, serving(github):
        jira.add_issue("OPS", "From Jira")
        github.add_issue("acme/shop", "From GitHub")
        hooks = BacklogHooks(
            jira=jira.credentials().get_hook(policy=POLICY, timeout=5),
            github=backlog_hooks(
                IntegrationMapping(
                    github_repository="acme/shop",
                    blocks={"github": "github-bot"},
                    api_urls={"github": github.url},
                ),
                lambda _type, _name: GitHubCredentials(token=SecretStr(TOKEN)),
            ).github,
        )
        configuration = ConfigurationSections(
            integrations=IntegrationMapping(jira_project="OPS", github_repository="acme/shop")
        )

        with store.tenant_session(product.tenant_id) as session:
            report = sync_backlog(
                session,
                session.get(Product, product.id),
                configuration,
                hooks,
                fields=SourceFields(),
                now=NOW,
            )

    assert [(s["source"], s["project"], s["created"]) for s in report.to_dict()["sources"]] == [
        ("jira", "OPS", 1),
        ("github", "acme/shop", 1),
    ]
    assert report.fetched == 2
