"""The design-system flow against the Figma, Jira and GitHub fakes: a Figma webhook, stored as
the receiver stores it, becomes one comment on the file's design-tokens issue, linked to the
Jira issues mentioning the file, and one announcement, however often it is delivered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prefect_github import GitHubCredentials
from pydantic import SecretStr
from sqlalchemy import select

from flows.design import design_system_sync_flow
from integrations.figma.credentials import FigmaCredentials
from integrations.figma.webhooks import RECEIVER
from integrations.linear.credentials import LinearCredentials
from integrations.webhooks import WebhookRequest
from productpilot.db.models import Notification, Product
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from productpilot.vendors import RetryPolicy
from productpilot.webhooks.deliveries import record_delivery
from tasks import design as design_tasks
from tasks import suite_dispatch as dispatch_tasks
from tests.fakes.server import serving
from tests.integrations.figma.fake import FILE_KEY, FakeFigma
from tests.integrations.figma.fake import TOKEN as FIGMA_TOKEN
from tests.integrations.github.fake import TOKEN as GITHUB_TOKEN
from tests.integrations.github.fake import FakeGitHub
from tests.integrations.jira.fake import FakeJira
from tests.integrations.linear.fake import API_KEY as LINEAR_KEY
from tests.integrations.linear.fake import FakeLinear
from tests.productpilot.quality.test_design import figma_payload

TOKENS_REPOSITORY = "acme/design-tokens"
NOW = datetime.now(UTC).replace(microsecond=0)
OUTBOX = {
    "channel": "outbox",
    "recipients": ["design"],
    "kinds": ["productpilot.design.*"],
    "group_wait_minutes": 0,
}


@dataclass
class Tools:
    figma: FakeFigma
    github: FakeGitHub
    jira: FakeJira
    linear: FakeLinear

    def comments(self) -> list[str]:
        repository = self.github.repository(TOKENS_REPOSITORY)
        return [c["body"] for thread in repository.comments.values() for c in thread]


@pytest.fixture
def tools() -> Iterator[Tools]:
    figma = FakeFigma(clock=lambda: NOW)
    # The file's history: v1, an autosave, v2 an hour apart, the last an hour ago.
    figma.add_component(
        FILE_KEY, "Button", created_at=NOW - timedelta(days=30), updated_at=NOW - timedelta(hours=1)
    )
    figma.add_component(
        FILE_KEY, "Card", created_at=NOW - timedelta(days=30), updated_at=NOW - timedelta(days=20)
    )
    github = FakeGitHub()
    github.add_repository(TOKENS_REPOSITORY)
    linear = FakeLinear(teams=[("ENG", "Engineering")])
    with serving(figma), serving(github), serving(linear), FakeJira(projects=("OPS",)) as jira:
        yield Tools(figma, github, jira, linear)
    assert figma.violations == []
    assert github.violations == []


@pytest.fixture(autouse=True)
def quick_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch_tasks, "github_hook_options", {"paced": False})
    monkeypatch.setattr(design_tasks, "figma_hook_options", {"policy": RetryPolicy(attempts=1)})


def product_with(tools: Tools | None) -> int:
    integrations: dict[str, Any] = {
        "figma_files": [FILE_KEY],
        "jira_project": "OPS",
        "linear_team": "ENG",
    }
    design: dict[str, Any] = {}
    if tools is not None:
        FigmaCredentials(token=FIGMA_TOKEN, base_url=tools.figma.url).save(
            "figma-design", overwrite=True
        )
        tools.jira.credentials().save("jira-design", overwrite=True)
        LinearCredentials(api_key=LINEAR_KEY, url=tools.linear.graphql_url).save(
            "linear-design", overwrite=True
        )
        GitHubCredentials(token=SecretStr(GITHUB_TOKEN)).save("github-design", overwrite=True)
        integrations |= {
            "blocks": {
                "figma": "figma-design",
                "jira": "jira-design",
                "linear": "linear-design",
                "github": "github-design",
            },
            "api_urls": {"github": tools.github.url},
        }
        design = {"design_tokens_repository": TOKENS_REPOSITORY}
    store = open_store()
    tenant, _ = create_tenant(store, "Design Co")
    with store.tenant_session(tenant.id) as session:
        product = create_product(
            session,
            "Checkout",
            configuration={
                "integrations": integrations,
                "design_and_testing": {"design": design},
                "notification_routes": [OUTBOX],
            },
        )
        return product.id


def deliver(product_id: int, body: dict[str, Any]) -> str:
    """Read and store the delivery as the Figma receiver does; its id."""
    envelope = RECEIVER.read(WebhookRequest.build({}, json.dumps(body).encode(), NOW))
    store = open_store()
    with store.system_session() as session:
        tenant_id = session.get(Product, product_id).tenant_id
    recorded = record_delivery(
        store,
        tenant_id=tenant_id,
        product_id=product_id,
        vendor="figma",
        delivery_id=envelope.delivery_id,
        kind=envelope.kind,
        payload=envelope.payload,
        headers=envelope.headers,
    )
    return recorded.delivery.delivery_id


def run(product_id: int, delivery_id: str) -> dict[str, Any]:
    return design_system_sync_flow(
        product=f"productpilot.product.{product_id}", delivery_id=delivery_id
    )


def notifications(product_id: int) -> list[Notification]:
    with open_store().system_session() as session:
        query = select(Notification).where(Notification.product_id == product_id)
        return list(session.scalars(query))


def test_a_library_publish_is_recorded_linked_and_announced_once(home: Path, tools: Tools) -> None:
    tools.jira.add_issue("OPS", f"Restyle checkout, see figma.com/design/{FILE_KEY}/Checkout")
    tools.jira.add_issue("OPS", "Unrelated")
    tools.linear.add_issue("ENG", "Tokens", description=f"https://www.figma.com/design/{FILE_KEY}")
    product_id = product_with(tools)
    delivery = deliver(product_id, figma_payload("LIBRARY_PUBLISH"))

    first = run(product_id, delivery)
    again = run(product_id, delivery)

    repository = tools.github.repository(TOKENS_REPOSITORY)
    [issue] = repository.issues.values()
    assert issue["title"] == f"Design system: Checkout redesign ({FILE_KEY})"
    assert {label["name"] for label in issue["labels"]} == {"design-system", f"figma:{FILE_KEY}"}
    [comment] = tools.comments()
    assert "| modified | component | Button |" in comment
    assert "| deleted | style | Shadow/Old |" in comment
    assert "OPS-1" in comment
    assert "OPS-2" not in comment
    assert "[ENG-1](https://linear.app/" in comment
    assert first["record"]["status"] == "opened"
    assert (again["record"]["status"], again["announced"]) == ("duplicate", False)
    [note] = notifications(product_id)
    assert note.kind == "productpilot.design.library_published"
    assert note.subject == (
        "Design update: a library publish of Checkout redesign (1 created, 1 modified, 1 deleted)"
    )


def test_named_versions_are_comments_on_the_same_issue_with_the_components_they_changed(
    home: Path, tools: Tools
) -> None:
    product_id = product_with(tools)
    [newest, *_older] = tools.figma.files[FILE_KEY].versions
    named = figma_payload("FILE_VERSION_UPDATE", version_id=newest["id"])
    first = run(product_id, deliver(product_id, named))
    # Figma sends the same kind of event for the next version.
    following = figma_payload(
        "FILE_VERSION_UPDATE", version_id="9999", timestamp="2026-12-01T11:00:00Z"
    )
    run(product_id, deliver(product_id, following))

    [issue] = tools.github.repository(TOKENS_REPOSITORY).issues.values()
    assert issue["comments"] == 2
    # Only Button changed after the version before (an hour earlier); Card did not.
    assert [c["name"] for c in first["version"]["changes"]] == ["Button"]
    assert first["version"]["label"] == "Checkout v2"
    assert first["record"]["status"] == "opened"
    assert len(notifications(product_id)) == 2


def test_an_edit_of_an_already_recorded_version_is_not_recorded_again(
    home: Path, tools: Tools
) -> None:
    product_id = product_with(tools)
    edited = figma_payload("FILE_UPDATE", timestamp="2026-12-01T10:00:00Z")
    edited_again = figma_payload("FILE_UPDATE", timestamp="2026-12-01T10:30:00Z")
    run(product_id, deliver(product_id, edited))
    second = run(product_id, deliver(product_id, edited_again))

    # Both edit sessions ended in the same saved version: one record.
    assert second["record"]["status"] == "duplicate"
    assert len(tools.comments()) == 1


def test_without_tools_the_version_is_announced_from_the_payload_alone(home: Path) -> None:
    product_id = product_with(None)
    synced = run(product_id, deliver(product_id, figma_payload("LIBRARY_PUBLISH")))

    assert synced["record"] == {"status": "not recorded", "reason": "no design_tokens_repository"}
    assert synced["notes"][0] == "version history not read: no Figma credentials block"
    assert len(synced["version"]["changes"]) == 3
    [note] = notifications(product_id)
    assert note.kind == "productpilot.design.library_published"


def test_an_edit_is_not_recorded_when_nothing_tells_what_it_changed(home: Path) -> None:
    product_id = product_with(None)
    synced = run(product_id, deliver(product_id, figma_payload("FILE_UPDATE")))
    assert synced["reason"] == (
        "an edit that changed no published component (no Figma credentials block)"
    )
    assert notifications(product_id) == []


def test_a_file_the_product_does_not_follow_is_left_alone(home: Path) -> None:
    product_id = product_with(None)
    other = figma_payload("LIBRARY_PUBLISH", file_key="0therF1leKey")
    synced = run(product_id, deliver(product_id, other))
    assert synced == {"reason": "the Figma file 0therF1leKey is not followed"}
    assert notifications(product_id) == []
