"""GitHubIssuesTracker: one issue per problem, found again by its label, commented on when the
problem recurs; real PyGithub against FakeGitHub."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from prefect_github import GitHubCredentials
from pydantic import SecretStr

from integrations.github.client import GitHubHook
from integrations.github.tracker import (
    GitHubIssuesTracker,
    dedupe_label,
    message_dedupe_key,
    parse_ticket_key,
    render_comment,
    render_issue_body,
)
from productpilot.notify.channels import Ticket, Tracker
from productpilot.notify.message import Message, MessageItem
from productpilot.vendors import RetryPolicy
from tests.fakes.server import serving
from tests.integrations.github.fake import TOKEN, FakeGitHub

REPO = "acme/shop"


def message(dedupe_key: str = "anomaly:signups", **changes: object) -> Message:
    fields: dict = {
        "subject": "Signups 40% below expected",
        "text": "Signups fell *sharply* below the expected band.",
        "severity": "critical",
        "kind": "productpilot.anomaly.detected",
        "idempotency_key": "notification-1",
        "facts": (("metric", "signups"), ("value", "120 | expected 200")),
        "link": "https://pp.example/reports/1",
        "dedupe_key": dedupe_key,
        "product": "Shop",
    }
    fields.update(changes)
    return Message(**fields)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.add_repository(REPO)
    with serving(fake):  # fails the test if any request broke GitHub's documented shape
        yield fake


@pytest.fixture
def tracker(github: FakeGitHub) -> GitHubIssuesTracker:
    hook = GitHubHook.from_credentials(
        GitHubCredentials(token=SecretStr(TOKEN)),
        block_name="github-bot",
        base_url=github.url,
        paced=False,
        policy=RetryPolicy(attempts=1),
        sleep=lambda _seconds: None,
    )
    return GitHubIssuesTracker(hook)


def open_or_comment(tracker: GitHubIssuesTracker, note: Message) -> Ticket:
    """What the outbox does with a ticket route: comment on the open ticket, or open one."""
    ticket = tracker.find_open(REPO, note.dedupe_key)
    if ticket is None:
        return tracker.create(REPO, note)
    tracker.comment(ticket, note)
    return ticket


def test_it_is_a_tracker_named_github(tracker: GitHubIssuesTracker) -> None:
    assert isinstance(tracker, Tracker)
    assert tracker.name == "github"


def test_the_same_problem_twice_is_one_issue_and_a_comment(
    github: FakeGitHub, tracker: GitHubIssuesTracker
) -> None:
    first = open_or_comment(tracker, message())
    again = open_or_comment(tracker, message(idempotency_key="notification-2"))

    issues = github.repository(REPO).issues
    assert first == Ticket(key=f"{REPO}#1", url=f"https://github.com/{REPO}/issues/1", created=True)
    assert again.key == first.key
    assert not again.created
    assert list(issues) == [1]
    comments = github.repository(REPO).comments[1]
    assert len(comments) == 1
    assert "notification-2" in comments[0]["body"]


def test_each_step_costs_one_request(github: FakeGitHub, tracker: GitHubIssuesTracker) -> None:
    open_or_comment(tracker, message())
    open_or_comment(tracker, message())
    assert [f"{r.method} {r.path}" for r in github.requests] == [
        f"GET /repos/{REPO}/issues",
        f"POST /repos/{REPO}/issues",
        f"GET /repos/{REPO}/issues",
        f"POST /repos/{REPO}/issues/1/comments",
    ]


def test_the_issue_is_labelled_with_the_hash_of_the_dedupe_key_which_github_creates(
    github: FakeGitHub, tracker: GitHubIssuesTracker
) -> None:
    tracker.create(REPO, message("anomaly:signups"))
    label = dedupe_label("anomaly:signups")
    assert label.startswith("productpilot:")
    assert len(label) == len("productpilot:") + 12
    assert [item["name"] for item in github.repository(REPO).issues[1]["labels"]] == [label]
    assert label in github.repository(REPO).labels


def test_once_the_issue_is_closed_the_problem_opens_a_new_one(
    github: FakeGitHub, tracker: GitHubIssuesTracker
) -> None:
    first = open_or_comment(tracker, message())
    github.close_issue(REPO, 1)
    second = open_or_comment(tracker, message())
    assert (first.key, second.key) == (f"{REPO}#1", f"{REPO}#2")
    assert second.created
    assert 1 not in github.repository(REPO).comments


def test_different_problems_get_different_issues(
    github: FakeGitHub, tracker: GitHubIssuesTracker
) -> None:
    open_or_comment(tracker, message("anomaly:signups"))
    open_or_comment(tracker, message("anomaly:revenue"))
    assert list(github.repository(REPO).issues) == [1, 2]


def test_a_pull_request_with_the_label_is_not_taken_for_the_ticket(
    github: FakeGitHub, tracker: GitHubIssuesTracker
) -> None:
    github.add_pull_request(REPO, title="Fix signups", labels=[dedupe_label("anomaly:signups")])
    assert tracker.find_open(REPO, "anomaly:signups") is None


def test_twins_made_by_hand_get_the_comment_on_the_oldest(
    github: FakeGitHub, tracker: GitHubIssuesTracker
) -> None:
    tracker.create(REPO, message())
    tracker.create(REPO, message())
    assert tracker.find_open(REPO, "anomaly:signups") == Ticket(
        key=f"{REPO}#1", url=f"https://github.com/{REPO}/issues/1"
    )


def test_a_message_without_dedupe_key_is_marked_by_kind_and_subject(
    github: FakeGitHub, tracker: GitHubIssuesTracker
) -> None:
    note = message(dedupe_key="")
    tracker.create(REPO, note)
    key = "productpilot.anomaly.detected:Signups 40% below expected"
    assert message_dedupe_key(note) == key
    assert tracker.find_open(REPO, key) is not None


def test_dropped_labels_are_logged_because_the_issue_could_not_be_found_again(
    github: FakeGitHub, tracker: GitHubIssuesTracker, caplog: pytest.LogCaptureFixture
) -> None:
    github.labels_kept = False  # a token without push access
    with caplog.at_level(logging.WARNING, logger="integrations.github.tracker"):
        ticket = tracker.create(REPO, message())
    assert ticket.created
    assert "the GitHub credentials block 'github-bot'" in caplog.text
    assert dedupe_label("anomaly:signups") in caplog.text


def test_the_issue_title_is_the_subject_and_the_body_is_github_markdown(
    github: FakeGitHub, tracker: GitHubIssuesTracker
) -> None:
    tracker.create(REPO, message())
    issue = github.repository(REPO).issues[1]
    assert issue["title"] == "Signups 40% below expected"
    body = issue["body"]
    assert body.startswith(
        "**Severity:** critical · **Kind:** `productpilot.anomaly.detected` · **Product:** Shop"
    )
    assert "Signups fell **sharply** below the expected band." in body
    assert "| Fact | Value |\n|---|---|\n| metric | signups |\n" in body
    assert "| value | 120 \\| expected 200 |" in body
    assert "[More details](https://pp.example/reports/1)" in body
    assert body.endswith(
        "<!-- productpilot dedupe_key=anomaly:signups idempotency_key=notification-1 -->"
    )


def test_a_digest_lists_its_findings() -> None:
    digest = message(
        kind="digest",
        text="",
        facts=(),
        link=None,
        items=(
            MessageItem("Latency up", "warning", "k", text="p95 *doubled*", link="https://x/1"),
            MessageItem("Errors up", "info", "k"),
        ),
    )
    body = render_issue_body(digest)
    assert "- **warning** Latency up: p95 **doubled** ([details](https://x/1))" in body
    assert "- **info** Errors up" in body


def test_subjects_and_values_cannot_inject_markdown_or_end_the_hidden_footer() -> None:
    note = message(
        subject="<b>[x](y)</b>",
        facts=(("a\nb", "*c*"),),
        dedupe_key="k-->",
    )
    assert render_comment(note).startswith("**\\<b\\>\\[x\\](y)\\</b\\>**\n\n")
    body = render_issue_body(note)
    assert "| a<br>b | \\*c\\* |" in body
    assert body.count("-->") == 1


def test_a_comment_starts_with_the_subject_in_bold() -> None:
    assert render_comment(message()).startswith("**Signups 40% below expected**\n\n**Severity:**")


def test_ticket_keys_are_owner_slash_name_hash_number() -> None:
    assert parse_ticket_key("acme/shop#12") == ("acme/shop", 12)
    with pytest.raises(ValueError, match="owner/name#<number>"):
        parse_ticket_key("OPS-12")
