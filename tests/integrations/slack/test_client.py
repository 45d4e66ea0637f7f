"""SlackHook: each Web API call against the fake Slack, and how Slack's failures are translated
and retried (by our policy and injected sleep, never by slack-sdk)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from prefect_slack import SlackCredentials
from slack_sdk.errors import SlackApiError
from slack_sdk.models.metadata import Metadata

from integrations.slack.client import PostedMessage, SlackHook
from productpilot.vendors import (
    CredentialError,
    RateLimitedError,
    RejectedRequestError,
    RetryPolicy,
    TransientVendorError,
)
from tests.fakes.server import Reply
from tests.integrations.slack.fake import TOKEN, FakeSlack, running_fake_slack

ALERTS = "C0ALERTS01"
EVENT_TYPE = "productpilot_notification"
POLICY = RetryPolicy(attempts=3, base_seconds=1.0, max_seconds=30.0, jitter=0.5)
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "Signups fell below the band."}}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with running_fake_slack() as fake:
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


def hook_for(slack: FakeSlack, sleeps: list[float], **options: Any) -> SlackHook:
    options = {"policy": POLICY, "block_name": "slack", **options}
    credentials = SlackCredentials(token=options.pop("token", TOKEN))
    return SlackHook.from_credentials(
        credentials, base_url=slack.base_url, sleep=sleeps.append, **options
    )


@pytest.fixture
def hook(slack: FakeSlack, sleeps: list[float]) -> SlackHook:
    return hook_for(slack, sleeps)


def marked(key: str, value: str) -> Metadata:
    return Metadata(event_type=EVENT_TYPE, event_payload={key: value})


# --- the calls --------------------------------------------------------------------------------


def test_post_message_answers_with_the_channel_id_and_ts_slack_assigned(
    slack: FakeSlack, hook: SlackHook
) -> None:
    posted = hook.post_message(
        "#product-alerts", "Signups dropped", [SECTION], metadata=marked("idempotency_key", "k1")
    )

    assert posted.channel_id == ALERTS
    [stored] = slack.messages(ALERTS)
    assert (stored.ts, stored.text, stored.blocks) == (posted.ts, "Signups dropped", [SECTION])
    assert stored.metadata == {"event_type": EVENT_TYPE, "event_payload": {"idempotency_key": "k1"}}
    [request] = slack.calls("/chat.postMessage")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json()["unfurl_links"] is False


def test_post_message_with_thread_ts_replies_in_that_thread(
    slack: FakeSlack, hook: SlackHook
) -> None:
    root = hook.post_message(ALERTS, "first", [SECTION])

    reply = hook.post_message(ALERTS, "again", [SECTION], thread_ts=root.ts)

    [stored_root] = slack.messages(ALERTS)
    assert [r.ts for r in stored_root.replies] == [reply.ts]
    assert stored_root.replies[0].thread_ts == root.ts


def test_update_message_replaces_text_and_blocks_and_keeps_the_metadata(
    slack: FakeSlack, hook: SlackHook
) -> None:
    root = hook.post_message(ALERTS, "first", [SECTION], metadata=marked("idempotency_key", "k1"))
    newer = {"type": "section", "text": {"type": "mrkdwn", "text": "Still low."}}

    hook.update_message(root.channel_id, root.ts, "latest", [newer])

    [stored] = slack.messages(ALERTS)
    assert (stored.text, stored.blocks) == ("latest", [newer])
    assert stored.metadata is not None
    assert stored.metadata["event_payload"] == {"idempotency_key": "k1"}


def test_update_of_a_message_that_does_not_exist_is_rejected(hook: SlackHook) -> None:
    with pytest.raises(RejectedRequestError, match="message_not_found"):
        hook.update_message(ALERTS, "1700000000.000001", "latest", [SECTION])


def test_lookup_user_by_email_returns_the_members_id(hook: SlackHook) -> None:
    assert hook.lookup_user_by_email("ada@example.com") == "U0ADA00001"


def test_lookup_of_an_unknown_address_is_rejected_without_retrying(
    slack: FakeSlack, hook: SlackHook, sleeps: list[float]
) -> None:
    with pytest.raises(RejectedRequestError, match="users_not_found"):
        hook.lookup_user_by_email("nobody@example.com")
    assert len(slack.calls("/users.lookupByEmail")) == 1
    assert sleeps == []


def test_open_direct_message_returns_the_apps_conversation_with_the_user(
    slack: FakeSlack, hook: SlackHook
) -> None:
    assert hook.open_direct_message("U0ADA00001") == slack.dm_with("ada@example.com")


def test_find_channel_id_pages_through_the_channel_list(sleeps: list[float]) -> None:
    with running_fake_slack(page_size=1) as slack:
        hook = hook_for(slack, sleeps)

        assert hook.find_channel_id("#general") == "C0GENERAL1"
        assert hook.find_channel_id("no-such-channel") is None

    # general is second: two pages; a name that is nowhere reads both pages again.
    assert len(slack.calls("/conversations.list")) == 4


def test_find_message_by_metadata_pages_through_history_to_the_matching_payload(
    sleeps: list[float],
) -> None:
    with running_fake_slack(page_size=2) as slack:
        hook = hook_for(slack, sleeps)
        wanted = hook.post_message(ALERTS, "wanted", [], metadata=marked("idempotency_key", "k1"))
        for n in range(4):
            hook.post_message(ALERTS, f"later {n}", [], metadata=marked("idempotency_key", f"x{n}"))

        found = hook.find_message_by_metadata(ALERTS, EVENT_TYPE, "idempotency_key", "k1")

    assert found == PostedMessage(ALERTS, wanted.ts)
    # Newest first, two to a page: the oldest of five messages is on the third page.
    assert len(slack.calls("/conversations.history")) == 3


def test_find_message_by_metadata_ignores_other_event_types_and_keys(hook: SlackHook) -> None:
    hook.post_message(
        ALERTS, "other app", [], metadata=Metadata("deploy", {"idempotency_key": "k1"})
    )
    hook.post_message(ALERTS, "other key", [], metadata=marked("dedupe_key", "k1"))
    hook.post_message(ALERTS, "no metadata", [])

    assert hook.find_message_by_metadata(ALERTS, EVENT_TYPE, "idempotency_key", "k1") is None


def test_find_message_by_metadata_reads_no_further_back_than_oldest(
    slack: FakeSlack, hook: SlackHook
) -> None:
    old = {"event_type": EVENT_TYPE, "event_payload": {"idempotency_key": "k1"}}
    slack.seed_message(ALERTS, "a month ago", metadata=old, ts="1700000000.000100")

    assert (
        hook.find_message_by_metadata(
            ALERTS, EVENT_TYPE, "idempotency_key", "k1", oldest=1700000001.0
        )
        is None
    )
    assert hook.find_message_by_metadata(
        ALERTS, EVENT_TYPE, "idempotency_key", "k1", oldest=1699999999.0
    ) == PostedMessage(ALERTS, "1700000000.000100")


def test_find_reply_by_metadata_searches_the_replies_not_the_threads_first_message(
    hook: SlackHook,
) -> None:
    root = hook.post_message(ALERTS, "first", [], metadata=marked("idempotency_key", "k1"))
    reply = hook.post_message(
        ALERTS, "again", [], thread_ts=root.ts, metadata=marked("idempotency_key", "k2")
    )

    found = hook.find_reply_by_metadata(ALERTS, root.ts, EVENT_TYPE, "idempotency_key", "k2")

    assert found == PostedMessage(ALERTS, reply.ts)
    assert hook.find_reply_by_metadata(ALERTS, root.ts, EVENT_TYPE, "idempotency_key", "k1") is None


def test_slack_sdks_own_retries_are_off(hook: SlackHook) -> None:
    assert hook.client.retry_handlers == []


def test_a_hook_from_a_token_defaults_to_slacks_api() -> None:
    hook = SlackHook("xoxb-1")

    assert hook.client.base_url == "https://slack.com/api/"
    assert hook.client.token == "xoxb-1"


# --- refused credentials: fix the block, retrying cannot help ---------------------------------


def test_an_invalid_token_is_a_credential_error_naming_the_block_after_one_request(
    slack: FakeSlack, sleeps: list[float]
) -> None:
    hook = hook_for(slack, sleeps, token="xoxb-revoked", block_name="ops-slack")

    with pytest.raises(CredentialError) as raised:
        hook.post_message(ALERTS, "Signups dropped", [SECTION])

    assert "invalid_auth" in str(raised.value)
    assert "check the Slack credentials block 'ops-slack'" in str(raised.value)
    assert not raised.value.retryable
    assert len(slack.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "code", ["not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope"]
)
def test_slacks_token_error_codes_are_credential_errors(
    slack: FakeSlack, hook: SlackHook, code: str
) -> None:
    slack.fail_next(Reply(200, {"ok": False, "error": code}))

    with pytest.raises(CredentialError, match=f"{code} on chat.postMessage.*block 'slack'"):
        hook.post_message(ALERTS, "Signups dropped", [SECTION])
    assert len(slack.requests) == 1


def test_a_missing_scope_says_which_scope_is_needed(slack: FakeSlack, hook: SlackHook) -> None:
    slack.fail_next(Reply(200, {"ok": False, "error": "missing_scope", "needed": "im:history"}))

    with pytest.raises(CredentialError, match=r"needs im:history"):
        hook.find_message_by_metadata(ALERTS, EVENT_TYPE, "idempotency_key", "k1")


@pytest.mark.parametrize("status", [401, 403])
def test_http_401_and_403_are_credential_errors(
    slack: FakeSlack, hook: SlackHook, status: int
) -> None:
    slack.fail_next(Reply(status, {"ok": False, "error": "forbidden"}))

    with pytest.raises(CredentialError, match=f"HTTP {status}.*block 'slack'"):
        hook.lookup_user_by_email("ada@example.com")
    assert len(slack.requests) == 1


# --- rate limits and outages: retried as the policy says ---------------------------------------


def test_a_429_waits_for_retry_after_then_the_retry_succeeds(
    slack: FakeSlack, hook: SlackHook, sleeps: list[float]
) -> None:
    slack.fail_next(Reply(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "7"}))

    posted = hook.post_message(ALERTS, "Signups dropped", [SECTION])

    assert sleeps == [7.0]
    assert len(slack.calls("/chat.postMessage")) == 2
    assert [m.ts for m in slack.messages(ALERTS)] == [posted.ts]


def test_a_retry_after_longer_than_the_policy_allows_is_raised_for_the_outbox(
    slack: FakeSlack, hook: SlackHook, sleeps: list[float]
) -> None:
    slack.fail_next(
        Reply(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "120"})
    )

    with pytest.raises(RateLimitedError) as raised:
        hook.post_message(ALERTS, "Signups dropped", [SECTION])

    assert raised.value.retry_after == 120.0
    assert sleeps == []
    assert len(slack.requests) == 1


def test_two_503s_then_success_backs_off_twice(
    slack: FakeSlack, hook: SlackHook, sleeps: list[float]
) -> None:
    slack.fail_next(Reply(503), Reply(503))

    assert hook.lookup_user_by_email("ada@example.com") == "U0ADA00001"

    assert len(slack.requests) == 3
    assert len(sleeps) == 2
    # Exponential backoff with jitter: retry n waits within [ceiling * (1 - jitter), ceiling].
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 2.0


def test_an_outage_longer_than_the_attempts_is_a_transient_error(
    slack: FakeSlack, hook: SlackHook, sleeps: list[float]
) -> None:
    slack.fail_next(Reply(500), Reply(502), Reply(503))

    with pytest.raises(TransientVendorError, match=r"HTTP 503 on users\.lookupByEmail"):
        hook.lookup_user_by_email("ada@example.com")
    assert len(slack.requests) == POLICY.attempts
    assert len(sleeps) == POLICY.attempts - 1


def test_ratelimited_without_a_429_is_transient_and_retried(
    slack: FakeSlack, hook: SlackHook, sleeps: list[float]
) -> None:
    slack.fail_next(Reply(200, {"ok": False, "error": "ratelimited"}))

    assert hook.lookup_user_by_email("ada@example.com") == "U0ADA00001"
    assert len(slack.requests) == 2
    assert len(sleeps) == 1


def test_a_reply_slower_than_the_timeout_is_retried_then_a_transient_error(
    slack: FakeSlack, sleeps: list[float]
) -> None:
    hook = hook_for(slack, sleeps, timeout=0.05, policy=RetryPolicy(attempts=2))
    slack.fail_next(Reply(delay=0.15), Reply(delay=0.15))

    with pytest.raises(TransientVendorError, match="timed out"):
        hook.lookup_user_by_email("ada@example.com")

    assert len(slack.requests) == 2
    assert len(sleeps) == 1


def test_a_refused_connection_is_a_transient_error(sleeps: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = SlackHook(
        TOKEN, base_url=f"http://127.0.0.1:{port}/api/", policy=POLICY, sleep=sleeps.append
    )

    with pytest.raises(TransientVendorError, match=r"users\.lookupByEmail: .*refused"):
        hook.lookup_user_by_email("ada@example.com")
    assert len(sleeps) == POLICY.attempts - 1


# --- refused requests: the same request fails the same way ------------------------------------


def test_an_unknown_channel_is_rejected_after_one_request(
    slack: FakeSlack, hook: SlackHook, sleeps: list[float]
) -> None:
    with pytest.raises(RejectedRequestError, match=r"channel_not_found on chat\.postMessage"):
        hook.post_message("#no-such-channel", "Signups dropped", [SECTION])

    assert len(slack.requests) == 1
    assert sleeps == []


def test_blocks_over_slacks_limits_are_rejected(slack: FakeSlack, hook: SlackHook) -> None:
    too_long = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}

    with pytest.raises(RejectedRequestError, match="invalid_blocks"):
        hook.post_message(ALERTS, "Signups dropped", [too_long])
    assert slack.messages(ALERTS) == []


# --- the fake itself ---------------------------------------------------------------------------


def test_the_fake_records_a_request_that_breaks_slacks_api_description(
    sleeps: list[float],
) -> None:
    slack = FakeSlack()
    with slack:
        hook = hook_for(slack, sleeps)
        with pytest.raises(SlackApiError):
            hook.client.api_call("chat.postMessage", json={"text": "no channel"})

    assert slack.violations == [
        "POST /chat.postMessage: missing required formData parameter 'channel'"
    ]
