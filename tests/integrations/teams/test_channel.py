"""The Teams channel and hook against a fake Teams webhook: posting, and Teams' bad days."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from integrations.teams.cards import render_card
from integrations.teams.channel import TeamsChannel
from integrations.teams.client import TeamsHook
from integrations.teams.credentials import TeamsWebhook
from productpilot.notify.channels import Channel, Delivery, RecoverableChannel
from productpilot.notify.message import Message
from productpilot.vendors import (
    CredentialError,
    RateLimitedError,
    RejectedRequestError,
    RetryPolicy,
    TransientVendorError,
)
from tests.fakes.server import Reply, serving
from tests.integrations.teams.fake import WEBHOOK_PATH, FakeTeams

# A hung connection must fail the test, not the whole run.
pytestmark = pytest.mark.timeout(20)

POLICY = RetryPolicy(attempts=3, base_seconds=1.0, max_seconds=30.0, jitter=0.5)
MESSAGE = Message(
    subject="Checkout error rate 4.2%",
    text="The error rate is above the 1% release gate.",
    severity="critical",
    kind="productpilot.gate.failed",
    idempotency_key="outbox-7",
    facts=(("gate", "error rate"),),
    link="https://productpilot.example/reports/7",
)


ChannelFactory = Callable[..., TeamsChannel]


class Sleeps(list[float]):
    """Records the waits asked for instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def teams() -> Iterator[FakeTeams]:
    with serving(FakeTeams()) as server:
        yield server


@pytest.fixture
def channel_for(sleeps: Sleeps) -> Iterator[ChannelFactory]:
    """Makes channels with one webhook, ``ops-alerts``, posting to a fake; closes them after."""
    made: list[TeamsChannel] = []

    def make(
        teams: FakeTeams, *, timeout: float = 5.0, policy: RetryPolicy = POLICY
    ) -> TeamsChannel:
        block = TeamsWebhook(url=teams.webhook_url)
        channel = TeamsChannel.from_blocks(
            {"ops-alerts": block}, policy=policy, sleep=sleeps, timeout=timeout
        )
        made.append(channel)
        return channel

    yield make
    for channel in made:
        channel.close()


def posts(teams: FakeTeams) -> int:
    return len(teams.calls(WEBHOOK_PATH, "POST"))


# --- posting -----------------------------------------------------------------------------


def test_send_posts_the_rendered_card_to_the_named_webhook(
    teams: FakeTeams, sleeps: Sleeps, channel_for: ChannelFactory
) -> None:
    delivery = channel_for(teams).send("ops-alerts", MESSAGE)

    assert teams.cards() == [render_card(MESSAGE)]
    assert delivery == Delivery(external_id="outbox-7")
    assert sleeps == []


def test_the_request_states_json_in_utf_8(teams: FakeTeams, channel_for: ChannelFactory) -> None:
    channel_for(teams).send("ops-alerts", MESSAGE)

    assert teams.requests[0].headers["content-type"] == "application/json; charset=utf-8"


def test_a_workflows_url_answering_202_is_a_success(channel_for: ChannelFactory) -> None:
    with serving(FakeTeams(workflow=True)) as workflow:
        channel_for(workflow).send("ops-alerts", MESSAGE)

    assert len(workflow.cards()) == 1


def test_a_follow_up_is_a_new_card_because_webhooks_have_no_threads(
    teams: FakeTeams, channel_for: ChannelFactory
) -> None:
    channel = channel_for(teams)
    first = channel.send("ops-alerts", MESSAGE)

    channel.send("ops-alerts", MESSAGE, thread=first)

    assert len(teams.cards()) == 2


def test_an_unknown_recipient_is_refused_naming_the_configured_webhooks(
    teams: FakeTeams, channel_for: ChannelFactory
) -> None:
    with pytest.raises(RejectedRequestError, match=r"'ops-typo' \(configured: ops-alerts\)"):
        channel_for(teams).send("ops-typo", MESSAGE)

    assert teams.requests == []


def test_the_channel_is_a_channel_but_cannot_find_what_it_sent(
    teams: FakeTeams, channel_for: ChannelFactory
) -> None:
    channel = channel_for(teams)

    assert isinstance(channel, Channel)
    assert not isinstance(channel, RecoverableChannel)


def test_a_card_over_the_size_limit_is_refused_before_any_request(
    teams: FakeTeams, sleeps: Sleeps
) -> None:
    hook = TeamsHook(teams.webhook_url, policy=POLICY, sleep=sleeps)
    card = render_card(MESSAGE) | {"body": [{"type": "TextBlock", "text": "x" * 30_000}]}

    with pytest.raises(RejectedRequestError, match="Teams webhooks take at most 28000"):
        hook.post_card(card)

    assert teams.requests == []


# --- credentials -------------------------------------------------------------------------


def test_the_block_gives_a_hook_named_after_it_that_never_shows_the_url() -> None:
    block = TeamsWebhook(url="https://contoso.webhook.office.com/webhookb2/secret-signature")

    hook = block.get_hook(block_name="ops-alerts")

    assert "secret-signature" not in repr(hook)
    assert "secret-signature" not in repr(block)
    assert hook.block_name == "ops-alerts"
    assert block.get_hook().block_name == "teams"


@pytest.mark.parametrize(
    "url", ["ftp://contoso.example/hook", "contoso.example/hook", "http://[::1"]
)
def test_a_url_that_is_not_http_is_a_credential_error_naming_the_block(url: str) -> None:
    block = TeamsWebhook(url=url)

    with pytest.raises(CredentialError, match="the Teams webhook block 'ops-alerts'"):
        block.get_hook(block_name="ops-alerts")


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_refused_or_deleted_webhook_is_a_credential_error_after_one_request(
    teams: FakeTeams, sleeps: Sleeps, status: int, channel_for: ChannelFactory
) -> None:
    teams.fail_next(Reply(status, {"error": "no"}))

    with pytest.raises(CredentialError, match="the Teams webhook block 'ops-alerts'"):
        channel_for(teams).send("ops-alerts", MESSAGE)

    assert posts(teams) == 1
    assert sleeps == []


def test_credential_errors_do_not_leak_the_webhook_url(
    teams: FakeTeams, channel_for: ChannelFactory
) -> None:
    teams.fail_next(Reply(401))

    with pytest.raises(CredentialError) as raised:
        channel_for(teams).send("ops-alerts", MESSAGE)

    assert WEBHOOK_PATH not in str(raised.value)


# --- rate limits, outages, timeouts ------------------------------------------------------


def test_a_429_waits_the_retry_after_then_posts_again(
    teams: FakeTeams, sleeps: Sleeps, channel_for: ChannelFactory
) -> None:
    teams.fail_next(Reply(429, {"error": "slow down"}, headers={"Retry-After": "7"}))

    channel_for(teams).send("ops-alerts", MESSAGE)

    assert sleeps == [7.0]
    assert posts(teams) == 2


def test_a_429_reported_inside_a_200_by_a_classic_connector_is_retried(
    teams: FakeTeams, sleeps: Sleeps, channel_for: ChannelFactory
) -> None:
    teams.fail_next(
        Reply(
            200,
            b"Webhook message delivery failed with error: Microsoft Teams endpoint returned "
            b"HTTP error 429 with ContextId tcid=0,server=x,cv=y",
            headers={"Content-Type": "text/plain"},
        )
    )

    channel_for(teams).send("ops-alerts", MESSAGE)

    assert len(sleeps) == 1
    assert posts(teams) == 2


def test_a_rate_limit_that_outlasts_the_retries_is_raised_with_its_wait(
    teams: FakeTeams, sleeps: Sleeps, channel_for: ChannelFactory
) -> None:
    teams.fail_next(*[Reply(429, headers={"Retry-After": "2"})] * 3)

    with pytest.raises(RateLimitedError) as raised:
        channel_for(teams).send("ops-alerts", MESSAGE)

    assert raised.value.retry_after == 2.0
    assert sleeps == [2.0, 2.0]
    assert posts(teams) == 3


def test_server_errors_are_retried_with_backoff(
    teams: FakeTeams, sleeps: Sleeps, channel_for: ChannelFactory
) -> None:
    teams.fail_next(Reply(503), Reply(502))

    channel_for(teams).send("ops-alerts", MESSAGE)

    assert posts(teams) == 3
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 2.0


def test_an_outage_outlasting_the_retries_is_transient(
    teams: FakeTeams, channel_for: ChannelFactory
) -> None:
    teams.fail_next(*[Reply(500)] * 3)

    with pytest.raises(TransientVendorError, match="HTTP 500"):
        channel_for(teams).send("ops-alerts", MESSAGE)

    assert posts(teams) == 3


def test_a_webhook_that_does_not_answer_in_time_is_transient(
    teams: FakeTeams, channel_for: ChannelFactory
) -> None:
    teams.fail_next(Reply(200, b"1", delay=0.5))

    with pytest.raises(TransientVendorError, match=r"no answer within 0.1s"):
        channel_for(teams, timeout=0.1, policy=RetryPolicy(attempts=1)).send("ops-alerts", MESSAGE)


def test_a_refused_connection_is_transient_and_retried(sleeps: Sleeps) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    hook = TeamsHook(f"http://127.0.0.1:{closed_port}/webhook", policy=POLICY, sleep=sleeps)

    with pytest.raises(TransientVendorError, match="could not reach the webhook"):
        hook.post_card(render_card(MESSAGE))

    assert len(sleeps) == POLICY.attempts - 1


def test_a_card_teams_refuses_is_rejected_after_one_request(
    teams: FakeTeams, sleeps: Sleeps, channel_for: ChannelFactory
) -> None:
    teams.fail_next(Reply(400, b"Bad payload received by generic incoming webhook."))

    with pytest.raises(RejectedRequestError, match="Bad payload received"):
        channel_for(teams).send("ops-alerts", MESSAGE)

    assert posts(teams) == 1
    assert sleeps == []
