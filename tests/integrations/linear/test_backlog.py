"""A Linear team mirrored into the backlog, and priorities written back: the real hook (httpx)
against :class:`FakeLinear`, which judges every request by Linear's GraphQL schema."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from integrations.backlog import BacklogHooks, SourceFields, sync_backlog, write_back
from integrations.linear.backlog import fetch_linear_backlog
from integrations.linear.client import LinearHook
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
from tests.integrations.linear.fake import API_KEY, FakeLinear, graphql_body

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SINCE = datetime(2026, 6, 4, 12, 0, tzinfo=UTC)  # 180 days before NOW
POLICY = RetryPolicy(attempts=2, base_seconds=0.01, max_seconds=0.01, jitter=0.0)
FIELDS = SourceFields(linear_priority_input="urgency")
CONFIGURATION = ConfigurationSections(
    integrations=IntegrationMapping(linear_team="ENG", blocks={"linear": "linear-eng"}),
    planning=PlanningSettings(write_back=True),
)


@pytest.fixture
def linear() -> Iterator[FakeLinear]:
    with serving(FakeLinear()) as fake:
        yield fake


@pytest.fixture
def hook(linear: FakeLinear) -> Iterator[LinearHook]:
    with LinearHook(API_KEY, linear.graphql_url, policy=POLICY, sleep=lambda _s: None) as made:
        yield made


def fetch(hook: LinearHook, fields: SourceFields = FIELDS) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in fetch_linear_backlog(hook, "ENG", fields, SINCE).items}


def sync(store: Store, product: Product, hook: LinearHook, fields: SourceFields = FIELDS):
    with store.tenant_session(product.tenant_id) as session:
        return sync_backlog(
            session,
            session.get(Product, product.id),
            CONFIGURATION,
            BacklogHooks(linear=hook),
            fields=fields,
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


def plan(store: Store, product: Product, scores: dict[str, tuple[float, float]]) -> None:
    with store.tenant_session(product.tenant_id) as session:
        for row in session.scalars(select(BacklogItem).where(BacklogItem.product_id == product.id)):
            if row.external_key in scores:
                score, estimate = scores[row.external_key]
                row.priority_score = score
                row.score_details = {**row.score_details, "estimate": {"value": estimate}}


def push(store: Store, product: Product, hook: LinearHook, fields: SourceFields = FIELDS):
    with store.tenant_session(product.tenant_id) as session:
        return write_back(
            session,
            session.get(Product, product.id),
            CONFIGURATION,
            BacklogHooks(linear=hook),
            fields=fields,
        )


def mutations(linear: FakeLinear) -> list[dict[str, Any]]:
    return [
        graphql_body(r)["variables"]
        for r in linear.requests
        if graphql_body(r).get("operationName") == "IssueUpdate"
    ]


# --- mapping ------------------------------------------------------------------------------


def test_every_field_maps_onto_the_backlog_item(linear: FakeLinear, hook: LinearHook) -> None:
    linear.add_issue(
        "ENG",
        "Export to CSV",
        state="In Progress",
        description="Finance asks for it.",
        priority=2,
        label_names=["Bug", "finance"],
        project="Reports",
        estimate=3.0,
        due_date="2026-12-20",
        created_at="2026-11-02T09:00:00.000Z",
        started_at="2026-11-20T10:00:00.000Z",
    )

    item = fetch(hook)["ENG-1"]

    assert (item["title"], item["description"], item["item_type"]) == (
        "Export to CSV",
        "Finance asks for it.",
        "bug",
    )
    assert (item["status"], item["labels"], item["feature"], item["team"]) == (
        "in_progress",
        ["Bug", "finance"],
        "Reports",
        "ENG",
    )
    assert (item["story_points"], item["deadline"]) == (3.0, "2026-12-20")
    assert item["created_at"] == datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert item["started_at"] == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert item["completed_at"] is None


def test_state_types_map_to_todo_in_progress_and_done(linear: FakeLinear, hook: LinearHook) -> None:
    recent = "2026-11-28T16:00:00.000Z"
    linear.add_issue("ENG", "Backlog", state="Backlog")
    linear.add_issue("ENG", "Todo", state="Todo")
    linear.add_issue("ENG", "Started", state="In Progress")
    linear.add_issue("ENG", "Done", state="Done", completed_at=recent, updated_at=recent)
    linear.add_issue("ENG", "Dropped", state="Canceled", canceled_at=recent, updated_at=recent)

    items = fetch(hook)

    assert [item["status"] for item in items.values()] == [
        "todo",
        "todo",
        "in_progress",
        "done",
        "done",
    ]
    assert items["ENG-4"]["completed_at"] == datetime(2026, 11, 28, 16, tzinfo=UTC)
    assert items["ENG-5"]["completed_at"] is None  # canceled: no finished work


def test_finished_issues_older_than_the_window_are_left_out(
    linear: FakeLinear, hook: LinearHook
) -> None:
    old = "2026-05-01T09:00:00.000Z"
    linear.add_issue("ENG", "Old but open", updated_at=old)
    linear.add_issue("ENG", "Done long ago", state="Done", completed_at=old, updated_at=old)
    linear.add_issue("ENG", "Done lately", state="Done", updated_at="2026-11-30T09:00:00.000Z")

    assert sorted(fetch(hook)) == ["ENG-1", "ENG-3"]


def test_every_page_is_read_by_its_cursor(linear: FakeLinear, hook: LinearHook) -> None:
    for number in range(5):
        linear.add_issue("ENG", f"Issue {number}")

    fetched = fetch_linear_backlog(hook, "ENG", SourceFields(page_size=2), SINCE)

    assert [item["key"] for item in fetched.items] == [f"ENG-{n}" for n in range(1, 6)]
    pages = [
        graphql_body(r)["variables"]
        for r in linear.requests
        if graphql_body(r)["operationName"] == "BacklogIssues"
    ]
    assert [page["first"] for page in pages] == [2, 2, 2]
    assert pages[0]["after"] is None
    assert pages[1]["after"] == linear.issue("ENG-2").id
    assert fetched.truncated is False


def test_the_sync_stops_at_max_items_and_says_so(linear: FakeLinear, hook: LinearHook) -> None:
    for number in range(5):
        linear.add_issue("ENG", f"Issue {number}")

    fetched = fetch_linear_backlog(hook, "ENG", SourceFields(page_size=2, max_items=3), SINCE)

    assert [item["key"] for item in fetched.items] == ["ENG-1", "ENG-2", "ENG-3"]
    assert fetched.truncated is True


def test_priority_becomes_the_configured_input_highest_for_urgent(
    linear: FakeLinear, hook: LinearHook
) -> None:
    for priority in (1, 4, 0):
        linear.add_issue("ENG", f"Priority {priority}", priority=priority)

    fetched = fetch_linear_backlog(hook, "ENG", FIELDS, SINCE)

    assert fetched.inputs == {"ENG-1": {"urgency": 4.0}, "ENG-2": {"urgency": 1.0}, "ENG-3": {}}
    assert fetch_linear_backlog(hook, "ENG", SourceFields(), SINCE).inputs["ENG-1"] == {}


def test_blocks_relations_become_dependencies_and_a_second_sync_updates(
    store: Store, product: Product, linear: FakeLinear, hook: LinearHook
) -> None:
    api = linear.add_issue("ENG", "API", priority=1)
    screen = linear.add_issue("ENG", "Screen", due_date="2026-12-24")
    api.blocks.append(screen)
    sync(store, product, hook)
    screen.title = "Screen, final"

    report = sync(store, product, hook)

    items = rows(store, product)
    assert [d.external_key for d in items["ENG-2"].depends_on] == ["ENG-1"]
    assert items["ENG-1"].depends_on == []
    assert (items["ENG-2"].title, items["ENG-2"].deadline) == ("Screen, final", date(2026, 12, 24))
    assert items["ENG-1"].score_details["inputs"] == {"urgency": 4.0}
    assert [(s.source, s.created, s.updated, s.dependencies) for s in report.sources] == [
        ("linear", 0, 2, 1)
    ]


# --- write-back -----------------------------------------------------------------------------


def test_write_back_sets_priority_by_quartile_once(
    store: Store, product: Product, linear: FakeLinear, hook: LinearHook
) -> None:
    for title in ("A", "B", "C", "D"):
        linear.add_issue("ENG", title, priority=3)
    sync(store, product, hook)
    plan(store, product, {"ENG-1": (40.0, 2), "ENG-2": (30.0, 2), "ENG-3": (20.0, 2)})
    plan(store, product, {"ENG-4": (10.0, 2)})

    first = push(store, product, hook)

    assert [issue.priority for issue in linear.issues] == [1, 2, 3, 4]
    assert first.written == {"linear": 3}  # ENG-3 had priority 3 already
    assert [m["input"] for m in mutations(linear)] == [
        {"priority": 1},
        {"priority": 2},
        {"priority": 4},
    ]

    again = push(store, product, hook)

    assert again.written == {"linear": 0}
    assert len(mutations(linear)) == 3


def test_write_back_fills_only_missing_estimates_when_asked(
    store: Store, product: Product, linear: FakeLinear, hook: LinearHook
) -> None:
    linear.add_issue("ENG", "Estimated", priority=1, estimate=5.0)
    linear.add_issue("ENG", "Not estimated", priority=1)
    fields = SourceFields(linear_write_estimate=True)
    sync(store, product, hook, fields)
    plan(store, product, {"ENG-1": (10.0, 2.4), "ENG-2": (10.0, 2.6)})

    push(store, product, hook, fields)
    push(store, product, hook, fields)

    assert [issue.estimate for issue in linear.issues] == [5.0, 3]
    assert [m["input"] for m in mutations(linear)] == [{"estimate": 3}]


# --- errors -------------------------------------------------------------------------------


def test_a_missing_team_is_a_one_line_message_naming_the_setting(hook: LinearHook) -> None:
    with pytest.raises(ValidationError) as raised:
        fetch_linear_backlog(hook, "NOPE", FIELDS, SINCE)

    assert str(raised.value) == (
        "integrations.linear_team 'NOPE': linear: no team with key 'NOPE' is visible to the key"
    )


def test_a_refused_key_names_the_credentials_block(linear: FakeLinear) -> None:
    with (
        LinearHook(
            "lin_api_wrong",
            linear.graphql_url,
            credential="the Linear credentials block 'linear-eng'",
            policy=POLICY,
            sleep=lambda _s: None,
        ) as hook,
        pytest.raises(CredentialError, match="the Linear credentials block 'linear-eng'"),
    ):
        fetch_linear_backlog(hook, "ENG", FIELDS, SINCE)
