"""Jira webhooks: WebSub signatures, delivery ids, and the events real payloads become."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from integrations.jira.webhooks import KINDS, normalise, read, verify
from integrations.webhooks import SignatureError, WebhookRequest
from tests.integrations.shared_data import jira_payloads, load, shared_dir
from tests.integrations.signing import jira_headers

NOW = datetime(2026, 8, 1, tzinfo=UTC)
SECRET = "jira-secret"


def request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest.build(headers, body, NOW)


def shared(name: str) -> dict:
    return load(shared_dir("jira-webhooks") / name)


def test_a_body_signed_with_the_secret_verifies() -> None:
    body = b'{"webhookEvent": "jira:issue_created"}'
    verify(SECRET, request(body, jira_headers(SECRET, body)))


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Hub-Signature": "sha256=abc"}, jira_headers("other", b"{}")],
    ids=["unsigned", "wrong", "other-secret"],
)
def test_an_unsigned_or_wrongly_signed_body_is_refused(headers: dict) -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, request(b"{}", headers))


def test_the_delivery_id_is_atlassians_identifier_and_the_kind_the_webhook_event() -> None:
    body = b'{"webhookEvent": "comment_created"}'
    envelope = read(request(body, jira_headers(SECRET, body, delivery="wh-7")))
    assert (envelope.delivery_id, envelope.kind) == ("wh-7", "comment_created")


def test_without_an_identifier_the_same_body_gets_the_same_delivery_id() -> None:
    body = b'{"webhookEvent": "comment_created"}'
    first = read(request(body, jira_headers(SECRET, body, delivery=None)))
    again = read(request(body, jira_headers(SECRET, body, delivery=None)))
    assert first.delivery_id == again.delivery_id
    assert first.delivery_id.startswith("sha256:")


EXPECTED_NAMES = {
    "comment_created.json": "productpilot.jira.comment.created",
    "issue_created.json": "productpilot.jira.issue.created",
    "issue_updated_generic.json": "productpilot.jira.issue.updated",
    "issue_updated_status_changed.json": "productpilot.jira.issue.updated",
    "issuelink_created.json": "productpilot.jira.issuelink.created",
}


@pytest.mark.parametrize("path", jira_payloads(), ids=lambda path: path.name)
def test_every_real_payload_is_normalised_by_its_webhook_event(path: Path) -> None:
    payload = load(path)
    event = normalise(payload["webhookEvent"], payload)
    assert event is not None
    assert event.name == EXPECTED_NAMES[path.name]
    if "issue" in payload:
        fields = payload["issue"]["fields"]
        assert event.payload["issue_key"] == payload["issue"]["key"]
        assert event.payload["summary"] == fields["summary"]
        assert event.payload["status"] == fields["status"]["name"]
        assert event.payload["issue_type"] == fields["issuetype"]["name"]
        assert event.payload["priority"] == fields["priority"]["name"]
        assert event.payload["project_key"] == fields["project"]["key"]
        assert event.payload["assignee"] == fields["assignee"]["displayName"]


def test_a_status_transition_carries_the_previous_status() -> None:
    event = normalise("jira:issue_updated", shared("issue_updated_status_changed.json"))
    assert event is not None
    assert (event.payload["previous_status"], event.payload["status"]) == ("To Do", "In Progress")
    assert event.payload["changed_fields"] == ["status"]
    assert event.payload["status_category"] == "indeterminate"


def test_an_update_without_a_status_change_has_no_previous_status() -> None:
    payload = shared("issue_updated_generic.json")
    payload["changelog"]["items"] = [
        i for i in payload["changelog"]["items"] if i["field"] != "status"
    ]
    event = normalise("jira:issue_updated", payload)
    assert event is not None
    assert event.payload["previous_status"] is None
    assert event.payload["status"] == "Paused"


def test_a_comment_event_carries_the_comment() -> None:
    event = normalise("comment_created", shared("comment_created.json"))
    assert event is not None
    comment = {key: event.payload[key] for key in ("comment_id", "body", "author")}
    assert comment == {"comment_id": "31039", "body": "12345", "author": "ii_ivanov"}


def test_an_issue_link_event_carries_the_link_type() -> None:
    event = normalise("issuelink_created", shared("issuelink_created.json"))
    assert event is not None
    assert event.payload["link_type"] == "Blocks"
    assert (event.payload["source_issue_id"], event.payload["destination_issue_id"]) == (
        "11442",
        "11961",
    )


def test_kinds_not_handled_are_none() -> None:
    assert normalise("sprint_started", {"sprint": {}}) is None
    assert normalise("unknown", {}) is None


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_payloads_of_the_wrong_shape_normalise_without_failing(kind: str) -> None:
    payload = {"issue": "x", "changelog": {"items": "y"}, "comment": [], "issueLink": 3, "user": 1}
    event = normalise(kind, payload)
    assert event is not None
    assert event.payload.get("issue_key") is None
