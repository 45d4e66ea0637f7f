"""A GitHub repository's issues mirrored into the backlog, and priority labels written back:
the real PyGithub against :class:`FakeGitHub`, every request checked against GitHub's
documented REST shapes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prefect_github import GitHubCredentials
from pydantic import SecretStr
from sqlalchemy import select

from integrations.backlog import BacklogHooks, SourceFields, sync_backlog, write_back
from integrations.github.backlog import fetch_github_backlog
from integrations.github.client import GitHubHook
from productpilot.db.models import BacklogItem, Product
from productpilot.db.store import Store
from productpilot.errors import ValidationError
from productpilot.products.configuration import (
    ConfigurationSections,
    IntegrationMapping,
    PlanningSettings,
)
from productpilot.vendors import CredentialError, RetryPolicy
from tests.fakes.server import serving
from tests.integrations.github.fake import TOKEN, FakeGitHub

REPO = "acme/shop"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SINCE = datetime(2026, 6, 4, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(attempts=2, base_seconds=0.01, max_seconds=0.01)
FIELDS = SourceFields(github_input_labels={"impact": "impact"})
CONFIGURATION = ConfigurationSections(
    integrations=IntegrationMapping(github_repository=REPO, blocks={"github": "github-bot"}),
    planning=PlanningSettings(write_back=True),
)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub(per_page=2)  # small pages, so every listing pages
    fake.add_repository(REPO)
    with serving(fake):
        yield fake


def make_hook(fake: FakeGitHub, token: str = TOKEN) -> GitHubHook:
    return GitHubHook.from_credentials(
        GitHubCredentials(token=SecretStr(token)),
        block_name="github-bot",
        base_url=fake.url,
        timeout=5,
        paced=False,
        policy=POLICY,
        sleep=lambda _s: None,
    )


@pytest.fixture
def hook(github: FakeGitHub) -> GitHubHook:
    return make_hook(github)


def fetch(hook: GitHubHook, fields: SourceFields = FIELDS) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in fetch_github_backlog(hook, REPO, fields, SINCE).items}


def sync(store: Store, product: Product, hook: GitHubHook):
    with store.tenant_session(product.tenant_id) as session:
        return sync_backlog(
            session,
            session.get(Product, product.id),
            CONFIGURATION,
            BacklogHooks(github=hook),
            fields=FIELDS,
            now=NOW,
        )


def rows(store: Store, product: Product) -> dict[str, BacklogItem]:
    with store.tenant_session(product.tenant_id) as session:
        found = session.scalars(select(BacklogItem).where(BacklogItem.product_id == product.id))
        items = {row.external_key: row for row in found}
        for row in items.values():
            _ = [dependency.external_key for dependency in row.depends_on]
        session.expunge_all()
        return items


def plan(store: Store, product: Product, scores: dict[str, float]) -> None:
    with store.tenant_session(product.tenant_id) as session:
        for row in session.scalars(select(BacklogItem).where(BacklogItem.product_id == product.id)):
            if row.external_key in scores:
                row.priority_score = scores[row.external_key]


def push(store: Store, product: Product, hook: GitHubHook):
    with store.tenant_session(product.tenant_id) as session:
        return write_back(
            session,
            session.get(Product, product.id),
            CONFIGURATION,
            BacklogHooks(github=hook),
            fields=FIELDS,
        )


def labels(github: FakeGitHub, number: int) -> list[str]:
    return [label["name"] for label in github.repository(REPO).issues[number]["labels"]]


def writes(github: FakeGitHub) -> list[str]:
    return [f"{r.method} {r.path}" for r in github.requests if r.method in ("POST", "DELETE")]


# --- mapping ------------------------------------------------------------------------------


def test_labels_and_fields_map_onto_the_backlog_item(github: FakeGitHub, hook: GitHubHook) -> None:
    github.add_issue(
        REPO,
        "Checkout times out",
        body="Seen on mobile.",
        labels=["type:Bug", "feature:checkout", "team:web", "points:3", "impact:2", "mobile"],
        created_at="2026-11-02T09:00:00Z",
    )

    fetched = fetch_github_backlog(hook, REPO, FIELDS, SINCE)

    (item,) = fetched.items
    assert (item["key"], item["title"], item["description"]) == (
        "acme/shop#1",
        "Checkout times out",
        "Seen on mobile.",
    )
    assert (item["item_type"], item["feature"], item["team"], item["story_points"]) == (
        "bug",
        "checkout",
        "web",
        3.0,
    )
    assert (item["status"], item["completed_at"]) == ("todo", None)
    assert item["created_at"] == datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert "mobile" in item["labels"]
    assert fetched.inputs == {"acme/shop#1": {"impact": 2.0}}


def test_closed_issues_are_done_and_only_completed_ones_have_finished(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    closed = "2026-11-28T16:00:00Z"
    github.add_issue(REPO, "Shipped", state="closed", state_reason="completed", closed_at=closed)
    github.add_issue(REPO, "Won't do", state="closed", state_reason="not_planned", closed_at=closed)
    github.add_issue(REPO, "Plain issue")

    items = fetch(hook)

    assert {key: item["status"] for key, item in items.items()} == {
        "acme/shop#1": "done",
        "acme/shop#2": "done",
        "acme/shop#3": "todo",
    }
    assert items["acme/shop#1"]["completed_at"] == datetime(2026, 11, 28, 16, tzinfo=UTC)
    assert items["acme/shop#2"]["completed_at"] is None
    assert items["acme/shop#3"]["item_type"] == "issue"


def test_pull_requests_and_issues_closed_before_the_window_are_left_out(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    github.add_issue(REPO, "Old but open", created_at="2025-01-01T09:00:00Z")
    github.add_issue(REPO, "Closed long ago", state="closed", closed_at="2026-05-01T09:00:00Z")
    github.add_pull_request(REPO, title="Faster checkout")
    github.add_issue(REPO, "Closed lately", state="closed", closed_at="2026-11-30T09:00:00Z")

    assert sorted(fetch(hook)) == ["acme/shop#1", "acme/shop#4"]
    (closed_listing, *_) = [r for r in github.requests if r.query.get("state") == ["closed"]]
    assert closed_listing.query["since"] == ["2026-06-04T12:00:00Z"]


def test_every_page_is_read_and_the_bound_is_kept(github: FakeGitHub, hook: GitHubHook) -> None:
    for number in range(5):
        github.add_issue(REPO, f"Issue {number}")

    everything = fetch_github_backlog(hook, REPO, FIELDS, SINCE)
    bounded = fetch_github_backlog(hook, REPO, SourceFields(max_items=3), SINCE)

    assert sorted(item["key"] for item in everything.items) == [
        f"acme/shop#{n}" for n in range(1, 6)
    ]
    assert everything.truncated is False
    assert len({r.query.get("page", ["1"])[0] for r in github.requests}) == 3
    assert (len(bounded.items), bounded.truncated) == (3, True)


def test_depends_on_and_blocked_by_in_the_body_become_dependencies(
    store: Store, product: Product, github: FakeGitHub, hook: GitHubHook
) -> None:
    github.add_issue(REPO, "API")
    github.add_issue(REPO, "Screen", body="Depends on #1, and blocked by #99 (elsewhere).")
    sync(store, product, hook)
    github.repository(REPO).issues[2]["title"] = "Screen, final"

    report = sync(store, product, hook)

    items = rows(store, product)
    assert [d.external_key for d in items["acme/shop#2"].depends_on] == ["acme/shop#1"]
    assert items["acme/shop#2"].title == "Screen, final"
    assert [(s.source, s.created, s.updated, s.dependencies) for s in report.sources] == [
        ("github", 0, 2, 1)
    ]


# --- write-back -----------------------------------------------------------------------------


def test_write_back_labels_priority_by_quartile_and_replaces_stale_ones_once(
    store: Store, product: Product, github: FakeGitHub, hook: GitHubHook
) -> None:
    github.add_issue(REPO, "A", labels=["bug"])
    github.add_issue(REPO, "B", labels=["priority:P4"])
    github.add_issue(REPO, "C")
    github.add_issue(REPO, "D", labels=["priority:P4"])
    github.add_issue(REPO, "Done", state="closed", closed_at="2026-11-30T09:00:00Z")
    sync(store, product, hook)
    plan(store, product, {"acme/shop#1": 40.0, "acme/shop#2": 30.0, "acme/shop#3": 20.0})
    plan(store, product, {"acme/shop#4": 10.0, "acme/shop#5": 99.0})

    first = push(store, product, hook)

    assert [labels(github, n) for n in range(1, 6)] == [
        ["bug", "priority:P1"],
        ["priority:P2"],
        ["priority:P3"],
        ["priority:P4"],
        [],
    ]
    assert first.written == {"github": 3}
    assert writes(github) == [
        "POST /repos/acme/shop/issues/1/labels",
        "POST /repos/acme/shop/issues/2/labels",
        "DELETE /repos/acme/shop/issues/2/labels/priority%3AP4",
        "POST /repos/acme/shop/issues/3/labels",
    ]

    again = push(store, product, hook)

    assert again.written == {"github": 0}
    assert len(writes(github)) == 4


# --- errors -------------------------------------------------------------------------------


def test_a_missing_repository_is_a_one_line_message_naming_the_setting(
    hook: GitHubHook,
) -> None:
    with pytest.raises(ValidationError) as raised:
        fetch_github_backlog(hook, "acme/nope", FIELDS, SINCE)

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("integrations.github_repository 'acme/nope': github: HTTP 404")
    assert "the GitHub credentials block 'github-bot'" in message


def test_a_refused_token_names_the_credentials_block(github: FakeGitHub) -> None:
    hook = make_hook(github, token="ghp_wrong")

    with pytest.raises(CredentialError, match="the GitHub credentials block 'github-bot'"):
        fetch_github_backlog(hook, REPO, FIELDS, SINCE)
