"""The Linear hook against a fake that judges every request by Linear's GraphQL schema."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from integrations.linear.client import ISSUES, LinearHook
from integrations.linear.credentials import LinearCredentials
from productpilot.vendors import (
    CredentialError,
    RateLimitedError,
    RejectedRequestError,
    RetryPolicy,
    TransientVendorError,
)
from tests.fakes.server import Reply, serving
from tests.integrations.linear.fake import (
    API_KEY,
    FakeLinear,
    authentication_error_reply,
    graphql_body,
    linear_error,
    rate_limited_reply,
)

NOW = 1_785_585_600.0  # 2026-08-01 12:00 UTC, as Unix seconds
POLICY = RetryPolicy(attempts=3, base_seconds=0.5, max_seconds=30.0, jitter=0.5)


@pytest.fixture
def linear() -> Iterator[FakeLinear]:
    with serving(FakeLinear()) as fake:
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


def credentials_for(linear: FakeLinear, api_key: str = API_KEY) -> LinearCredentials:
    credentials = LinearCredentials(api_key=api_key, url=linear.graphql_url)
    credentials._block_document_name = "linear-ops"  # as LinearCredentials.load("linear-ops")
    return credentials


@pytest.fixture
def hook(linear: FakeLinear, sleeps: list[float]) -> Iterator[LinearHook]:
    with credentials_for(linear).get_hook(
        policy=POLICY, sleep=sleeps.append, clock=lambda: NOW
    ) as made:
        yield made


def team_id(linear: FakeLinear, key: str = "ENG") -> str:
    return linear.teams[key].id


# --- the credentials block --------------------------------------------------------------------


def test_the_block_defaults_to_linears_public_endpoint() -> None:
    credentials = LinearCredentials(api_key="lin_api_x")
    assert credentials.url == "https://api.linear.app/graphql"
    assert credentials.get_hook().url == "https://api.linear.app/graphql"


def test_the_api_key_is_a_secret_and_is_sent_as_is_without_bearer(
    linear: FakeLinear, hook: LinearHook
) -> None:
    assert API_KEY not in repr(credentials_for(linear))
    hook.team("ENG")
    assert linear.requests[0].headers["authorization"] == API_KEY


def test_every_call_is_a_named_operation_with_variables(
    linear: FakeLinear, hook: LinearHook
) -> None:
    hook.team("ENG")
    body = graphql_body(linear.requests[0])
    assert body["operationName"] == "TeamByKey"
    assert "query TeamByKey(" in body["query"]
    assert body["variables"] == {"key": "ENG"}


# --- teams and workflow states ----------------------------------------------------------------


def test_team_finds_a_team_by_its_key(linear: FakeLinear, hook: LinearHook) -> None:
    assert hook.team("ENG") == {"id": team_id(linear), "key": "ENG", "name": "Engineering"}


def test_a_team_key_nobody_has_is_rejected(hook: LinearHook) -> None:
    with pytest.raises(RejectedRequestError, match="no team with key 'OPS'"):
        hook.team("OPS")


def test_workflow_states_are_the_teams_own(linear: FakeLinear, hook: LinearHook) -> None:
    linear.add_team("OPS", "Operations")
    states = hook.workflow_states(team_id(linear))
    assert [(s["name"], s["type"]) for s in states] == [
        ("Backlog", "backlog"),
        ("Todo", "unstarted"),
        ("In Progress", "started"),
        ("Done", "completed"),
        ("Canceled", "canceled"),
        ("Duplicate", "duplicate"),
    ]
    ops_state_ids = {s.id for s in linear.states if s.team.key == "OPS"}
    assert not ops_state_ids & {s["id"] for s in states}


# --- issues -----------------------------------------------------------------------------------


def test_create_issue_returns_its_id_identifier_and_url(
    linear: FakeLinear, hook: LinearHook
) -> None:
    created = hook.create_issue(team_id(linear), "Signups dropped", "Below **the band**.")
    stored = linear.issue("ENG-1")
    assert created == {"id": stored.id, "identifier": "ENG-1", "url": stored.url}
    assert (stored.title, stored.description, stored.state.name) == (
        "Signups dropped",
        "Below **the band**.",
        "Todo",
    )


def test_create_issue_sends_priority_labels_and_a_uuid_of_our_own(
    linear: FakeLinear, hook: LinearHook
) -> None:
    hook.create_issue(team_id(linear), "Checkout errors", "5xx rate up", 1, ["label-1", "label-2"])
    sent = graphql_body(linear.requests[0])["variables"]["input"]
    assert sent["priority"] == 1
    assert sent["labelIds"] == ["label-1", "label-2"]
    assert linear.issue("ENG-1").id == sent["id"]
    assert (linear.issue("ENG-1").priority, linear.issue("ENG-1").label_ids) == (
        1,
        ["label-1", "label-2"],
    )


def test_create_issue_leaves_out_what_was_not_given(linear: FakeLinear, hook: LinearHook) -> None:
    hook.create_issue(team_id(linear), "Title", "Body")
    sent = graphql_body(linear.requests[0])["variables"]["input"]
    assert set(sent) == {"id", "teamId", "title", "description"}


def test_issues_are_filtered_by_team_description_and_state(
    linear: FakeLinear, hook: LinearHook
) -> None:
    linear.add_team("OPS", "Operations")
    hook.create_issue(team_id(linear), "A", "marker-1")
    hook.create_issue(team_id(linear), "B", "marker-2")
    hook.create_issue(team_id(linear, "OPS"), "C", "marker-1")
    hook.create_issue(team_id(linear), "D", "marker-1")
    linear.move("ENG-3", "Done")

    found = hook.issues(
        {
            "team": {"key": {"eq": "ENG"}},
            "description": {"contains": "marker-1"},
            "state": {"type": {"nin": ["completed", "canceled"]}},
        }
    )

    assert [issue["identifier"] for issue in found] == ["ENG-1"]
    assert found[0]["state"] == {
        "id": linear.issue("ENG-1").state.id,
        "name": "Todo",
        "type": "unstarted",
    }
    assert found[0]["team"] == {"id": team_id(linear), "key": "ENG"}


def test_issues_mentioning_a_word_in_title_or_description_ignoring_case(
    linear: FakeLinear, hook: LinearHook
) -> None:
    linear.add_team("OPS", "Operations")
    hook.create_issue(team_id(linear), "Restyle FK3YCHECKOUT", "")
    hook.create_issue(team_id(linear), "Checkout", "See figma.com/design/Fk3yCheckout/x")
    hook.create_issue(team_id(linear), "Other", "figma.com/design/Other")
    hook.create_issue(team_id(linear, "OPS"), "Elsewhere", "Fk3yCheckout")

    found = hook.issues(
        {
            "team": {"or": [{"key": {"eq": "ENG"}}, {"id": {"eq": "ENG"}}]},
            "or": [
                {"title": {"containsIgnoreCase": "Fk3yCheckout"}},
                {"description": {"containsIgnoreCase": "Fk3yCheckout"}},
            ],
        }
    )

    assert sorted(issue["identifier"] for issue in found) == ["ENG-1", "ENG-2"]


def test_issues_returns_at_most_first(linear: FakeLinear, hook: LinearHook) -> None:
    for n in range(3):
        hook.create_issue(team_id(linear), f"Issue {n}", "")
    assert len(hook.issues({}, first=2)) == 2
    assert graphql_body(linear.requests[-1])["variables"]["first"] == 2


def test_issue_is_found_by_identifier_or_uuid(linear: FakeLinear, hook: LinearHook) -> None:
    created = hook.create_issue(team_id(linear), "Title", "Body")
    assert hook.issue("ENG-1")["id"] == created["id"]
    assert hook.issue(created["id"])["identifier"] == "ENG-1"


def test_an_unknown_issue_is_rejected_with_linears_message(hook: LinearHook) -> None:
    with pytest.raises(RejectedRequestError, match="Entity not found: Issue"):
        hook.issue("ENG-404")


def test_update_issue_changes_state_and_priority(linear: FakeLinear, hook: LinearHook) -> None:
    created = hook.create_issue(team_id(linear), "Title", "Body", priority=3)
    started = next(s for s in linear.states if s.team.key == "ENG" and s.name == "In Progress")

    updated = hook.update_issue(created["id"], state_id=started.id, priority=1)

    assert updated["state"] == {"id": started.id, "name": "In Progress", "type": "started"}
    assert (linear.issue("ENG-1").state, linear.issue("ENG-1").priority) == (started, 1)
    assert graphql_body(linear.requests[-1])["variables"]["input"] == {
        "stateId": started.id,
        "priority": 1,
    }


def test_update_issue_with_nothing_to_change_is_a_mistake(hook: LinearHook) -> None:
    with pytest.raises(ValueError, match="state_id or a priority"):
        hook.update_issue("any")


def test_set_state_moves_an_issue_by_state_name(linear: FakeLinear, hook: LinearHook) -> None:
    created = hook.create_issue(team_id(linear), "Title", "Body")
    hook.set_state(created["id"], team_id(linear), "in progress")
    assert linear.issue("ENG-1").state.name == "In Progress"


def test_set_state_to_a_name_the_team_lacks_is_rejected_naming_the_choices(
    linear: FakeLinear, hook: LinearHook
) -> None:
    created = hook.create_issue(team_id(linear), "Title", "Body")
    with pytest.raises(RejectedRequestError, match=r"'Shipped' \(it has: Backlog, Canceled"):
        hook.set_state(created["id"], team_id(linear), "Shipped")
    assert linear.issue("ENG-1").state.name == "Todo"


def test_comment_adds_a_markdown_comment(linear: FakeLinear, hook: LinearHook) -> None:
    created = hook.create_issue(team_id(linear), "Title", "Body")
    comment = hook.comment(created["id"], "Happened **again**")
    [stored] = linear.issue("ENG-1").comments
    assert comment == {"id": stored.id, "url": stored.url}
    assert stored.body == "Happened **again**"


# --- answers lost on the way back -------------------------------------------------------------


def test_an_issue_whose_answer_was_lost_is_not_created_twice(linear: FakeLinear) -> None:
    sleeps: list[float] = []
    hook = credentials_for(linear).get_hook(timeout=0.05, policy=POLICY, sleep=sleeps.append)
    linear.answer_late(0.2)

    created = hook.create_issue(team_id(linear), "Title", "Body")

    assert [issue.identifier for issue in linear.issues] == ["ENG-1"]
    assert created == {
        "id": linear.issues[0].id,
        "identifier": "ENG-1",
        "url": linear.issues[0].url,
    }
    assert linear.operations == ["IssueCreate", "Issues"]
    assert len(sleeps) == 1


def test_a_comment_whose_answer_was_lost_is_not_posted_twice(linear: FakeLinear) -> None:
    hook = credentials_for(linear).get_hook(timeout=0.05, policy=POLICY, sleep=lambda _s: None)
    created = hook.create_issue(team_id(linear), "Title", "Body")
    linear.answer_late(0.2)

    hook.comment(created["id"], "Again")

    assert [c.body for c in linear.issue("ENG-1").comments] == ["Again"]
    assert linear.operations[1:] == ["CommentCreate", "CommentById"]


def test_a_retry_creates_the_issue_when_the_first_try_never_arrived(
    linear: FakeLinear, hook: LinearHook
) -> None:
    linear.fail_next(Reply(503))
    hook.create_issue(team_id(linear), "Title", "Body")
    assert len(linear.issues) == 1
    assert linear.operations == ["IssueCreate", "Issues", "IssueCreate"]


# --- failures ---------------------------------------------------------------------------------


def test_a_wrong_api_key_is_a_credential_error_naming_the_block_after_one_request(
    linear: FakeLinear, sleeps: list[float]
) -> None:
    hook = credentials_for(linear, api_key="lin_api_revoked").get_hook(
        policy=POLICY, sleep=sleeps.append
    )
    with pytest.raises(CredentialError) as raised:
        hook.team("ENG")
    assert "the Linear credentials block 'linear-ops'" in str(raised.value)
    assert "AUTHENTICATION_ERROR" in str(raised.value)
    assert not raised.value.retryable
    assert (len(linear.requests), sleeps) == (1, [])


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(401, {"errors": [{"message": "Unauthorized"}]}), id="HTTP 401"),
        pytest.param(Reply(403, None), id="HTTP 403 without a body"),
        pytest.param(authentication_error_reply(), id="AUTHENTICATION_ERROR with 400"),
        pytest.param(
            Reply(400, {"errors": [linear_error("Not allowed", "FORBIDDEN", "forbidden")]}),
            id="FORBIDDEN",
        ),
        pytest.param(
            Reply(200, {"errors": [{"message": "x", "extensions": {"type": "forbidden"}}]}),
            id="extensions.type only",
        ),
    ],
)
def test_refused_credentials_are_never_retried(
    linear: FakeLinear, hook: LinearHook, sleeps: list[float], reply: Reply
) -> None:
    linear.fail_next(reply)
    with pytest.raises(CredentialError, match="check the Linear credentials block 'linear-ops'"):
        hook.team("ENG")
    assert (len(linear.requests), sleeps) == (1, [])


def test_an_unsaved_block_is_still_named_in_the_error(linear: FakeLinear) -> None:
    hook = LinearCredentials(api_key="wrong", url=linear.graphql_url).get_hook()
    with pytest.raises(CredentialError, match="an unsaved Linear block"):
        hook.team("ENG")


def test_http_429_waits_for_retry_after_then_succeeds(
    linear: FakeLinear, hook: LinearHook, sleeps: list[float]
) -> None:
    linear.fail_next(Reply(429, {"errors": [{"message": "Too many"}]}, {"Retry-After": "7"}))
    assert hook.team("ENG")["key"] == "ENG"
    assert sleeps == [7.0]
    assert len(linear.requests) == 2


def test_ratelimited_waits_until_the_request_budget_resets(
    linear: FakeLinear, hook: LinearHook, sleeps: list[float]
) -> None:
    linear.fail_next(rate_limited_reply(requests_reset_ms=int((NOW + 12.5) * 1000)))
    assert hook.team("ENG")["key"] == "ENG"
    assert sleeps == [pytest.approx(12.5)]


def test_ratelimited_prefers_retry_after_to_the_reset_time(
    linear: FakeLinear, hook: LinearHook, sleeps: list[float]
) -> None:
    linear.fail_next(rate_limited_reply(retry_after=3, requests_reset_ms=int((NOW + 60) * 1000)))
    hook.team("ENG")
    assert sleeps == [3.0]


def test_the_exhausted_complexity_budget_decides_the_wait(
    linear: FakeLinear, hook: LinearHook, sleeps: list[float]
) -> None:
    reply = rate_limited_reply()
    reply.headers |= {
        "X-RateLimit-Requests-Remaining": "1200",
        "X-RateLimit-Requests-Reset": str(int((NOW + 5) * 1000)),
        "X-RateLimit-Complexity-Remaining": "0",
        "X-RateLimit-Complexity-Reset": str(int((NOW + 20) * 1000)),
    }
    linear.fail_next(reply)
    hook.team("ENG")
    assert sleeps == [pytest.approx(20.0)]


def test_a_rate_limit_longer_than_the_policy_allows_is_raised_for_the_outbox(
    linear: FakeLinear, hook: LinearHook, sleeps: list[float]
) -> None:
    linear.fail_next(rate_limited_reply(requests_reset_ms=int((NOW + 3600) * 1000)))
    with pytest.raises(RateLimitedError) as raised:
        hook.team("ENG")
    assert raised.value.retry_after == pytest.approx(3600)
    assert sleeps == []


def test_server_errors_are_retried_with_backoff(
    linear: FakeLinear, hook: LinearHook, sleeps: list[float]
) -> None:
    linear.fail_next(Reply(503), Reply(502, b"<html>Bad gateway</html>"))
    assert hook.team("ENG")["key"] == "ENG"
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5  # base 0.5 s, up to half of it drawn away as jitter
    assert 0.5 <= sleeps[1] <= 1.0  # doubled


def test_server_errors_on_every_try_end_in_a_transient_error(
    linear: FakeLinear, hook: LinearHook
) -> None:
    linear.fail_next(Reply(500), Reply(500), Reply(500))
    with pytest.raises(TransientVendorError, match="HTTP 500"):
        hook.team("ENG")
    assert len(linear.requests) == POLICY.attempts


def test_no_answer_in_time_is_a_transient_error(linear: FakeLinear) -> None:
    hook = credentials_for(linear).get_hook(
        timeout=0.05, policy=RetryPolicy(attempts=1), sleep=lambda _s: None
    )
    linear.fail_next(Reply(200, {"data": {}}, delay=0.2))
    with pytest.raises(TransientVendorError, match=r"TeamByKey: no answer within 0.05s"):
        hook.team("ENG")


def test_a_refused_connection_is_a_transient_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = LinearHook(API_KEY, f"http://127.0.0.1:{port}/graphql", policy=RetryPolicy(attempts=1))
    with pytest.raises(TransientVendorError, match="TeamByKey"):
        hook.team("ENG")


def test_other_graphql_errors_are_rejected_with_linears_message_and_not_retried(
    linear: FakeLinear, hook: LinearHook, sleeps: list[float]
) -> None:
    with pytest.raises(RejectedRequestError, match="IssueCreate: Entity not found: Team"):
        hook.create_issue("no-such-team", "Title", "Body")
    assert (linear.operations, sleeps) == (["IssueCreate"], [])


def test_a_mutation_answered_without_success_is_rejected(
    linear: FakeLinear, hook: LinearHook
) -> None:
    linear.fail_next(Reply(200, {"data": {"commentCreate": {"success": False, "comment": None}}}))
    with pytest.raises(RejectedRequestError, match="CommentCreate did not succeed"):
        hook.comment("issue-id", "body")


# --- the fake is as strict as Linear ----------------------------------------------------------


def test_the_fake_flags_a_field_linear_does_not_have(linear: FakeLinear, hook: LinearHook) -> None:
    with pytest.raises(RejectedRequestError):
        hook.execute("Bad", "query Bad { issues { nodes { id colour } } }")
    assert linear.violations == [
        "POST /graphql: schema: Cannot query field 'colour' on type 'Issue'."
    ]
    linear.violations.clear()


def test_the_fake_flags_variables_that_do_not_coerce(linear: FakeLinear, hook: LinearHook) -> None:
    with pytest.raises(RejectedRequestError):
        hook.execute("Issues", ISSUES, {"filter": {"team": {"key": {"equals": "ENG"}}}})
    [violation] = linear.violations
    assert "variables: Variable '$filter' got invalid value" in violation
    assert "'equals'" in violation
    linear.violations.clear()


def test_the_fake_flags_an_anonymous_operation(linear: FakeLinear) -> None:
    httpx.post(
        linear.graphql_url, headers={"Authorization": API_KEY}, json={"query": "{ viewer { id } }"}
    )
    assert any("anonymous operation" in v for v in linear.violations)
    linear.violations.clear()
