"""Linear webhooks: signature and replay window, and the events Linear's payloads become."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integrations.linear.webhooks import HANDLED_TYPES, normalise, read, verify
from integrations.webhooks import PayloadError, SignatureError, WebhookRequest, hmac_sha256_hex
from tests.integrations.signing import linear_headers, linear_timestamp

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
SECRET = "lin_wh_secret"


def issue_update(sent_at: datetime = NOW) -> dict[str, Any]:
    """An ``Issue`` update as Linear sends it (shape from Linear's GraphQL schema)."""
    return {
        "action": "update",
        "type": "Issue",
        "createdAt": "2026-08-01T11:59:59.000Z",
        "organizationId": "org-1",
        "url": "https://linear.app/acme/issue/ENG-42/fix-login",
        "webhookId": "wh-1",
        "webhookTimestamp": linear_timestamp(sent_at),
        "actor": {"id": "u1", "name": "Ada", "type": "user"},
        "data": {
            "id": "iss-1",
            "identifier": "ENG-42",
            "number": 42,
            "title": "Fix login",
            "priority": 2,
            "priorityLabel": "High",
            "estimate": 3,
            "stateId": "st-2",
            "state": {"id": "st-2", "name": "In Progress", "type": "started", "color": "#f2c94c"},
            "teamId": "team-1",
            "team": {"id": "team-1", "key": "ENG", "name": "Engineering"},
            "labelIds": ["l1"],
            "labels": [{"id": "l1", "name": "bug", "color": "#eb5757"}],
            "assignee": {"id": "u2", "name": "Grace", "email": "grace@acme.test", "url": "x"},
            "dueDate": "2026-08-15",
        },
        "updatedFrom": {"stateId": "st-1", "updatedAt": "2026-07-30T10:00:00.000Z"},
    }


def signed(payload: dict[str, Any], *, now: datetime = NOW, secret: str = SECRET) -> WebhookRequest:
    body = json.dumps(payload).encode()
    return WebhookRequest.build(linear_headers(secret, body), body, now)


def test_a_fresh_delivery_signed_with_the_secret_verifies() -> None:
    verify(SECRET, signed(issue_update()))


@pytest.mark.parametrize("skew", [timedelta(seconds=59), timedelta(seconds=-59)])
def test_a_delivery_within_a_minute_of_our_clock_verifies(skew: timedelta) -> None:
    verify(SECRET, signed(issue_update(sent_at=NOW + skew)))


@pytest.mark.parametrize("skew", [timedelta(seconds=61), timedelta(seconds=-61), timedelta(days=1)])
def test_a_stale_or_future_delivery_is_refused_as_a_possible_replay(skew: timedelta) -> None:
    with pytest.raises(SignatureError, match="webhookTimestamp"):
        verify(SECRET, signed(issue_update(sent_at=NOW + skew)))


@pytest.mark.parametrize("timestamp", [None, "1754049600000", 1e30, True])
def test_a_delivery_without_a_usable_timestamp_is_refused(timestamp: Any) -> None:
    payload = issue_update() | {"webhookTimestamp": timestamp}
    with pytest.raises(SignatureError):
        verify(SECRET, signed(payload))


def test_a_delivery_signed_with_another_secret_is_refused_even_when_fresh() -> None:
    with pytest.raises(SignatureError, match="signature"):
        verify(SECRET, signed(issue_update(), secret="someone else"))


def test_an_unsigned_delivery_is_refused() -> None:
    body = json.dumps(issue_update()).encode()
    with pytest.raises(SignatureError):
        verify(SECRET, WebhookRequest.build({}, body, NOW))


def test_an_authentic_body_that_is_not_json_is_a_payload_error() -> None:
    body = b"not json"
    request = WebhookRequest.build({"Linear-Signature": hmac_sha256_hex(SECRET, body)}, body, NOW)
    with pytest.raises(PayloadError):
        verify(SECRET, request)


def test_read_takes_the_delivery_header_and_the_type() -> None:
    envelope = read(signed(issue_update()))
    assert (envelope.delivery_id, envelope.kind) == ("l-1", "Issue")


def test_an_issue_update_carries_state_previous_state_and_team() -> None:
    event = normalise("Issue", issue_update())
    assert event is not None
    assert event.name == "productpilot.linear.issue.update"
    expected = {
        "identifier": "ENG-42",
        "title": "Fix login",
        "state": "In Progress",
        "state_type": "started",
        "previous_state_id": "st-1",
        "priority": 2,
        "priority_label": "High",
        "estimate": 3,
        "labels": ["bug"],
        "assignee": "Grace",
        "team_key": "ENG",
        "team_id": "team-1",
        "actor": "Ada",
        "url": "https://linear.app/acme/issue/ENG-42/fix-login",
        "updated_fields": ["stateId", "updatedAt"],
    }
    assert {key: event.payload[key] for key in expected} == expected


def test_a_comment_carries_its_body_and_issue() -> None:
    payload = {
        "action": "create",
        "type": "Comment",
        "data": {
            "id": "c-1",
            "body": "Looks good",
            "issueId": "iss-1",
            "issue": {"id": "iss-1", "identifier": "ENG-42", "title": "Fix login", "teamId": "t"},
            "user": {"id": "u1", "name": "Ada"},
        },
    }
    event = normalise("Comment", payload)
    assert event is not None
    assert event.name == "productpilot.linear.comment.create"
    assert (event.payload["body"], event.payload["issue_identifier"]) == ("Looks good", "ENG-42")


def test_projects_and_cycles_are_handled() -> None:
    project = normalise("Project", {"action": "update", "data": {"name": "Checkout v2"}})
    cycle = normalise("Cycle", {"action": "create", "data": {"number": 12}})
    assert project is not None
    assert cycle is not None
    assert (project.name, project.payload["name"]) == (
        "productpilot.linear.project.update",
        "Checkout v2",
    )
    assert (cycle.name, cycle.payload["number"]) == ("productpilot.linear.cycle.create", 12)


def test_types_not_handled_are_none() -> None:
    assert normalise("IssueLabel", {"action": "create", "data": {}}) is None
    assert normalise("unknown", {}) is None


@pytest.mark.parametrize("kind", sorted(HANDLED_TYPES))
def test_payloads_of_the_wrong_shape_normalise_without_failing(kind: str) -> None:
    event = normalise(kind, {"action": [], "data": "x", "updatedFrom": 5, "actor": "y"})
    assert event is not None
    assert event.name == f"productpilot.linear.{kind.lower()}"
