"""GitHub webhooks: signatures, delivery ids, and the events every real payload becomes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from integrations.github.webhooks import HANDLED_EVENTS, MAX_COMMITS, normalise, read, verify
from integrations.webhooks import PayloadError, SignatureError, WebhookRequest
from tests.integrations.shared_data import case_id, github_payloads, load, shared_dir
from tests.integrations.signing import github_headers

NOW = datetime(2026, 8, 1, tzinfo=UTC)
SECRET = "It's a Secret to Everybody"


def request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest.build(headers, body, NOW)


def test_githubs_documented_example_delivery_verifies() -> None:
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    verify(SECRET, request(b"Hello, World!", {"X-Hub-Signature-256": signature}))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": ""},
        {"X-Hub-Signature": "sha1=0123"},  # the legacy SHA-1 header alone is not enough
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
    ],
    ids=["missing", "empty", "sha1-only", "wrong"],
)
def test_a_delivery_without_a_valid_sha256_signature_is_refused(headers: dict) -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, request(b"Hello, World!", headers))


def test_a_delivery_signed_with_another_secret_is_refused() -> None:
    body = b'{"zen": "Keep it logically awesome."}'
    with pytest.raises(SignatureError):
        verify(SECRET, request(body, github_headers("another secret", body, "ping")))


def test_read_takes_the_event_and_delivery_id_from_the_headers_and_keeps_no_signature() -> None:
    body = b'{"action": "opened"}'
    envelope = read(request(body, github_headers(SECRET, body, "pull_request", "72d3162e")))
    assert (envelope.kind, envelope.delivery_id) == ("pull_request", "72d3162e")
    assert envelope.payload == {"action": "opened"}
    assert envelope.headers["x-github-event"] == "pull_request"
    assert not any("signature" in name for name in envelope.headers)


def test_read_without_event_or_delivery_headers_still_yields_a_storable_envelope() -> None:
    envelope = read(request(b"{}", {}))
    assert envelope.kind == "unknown"
    assert envelope.delivery_id.startswith("sha256:")


def test_a_form_encoded_delivery_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        read(request(b"payload=%7B%7D", {"Content-Type": "application/x-www-form-urlencoded"}))


# --- every real payload ---------------------------------------------------------------------------


def _numbers(items: list[dict]) -> list[int]:
    return [item["number"] for item in items]


#: For each handled event, fields of the normalised payload and where GitHub puts them.
EXPECTED: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "pull_request": lambda p: {
        "number": p["number"],
        "title": p["pull_request"]["title"],
        "state": p["pull_request"]["state"],
        "merged": p["pull_request"].get("merged"),
        "head_ref": p["pull_request"]["head"]["ref"],
        "head_sha": p["pull_request"]["head"]["sha"],
        "base_ref": p["pull_request"]["base"]["ref"],
        "labels": [label["name"] for label in p["pull_request"]["labels"]],
        "author": p["pull_request"]["user"]["login"],
        "url": p["pull_request"]["html_url"],
    },
    "pull_request_review": lambda p: {
        "number": p["pull_request"]["number"],
        "review_state": p["review"]["state"],
        "reviewer": p["review"]["user"]["login"],
        "commit_sha": p["review"]["commit_id"],
    },
    "check_run": lambda p: {
        "name": p["check_run"]["name"],
        "status": p["check_run"]["status"],
        "conclusion": p["check_run"]["conclusion"],
        "head_sha": p["check_run"]["head_sha"],
        "pull_requests": _numbers(p["check_run"]["pull_requests"]),
    },
    "check_suite": lambda p: {
        "status": p["check_suite"]["status"],
        "conclusion": p["check_suite"]["conclusion"],
        "head_sha": p["check_suite"]["head_sha"],
        "app": p["check_suite"]["app"].get("slug") or p["check_suite"]["app"]["name"],
    },
    "workflow_run": lambda p: {
        "run_id": p["workflow_run"]["id"],
        "name": p["workflow_run"]["name"],
        "status": p["workflow_run"]["status"],
        "conclusion": p["workflow_run"]["conclusion"],
        "head_sha": p["workflow_run"]["head_sha"],
        "pull_requests": _numbers(p["workflow_run"]["pull_requests"]),
    },
    "deployment": lambda p: {
        "deployment_id": p["deployment"]["id"],
        "environment": p["deployment"]["environment"],
        "sha": p["deployment"]["sha"],
        "ref": p["deployment"]["ref"],
    },
    "deployment_status": lambda p: {
        "environment": p["deployment"]["environment"],
        "sha": p["deployment"]["sha"],
        "ref": p["deployment"]["ref"],
        "state": p["deployment_status"]["state"],
    },
    "issues": lambda p: {
        "number": p["issue"]["number"],
        "title": p["issue"]["title"],
        "state": p["issue"].get("state"),  # a pinned issue's payload has none
        "labels": [label["name"] for label in p["issue"].get("labels") or []],
    },
    "code_scanning_alert": lambda p: {
        "number": p["alert"]["number"],
        "state": p["alert"]["state"],
        "severity": p["alert"]["rule"]["severity"],
        "ref": p["ref"],
        "commit_sha": p["commit_oid"],
    },
    "dependabot_alert": lambda p: {
        "number": p["alert"]["number"],
        "state": p["alert"]["state"],
        "severity": p["alert"]["security_advisory"]["severity"],
        "package": p["alert"]["dependency"]["package"]["name"],
    },
    "push": lambda p: {
        "ref": p["ref"],
        "before": p["before"],
        "after": p["after"],
        "commit_count": len(p["commits"]),
        "commits": [
            {"sha": c["id"], "message": c["message"], "author": c["author"]["name"]}
            for c in p["commits"][:MAX_COMMITS]
        ],
    },
    "release": lambda p: {
        "tag": p["release"]["tag_name"],
        "name": p["release"]["name"],
        "prerelease": p["release"]["prerelease"],
        "url": p["release"]["html_url"],
    },
    "status": lambda p: {
        "sha": p["sha"],
        "context": p["context"],
        "state": p["state"],
        "branches": [branch["name"] for branch in p["branches"]],
    },
}


def test_the_shared_payloads_cover_many_events_and_the_expectations_every_handled_one() -> None:
    folders = {path.name for path in shared_dir("github-webhooks").iterdir() if path.is_dir()}
    assert len(folders) >= 19
    assert set(EXPECTED) == HANDLED_EVENTS


@pytest.mark.parametrize("path", github_payloads(), ids=case_id)
def test_every_real_payload_is_normalised_or_ignored_by_its_event(path: Path) -> None:
    kind, payload = path.parent.name, load(path)

    event = normalise(kind, payload)

    if kind not in HANDLED_EVENTS:
        assert event is None
        return
    assert event is not None
    action = payload.get("action")
    assert event.name == ".".join(filter(None, ["productpilot.github", kind, action]))
    assert event.payload["repository"] == payload["repository"]["full_name"]
    assert event.payload["sender"] == payload["sender"]["login"]
    expected = EXPECTED[kind](payload)
    assert {key: event.payload[key] for key in expected} == expected


def test_a_merged_pull_request_says_so() -> None:
    payload = load(shared_dir("github-webhooks") / "pull_request" / "closed.payload.json")
    event = normalise("pull_request", payload)
    assert event is not None
    assert (event.name, event.payload["state"]) == (
        "productpilot.github.pull_request.closed",
        "closed",
    )
    assert event.payload["merged"] is payload["pull_request"]["merged"]


def test_a_push_lists_at_most_twenty_commits_but_counts_them_all() -> None:
    commits = [
        {"id": f"{i:040x}", "message": f"commit {i}", "author": {"name": "A"}} for i in range(25)
    ]
    event = normalise("push", {"ref": "refs/heads/main", "commits": commits})
    assert event is not None
    assert event.payload["commit_count"] == 25
    assert [c["message"] for c in event.payload["commits"]] == [f"commit {i}" for i in range(20)]


@pytest.mark.parametrize("kind", sorted(HANDLED_EVENTS))
@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"action": 7, "repository": [], "sender": "x"},
        dict.fromkeys(
            [
                "pull_request",
                "review",
                "check_run",
                "check_suite",
                "workflow_run",
                "deployment",
                "deployment_status",
                "issue",
                "alert",
                "release",
                "commits",
                "branches",
            ],
            "oops",
        ),
    ],
    ids=["empty", "wrong-types", "strings-for-objects"],
)
def test_payloads_of_the_wrong_shape_normalise_without_failing(kind: str, payload: dict) -> None:
    event = normalise(kind, payload)
    assert event is not None
    assert event.name.startswith(f"productpilot.github.{kind}")
    assert event.payload["repository"] is None


def test_an_event_not_handled_is_none() -> None:
    assert normalise("ping", {"zen": "Design for failure."}) is None
    assert normalise("unknown", {}) is None
