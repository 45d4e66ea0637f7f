"""Figma webhooks: the passcode, delivery ids, and the events Figma's payloads become.

Payloads follow the webhook schemas of Figma's REST API specification.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.figma.webhooks import HANDLED_EVENT_TYPES, normalise, read, verify
from integrations.webhooks import SignatureError, WebhookRequest

NOW = datetime(2026, 8, 1, tzinfo=UTC)
PASSCODE = "figma-passcode"
USER = {"id": "u-1", "handle": "Ada"}


def payload(event_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "passcode": PASSCODE,
        "timestamp": "2026-08-01T09:00:00Z",
        "webhook_id": "22",
        "file_key": "k3y",
        "file_name": "Checkout",
        "triggered_by": USER,
        **fields,
    }


def request(body: dict[str, Any] | bytes) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WebhookRequest.build({"Content-Type": "application/json"}, raw, NOW)


def test_a_payload_with_the_passcode_verifies() -> None:
    verify(PASSCODE, request(payload("FILE_UPDATE")))


@pytest.mark.parametrize(
    "body",
    [
        payload("FILE_UPDATE", passcode="guess"),
        payload("FILE_UPDATE", passcode=None),
        {k: v for k, v in payload("FILE_UPDATE").items() if k != "passcode"},
        payload("FILE_UPDATE", passcode=["figma-passcode"]),
        b"not json",
    ],
    ids=["wrong", "null", "missing", "not-a-string", "not-json"],
)
def test_anything_but_the_passcode_is_refused(body: dict | bytes) -> None:
    with pytest.raises(SignatureError):
        verify(PASSCODE, request(body))


def test_the_passcode_is_never_stored() -> None:
    envelope = read(request(payload("FILE_UPDATE")))
    assert "passcode" not in envelope.payload
    assert PASSCODE not in json.dumps(envelope.payload)


def test_the_delivery_id_is_webhook_timestamp_and_file() -> None:
    envelope = read(request(payload("FILE_UPDATE")))
    assert (envelope.delivery_id, envelope.kind) == ("22:2026-08-01T09:00:00Z:k3y", "FILE_UPDATE")


def test_a_file_version_update_carries_the_version() -> None:
    body = payload(
        "FILE_VERSION_UPDATE",
        version_id="v9",
        description="Ready",
        created_at="2026-08-01T08:59:00Z",
    )
    event = normalise("FILE_VERSION_UPDATE", read(request(body)).payload)
    assert event is not None
    assert event.name == "productpilot.figma.file_version_update"
    expected = {
        "file_key": "k3y",
        "file_name": "Checkout",
        "version_id": "v9",
        "triggered_by": "Ada",
    }
    assert {key: event.payload[key] for key in expected} == expected


def test_a_file_comment_joins_its_fragments_and_lists_mentions() -> None:
    body = payload(
        "FILE_COMMENT",
        comment=[{"text": "Please check "}, {"mention": "u-2"}, {"text": " spacing"}],
        comment_id="c1",
        created_at="2026-08-01T09:00:00Z",
        mentions=[{"id": "u-2", "handle": "Grace"}],
    )
    event = normalise("FILE_COMMENT", body)
    assert event is not None
    assert event.payload["comment"] == "Please check @u-2 spacing"
    assert event.payload["mentions"] == ["Grace"]


def test_a_library_publish_counts_what_changed() -> None:
    item = {"key": "c", "name": "Button"}
    body = payload(
        "LIBRARY_PUBLISH",
        created_components=[item],
        modified_components=[item, item],
        deleted_components=[],
        created_styles=[],
        modified_styles=[item],
        deleted_styles=[],
        created_variables=[],
        modified_variables=[],
        deleted_variables=[item],
        description="v2",
        library_item=item,
    )
    event = normalise("LIBRARY_PUBLISH", body)
    assert event is not None
    assert event.payload["changes"] == {
        "components": {"created": 1, "modified": 2, "deleted": 0},
        "styles": {"created": 0, "modified": 1, "deleted": 0},
        "variables": {"created": 0, "modified": 0, "deleted": 1},
    }


def test_a_dev_mode_status_update_carries_node_and_status() -> None:
    body = payload(
        "DEV_MODE_STATUS_UPDATE", node_id="43:2", status="READY_FOR_DEV", related_links=[]
    )
    event = normalise("DEV_MODE_STATUS_UPDATE", body)
    assert event is not None
    assert (event.payload["node_id"], event.payload["status"]) == ("43:2", "READY_FOR_DEV")


@pytest.mark.parametrize("kind", ["FILE_UPDATE", "FILE_DELETE"])
def test_file_updates_and_deletions_are_handled(kind: str) -> None:
    event = normalise(kind, payload(kind))
    assert event is not None
    assert event.name == f"productpilot.figma.{kind.lower()}"


def test_a_ping_is_not_an_event() -> None:
    assert normalise("PING", payload("PING")) is None


@pytest.mark.parametrize("kind", sorted(HANDLED_EVENT_TYPES))
def test_payloads_of_the_wrong_shape_normalise_without_failing(kind: str) -> None:
    weird = {"comment": "x", "mentions": 3, "triggered_by": [], "created_components": "y"}
    event = normalise(kind, weird)
    assert event is not None
    assert event.payload["file_key"] is None
