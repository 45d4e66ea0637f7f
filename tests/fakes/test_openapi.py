"""The request checker the vendor fakes rely on: it must refuse what the real API refuses."""

from __future__ import annotations

import json

import pytest

from tests.fakes.openapi import OpenAPIDescription
from tests.fakes.server import Recorded
from tests.integrations.shared_data import shared_dir

TINY = {
    "openapi": "3.0.3",
    "paths": {
        "/items/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "put": {
                "parameters": [{"name": "notify", "in": "query", "schema": {"type": "boolean"}}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Item"}}
                    },
                },
            },
        },
        "/items/latest": {"get": {}},
    },
    "components": {
        "schemas": {
            "Item": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "note": {"type": "string", "nullable": True},
                    "nullable": {"type": "object"},
                },
            }
        }
    },
}


def put(path: str, body: object, query: dict[str, list[str]] | None = None) -> Recorded:
    return Recorded(
        "PUT", path, query or {}, {"content-type": "application/json"}, json.dumps(body).encode()
    )


@pytest.fixture(scope="module")
def tiny() -> OpenAPIDescription:
    return OpenAPIDescription(TINY, "tiny")


def test_a_request_that_matches_the_description_has_no_problems(tiny: OpenAPIDescription) -> None:
    assert tiny.check(put("/items/7", {"name": "a", "note": None}, {"notify": ["true"]})) == []


def test_unknown_operations_and_methods_are_refused(tiny: OpenAPIDescription) -> None:
    assert tiny.check(Recorded("GET", "/things", {}, {}, b"")) == [
        "tiny has no operation GET /things"
    ]
    assert tiny.check(Recorded("DELETE", "/items/7", {}, {}, b"")) != []


def test_literal_paths_win_over_templates(tiny: OpenAPIDescription) -> None:
    operation = tiny.operation("GET", "/items/latest")
    assert operation is not None
    assert operation.template == "/items/latest"


def test_parameters_are_typed(tiny: OpenAPIDescription) -> None:
    assert tiny.check(put("/items/seven", {"name": "a"})) == [
        "path parameter 'id': 'seven' is not an integer"
    ]
    assert tiny.check(put("/items/7", {"name": "a"}, {"notify": ["maybe"]})) == [
        "query parameter 'notify': 'maybe' is not a boolean"
    ]
    assert tiny.check(put("/items/7", {"name": "a"}, {"colour": ["red"]})) == [
        "query parameter 'colour' is not a parameter of this operation"
    ]


def test_the_body_is_checked_against_its_schema_through_references(
    tiny: OpenAPIDescription,
) -> None:
    assert tiny.check(put("/items/7", {"note": "x"})) == [
        "body: (top): 'name' is a required property"
    ]
    assert tiny.check(Recorded("PUT", "/items/7", {}, {}, b"")) == ["missing request body"]


def test_nullable_is_understood_without_eating_properties_of_that_name(
    tiny: OpenAPIDescription,
) -> None:
    assert tiny.check(put("/items/7", {"name": "a", "nullable": {}})) == []
    assert tiny.check(put("/items/7", {"name": "a", "nullable": 3})) == [
        "body: nullable: 3 is not of type 'object'"
    ]


def test_slack_calls_are_checked_as_its_sdk_sends_them() -> None:
    slack = OpenAPIDescription.load(shared_dir("api-specs") / "slack_web_openapi_v2.json")
    check = slack.validator(base_path="/api", auth_params=frozenset({"token"}))
    headers = {"authorization": "Bearer xoxb-1", "content-type": "application/json"}
    good = json.dumps({"channel": "C1", "text": "hi", "blocks": [{"type": "section"}]}).encode()
    assert check(Recorded("POST", "/api/chat.postMessage", {}, headers, good)) == []
    missing = json.dumps({"text": "hi"}).encode()
    assert check(Recorded("POST", "/api/chat.postMessage", {}, headers, missing)) == [
        "missing required formData parameter 'channel'"
    ]
    unsigned = {"content-type": "application/json"}
    assert check(Recorded("POST", "/api/chat.postMessage", {}, unsigned, good)) == [
        "missing required header parameter 'token'"
    ]


def test_jira_and_figma_bodies_are_checked() -> None:
    specs = shared_dir("api-specs")
    jira = OpenAPIDescription.load(specs / "jira_platform_openapi_v3.json")
    assert jira.check(put("/rest/api/3/issue/OPS-1", {"fields": {"summary": "x"}})) == []
    assert jira.check(put("/rest/api/3/issue/OPS-1", {"fields": "x"})) == [
        "body: fields: 'x' is not of type 'object'"
    ]
    figma = OpenAPIDescription.load(specs / "figma_openapi.yaml")
    webhook = {"event_type": "FILE_UPDATE", "endpoint": "https://x", "passcode": "p"}
    assert "body: (top): 'context' is a required property" in figma.check(
        Recorded(
            "POST",
            "/v2/webhooks",
            {},
            {"content-type": "application/json"},
            json.dumps(webhook).encode(),
        )
    )
