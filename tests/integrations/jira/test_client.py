"""The Jira hook: each REST v3 call it makes, and how Jira's bad days become vendor errors.

The real ``jira`` library talks to :class:`FakeJira`, which checks every request against
Atlassian's OpenAPI description; the ``jira`` fixture fails a test that sent any request the
description (or the ADF rules) refuse.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from integrations.jira.client import JiraHook
from integrations.jira.credentials import JiraCredentials
from productpilot.vendors import (
    CredentialError,
    RateLimitedError,
    RejectedRequestError,
    RetryPolicy,
    TransientVendorError,
)
from tests.fakes.server import Reply
from tests.integrations.jira.fake import API, FakeJira

POLICY = RetryPolicy(attempts=3, base_seconds=0.5, max_seconds=30.0, jitter=0.5)
DOC = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": []}]}


def adf(text: str) -> dict:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira(projects=("OPS", "ENG")) as fake:
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def hook(jira: FakeJira, sleeps: list[float]) -> JiraHook:
    return jira.credentials().get_hook(policy=POLICY, sleep=sleeps.append, timeout=5)


def saved_as(credentials: JiraCredentials, name: str) -> JiraCredentials:
    """The block as ``Block.load(name)`` returns it (tests do not need a Prefect server)."""
    credentials._block_document_name = name
    return credentials


# --- the calls -----------------------------------------------------------------------------


def test_making_a_hook_calls_nothing(jira: FakeJira) -> None:
    jira.credentials().get_hook()

    assert jira.api_calls() == []


def test_search_uses_the_enhanced_jql_search_and_returns_the_issues(
    jira: FakeJira, hook: JiraHook
) -> None:
    first = hook.create_issue("OPS", "Signups dropped", adf("a"), labels=["pp"])
    hook.create_issue("ENG", "Other project", adf("b"), labels=["pp"])

    issues = hook.search('project = "OPS" AND labels = "pp"', fields=["summary", "labels"])

    assert [(i["key"], i["fields"]) for i in issues] == [
        (first, {"summary": "Signups dropped", "labels": ["pp"]})
    ]
    (search,) = jira.server.calls(f"{API}/search/jql", "GET")
    assert search.query["jql"] == ['project = "OPS" AND labels = "pp"']
    assert search.query["fields"] == ["summary", "labels"]
    assert jira.server.calls(f"{API}/search") == []


def test_a_text_search_finds_the_issues_mentioning_a_word(jira: FakeJira, hook: JiraHook) -> None:
    by_summary = hook.create_issue("OPS", "Restyle Fk3yCheckout buttons", adf("x"))
    by_description = hook.create_issue(
        "OPS", "Checkout", adf("Design: https://www.figma.com/design/Fk3yCheckout/Checkout")
    )
    hook.create_issue("OPS", "Unrelated", adf("https://www.figma.com/design/Other"))

    issues = hook.search('project = "OPS" AND text ~ "Fk3yCheckout" ORDER BY created DESC')

    assert [issue["key"] for issue in issues] == [by_description, by_summary]


def test_search_asks_for_at_most_max_results(jira: FakeJira, hook: JiraHook) -> None:
    for number in range(3):
        hook.create_issue("OPS", f"Issue {number}", adf("x"))

    issues = hook.search('project = "OPS" ORDER BY created DESC', max_results=2)

    assert [issue["fields"]["summary"] for issue in issues] == ["Issue 2", "Issue 1"]
    assert jira.server.calls(f"{API}/search/jql")[-1].query["maxResults"] == ["2"]


def test_the_site_field_list_is_read_once_per_hook(jira: FakeJira, hook: JiraHook) -> None:
    hook.search('project = "OPS"')
    hook.search('project = "ENG"')

    assert len(jira.server.calls(f"{API}/field", "GET")) == 1
    assert len(jira.server.calls(f"{API}/search/jql", "GET")) == 2


def test_create_issue_makes_one_request_and_returns_the_key(jira: FakeJira, hook: JiraHook) -> None:
    key = hook.create_issue(
        "OPS",
        "Signups dropped",
        adf("Signups fell 40%."),
        issue_type="Bug",
        labels=("productpilot", "productpilot-0123456789abcdef"),
        extra_fields={"customfield_10050": 87},
    )

    assert key == "OPS-1"
    assert len(jira.api_calls()) == 1
    issue = jira.issue(key)
    assert (issue.summary, issue.issue_type, issue.status) == ("Signups dropped", "Bug", "To Do")
    assert issue.description == adf("Signups fell 40%.")
    assert issue.labels == ["productpilot", "productpilot-0123456789abcdef"]
    assert issue.custom == {"customfield_10050": 87}


def test_comment_adds_the_adf_body_and_returns_its_id(jira: FakeJira, hook: JiraHook) -> None:
    key = hook.create_issue("OPS", "Signups dropped", DOC)

    comment_id = hook.comment(key, adf("It happened again."))

    (comment,) = jira.issue(key).comments
    assert (comment["id"], comment["body"]) == (comment_id, adf("It happened again."))
    assert len(jira.server.calls(f"{API}/issue/{key}/comment", "POST")) == 1


def test_transition_picks_the_transition_by_its_target_status_ignoring_case(
    jira: FakeJira, hook: JiraHook
) -> None:
    key = hook.create_issue("OPS", "Signups dropped", DOC)

    hook.transition(key, "in progress")
    hook.transition(key, "DONE")

    assert jira.issue(key).status == "Done"
    posted = [
        r.json()["transition"]["id"]
        for r in jira.server.calls(f"{API}/issue/{key}/transitions", "POST")
    ]
    assert [str(transition_id) for transition_id in posted] == ["21", "31"]


def test_a_status_no_transition_leads_to_is_refused_naming_those_that_exist(
    jira: FakeJira, hook: JiraHook
) -> None:
    key = hook.create_issue("OPS", "Signups dropped", DOC)

    with pytest.raises(RejectedRequestError) as refused:
        hook.transition(key, "Blocked")

    message = str(refused.value)
    assert "no transition to status 'Blocked'" in message
    assert "'Start work' (to 'In Progress')" in message
    assert "'Resolve' (to 'Done')" in message
    assert jira.server.calls(f"{API}/issue/{key}/transitions", "POST") == []
    assert jira.issue(key).status == "To Do"


def test_update_fields_sets_custom_fields(jira: FakeJira, hook: JiraHook) -> None:
    key = hook.create_issue("OPS", "Signups dropped", DOC)

    hook.update_fields(key, {"customfield_10016": 5, "customfield_10050": 91.5})

    assert jira.issue(key).custom == {"customfield_10016": 5, "customfield_10050": 91.5}
    (put,) = jira.api_calls("PUT")
    assert put.json()["fields"] == {"customfield_10016": 5, "customfield_10050": 91.5}


def test_each_call_makes_only_the_rest_v3_requests_it_needs_signed_in_with_basic_auth(
    jira: FakeJira, hook: JiraHook
) -> None:
    key = hook.create_issue("OPS", "Signups dropped", DOC)
    issue_id = jira.issue(key).id
    hook.comment(key, DOC)
    hook.transition(key, "Done")
    hook.update_fields(key, {"customfield_10016": 3})
    hook.search('project = "OPS"')

    calls = jira.api_calls()
    assert [(r.method, r.path) for r in calls] == [
        ("POST", f"{API}/issue"),
        ("POST", f"{API}/issue/{key}/comment"),
        ("GET", f"{API}/issue/{key}/transitions"),
        ("POST", f"{API}/issue/{key}/transitions"),
        # The library edits through its Issue resource: fetch, PUT to its self URL, reload.
        ("GET", f"{API}/issue/{key}"),
        ("PUT", f"{API}/issue/{issue_id}"),
        ("GET", f"{API}/issue/{issue_id}"),
        # The site's field list, read once per hook, before the first search.
        ("GET", f"{API}/field"),
        ("GET", f"{API}/search/jql"),
    ]
    assert all(r.headers["authorization"].startswith("Basic ") for r in calls)


def test_browse_url_points_at_the_issue_on_the_site(hook: JiraHook, jira: FakeJira) -> None:
    assert hook.browse_url("OPS-7") == f"{jira.url}/browse/OPS-7"


# --- errors --------------------------------------------------------------------------------


def test_a_refused_login_names_the_block_after_one_request(
    jira: FakeJira, sleeps: list[float]
) -> None:
    credentials = saved_as(jira.credentials(api_token="revoked-token"), "jira-prod")
    hook = credentials.get_hook(policy=POLICY, sleep=sleeps.append)

    with pytest.raises(CredentialError) as refused:
        hook.create_issue("OPS", "Signups dropped", DOC)

    assert "HTTP 401" in str(refused.value)
    assert "the Jira credentials block 'jira-prod'" in str(refused.value)
    assert refused.value.retryable is False
    assert len(jira.api_calls()) == 1
    assert sleeps == []
    assert jira.issues == {}


def test_a_forbidden_call_is_a_credential_error_too(jira: FakeJira, hook: JiraHook) -> None:
    jira.server.fail_next(Reply(403, {"errorMessages": ["You do not have permission."]}))

    with pytest.raises(CredentialError, match="You do not have permission"):
        hook.comment("OPS-1", DOC)

    assert len(jira.api_calls()) == 1


def test_a_429_waits_as_long_as_retry_after_says_then_succeeds(
    jira: FakeJira, hook: JiraHook, sleeps: list[float]
) -> None:
    jira.server.fail_next(Reply(429, {"errorMessages": ["Rate limited"]}, {"Retry-After": "7"}))

    key = hook.create_issue("OPS", "Signups dropped", DOC)

    assert sleeps == [7.0]
    assert len(jira.server.calls(f"{API}/issue", "POST")) == 2
    assert list(jira.issues) == [key]


def test_a_retry_after_longer_than_the_policy_allows_is_left_to_the_outbox(
    jira: FakeJira, hook: JiraHook, sleeps: list[float]
) -> None:
    jira.server.fail_next(Reply(429, headers={"Retry-After": "120"}))

    with pytest.raises(RateLimitedError) as limited:
        hook.comment("OPS-1", DOC)

    assert limited.value.retry_after == 120.0
    assert sleeps == []


def test_server_errors_back_off_then_succeed(
    jira: FakeJira, hook: JiraHook, sleeps: list[float]
) -> None:
    jira.server.fail_next(Reply(503), Reply(500, {"errorMessages": ["Internal error"]}))

    key = hook.create_issue("OPS", "Signups dropped", DOC)

    assert key == "OPS-1"
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5  # base 0.5 s, up to half of it jitter
    assert 0.5 <= sleeps[1] <= 1.0  # doubled
    assert len(jira.server.calls(f"{API}/issue", "POST")) == 3


def test_server_errors_on_every_attempt_are_transient(
    jira: FakeJira, hook: JiraHook, sleeps: list[float]
) -> None:
    jira.server.fail_next(Reply(502), Reply(502), Reply(502))

    with pytest.raises(TransientVendorError, match="HTTP 502"):
        hook.comment("OPS-1", DOC)

    assert len(jira.api_calls()) == 3
    assert len(sleeps) == 2


def test_a_timeout_is_transient_and_retried_until_attempts_run_out(
    jira: FakeJira, sleeps: list[float]
) -> None:
    hook = jira.credentials().get_hook(policy=POLICY, sleep=sleeps.append, timeout=0.1)
    jira.server.fail_next(*[Reply(200, {}, delay=0.3) for _ in range(3)])

    with pytest.raises(TransientVendorError, match="no answer in time"):
        hook.comment("OPS-1", DOC)

    assert len(jira.api_calls()) == 3
    assert len(sleeps) == 2


def test_an_unreachable_site_is_transient(sleeps: list[float]) -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = JiraHook(f"http://127.0.0.1:{port}", "a@b.test", "t", policy=POLICY, sleep=sleeps.append)

    with pytest.raises(TransientVendorError, match="cannot reach"):
        hook.comment("OPS-1", DOC)

    assert len(sleeps) == 2


def test_a_request_jira_refuses_is_rejected_at_once(
    jira: FakeJira, hook: JiraHook, sleeps: list[float]
) -> None:
    with pytest.raises(RejectedRequestError, match="Specify a valid project ID or key"):
        hook.create_issue("NOPE", "Signups dropped", DOC)

    assert len(jira.api_calls()) == 1
    assert sleeps == []


def test_an_unknown_issue_is_rejected(jira: FakeJira, hook: JiraHook) -> None:
    with pytest.raises(RejectedRequestError, match="HTTP 404 Issue does not exist"):
        hook.comment("OPS-404", DOC)


def test_an_unknown_custom_field_is_rejected_with_jiras_reason(
    jira: FakeJira, hook: JiraHook
) -> None:
    key = hook.create_issue("OPS", "Signups dropped", DOC)

    with pytest.raises(RejectedRequestError, match="customfield_99999"):
        hook.update_fields(key, {"customfield_99999": 1})
