"""The webhook receivers: authenticate, store once, normalise, emit; problems for the rest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from integrations.github.webhooks import HANDLED_EVENTS
from integrations.webhooks import normalise_delivery
from productpilot.api.app import create_app
from productpilot.api.routers.webhooks import MAX_BODY_BYTES, get_clock
from productpilot.db.models import WebhookDelivery
from productpilot.db.store import Store
from productpilot.settings import Settings
from productpilot.webhooks import delivery_event_id, reemit_pending
from tests.integrations.shared_data import github_payloads, jira_payloads, load, shared_dir
from tests.integrations.signing import (
    body_of,
    github_headers,
    jira_headers,
    linear_headers,
    linear_timestamp,
    slack_headers,
)
from tests.productpilot.api.conftest import Caller, make_caller
from tests.productpilot.webhooks.fakes import RecordingEmitter

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
SECRETS = {
    "github": "gh-secret",
    "jira": "jira-secret",
    "linear": "linear-secret",
    "figma": "figma-passcode",
    "slack": "slack-signing-secret",
}
PUSH = {"ref": "refs/heads/main", "repository": {"full_name": "acme/web"}, "commits": []}


# --- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture
def emitter() -> RecordingEmitter:
    return RecordingEmitter()


def build_app(store: Store, tmp_path: Path, emitter: RecordingEmitter) -> FastAPI:
    app = create_app(store, settings=Settings(home=tmp_path / "home"), emitter=emitter)
    app.dependency_overrides[get_clock] = lambda: lambda: NOW
    return app


@pytest.fixture
def hooks(store: Store, tmp_path: Path, emitter: RecordingEmitter) -> Iterator[TestClient]:
    with TestClient(build_app(store, tmp_path, emitter), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def shop(store: Store) -> Caller:
    """A tenant whose product has a secret for every vendor."""
    return make_caller(store, "Acme", {"webhook_secrets": SECRETS})


def post(
    client: TestClient, vendor: str, product: Any, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return client.post(
        f"/webhooks/{vendor}", params={"product": product}, content=body, headers=headers
    )


def post_push(client: TestClient, product: Any, delivery: str = "d-1", secret: str = "") -> Any:
    body = body_of(PUSH)
    headers = github_headers(secret or SECRETS["github"], body, "push", delivery)
    return post(client, "github", product, body, headers)


def deliveries(store: Store) -> list[WebhookDelivery]:
    with store.system_session() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def count_deliveries(store: Store) -> int:
    with store.system_session() as session:
        return session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    return problem


# --- the common path, on GitHub -------------------------------------------------------------------


def test_a_signed_delivery_is_stored_emitted_and_answered_processed(
    hooks: TestClient, shop: Caller, store: Store, emitter: RecordingEmitter
) -> None:
    response = post_push(hooks, shop.product_id, delivery="72d3162e")

    assert response.status_code == 200
    assert response.json() == {
        "status": "processed",
        "delivery_id": "72d3162e",
        "event": "productpilot.github.push",
    }
    [event] = emitter.events
    assert event.resource_id == f"productpilot.product.{shop.product_id}"
    assert event.labels == {"productpilot.tenant": str(shop.tenant_id)}
    assert event.event_id == delivery_event_id("github", shop.tenant_id, "72d3162e")
    assert (event.payload["ref"], event.payload["repository"]) == ("refs/heads/main", "acme/web")
    [row] = deliveries(store)
    assert (row.kind, row.status, row.tenant_id, row.received_at) == (
        "push",
        "emitted",
        shop.tenant_id,
        NOW,
    )
    assert "x-hub-signature-256" not in row.headers


def test_a_redelivery_is_answered_duplicate_and_emitted_only_once(
    hooks: TestClient, shop: Caller, store: Store, emitter: RecordingEmitter
) -> None:
    first = post_push(hooks, shop.product_id)
    again = post_push(hooks, shop.product_id)

    assert (first.json()["status"], again.json()["status"]) == ("processed", "duplicate")
    assert again.status_code == 200
    assert len(emitter.events) == 1
    assert count_deliveries(store) == 1


def test_a_kind_not_handled_is_stored_as_ignored_and_answered_202(
    hooks: TestClient, shop: Caller, store: Store, emitter: RecordingEmitter
) -> None:
    body = body_of({"action": "created", "label": {"name": "bug"}})
    headers = github_headers(SECRETS["github"], body, "label")

    response = post(hooks, "github", shop.product_id, body, headers)

    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert emitter.events == []
    assert [(row.kind, row.status) for row in deliveries(store)] == [("label", "ignored")]


def test_an_event_about_another_repository_than_the_products_is_ignored(
    hooks: TestClient, store: Store, emitter: RecordingEmitter
) -> None:
    scoped = make_caller(
        store,
        "Scoped",
        {"webhook_secrets": SECRETS, "integrations": {"github_repository": "acme/api"}},
    )

    response = post_push(hooks, scoped.product_id)

    assert (response.status_code, response.json()["status"]) == (202, "ignored")
    assert "acme/web" in response.json()["detail"]
    assert emitter.events == []


def test_when_prefect_is_down_the_delivery_is_queued_and_the_reconciler_emits_it(
    store: Store, tmp_path: Path, shop: Caller
) -> None:
    down = RecordingEmitter(failing=True)
    with TestClient(build_app(store, tmp_path, down), raise_server_exceptions=False) as client:
        response = post_push(client, shop.product_id, delivery="while-down")

    assert (response.status_code, response.json()["status"]) == (202, "queued")
    assert response.json()["event"] == "productpilot.github.push"
    assert deliveries(store)[0].status == "failed"

    back_up = RecordingEmitter()
    report = reemit_pending(
        store, normalise=normalise_delivery, emitter=back_up, now=NOW + timedelta(minutes=2)
    )

    assert report.as_dict()["processed"] == 1
    [event] = back_up.events
    assert event.event_id == delivery_event_id("github", shop.tenant_id, "while-down")
    assert deliveries(store)[0].status == "emitted"


# --- authentication -------------------------------------------------------------------------------


def test_a_bad_signature_is_a_401_problem_and_nothing_is_stored(
    hooks: TestClient, shop: Caller, store: Store, emitter: RecordingEmitter
) -> None:
    response = post_push(hooks, shop.product_id, secret="not the secret")

    problem = assert_problem(response, 401)
    assert problem["type"] == "urn:productpilot:problem:invalid-signature"
    assert response.headers["www-authenticate"].startswith("Signature")
    assert count_deliveries(store) == 0
    assert emitter.events == []


def test_unknown_product_missing_secret_and_bad_signature_are_indistinguishable(
    hooks: TestClient, shop: Caller, store: Store
) -> None:
    no_github = make_caller(store, "Jira Only", {"webhook_secrets": {"jira": "j"}})

    answers = [
        post_push(hooks, 2**31 - 1),
        post_push(hooks, no_github.product_id),
        post_push(hooks, shop.product_id, secret="wrong"),
    ]

    assert {response.status_code for response in answers} == {401}
    assert len({response.text for response in answers}) == 1


def test_another_tenants_secret_does_not_validate_for_this_product(
    hooks: TestClient, shop: Caller, store: Store
) -> None:
    globex = make_caller(store, "Globex", {"webhook_secrets": {"github": "globex-secret"}})

    response = post_push(hooks, shop.product_id, secret="globex-secret")

    assert_problem(response, 401)
    assert post_push(hooks, globex.product_id, secret="globex-secret").status_code == 200


@pytest.mark.parametrize("vendor", sorted(SECRETS))
def test_a_request_without_any_signature_headers_is_401_for_every_vendor(
    hooks: TestClient, shop: Caller, vendor: str
) -> None:
    for body in (b"{}", b"", b"[]", b"\xff"):
        assert_problem(post(hooks, vendor, shop.product_id, body, {}), 401)


@pytest.mark.parametrize("product", [None, "abc", "0", "-3", str(2**31), "1.5"])
def test_a_missing_or_malformed_product_parameter_is_a_422_problem(
    hooks: TestClient, product: str | None
) -> None:
    params = {} if product is None else {"product": product}
    response = hooks.post("/webhooks/github", params=params, content=b"{}")
    assert_problem(response, 422)


# --- bodies ---------------------------------------------------------------------------------------


def test_a_body_over_one_mebibyte_is_a_413_problem(hooks: TestClient, shop: Caller) -> None:
    body = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    headers = github_headers(SECRETS["github"], body, "push")
    assert_problem(post(hooks, "github", shop.product_id, body, headers), 413)


@pytest.mark.parametrize("body", [b"payload=%7B%7D", b"[1, 2]", b"{not json", b'"text"'])
def test_a_signed_body_that_is_not_a_json_object_is_a_400_problem(
    hooks: TestClient, shop: Caller, store: Store, body: bytes
) -> None:
    headers = github_headers(SECRETS["github"], body, "push")
    assert_problem(post(hooks, "github", shop.product_id, body, headers), 400)
    assert count_deliveries(store) == 0


def test_a_signed_payload_of_the_wrong_shape_is_processed_not_a_500(
    hooks: TestClient, shop: Caller, emitter: RecordingEmitter
) -> None:
    body = body_of({"action": ["x"], "pull_request": "oops", "repository": 3, "number": "2"})
    headers = github_headers(SECRETS["github"], body, "pull_request")

    response = post(hooks, "github", shop.product_id, body, headers)

    assert (response.status_code, response.json()["status"]) == (200, "processed")
    assert emitter.events[0].payload["number"] is None


def test_nul_characters_in_a_payload_are_stored_on_every_database(
    hooks: TestClient, shop: Caller, store: Store
) -> None:
    body = b'{"ref": "refs/heads/a\\u0000b", "commits": [{"message": "\\u0000"}]}'
    headers = github_headers(SECRETS["github"], body, "push")

    response = post(hooks, "github", shop.product_id, body, headers)

    assert response.status_code == 200
    assert deliveries(store)[0].payload["ref"] == "refs/heads/a\ufffdb"


# --- every shared payload, replayed ---------------------------------------------------------------


def test_every_real_github_payload_is_accepted_signed_and_refused_unsigned(
    hooks: TestClient, shop: Caller, store: Store, emitter: RecordingEmitter
) -> None:
    shared_dir("github-webhooks")
    mismatches, expected_events = [], []

    for number, path in enumerate(github_payloads()):
        kind, body = path.parent.name, path.read_bytes()
        bad = post(hooks, "github", shop.product_id, body, github_headers("x", body, kind))
        good = post(
            hooks,
            "github",
            shop.product_id,
            body,
            github_headers(SECRETS["github"], body, kind, f"d{number}"),
        )
        handled = kind in HANDLED_EVENTS
        wanted = (200, "processed") if handled else (202, "ignored")
        if bad.status_code != 401 or (good.status_code, good.json().get("status")) != wanted:
            mismatches.append((f"{kind}/{path.name}", bad.status_code, good.text))
        if handled:
            action = load(path).get("action")
            expected_events.append(".".join(filter(None, ["productpilot.github", kind, action])))

    assert mismatches == []
    assert emitter.names == expected_events
    assert count_deliveries(store) == len(github_payloads())


def test_every_real_jira_payload_is_accepted_signed_and_refused_unsigned(
    hooks: TestClient, shop: Caller, emitter: RecordingEmitter
) -> None:
    shared_dir("jira-webhooks")
    for number, path in enumerate(jira_payloads()):
        body = path.read_bytes()
        bad = post(hooks, "jira", shop.product_id, body, jira_headers("x", body))
        good = post(
            hooks, "jira", shop.product_id, body, jira_headers(SECRETS["jira"], body, f"j{number}")
        )
        assert_problem(bad, 401)
        assert (good.status_code, good.json()["status"]) == (200, "processed"), path.name

    assert sorted(emitter.names) == [
        "productpilot.jira.comment.created",
        "productpilot.jira.issue.created",
        "productpilot.jira.issue.updated",
        "productpilot.jira.issue.updated",
        "productpilot.jira.issuelink.created",
    ]
    transition = next(e for e in emitter.events if e.payload.get("issue_key") == "INDEV-6")
    assert (transition.payload["previous_status"], transition.payload["status"]) == (
        "To Do",
        "In Progress",
    )


# --- the other vendors ----------------------------------------------------------------------------


def linear_issue(sent_at: datetime) -> bytes:
    payload = {
        "action": "create",
        "type": "Issue",
        "data": {"id": "i-1", "identifier": "ENG-1", "title": "Login", "team": {"key": "ENG"}},
        "url": "https://linear.app/acme/issue/ENG-1",
        "webhookTimestamp": linear_timestamp(sent_at),
    }
    return body_of(payload)


def test_a_fresh_linear_delivery_is_processed(
    hooks: TestClient, shop: Caller, emitter: RecordingEmitter
) -> None:
    body = linear_issue(NOW - timedelta(seconds=5))
    response = post(hooks, "linear", shop.product_id, body, linear_headers(SECRETS["linear"], body))

    assert (response.status_code, response.json()["event"]) == (
        200,
        "productpilot.linear.issue.create",
    )
    assert emitter.events[0].payload["identifier"] == "ENG-1"


def test_a_stale_linear_delivery_is_401_even_with_a_valid_signature(
    hooks: TestClient, shop: Caller, store: Store
) -> None:
    body = linear_issue(NOW - timedelta(minutes=2))
    response = post(hooks, "linear", shop.product_id, body, linear_headers(SECRETS["linear"], body))

    assert "webhookTimestamp" in assert_problem(response, 401)["detail"]
    assert count_deliveries(store) == 0


def test_a_figma_delivery_with_the_passcode_is_processed_and_the_passcode_not_stored(
    hooks: TestClient, shop: Caller, store: Store, emitter: RecordingEmitter
) -> None:
    payload = {
        "event_type": "FILE_VERSION_UPDATE",
        "passcode": SECRETS["figma"],
        "timestamp": "2026-08-01T11:59:00Z",
        "webhook_id": "22",
        "file_key": "k3y",
        "file_name": "Checkout",
        "version_id": "v1",
        "created_at": "2026-08-01T11:58:00Z",
        "triggered_by": {"id": "u", "handle": "Ada"},
    }

    response = post(hooks, "figma", shop.product_id, body_of(payload), {})
    wrong = post(hooks, "figma", shop.product_id, body_of(payload | {"passcode": "guess"}), {})

    assert response.json()["event"] == "productpilot.figma.file_version_update"
    assert_problem(wrong, 401)
    assert "passcode" not in deliveries(store)[0].payload
    assert SECRETS["figma"] not in json.dumps(emitter.events[0].payload)


def test_slacks_url_verification_is_answered_with_the_challenge_and_not_stored(
    hooks: TestClient, shop: Caller, store: Store
) -> None:
    body = body_of(
        {
            "token": "t",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )

    response = post(
        hooks, "slack", shop.product_id, body, slack_headers(SECRETS["slack"], body, NOW)
    )

    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert count_deliveries(store) == 0


def test_a_slack_event_is_processed_once_even_when_slack_retries(
    hooks: TestClient, shop: Caller, emitter: RecordingEmitter
) -> None:
    wrapper = {
        "type": "event_callback",
        "team_id": "T1",
        "event_id": "Ev1",
        "event": {"type": "app_mention", "user": "U1", "text": "ship it?", "channel": "C1"},
    }
    body = body_of(wrapper)

    first = post(hooks, "slack", shop.product_id, body, slack_headers(SECRETS["slack"], body, NOW))
    retry_headers = slack_headers(SECRETS["slack"], body, NOW + timedelta(seconds=30))
    retry = post(hooks, "slack", shop.product_id, body, retry_headers | {"X-Slack-Retry-Num": "1"})

    assert (first.json()["status"], retry.json()["status"]) == ("processed", "duplicate")
    assert emitter.names == ["productpilot.slack.app_mention"]


def test_a_stale_slack_request_is_401(hooks: TestClient, shop: Caller) -> None:
    body = body_of({"type": "event_callback", "event_id": "Ev2", "event": {"type": "message"}})
    headers = slack_headers(SECRETS["slack"], body, NOW - timedelta(minutes=6))
    assert (
        "five minutes"
        in assert_problem(post(hooks, "slack", shop.product_id, body, headers), 401)["detail"]
    )


# --- the OpenAPI document -------------------------------------------------------------------------


def test_the_openapi_document_declares_each_receiver_body_and_answers(hooks: TestClient) -> None:
    paths = hooks.get("/openapi.json").json()["paths"]

    for vendor in sorted(SECRETS):
        operation = paths[f"/webhooks/{vendor}"]["post"]
        assert operation["tags"] == ["webhooks"]
        assert "application/json" in operation["requestBody"]["content"]
        assert {"200", "202", "400", "401", "413", "422"} <= set(operation["responses"])
        assert [p["name"] for p in operation["parameters"] if p["in"] == "query"] == ["product"]
    signature_headers = {p["name"] for p in paths["/webhooks/github"]["post"]["parameters"]}
    assert "X-Hub-Signature-256" in signature_headers


# --- authentic senders with arbitrary payloads --------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
#: Keys the normalisers read, so generated payloads reach their code paths.
_KEYS = [
    "action",
    "pull_request",
    "repository",
    "issue",
    "commits",
    "check_run",
    "workflow_run",
    "alert",
    "release",
    "deployment",
    "review",
    "webhookEvent",
    "changelog",
    "comment",
    "issueLink",
    "type",
    "data",
    "updatedFrom",
    "event",
    "event_id",
    "event_type",
    "file_key",
    "webhook_id",
    "timestamp",
    "challenge",
]
_payloads = st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=8), _json, max_size=8)
_kinds = {
    "github": st.sampled_from([*sorted(HANDLED_EVENTS), "ping", "", "x" * 300]),
    "jira": st.sampled_from(
        [
            "jira:issue_created",
            "jira:issue_updated",
            "comment_created",
            "issuelink_created",
            "sprint_started",
        ]
    ),
    "linear": st.sampled_from(["Issue", "Comment", "Project", "Cycle", "IssueLabel"]),
    "figma": st.sampled_from(["FILE_UPDATE", "FILE_COMMENT", "LIBRARY_PUBLISH", "PING"]),
    "slack": st.sampled_from(["app_mention", "message", "reaction_added", "url_verification"]),
}


def signed_request(vendor: str, kind: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A request an authentic sender could make with ``payload`` as its (odd) content."""
    if vendor == "github":
        body = body_of(payload)
        return body, github_headers(SECRETS["github"], body, kind, delivery="")
    if vendor == "jira":
        body = body_of(payload | {"webhookEvent": kind})
        return body, jira_headers(SECRETS["jira"], body, delivery=None)
    if vendor == "linear":
        body = body_of(payload | {"type": kind, "webhookTimestamp": linear_timestamp(NOW)})
        return body, linear_headers(SECRETS["linear"], body, delivery="")
    if vendor == "figma":
        return body_of(payload | {"event_type": kind, "passcode": SECRETS["figma"]}), {}
    wrapper = {"type": "event_callback", "event": payload | {"type": kind}}
    if kind == "url_verification":
        wrapper = payload | {"type": kind}
    body = body_of(wrapper)
    return body, slack_headers(SECRETS["slack"], body, NOW)


@pytest.mark.parametrize("vendor", sorted(SECRETS))
def test_no_payload_from_an_authentic_sender_gets_a_server_error(
    hooks: TestClient, shop: Caller, vendor: str
) -> None:
    @given(kind=_kinds[vendor], payload=_payloads)
    @settings(max_examples=40, derandomize=True, database=None, deadline=None)
    def check(kind: str, payload: dict[str, Any]) -> None:
        body, headers = signed_request(vendor, kind, payload)
        response = post(hooks, vendor, shop.product_id, body, headers)
        assert response.status_code in (200, 202, 400), response.text
        if response.status_code == 400:
            assert response.headers["content-type"] == "application/problem+json"
        elif "challenge" not in response.json():
            assert response.json()["status"] in ("processed", "duplicate", "ignored")

    check()
