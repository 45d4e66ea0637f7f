"""``/api/v1/products/{id}/flags``: versioned, audited flag CRUD with ETag/If-Match."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from productpilot.api.app import create_app
from productpilot.db.store import Store
from productpilot.launch.store import FLAG_CHANGED_EVENT
from productpilot.settings import Settings
from tests.productpilot.api.conftest import Caller
from tests.productpilot.webhooks.fakes import RecordingEmitter

CHECKOUT = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}
PROBLEM = "application/problem+json"


@pytest.fixture
def emitter() -> RecordingEmitter:
    return RecordingEmitter()


@pytest.fixture
def api(store: Store, tmp_path: Path, emitter: RecordingEmitter) -> Iterator[TestClient]:
    app = create_app(store, settings=Settings(home=tmp_path / "home"), emitter=emitter)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def flags_url(caller: Caller, suffix: str = "") -> str:
    return f"/api/v1/products/{caller.product_id}/flags{suffix}"


def create(api: TestClient, caller: Caller, key: str = "new-checkout", **body: Any) -> Any:
    payload = {"key": key, "definition": CHECKOUT, **body}
    return api.post(flags_url(caller), json=payload, headers=caller.headers)


def key_prefix(caller: Caller) -> str:
    return caller.key.split("_")[1]


# --- create and read -------------------------------------------------------------------------


def test_a_created_flag_answers_201_with_its_version_as_etag_and_is_announced(
    api: TestClient, acme: Caller, emitter: RecordingEmitter
) -> None:
    response = create(api, acme, reason="JIRA-12")
    assert response.status_code == 201
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == flags_url(acme, "/new-checkout")
    body = response.json()
    assert (body["key"], body["version"], body["kind"], body["state"]) == (
        "new-checkout",
        1,
        "boolean",
        "ENABLED",
    )
    assert body["definition"] == CHECKOUT
    [event] = emitter.events
    assert (event.name, event.resource_id) == (
        FLAG_CHANGED_EVENT,
        f"productpilot.product.{acme.product_id}",
    )
    assert event.payload["action"] == "created"
    assert event.payload["reason"] == "JIRA-12"
    assert event.payload["actor"] == f"api-key:{key_prefix(acme)}"


def test_list_and_get_answer_the_live_flags(api: TestClient, acme: Caller) -> None:
    create(api, acme, "b-flag")
    create(api, acme, "a-flag")
    listed = api.get(flags_url(acme), headers=acme.headers)
    assert listed.status_code == 200
    assert [flag["key"] for flag in listed.json()] == ["a-flag", "b-flag"]
    one = api.get(flags_url(acme, "/a-flag"), headers=acme.headers)
    assert (one.status_code, one.headers["etag"], one.json()["version"]) == (200, '"1"', 1)
    missing = api.get(flags_url(acme, "/nope"), headers=acme.headers)
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)


def test_a_bad_definition_is_422_problem_naming_the_flag_and_the_problem(
    api: TestClient, acme: Caller, emitter: RecordingEmitter
) -> None:
    response = create(api, acme, "checkout", definition={**CHECKOUT, "defaultVariant": "blue"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["flag"] == "checkout"
    assert problem["detail"] == "flag 'checkout': defaultVariant 'blue' is not a variant (on, off)"
    mixed = create(
        api, acme, "mixed", definition={"state": "ENABLED", "variants": {"a": 1, "b": "x"}}
    )
    assert "flag 'mixed': variant types are mixed" in mixed.json()["detail"]
    bad_key = create(api, acme, "no spaces please")
    assert (bad_key.status_code, bad_key.headers["content-type"]) == (422, PROBLEM)
    assert "invalid flag key" in bad_key.json()["detail"]
    not_an_object = create(api, acme, "x", definition=[1, 2])
    assert not_an_object.status_code == 422
    assert api.get(flags_url(acme), headers=acme.headers).json() == []
    assert emitter.events == []


def test_a_second_flag_with_the_same_key_is_409(api: TestClient, acme: Caller) -> None:
    create(api, acme)
    again = create(api, acme)
    assert (again.status_code, again.headers["content-type"]) == (409, PROBLEM)
    assert "already exists" in again.json()["detail"]


# --- replace, with If-Match ---------------------------------------------------------------------


def test_put_with_the_current_etag_stores_the_next_version(
    api: TestClient, acme: Caller, emitter: RecordingEmitter
) -> None:
    etag = create(api, acme).headers["etag"]
    response = api.put(
        flags_url(acme, "/new-checkout"),
        json={"definition": {**CHECKOUT, "state": "DISABLED"}, "reason": "incident 7"},
        headers={**acme.headers, "If-Match": etag},
    )
    assert response.status_code == 200
    assert response.headers["etag"] == '"2"'
    assert (response.json()["version"], response.json()["state"]) == (2, "DISABLED")
    assert [event.payload["action"] for event in emitter.events] == ["created", "updated"]
    assert emitter.events[1].payload["changes"][0]["description"] == (
        'flag \'new-checkout\': state changed from "ENABLED" to "DISABLED"'
    )


def test_put_without_if_match_is_428_and_with_a_stale_one_412(
    api: TestClient, acme: Caller, emitter: RecordingEmitter
) -> None:
    create(api, acme)
    url = flags_url(acme, "/new-checkout")
    change = {"definition": {**CHECKOUT, "defaultVariant": "on"}}
    missing = api.put(url, json=change, headers=acme.headers)
    assert (missing.status_code, missing.headers["content-type"]) == (428, PROBLEM)
    assert api.put(url, json=change, headers={**acme.headers, "If-Match": '"1"'}).status_code == 200
    stale = api.put(url, json=change, headers={**acme.headers, "If-Match": '"1"'})
    assert (stale.status_code, stale.headers["content-type"]) == (412, PROBLEM)
    assert stale.json()["current_etag"] == '"2"'
    assert api.get(url, headers=acme.headers).json()["version"] == 2
    assert len(emitter.events) == 2


def test_put_with_if_match_star_overwrites_and_an_identical_definition_keeps_the_version(
    api: TestClient, acme: Caller, emitter: RecordingEmitter
) -> None:
    create(api, acme)
    url = flags_url(acme, "/new-checkout")
    same = api.put(url, json={"definition": CHECKOUT}, headers={**acme.headers, "If-Match": "*"})
    assert (same.status_code, same.headers["etag"]) == (200, '"1"')
    assert len(emitter.events) == 1  # nothing changed, nothing announced
    weak = api.put(
        url,
        json={"definition": {**CHECKOUT, "state": "DISABLED"}},
        headers={**acme.headers, "If-Match": 'W/"1"'},
    )
    assert weak.headers["etag"] == '"2"'


def test_a_bad_definition_on_put_is_422_and_a_missing_flag_404(
    api: TestClient, acme: Caller
) -> None:
    create(api, acme)
    headers = {**acme.headers, "If-Match": "*"}
    bad = api.put(
        flags_url(acme, "/new-checkout"),
        json={"definition": {**CHECKOUT, "state": "ON"}},
        headers=headers,
    )
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("flag 'new-checkout': unknown state 'ON'")
    missing = api.put(flags_url(acme, "/nope"), json={"definition": CHECKOUT}, headers=headers)
    assert missing.status_code == 404


def test_the_change_stands_when_the_event_bus_is_down(
    api: TestClient, acme: Caller, emitter: RecordingEmitter, caplog: pytest.LogCaptureFixture
) -> None:
    emitter.failing = True
    with caplog.at_level(logging.WARNING, logger="productpilot.launch.store"):
        response = create(api, acme)
    assert response.status_code == 201
    assert "could not announce flag 'new-checkout'" in caplog.text
    assert api.get(flags_url(acme, "/new-checkout"), headers=acme.headers).status_code == 200


# --- delete and history -----------------------------------------------------------------------


def test_delete_removes_the_flag_but_its_history_stays(
    api: TestClient, acme: Caller, emitter: RecordingEmitter
) -> None:
    create(api, acme, reason="launch")
    url = flags_url(acme, "/new-checkout")
    stale = api.delete(url, headers={**acme.headers, "If-Match": '"9"'})
    assert stale.status_code == 412
    gone = api.delete(
        url, params={"reason": "shipped"}, headers={**acme.headers, "If-Match": '"1"'}
    )
    assert (gone.status_code, gone.content) == (204, b"")
    assert api.get(url, headers=acme.headers).status_code == 404
    assert api.delete(url, headers=acme.headers).status_code == 404
    history = api.get(flags_url(acme, "/new-checkout/history"), headers=acme.headers)
    assert history.status_code == 200
    entries = history.json()
    actor = f"api-key:{key_prefix(acme)}"
    assert [(e["version"], e["action"], e["actor"], e["reason"]) for e in entries] == [
        (2, "deleted", actor, "shipped"),
        (1, "created", actor, "launch"),
    ]
    assert entries[0]["definition"] is None
    assert entries[0]["changes"][0]["description"] == "flag 'new-checkout' removed"
    assert entries[1]["changes"][0]["after"] == CHECKOUT
    assert emitter.events[-1].payload["action"] == "deleted"


def test_history_lists_each_field_change(api: TestClient, acme: Caller) -> None:
    create(api, acme)
    api.put(
        flags_url(acme, "/new-checkout"),
        json={
            "definition": {**CHECKOUT, "targeting": {"fractional": [["on", 10], ["off", 90]]}},
            "reason": "10 % rollout",
        },
        headers={**acme.headers, "If-Match": '"1"'},
    )
    [latest, _created] = api.get(
        flags_url(acme, "/new-checkout/history"), headers=acme.headers
    ).json()
    assert latest["reason"] == "10 % rollout"
    assert [(c["field"], c["action"]) for c in latest["changes"]] == [("targeting", "added")]
    assert api.get(flags_url(acme, "/never/history"), headers=acme.headers).status_code == 404


# --- who may see what ---------------------------------------------------------------------------


def test_another_tenants_flags_are_404_everywhere(
    api: TestClient, acme: Caller, globex: Caller, emitter: RecordingEmitter
) -> None:
    create(api, acme)
    headers = {**globex.headers, "If-Match": "*"}
    url = flags_url(acme, "/new-checkout")
    answers = [
        api.get(flags_url(acme), headers=globex.headers),
        api.post(
            flags_url(acme), json={"key": "x", "definition": CHECKOUT}, headers=globex.headers
        ),
        api.get(url, headers=globex.headers),
        api.put(url, json={"definition": CHECKOUT}, headers=headers),
        api.delete(url, headers=headers),
        api.get(f"{url}/history", headers=globex.headers),
        api.get(flags_url(acme, ".json"), headers=globex.headers),
    ]
    assert [response.status_code for response in answers] == [404] * len(answers)
    assert {response.headers["content-type"] for response in answers} == {PROBLEM}
    # globex's own product has no flags; acme's flag is untouched
    assert api.get(flags_url(globex), headers=globex.headers).json() == []
    assert api.get(url, headers=acme.headers).json()["version"] == 1
    assert len(emitter.events) == 1


def test_every_flag_operation_needs_an_api_key(api: TestClient, acme: Caller) -> None:
    assert api.get(flags_url(acme)).status_code == 401
    assert api.post(flags_url(acme), json={"key": "x", "definition": CHECKOUT}).status_code == 401
    assert api.get(flags_url(acme, "/x/history")).status_code == 401
