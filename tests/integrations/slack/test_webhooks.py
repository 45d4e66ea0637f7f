"""Slack's Events API: request signing, replay window, URL verification, event callbacks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integrations.slack.webhooks import HANDLED_EVENT_TYPES, handshake, normalise, read, verify
from integrations.webhooks import SignatureError, WebhookRequest
from tests.integrations.signing import slack_headers

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def event_callback(event: dict[str, Any], event_id: str = "Ev0PV52K25") -> dict[str, Any]:
    return {
        "token": "XXYYZZ",
        "team_id": "T1H9RESGL",
        "api_app_id": "A2H9RFS1A",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1525215129,
        "authed_users": ["U061F7AUR"],
        "event": event,
    }


def signed(payload: dict[str, Any], *, sent_at: datetime = NOW) -> WebhookRequest:
    body = json.dumps(payload).encode()
    return WebhookRequest.build(slack_headers(SECRET, body, sent_at), body, NOW)


def test_slacks_documented_example_request_verifies() -> None:
    # https://api.slack.com/authentication/verifying-requests-from-slack
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
        b"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook"
        b"-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F3977"
        b"00885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d1"
        b"0d2c447fce8b6703c"
    )
    headers = {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }
    verify(SECRET, WebhookRequest.build(headers, body, datetime.fromtimestamp(1531420618, UTC)))


@pytest.mark.parametrize("skew", [timedelta(minutes=4, seconds=59), -timedelta(minutes=4)])
def test_a_request_within_five_minutes_verifies(skew: timedelta) -> None:
    verify(SECRET, signed(event_callback({"type": "app_mention"}), sent_at=NOW + skew))


@pytest.mark.parametrize("skew", [timedelta(minutes=5, seconds=1), -timedelta(minutes=6)])
def test_a_stale_request_is_refused_as_a_possible_replay(skew: timedelta) -> None:
    with pytest.raises(SignatureError, match="five minutes"):
        verify(SECRET, signed(event_callback({"type": "app_mention"}), sent_at=NOW + skew))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": str(int(NOW.timestamp())), "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": str(int(NOW.timestamp()))},
    ],
    ids=["nothing", "bad-timestamp", "wrong-signature", "unsigned"],
)
def test_a_request_without_a_valid_timestamp_and_signature_is_refused(headers: dict) -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, WebhookRequest.build(headers, b"{}", NOW))


def test_the_timestamp_is_part_of_what_is_signed() -> None:
    request = signed(event_callback({"type": "app_mention"}))
    later = str(int(NOW.timestamp()) + 1)
    tampered = WebhookRequest.build(
        {**request.headers, "x-slack-request-timestamp": later}, request.body, NOW
    )
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, tampered)


def test_url_verification_is_answered_with_its_challenge() -> None:
    envelope = read(signed({"token": "t", "challenge": "3eZbrw1aB", "type": "url_verification"}))
    assert handshake(envelope) == {"challenge": "3eZbrw1aB"}


def test_an_event_callback_is_a_delivery_keyed_by_event_id_without_the_token() -> None:
    envelope = read(signed(event_callback({"type": "app_mention", "text": "hi"})))
    assert handshake(envelope) is None
    assert (envelope.delivery_id, envelope.kind) == ("Ev0PV52K25", "app_mention")
    assert "token" not in envelope.payload


def test_a_mention_carries_channel_user_and_text() -> None:
    event = {
        "type": "app_mention",
        "user": "U061F7AUR",
        "text": "<@U0LAN0Z89> is the release ready?",
        "ts": "1515449522.000016",
        "channel": "C0LAN2Q65",
        "event_ts": "1515449522000016",
    }
    normalised = normalise("app_mention", event_callback(event))
    assert normalised is not None
    assert normalised.name == "productpilot.slack.app_mention"
    expected = {
        "team_id": "T1H9RESGL",
        "channel": "C0LAN2Q65",
        "user": "U061F7AUR",
        "text": "<@U0LAN0Z89> is the release ready?",
        "ts": "1515449522.000016",
    }
    assert {key: normalised.payload[key] for key in expected} == expected


def test_a_reaction_carries_the_reacted_item() -> None:
    event = {
        "type": "reaction_added",
        "user": "U024BE7LH",
        "reaction": "thumbsup",
        "item_user": "U0G9QF9C6",
        "item": {"type": "message", "channel": "C0G9QF9GZ", "ts": "1360782400.498405"},
        "event_ts": "1360782804.083113",
    }
    normalised = normalise("reaction_added", event_callback(event))
    assert normalised is not None
    assert (normalised.payload["reaction"], normalised.payload["item_ts"]) == (
        "thumbsup",
        "1360782400.498405",
    )


def test_other_events_and_non_callbacks_are_none() -> None:
    assert normalise("channel_created", event_callback({"type": "channel_created"})) is None
    assert normalise("app_mention", {"type": "app_rate_limited"}) is None


@pytest.mark.parametrize("kind", sorted(HANDLED_EVENT_TYPES))
def test_payloads_of_the_wrong_shape_normalise_without_failing(kind: str) -> None:
    event = normalise(kind, {"type": "event_callback", "event": "x", "event_time": "now"})
    assert event is not None
    assert event.payload["user"] is None
