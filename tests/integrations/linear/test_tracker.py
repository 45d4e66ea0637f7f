"""Linear as a tracker: one open issue per problem, comments when it happens again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.linear.credentials import LinearCredentials
from integrations.linear.tracker import (
    LinearTracker,
    dedupe_marker,
    open_issue_filter,
    render_markdown,
)
from productpilot.notify.channels import Ticket, Tracker
from productpilot.notify.message import Message, MessageItem
from productpilot.vendors import RetryPolicy
from tests.fakes.server import serving
from tests.integrations.linear.fake import API_KEY, FakeLinear


@pytest.fixture
def linear() -> Iterator[FakeLinear]:
    with serving(FakeLinear(teams=[("ENG", "Engineering"), ("OPS", "Operations")])) as fake:
        yield fake


def tracker_for(linear: FakeLinear) -> LinearTracker:
    credentials = LinearCredentials(api_key=API_KEY, url=linear.graphql_url)
    return LinearTracker(credentials.get_hook(policy=RetryPolicy(attempts=1)))


@pytest.fixture
def tracker(linear: FakeLinear) -> LinearTracker:
    return tracker_for(linear)


def finding(dedupe_key: str = "anomaly:signups", severity: str = "critical", n: int = 1) -> Message:
    return Message(
        subject="Signups 40% below expected",
        text=f"Occurrence {n}: signups fell below the expected band.",
        severity=severity,  # type: ignore[arg-type]
        kind="productpilot.anomaly.detected",
        idempotency_key=f"notification-{n}",
        facts=(("metric", "signups"), ("expected", "120 | 180")),
        link="https://productpilot.example/reports/7",
        dedupe_key=dedupe_key,
        product="Acme",
    )


def deliver(tracker: Tracker, project: str, message: Message) -> Ticket:
    """What the outbox does with a ticket route: comment on the open issue, or open one."""
    ticket = tracker.find_open(project, message.dedupe_key)
    if ticket is None:
        return tracker.create(project, message)
    tracker.comment(ticket, message)
    return ticket


def test_it_is_a_tracker_named_linear(tracker: LinearTracker) -> None:
    assert isinstance(tracker, Tracker)
    assert tracker.name == "linear"


def test_the_same_problem_twice_is_one_issue_and_one_comment(
    linear: FakeLinear, tracker: LinearTracker
) -> None:
    first = deliver(tracker, "ENG", finding(n=1))
    second = deliver(tracker, "ENG", finding(n=2))

    assert first == Ticket("ENG-1", linear.issue("ENG-1").url, created=True)
    assert second == Ticket("ENG-1", linear.issue("ENG-1").url)
    [issue] = linear.issues
    [comment] = issue.comments
    assert "Occurrence 2" in comment.body
    assert "Occurrence 1" in (issue.description or "")


@pytest.mark.parametrize("closed_as", ["Done", "Canceled"])
def test_a_problem_whose_issue_was_closed_gets_a_new_issue(
    linear: FakeLinear, tracker: LinearTracker, closed_as: str
) -> None:
    deliver(tracker, "ENG", finding(n=1))
    linear.move("ENG-1", closed_as)

    again = deliver(tracker, "ENG", finding(n=2))

    assert again.key == "ENG-2"
    assert again.created
    assert [len(issue.comments) for issue in linear.issues] == [0, 0]


def test_an_issue_still_in_progress_counts_as_open(
    linear: FakeLinear, tracker: LinearTracker
) -> None:
    deliver(tracker, "ENG", finding(n=1))
    linear.move("ENG-1", "In Progress")
    assert deliver(tracker, "ENG", finding(n=2)).key == "ENG-1"


def test_different_problems_get_different_issues(
    linear: FakeLinear, tracker: LinearTracker
) -> None:
    deliver(tracker, "ENG", finding("anomaly:signups"))
    deliver(tracker, "ENG", finding("anomaly:checkout"))
    assert [issue.identifier for issue in linear.issues] == ["ENG-1", "ENG-2"]


def test_the_same_problem_in_another_team_is_another_issue(
    linear: FakeLinear, tracker: LinearTracker
) -> None:
    deliver(tracker, "ENG", finding())
    assert deliver(tracker, "OPS", finding()).key == "OPS-1"


def test_find_open_finds_nothing_for_an_unknown_problem(tracker: LinearTracker) -> None:
    assert tracker.find_open("ENG", "never-seen") is None


def test_find_open_asks_linear_for_open_issues_with_the_marker(
    linear: FakeLinear, tracker: LinearTracker
) -> None:
    tracker.find_open("ENG", "anomaly:signups")
    variables = linear.requests[0].json()["variables"]
    assert variables["filter"] == {
        "team": {"key": {"eq": "ENG"}},
        "description": {"contains": dedupe_marker("anomaly:signups")},
        "state": {"type": {"nin": ["completed", "canceled"]}},
    }
    assert variables["filter"] == open_issue_filter("ENG", dedupe_marker("anomaly:signups"))


def test_the_issue_is_marked_on_its_last_line_with_the_dedupe_key_digest(
    linear: FakeLinear, tracker: LinearTracker
) -> None:
    tracker.create("ENG", finding("anomaly:signups"))
    description = linear.issue("ENG-1").description or ""
    assert description.splitlines()[-1] == dedupe_marker("anomaly:signups")
    # The first 16 hex digits of sha256("anomaly:signups").
    assert dedupe_marker("anomaly:signups") == "productpilot:dedupe:3df6b0b50067208d"


def test_a_message_without_a_dedupe_key_is_marked_by_kind_and_subject(
    linear: FakeLinear, tracker: LinearTracker
) -> None:
    message = finding(dedupe_key="")
    tracker.create("ENG", message)
    marker = dedupe_marker("productpilot.anomaly.detected:Signups 40% below expected")
    assert (linear.issue("ENG-1").description or "").endswith(marker)


@pytest.mark.parametrize(("severity", "priority"), [("critical", 1), ("warning", 2), ("info", 3)])
def test_the_priority_follows_the_severity(
    linear: FakeLinear, tracker: LinearTracker, severity: str, priority: int
) -> None:
    tracker.create("ENG", finding(severity=severity))
    assert linear.issue("ENG-1").priority == priority


def test_the_issue_title_is_the_subject_and_the_description_is_markdown(
    linear: FakeLinear, tracker: LinearTracker
) -> None:
    tracker.create("ENG", finding())
    issue = linear.issue("ENG-1")
    assert issue.title == "Signups 40% below expected"
    assert issue.description == "\n\n".join(
        [
            "**Critical** · `productpilot.anomaly.detected` · Product: Acme",
            "Occurrence 1: signups fell below the expected band.",
            "| Fact | Value |\n| --- | --- |\n| metric | signups |\n| expected | 120 \\| 180 |",
            "[More details](https://productpilot.example/reports/7)",
            dedupe_marker("anomaly:signups"),
        ]
    )


def test_a_comment_starts_with_the_subject_and_carries_no_marker(
    linear: FakeLinear, tracker: LinearTracker
) -> None:
    ticket = tracker.create("ENG", finding(n=1))
    tracker.comment(ticket, finding(n=2))
    body = linear.issue("ENG-1").comments[0].body
    assert body.startswith("**Signups 40% below expected**\n\n**Critical**")
    assert "productpilot:dedupe:" not in body


def test_a_ticket_from_an_earlier_run_is_commented_by_its_identifier(
    linear: FakeLinear, tracker: LinearTracker
) -> None:
    tracker.create("ENG", finding(n=1))
    later_run = tracker_for(linear)  # knows nothing but the ticket's key

    later_run.comment(Ticket("ENG-1"), finding(n=2))

    assert len(linear.issue("ENG-1").comments) == 1
    assert linear.operations[-2:] == ["Issue", "CommentCreate"]


def test_a_ticket_just_found_is_commented_without_looking_it_up_again(
    linear: FakeLinear, tracker: LinearTracker
) -> None:
    deliver(tracker, "ENG", finding(n=1))
    deliver(tracker, "ENG", finding(n=2))
    assert linear.operations == ["Issues", "TeamByKey", "IssueCreate", "Issues", "CommentCreate"]


def test_a_digest_lists_its_findings() -> None:
    digest = Message(
        subject="3 findings today",
        text="",
        severity="warning",
        kind="digest",
        idempotency_key="d1",
        items=(
            MessageItem("Signups dipped", "warning", "anomaly", "Down 12%", "https://x/1"),
            MessageItem("Gate failed:\nlatency", "critical", "gate", occurred_at="09:00"),
        ),
    )
    assert render_markdown(digest).splitlines()[-2:] == [
        "- **Warning** [Signups dipped](https://x/1): Down 12%",
        "- **Critical** Gate failed: latency (09:00)",
    ]
