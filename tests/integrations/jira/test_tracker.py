"""Jira as a tracker: one issue per problem, found again by its label while it is open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.jira.adf import to_adf
from integrations.jira.tracker import (
    JiraTracker,
    dedupe_label,
    jql_string,
    one_line_summary,
    open_issue_jql,
)
from productpilot.notify.channels import Ticket, Tracker
from productpilot.notify.message import Message
from productpilot.vendors import CredentialError
from tests.integrations.jira.fake import API, FakeJira, parse_jql

ODD_KEYS = [
    'metric "signups" dropped',
    "back\\slash\\",
    "two\nlines\r\n",
    '" OR labels is not EMPTY OR labels = "',
    "ünïcödé · ✓",
    "",
]


def message(dedupe_key: str = "anomaly:signups:checkout", **changes: object) -> Message:
    fields: dict[str, object] = {
        "subject": "Signups dropped 40%",
        "text": "Signups fell below the expected band.",
        "severity": "critical",
        "kind": "productpilot.anomaly.detected",
        "idempotency_key": "k1",
        "dedupe_key": dedupe_key,
        "facts": (("metric", "signups"),),
    }
    return Message(**(fields | changes))  # type: ignore[arg-type]


def deliver(tracker: JiraTracker, project: str, note: Message) -> Ticket:
    """What the outbox does with a ticket route: comment on the open issue, or open one."""
    ticket = tracker.find_open(project, note.dedupe_key)
    if ticket is None:
        return tracker.create(project, note)
    tracker.comment(ticket, note)
    return ticket


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira(projects=("OPS", "ENG")) as fake:
        yield fake


@pytest.fixture
def tracker(jira: FakeJira) -> JiraTracker:
    return JiraTracker(jira.credentials().get_hook(sleep=lambda _seconds: None))


def test_it_is_a_tracker_named_jira(tracker: JiraTracker) -> None:
    assert isinstance(tracker, Tracker)
    assert tracker.name == "jira"


def test_the_label_is_productpilot_and_16_hex_digits_of_the_keys_sha256() -> None:
    # sha256("anomaly:signups:checkout") starts c76cb42fdc06928e
    assert dedupe_label("anomaly:signups:checkout") == "productpilot-c76cb42fdc06928e"
    assert dedupe_label("anomaly:signups:billing") != dedupe_label("anomaly:signups:checkout")


def test_find_open_in_an_empty_project_finds_nothing(tracker: JiraTracker) -> None:
    assert tracker.find_open("OPS", "anomaly:signups:checkout") is None


def test_find_open_asks_for_the_newest_open_issue_with_the_label(
    jira: FakeJira, tracker: JiraTracker
) -> None:
    tracker.find_open("OPS", "anomaly:signups:checkout")

    (search,) = jira.server.calls(f"{API}/search/jql", "GET")
    assert search.query["jql"] == [
        'project = "OPS" AND labels = "productpilot-c76cb42fdc06928e"'
        " AND statusCategory != Done ORDER BY created DESC"
    ]
    assert search.query["maxResults"] == ["1"]


def test_create_opens_an_issue_labelled_for_the_dedupe_key(
    jira: FakeJira, tracker: JiraTracker
) -> None:
    note = message()

    ticket = tracker.create("OPS", note)

    assert ticket == Ticket(key="OPS-1", url=f"{jira.url}/browse/OPS-1", created=True)
    issue = jira.issue("OPS-1")
    assert issue.labels == ["productpilot", dedupe_label(note.dedupe_key)]
    assert (issue.summary, issue.issue_type) == ("Signups dropped 40%", "Task")
    assert issue.description == to_adf(note)


def test_the_same_problem_twice_opens_one_issue_and_comments_once(
    jira: FakeJira, tracker: JiraTracker
) -> None:
    first = deliver(tracker, "OPS", message())
    again = deliver(tracker, "OPS", message(subject="Signups dropped 45%", idempotency_key="k2"))

    assert first.created is True
    assert again == Ticket(key=first.key, url=first.url)
    assert list(jira.issues) == [first.key]
    (comment,) = jira.issue(first.key).comments
    assert comment["body"] == to_adf(message(subject="Signups dropped 45%"), with_subject=True)


def test_an_issue_still_in_progress_gets_the_comment(jira: FakeJira, tracker: JiraTracker) -> None:
    first = deliver(tracker, "OPS", message())
    tracker.hook.transition(first.key, "In Progress")

    again = deliver(tracker, "OPS", message())

    assert again.key == first.key
    assert len(jira.issue(first.key).comments) == 1


def test_once_the_issue_is_done_the_problem_opens_a_new_one(
    jira: FakeJira, tracker: JiraTracker
) -> None:
    first = deliver(tracker, "OPS", message())
    tracker.hook.transition(first.key, "Done")

    again = deliver(tracker, "OPS", message())

    assert again.created is True
    assert again.key != first.key
    assert list(jira.issues) == [first.key, again.key]
    assert jira.issue(first.key).comments == []


def test_the_newest_open_issue_is_the_one_found(jira: FakeJira, tracker: JiraTracker) -> None:
    tracker.create("OPS", message())
    newer = tracker.create("OPS", message())

    assert tracker.find_open("OPS", message().dedupe_key) == Ticket(newer.key, newer.url)


def test_other_problems_and_other_projects_are_not_found(
    jira: FakeJira, tracker: JiraTracker
) -> None:
    tracker.create("OPS", message("anomaly:signups:checkout"))

    assert tracker.find_open("OPS", "anomaly:signups:billing") is None
    assert tracker.find_open("ENG", "anomaly:signups:checkout") is None


@pytest.mark.parametrize("dedupe_key", ODD_KEYS, ids=range(len(ODD_KEYS)))
def test_odd_dedupe_keys_still_open_one_issue_and_find_it_again(
    jira: FakeJira, tracker: JiraTracker, dedupe_key: str
) -> None:
    first = deliver(tracker, "OPS", message(dedupe_key))
    again = deliver(tracker, "OPS", message(dedupe_key))

    assert again.key == first.key
    assert len(jira.issues) == 1
    assert len(jira.issue(first.key).comments) == 1


def test_a_quote_in_the_project_cannot_widen_the_search(
    jira: FakeJira, tracker: JiraTracker
) -> None:
    tracker.create("OPS", message())

    sneaky = 'NOPE" OR project = "OPS'

    assert tracker.find_open(sneaky, message().dedupe_key) is None


@pytest.mark.parametrize("value", [*ODD_KEYS, 'OPS" OR project = "ENG', '\\"', "it's"])
def test_a_quoted_jql_string_reads_back_as_the_value(value: str) -> None:
    (clause,) = parse_jql(f"project = {jql_string(value)}").clauses

    assert clause.value == value


def test_the_jql_for_open_issues_reads_as_three_clauses_and_an_order() -> None:
    query = parse_jql(open_issue_jql('O"PS', "k"))

    assert [(c.field, c.operator, c.value) for c in query.clauses] == [
        ("project", "=", 'O"PS'),
        ("labels", "=", dedupe_label("k")),
        ("statuscategory", "!=", "Done"),
    ]
    assert query.order == (("created", True),)


def test_a_long_multiline_subject_becomes_a_summary_jira_accepts(
    jira: FakeJira, tracker: JiraTracker
) -> None:
    subject = "Signups dropped\nacross   every region " + "and more " * 40

    ticket = tracker.create("OPS", message(subject=subject))

    summary = jira.issue(ticket.key).summary
    assert summary == one_line_summary(subject)
    assert len(summary) == 255
    assert summary.startswith("Signups dropped across every region and more")
    assert summary.endswith("…")


def test_issue_type_labels_and_fields_come_from_the_tracker_settings(jira: FakeJira) -> None:
    tracker = JiraTracker(
        jira.credentials().get_hook(),
        issue_type="Bug",
        labels=("productpilot", "anomaly"),
        extra_fields={"customfield_10050": 90},
    )

    ticket = tracker.create("OPS", message())

    issue = jira.issue(ticket.key)
    assert issue.issue_type == "Bug"
    assert issue.labels == ["productpilot", "anomaly", dedupe_label(message().dedupe_key)]
    assert issue.custom == {"customfield_10050": 90}


def test_a_refused_login_reaches_the_caller_as_a_credential_error(jira: FakeJira) -> None:
    tracker = JiraTracker(jira.credentials(api_token="revoked").get_hook())

    with pytest.raises(CredentialError, match="unsaved Jira credentials block"):
        tracker.find_open("OPS", "anomaly:signups:checkout")
