"""SlackChannel: sending to channels and people, threading follow-ups, and finding a message an
earlier attempt posted before it crashed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from integrations.slack.channel import METADATA_EVENT_TYPE, SlackChannel, is_email, thread_root
from integrations.slack.client import PostedMessage, SlackHook
from integrations.slack.messages import UPDATED_NOTE, render
from productpilot.notify.channels import Channel, Delivery, RecoverableChannel
from productpilot.notify.message import Message, MessageItem
from productpilot.vendors import CredentialError, RejectedRequestError, RetryPolicy
from tests.integrations.slack.fake import TOKEN, FakeSlack, running_fake_slack

ALERTS = "C0ALERTS01"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with running_fake_slack() as fake:
        yield fake


def channel_for(slack: FakeSlack, *, token: str = TOKEN, **options: object) -> SlackChannel:
    hook = SlackHook(
        token,
        credential="the Slack credentials block 'slack'",
        base_url=slack.base_url,
        policy=RetryPolicy(attempts=2),
        sleep=lambda _seconds: None,
    )
    return SlackChannel(hook, **options)  # type: ignore[arg-type]


@pytest.fixture
def channel(slack: FakeSlack) -> SlackChannel:
    return channel_for(slack)


def alert(key: str = "k1", **changes: object) -> Message:
    fields: dict[str, object] = {
        "subject": "Signups 40% below expected",
        "text": "Signups fell below the expected band.",
        "severity": "critical",
        "kind": "productpilot.anomaly.detected",
        "idempotency_key": key,
        "facts": (("metric", "signups"),),
        "dedupe_key": "anomaly:signups",
        "product": "Acme",
    }
    return Message(**{**fields, **changes})  # type: ignore[arg-type]


def test_slack_channel_is_a_recoverable_channel(channel: SlackChannel) -> None:
    assert isinstance(channel, Channel)
    assert isinstance(channel, RecoverableChannel)
    assert channel.name == "slack"


# --- sending -----------------------------------------------------------------------------------


def test_send_to_a_channel_name_posts_the_rendered_message_with_its_keys_as_metadata(
    slack: FakeSlack, channel: SlackChannel
) -> None:
    delivery = channel.send("#product-alerts", alert())

    [stored] = slack.messages(ALERTS)
    assert delivery == Delivery(external_id=f"{ALERTS}:{stored.ts}", thread_id=stored.ts)
    rendered = render(alert())
    assert (stored.text, stored.blocks) == (rendered.text, rendered.blocks)
    assert stored.metadata == {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {"idempotency_key": "k1", "dedupe_key": "anomaly:signups"},
    }


def test_send_to_a_channel_id_posts_there(slack: FakeSlack, channel: SlackChannel) -> None:
    delivery = channel.send("C0GENERAL1", alert())

    assert delivery.external_id.startswith("C0GENERAL1:")
    assert len(slack.messages("C0GENERAL1")) == 1


def test_send_to_an_email_address_messages_that_person_directly(
    slack: FakeSlack, channel: SlackChannel
) -> None:
    delivery = channel.send("ada@example.com", alert())

    dm = slack.dm_with("ada@example.com")
    [stored] = slack.messages(dm)
    assert delivery.external_id == f"{dm}:{stored.ts}"
    [lookup] = slack.calls("/users.lookupByEmail")
    assert lookup.params()["email"] == "ada@example.com"
    assert slack.calls("/chat.postMessage")[0].json()["channel"] == "U0ADA00001"


def test_a_second_message_to_the_same_person_looks_them_up_once(
    slack: FakeSlack, channel: SlackChannel
) -> None:
    channel.send("ada@example.com", alert("k1"))
    channel.send("ada@example.com", alert("k2"))

    assert len(slack.calls("/users.lookupByEmail")) == 1
    assert len(slack.messages(slack.dm_with("ada@example.com"))) == 2


def test_an_address_slack_does_not_know_is_rejected(
    slack: FakeSlack, channel: SlackChannel
) -> None:
    with pytest.raises(RejectedRequestError, match="users_not_found"):
        channel.send("nobody@example.com", alert())
    assert slack.calls("/chat.postMessage") == []


def test_a_digest_longer_than_slack_allows_is_accepted_cut_to_fifty_blocks(
    slack: FakeSlack, channel: SlackChannel
) -> None:
    items = tuple(MessageItem(f"Finding {n}", "warning", "k", text="x" * 500) for n in range(120))

    channel.send("#product-alerts", alert(kind="digest", items=items))

    [stored] = slack.messages(ALERTS)
    assert len(stored.blocks) == 50
    assert "more_" in stored.blocks[-2]["text"]["text"]


def test_a_refused_token_names_the_block_and_is_tried_once(slack: FakeSlack) -> None:
    channel = channel_for(slack, token="xoxb-revoked")

    with pytest.raises(CredentialError, match="check the Slack credentials block 'slack'"):
        channel.send("#product-alerts", alert())
    assert len(slack.requests) == 1


# --- threads -----------------------------------------------------------------------------------


def test_a_follow_up_replies_in_the_thread_and_updates_the_first_message(
    slack: FakeSlack, channel: SlackChannel
) -> None:
    first = channel.send("#product-alerts", alert("k1"))
    follow_up = alert("k2", subject="Signups 55% below expected", severity="critical")

    delivery = channel.send("#product-alerts", follow_up, thread=first)

    [root] = slack.messages(ALERTS)
    [reply] = root.replies
    assert delivery == Delivery(external_id=f"{ALERTS}:{reply.ts}", thread_id=root.ts)
    assert first.thread_id == root.ts
    assert reply.thread_ts == root.ts
    assert reply.metadata is not None
    assert reply.metadata["event_payload"]["idempotency_key"] == "k2"
    # The first message now shows the latest state, and still carries its own key.
    latest = render(follow_up, updated=True)
    assert (root.text, root.blocks) == (latest.text, latest.blocks)
    assert UPDATED_NOTE in str(root.blocks[-1])
    assert root.metadata is not None
    assert root.metadata["event_payload"]["idempotency_key"] == "k1"


def test_every_follow_up_goes_into_the_first_messages_thread(
    slack: FakeSlack, channel: SlackChannel
) -> None:
    first = channel.send("#product-alerts", alert("k1"))
    second = channel.send("#product-alerts", alert("k2"), thread=first)
    third = channel.send("#product-alerts", alert("k3"), thread=second)

    [root] = slack.messages(ALERTS)
    assert len(root.replies) == 2
    assert second.thread_id == third.thread_id == root.ts
    assert [call.json()["ts"] for call in slack.calls("/chat.update")] == [root.ts, root.ts]


def test_a_follow_up_to_a_direct_message_threads_in_that_conversation(
    slack: FakeSlack, channel: SlackChannel
) -> None:
    first = channel.send("ada@example.com", alert("k1"))

    channel.send("ada@example.com", alert("k2"), thread=first)

    [root] = slack.messages(slack.dm_with("ada@example.com"))
    assert len(root.replies) == 1


def test_thread_root_reads_a_slack_delivery() -> None:
    delivery = Delivery(f"{ALERTS}:1785000001.000100", thread_id="1785000000.000100")

    assert thread_root(delivery) == PostedMessage(ALERTS, "1785000000.000100")
    assert thread_root(Delivery(f"{ALERTS}:1785000001.000100")) == PostedMessage(
        ALERTS, "1785000001.000100"
    )
    with pytest.raises(ValueError, match="not a Slack delivery"):
        thread_root(Delivery("<message-id@example.com>"))


# --- recovery after a crash --------------------------------------------------------------------


def test_find_sent_finds_a_message_posted_by_an_attempt_that_crashed(slack: FakeSlack) -> None:
    # The attempt posted, then crashed before the outbox recorded the delivery.
    posted = channel_for(slack).send("#product-alerts", alert("k1"))
    channel_for(slack).send("#product-alerts", alert("k-other"))

    # The retry runs in a new process: nothing of the first attempt is in memory.
    found = channel_for(slack).find_sent("#product-alerts", alert("k1"))

    assert found == posted
    assert len(slack.calls("/conversations.list")) == 1


def test_find_sent_is_none_for_a_message_never_posted(
    slack: FakeSlack, channel: SlackChannel
) -> None:
    channel.send("#product-alerts", alert("k1"))

    assert channel.find_sent("#product-alerts", alert("k2", dedupe_key="")) is None
    assert channel.find_sent("#product-alerts", alert("k3")) is None


def test_find_sent_finds_a_follow_up_in_the_thread_of_its_problem(slack: FakeSlack) -> None:
    first = channel_for(slack).send("#product-alerts", alert("k1"))
    posted = channel_for(slack).send("#product-alerts", alert("k2"), thread=first)

    found = channel_for(slack).find_sent("#product-alerts", alert("k2"))

    assert found == posted
    assert len(slack.calls("/conversations.replies")) == 1


def test_find_sent_finds_a_direct_message(slack: FakeSlack) -> None:
    posted = channel_for(slack).send("grace@example.com", alert("k1"))

    found = channel_for(slack).find_sent("grace@example.com", alert("k1"))

    assert found == posted
    assert len(slack.calls("/conversations.open")) == 1


def test_find_sent_by_channel_id_needs_no_lookup(slack: FakeSlack) -> None:
    posted = channel_for(slack).send(ALERTS, alert("k1"))

    assert channel_for(slack).find_sent(ALERTS, alert("k1")) == posted
    assert slack.calls("/conversations.list") == []


def test_find_sent_looks_back_only_over_the_recovery_window(slack: FakeSlack) -> None:
    now = datetime.now(UTC)
    metadata = {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {"idempotency_key": "k1", "dedupe_key": "anomaly:signups"},
    }
    ten_days_ago = f"{(now - timedelta(days=10)).timestamp():.6f}"
    slack.seed_message(ALERTS, "old", metadata=metadata, ts=ten_days_ago)

    week = channel_for(slack, recovery_window=timedelta(days=7), clock=lambda: now)
    fortnight = channel_for(slack, recovery_window=timedelta(days=14), clock=lambda: now)

    assert week.find_sent(ALERTS, alert("k1")) is None
    assert fortnight.find_sent(ALERTS, alert("k1")) == Delivery(
        external_id=f"{ALERTS}:{ten_days_ago}", thread_id=ten_days_ago
    )


def test_find_sent_in_a_channel_that_does_not_exist_is_rejected(channel: SlackChannel) -> None:
    with pytest.raises(RejectedRequestError, match="no channel named #no-such-channel"):
        channel.find_sent("#no-such-channel", alert())


def test_recipients_that_are_email_addresses() -> None:
    assert is_email("ada@example.com")
    assert not is_email("#product-alerts")
    assert not is_email("C0ALERTS01")
