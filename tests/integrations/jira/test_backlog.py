"""A Jira project mirrored into the backlog, and the plan written back: the real ``jira``
library against :class:`FakeJira`, which checks every request against Atlassian's OpenAPI
description (the ``jira`` fixture fails a test that sent one Jira would refuse)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from integrations.backlog import BacklogHooks, SourceFields, sync_backlog, write_back
from integrations.jira.backlog import adf_to_text, fetch_jira_backlog
from integrations.jira.client import JiraHook
from productpilot.db.models import BacklogItem, Product
from productpilot.db.store import Store
from productpilot.errors import ValidationError
from productpilot.products.configuration import (
    ConfigurationSections,
    IntegrationMapping,
    PlanningSettings,
)
from productpilot.vendors import CredentialError, RetryPolicy
from tests.integrations.jira.fake import API, FakeJira

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(attempts=2, base_seconds=0.01, max_seconds=0.01, jitter=0.0)
FIELDS = SourceFields(
    jira_input_fields={"impact": "customfield_10052"},
    jira_score_field="customfield_10050",
    jira_estimate_field="customfield_10051",
    jira_priority_names=("Highest", "High", "Medium", "Low"),
)
CONFIGURATION = ConfigurationSections(
    integrations=IntegrationMapping(jira_project="OPS", blocks={"jira": "jira-ops"}),
    planning=PlanningSettings(write_back=True),
)


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def blocked_by(key: str) -> dict[str, Any]:
    return {
        "id": f"link-{key}",
        "type": {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
        "inwardIssue": {"key": key},
    }


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira(projects=("OPS",)) as fake:
        fake.now = NOW
        yield fake


@pytest.fixture
def hooks(jira: FakeJira) -> BacklogHooks:
    hook = jira.credentials().get_hook(
        policy=POLICY, sleep=lambda _s: None, timeout=5, credential_name="block 'jira-ops'"
    )
    return BacklogHooks(jira=hook)


def fetch(hooks: BacklogHooks, fields: SourceFields = FIELDS) -> dict[str, dict[str, Any]]:
    """The mapped items by key (no store: the mapping alone)."""
    assert hooks.jira is not None
    return {item["key"]: item for item in fetch_jira_backlog(hooks.jira, "OPS", fields).items}


def sync(store: Store, product: Product, hooks: BacklogHooks, fields: SourceFields = FIELDS):
    with store.tenant_session(product.tenant_id) as session:
        return sync_backlog(
            session, session.get(Product, product.id), CONFIGURATION, hooks, fields=fields, now=NOW
        )


def rows(store: Store, product: Product) -> dict[str, BacklogItem]:
    with store.tenant_session(product.tenant_id) as session:
        found = session.scalars(select(BacklogItem).where(BacklogItem.product_id == product.id))
        items = {row.external_key: row for row in found}
        for row in items.values():
            _ = [dependency.external_key for dependency in row.depends_on]  # load before close
        session.expunge_all()
        return items


def plan(store: Store, product: Product, scores: dict[str, tuple[float, float]]) -> None:
    """What save_plan writes for each item: the score and the estimate."""
    with store.tenant_session(product.tenant_id) as session:
        for row in session.scalars(select(BacklogItem).where(BacklogItem.product_id == product.id)):
            if row.external_key in scores:
                score, estimate = scores[row.external_key]
                row.priority_score = score
                row.score_details = {**row.score_details, "estimate": {"value": estimate}}


def push(store: Store, product: Product, hooks: BacklogHooks):
    with store.tenant_session(product.tenant_id) as session:
        return write_back(
            session, session.get(Product, product.id), CONFIGURATION, hooks, fields=FIELDS
        )


# --- mapping ------------------------------------------------------------------------------


def test_every_field_maps_onto_the_backlog_item(
    store: Store, product: Product, jira: FakeJira, hooks: BacklogHooks
) -> None:
    jira.add_issue(
        "OPS",
        "Faster checkout",
        issue_type="Story",
        status="In Progress",
        description=adf("One step instead of three."),
        labels=["checkout", "q1"],
        created=datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
        components=[{"name": "Payments"}, {"name": "Web"}],
        timetracking={"originalEstimate": "2d", "originalEstimateSeconds": 2 * 8 * 3600},
        duedate="2026-12-20",
        statuscategorychangedate="2026-11-20T10:00:00.000+0000",
        custom={"customfield_10016": 5, "customfield_10052": 3},
    )

    report = sync(store, product, hooks)

    item = rows(store, product)["OPS-1"]
    assert (item.source, item.title, item.description) == (
        "jira",
        "Faster checkout",
        "One step instead of three.",
    )
    assert (item.item_type, item.status, item.labels) == (
        "story",
        "in_progress",
        ["checkout", "q1"],
    )
    assert (item.feature, item.team, item.story_points, item.estimate_days) == (
        "Payments",
        None,
        5.0,
        2.0,
    )
    assert item.deadline == date(2026, 12, 20)
    assert item.created_at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert item.started_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert item.completed_at is None
    assert item.score_details["inputs"] == {"impact": 3.0}
    assert [(s.source, s.project, s.created, s.with_inputs) for s in report.sources] == [
        ("jira", "OPS", 1, 1)
    ]


def test_a_configured_field_names_the_feature_and_the_team(
    jira: FakeJira, hooks: BacklogHooks
) -> None:
    jira.add_issue(
        "OPS",
        "Export",
        components=[{"name": "Web"}],
        custom={"customfield_10016": {"value": "Reports"}},
    )
    fields = SourceFields(
        jira_story_points_field="customfield_10099",
        jira_feature_field="customfield_10016",
        jira_team_field="customfield_10016",
    )

    item = fetch(hooks, fields)["OPS-1"]

    assert (item["feature"], item["team"], item["story_points"]) == ("Reports", "Reports", None)


def test_status_categories_map_to_todo_in_progress_and_done(
    jira: FakeJira, hooks: BacklogHooks
) -> None:
    jira.add_issue("OPS", "Open", status="To Do")
    jira.add_issue("OPS", "Started", status="In Progress")
    jira.add_issue(
        "OPS",
        "Shipped",
        status="Done",
        updated=NOW - timedelta(days=3),
        resolution={"name": "Done"},
        resolutiondate="2026-11-28T16:00:00.000+0000",
    )
    jira.add_issue(
        "OPS",
        "Dropped",
        status="Done",
        updated=NOW - timedelta(days=3),
        resolution={"name": "Won't Do"},
        resolutiondate="2026-11-28T16:00:00.000+0000",
    )

    items = fetch(hooks)

    assert {key: item["status"] for key, item in items.items()} == {
        "OPS-1": "todo",
        "OPS-2": "in_progress",
        "OPS-3": "done",
        "OPS-4": "done",
    }
    assert items["OPS-3"]["completed_at"] == datetime(2026, 11, 28, 16, tzinfo=UTC)
    # Closed without doing the work: nothing for estimates or velocity to learn from.
    assert items["OPS-4"]["completed_at"] is None


def test_done_issues_older_than_the_window_are_left_out_but_old_open_ones_are_kept(
    jira: FakeJira, hooks: BacklogHooks
) -> None:
    jira.add_issue("OPS", "Old but open", updated=NOW - timedelta(days=400))
    jira.add_issue("OPS", "Done long ago", status="Done", updated=NOW - timedelta(days=181))
    jira.add_issue("OPS", "Done lately", status="Done", updated=NOW - timedelta(days=179))

    assert sorted(fetch(hooks)) == ["OPS-1", "OPS-3"]
    searches = [r.query["jql"][0] for r in jira.server.calls(f"{API}/search/jql", "GET")]
    assert searches == [
        'project = "OPS" AND statusCategory != "Done" ORDER BY key ASC',
        'project = "OPS" AND statusCategory = "Done" AND updated >= "-180d" ORDER BY key ASC',
    ]


def test_every_page_is_read_by_its_token(jira: FakeJira, hooks: BacklogHooks) -> None:
    for number in range(5):
        jira.add_issue("OPS", f"Issue {number}")

    assert hooks.jira is not None
    fetched = fetch_jira_backlog(hooks.jira, "OPS", SourceFields(page_size=2))

    assert [item["key"] for item in fetched.items] == [f"OPS-{n}" for n in range(1, 6)]
    open_searches = [
        r for r in jira.server.calls(f"{API}/search/jql", "GET") if "!=" in r.query["jql"][0]
    ]
    assert [r.query.get("nextPageToken") for r in open_searches] == [None, ["2"], ["4"]]
    assert fetched.truncated is False


def test_the_sync_stops_at_max_items_and_says_so(jira: FakeJira, hooks: BacklogHooks) -> None:
    for number in range(5):
        jira.add_issue("OPS", f"Issue {number}")
    jira.add_issue("OPS", "Finished", status="Done", updated=NOW)

    assert hooks.jira is not None
    fetched = fetch_jira_backlog(hooks.jira, "OPS", SourceFields(page_size=2, max_items=3))

    assert [item["key"] for item in fetched.items] == ["OPS-1", "OPS-2", "OPS-3"]
    assert fetched.truncated is True


def test_blocks_links_become_dependencies_within_the_synced_set(
    store: Store, product: Product, jira: FakeJira, hooks: BacklogHooks
) -> None:  # through the store: upsert_backlog must accept every edge
    jira.add_issue("OPS", "API")
    jira.add_issue("OPS", "Screen", issuelinks=[blocked_by("OPS-1"), blocked_by("LEGACY-9")])
    jira.add_issue(
        "OPS",
        "Related only",
        issuelinks=[{"id": "9", "type": {"name": "Relates"}, "inwardIssue": {"key": "OPS-1"}}],
    )

    report = sync(store, product, hooks)

    items = rows(store, product)
    assert [d.external_key for d in items["OPS-2"].depends_on] == ["OPS-1"]
    assert items["OPS-3"].depends_on == []
    assert report.sources[0].dependencies == 1


def test_a_second_sync_updates_the_rows_and_owns_only_its_inputs(
    store: Store, product: Product, jira: FakeJira, hooks: BacklogHooks
) -> None:
    issue = jira.add_issue("OPS", "Faster checkout", custom={"customfield_10052": 3})
    sync(store, product, hooks)
    with store.tenant_session(product.tenant_id) as session:
        row = session.scalar(select(BacklogItem).where(BacklogItem.external_key == "OPS-1"))
        row.score_details = {"inputs": {**row.score_details["inputs"], "confidence": 0.5}}
    issue.summary = "Checkout in one step"
    issue.status = "In Progress"
    del issue.custom["customfield_10052"]

    report = sync(store, product, hooks)

    items = rows(store, product)
    assert list(items) == ["OPS-1"]
    assert (report.sources[0].created, report.sources[0].updated) == (0, 1)
    assert (items["OPS-1"].title, items["OPS-1"].status) == ("Checkout in one step", "in_progress")
    # The emptied Jira field clears its input; the one set by hand stays.
    assert items["OPS-1"].score_details["inputs"] == {"confidence": 0.5}


def test_a_done_issue_keeps_the_start_an_earlier_sync_saw(
    store: Store, product: Product, jira: FakeJira, hooks: BacklogHooks
) -> None:
    issue = jira.add_issue(
        "OPS",
        "Faster checkout",
        status="In Progress",
        statuscategorychangedate="2026-11-20T10:00:00.000+0000",
    )
    sync(store, product, hooks)
    issue.status = "Done"
    issue.extra |= {
        "statuscategorychangedate": "2026-11-27T10:00:00.000+0000",
        "resolutiondate": "2026-11-27T10:00:00.000+0000",
    }

    sync(store, product, hooks)

    item = rows(store, product)["OPS-1"]
    assert item.started_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert item.completed_at == datetime(2026, 11, 27, 10, tzinfo=UTC)


def test_adf_becomes_plain_text_with_lists_tables_and_mentions() -> None:
    document = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "heading",
                "attrs": {"level": 2},
                "content": [{"type": "text", "text": "Why"}],
            },
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "Asked by "},
                    {"type": "mention", "attrs": {"id": "1", "text": "@Ann"}},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "see", "marks": [{"type": "strong"}]},
                ],
            },
            {
                "type": "orderedList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [
                            {"type": "paragraph", "content": [{"type": "text", "text": "a"}]}
                        ],
                    },
                    {
                        "type": "listItem",
                        "content": [
                            {"type": "paragraph", "content": [{"type": "text", "text": "b"}]}
                        ],
                    },
                ],
            },
            {
                "type": "table",
                "content": [
                    {
                        "type": "tableRow",
                        "content": [
                            {"type": "tableCell", "content": [adf("x")["content"][0]]},
                            {"type": "tableCell", "content": [adf("y")["content"][0]]},
                        ],
                    }
                ],
            },
        ],
    }

    assert adf_to_text(document) == "Why\n\nAsked by @Ann\nsee\n\n1. a\n2. b\n\nx | y"
    assert adf_to_text(None) == ""
    assert adf_to_text("plain, from REST v2") == "plain, from REST v2"


# --- write-back -----------------------------------------------------------------------------


def test_write_back_sets_score_estimate_and_priority_once(
    store: Store, product: Product, jira: FakeJira, hooks: BacklogHooks
) -> None:
    for title in ("A", "B", "C", "D"):
        jira.add_issue("OPS", title)
    jira.add_issue("OPS", "Finished", status="Done", updated=NOW)
    sync(store, product, hooks)
    plan(store, product, {"OPS-1": (40.0, 2.0), "OPS-2": (30.0, 1.5), "OPS-3": (20.0, 3.0)})
    plan(store, product, {"OPS-4": (10.123, 5.04), "OPS-5": (99.0, 1.0)})

    first = push(store, product, hooks)

    assert (first.checked, first.written) == ({"jira": 4}, {"jira": 4})
    assert jira.issue("OPS-1").custom == {
        "customfield_10050": 40.0,
        "customfield_10051": 2.0,
        "priority": {"name": "Highest"},
    }
    assert jira.issue("OPS-4").custom == {
        "customfield_10050": 10.12,
        "customfield_10051": 5.0,
        "priority": {"name": "Low"},
    }
    assert jira.issue("OPS-5").custom == {}  # done: nothing to prioritise

    again = push(store, product, hooks)

    assert again.written == {"jira": 0}
    assert len(jira.api_calls("PUT")) == 4


def test_write_back_sends_only_the_values_that_changed(
    store: Store, product: Product, jira: FakeJira, hooks: BacklogHooks
) -> None:
    jira.add_issue("OPS", "A")
    jira.add_issue("OPS", "B")
    sync(store, product, hooks)
    plan(store, product, {"OPS-1": (40.0, 2.0), "OPS-2": (10.0, 1.0)})
    push(store, product, hooks)
    sync(store, product, hooks)  # reads back what was written
    plan(store, product, {"OPS-1": (41.0, 2.0)})

    report = push(store, product, hooks)

    assert report.written == {"jira": 1}
    last = jira.api_calls("PUT")[-1]
    assert last.path == f"{API}/issue/{jira.issue('OPS-1').id}"
    assert last.json()["fields"] == {"customfield_10050": 41.0}


def test_write_back_does_nothing_unless_the_settings_ask_for_it(
    store: Store, product: Product, jira: FakeJira, hooks: BacklogHooks
) -> None:
    jira.add_issue("OPS", "A")
    sync(store, product, hooks)
    plan(store, product, {"OPS-1": (40.0, 2.0)})
    configuration = CONFIGURATION.model_copy(update={"planning": PlanningSettings()})

    with store.tenant_session(product.tenant_id) as session:
        report = write_back(
            session, session.get(Product, product.id), configuration, hooks, fields=FIELDS
        )

    assert report.enabled is False
    assert jira.api_calls("PUT") == []


# --- errors -------------------------------------------------------------------------------


def test_a_missing_project_is_a_one_line_message_naming_the_setting(
    jira: FakeJira, hooks: BacklogHooks
) -> None:
    assert hooks.jira is not None
    with pytest.raises(ValidationError) as raised:
        fetch_jira_backlog(hooks.jira, "NOPE", FIELDS)

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("integrations.jira_project 'NOPE': no such project on ")
    assert "No project could be found with key 'NOPE'" in message


def test_a_refused_login_names_the_credentials_block(jira: FakeJira) -> None:
    credentials = jira.credentials(api_token="wrong")
    credentials._block_document_name = "jira-ops"  # as JiraCredentials.load("jira-ops")
    hook: JiraHook = credentials.get_hook(policy=POLICY, sleep=lambda _s: None, timeout=5)

    with pytest.raises(CredentialError, match="the Jira credentials block 'jira-ops'"):
        fetch_jira_backlog(hook, "OPS", FIELDS)
