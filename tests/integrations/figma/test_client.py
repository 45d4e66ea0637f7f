"""The Figma hook against a fake judged by Figma's OpenAPI description."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from integrations.figma.client import FigmaHook
from integrations.figma.credentials import FigmaCredentials
from productpilot.vendors import (
    CredentialError,
    RateLimitedError,
    RejectedRequestError,
    RetryPolicy,
    TransientVendorError,
)
from tests.fakes.server import Reply, serving
from tests.integrations.figma.fake import (
    BOT,
    FILE_KEY,
    TOKEN,
    FakeFigma,
    error_reply,
    rate_limited_reply,
)

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(attempts=3, base_seconds=0.5, max_seconds=30.0, jitter=0.5)
ENDPOINT = "https://productpilot.example/webhooks/figma"


@pytest.fixture
def figma() -> Iterator[FakeFigma]:
    with serving(FakeFigma(clock=lambda: NOW)) as fake:
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


def credentials_for(figma: FakeFigma, token: str = TOKEN) -> FigmaCredentials:
    credentials = FigmaCredentials(token=token, base_url=figma.url)
    credentials._block_document_name = "figma-design"  # as FigmaCredentials.load("figma-design")
    return credentials


@pytest.fixture
def hook(figma: FakeFigma, sleeps: list[float]) -> Iterator[FigmaHook]:
    with credentials_for(figma).get_hook(
        policy=POLICY, sleep=sleeps.append, clock=lambda: NOW
    ) as made:
        yield made


def new_webhook(hook: FigmaHook, context_id: str = "team-1", **extra: str) -> dict:
    return hook.create_webhook(
        "FILE_VERSION_UPDATE", "team", context_id, ENDPOINT, "s3cret", **extra
    )


# --- the credentials block --------------------------------------------------------------------


def test_the_block_defaults_to_figmas_public_api() -> None:
    credentials = FigmaCredentials(token="figd_x")
    assert credentials.base_url == "https://api.figma.com"
    assert credentials.get_hook().base_url == "https://api.figma.com"


def test_the_token_is_a_secret_sent_as_x_figma_token(figma: FakeFigma, hook: FigmaHook) -> None:
    assert TOKEN not in repr(credentials_for(figma))
    hook.file_meta(FILE_KEY)
    assert figma.requests[0].headers["x-figma-token"] == TOKEN
    assert "authorization" not in figma.requests[0].headers


# --- files ------------------------------------------------------------------------------------


def test_file_versions_are_newest_first(figma: FakeFigma, hook: FigmaHook) -> None:
    versions = hook.file_versions(FILE_KEY)
    assert [v["label"] for v in versions] == ["Checkout v2", None, "Checkout v1"]
    assert versions[0]["user"]["handle"] == "Ada"
    assert figma.requests[0].path == f"/v1/files/{FILE_KEY}/versions"


def test_file_versions_asks_for_a_page_size(figma: FakeFigma, hook: FigmaHook) -> None:
    assert len(hook.file_versions(FILE_KEY, page_size=2)) == 2
    assert figma.requests[0].query == {"page_size": ["2"]}


def test_file_meta_gives_the_name_and_last_change(hook: FigmaHook) -> None:
    meta = hook.file_meta(FILE_KEY)
    assert meta["name"] == "Checkout redesign"
    assert meta["last_touched_at"] == "2026-08-01T11:00:00Z"
    assert meta["editorType"] == "figma"


def test_file_meta_reads_the_fields_unwrapped_too(figma: FakeFigma, hook: FigmaHook) -> None:
    figma.fail_next(Reply(200, {"name": "Flat", "last_touched_at": "2026-08-01T11:00:00Z"}))
    assert hook.file_meta(FILE_KEY)["name"] == "Flat"


def test_an_unknown_file_is_rejected_not_retried(
    figma: FakeFigma, hook: FigmaHook, sleeps: list[float]
) -> None:
    with pytest.raises(
        RejectedRequestError, match=r"HTTP 404 Not found \(GET /v1/files/nope/meta\)"
    ):
        hook.file_meta("nope")
    assert (len(figma.requests), sleeps) == (1, [])


def test_a_file_key_cannot_escape_its_path_segment(figma: FakeFigma, hook: FigmaHook) -> None:
    with pytest.raises(RejectedRequestError):
        hook.file_meta("../../v2/webhooks")
    assert figma.requests[0].path == "/v1/files/..%2F..%2Fv2%2Fwebhooks/meta"


# --- comments ---------------------------------------------------------------------------------


def test_comments_lists_the_files_comments(figma: FakeFigma, hook: FigmaHook) -> None:
    figma.add_comment(FILE_KEY, "Is the CTA final?")
    assert [c["message"] for c in hook.comments(FILE_KEY)] == ["Is the CTA final?"]


def test_post_comment_adds_a_comment(figma: FakeFigma, hook: FigmaHook) -> None:
    posted = hook.post_comment(FILE_KEY, "Shipped in 2.4")
    assert posted["message"] == "Shipped in 2.4"
    assert posted["user"] == BOT
    assert figma.files[FILE_KEY].comments == [posted]
    assert figma.requests[0].json() == {"message": "Shipped in 2.4"}


def test_post_comment_replies_to_a_root_comment(figma: FakeFigma, hook: FigmaHook) -> None:
    root = figma.add_comment(FILE_KEY, "Is the CTA final?")
    reply = hook.post_comment(FILE_KEY, "Yes, shipped.", reply_to=root)
    assert reply["parent_id"] == root
    assert figma.requests[0].json() == {"message": "Yes, shipped.", "comment_id": root}


def test_replying_to_a_reply_is_rejected_with_figmas_message(
    figma: FakeFigma, hook: FigmaHook
) -> None:
    root = figma.add_comment(FILE_KEY, "Question")
    answer = hook.post_comment(FILE_KEY, "Answer", reply_to=root)
    with pytest.raises(RejectedRequestError, match="comment_id must be a root comment"):
        hook.post_comment(FILE_KEY, "Nested", reply_to=answer["id"])


def test_a_comment_whose_answer_was_lost_is_not_posted_twice(figma: FakeFigma) -> None:
    sleeps: list[float] = []
    hook = credentials_for(figma).get_hook(
        timeout=0.05, policy=POLICY, sleep=sleeps.append, clock=lambda: NOW
    )
    figma.answer_late(0.2)

    posted = hook.post_comment(FILE_KEY, "Shipped in 2.4")

    assert [c["message"] for c in figma.files[FILE_KEY].comments] == ["Shipped in 2.4"]
    assert posted["id"] == figma.files[FILE_KEY].comments[0]["id"]
    assert [r.method for r in figma.requests] == ["POST", "GET"]
    assert len(sleeps) == 1


def test_an_older_identical_comment_does_not_count_as_the_lost_one(figma: FakeFigma) -> None:
    figma.clock = lambda: datetime(2026, 7, 1, tzinfo=UTC)
    figma.add_comment(FILE_KEY, "Shipped in 2.4", user=BOT)  # a month ago
    figma.clock = lambda: NOW
    figma.fail_next(Reply(503))
    hook = credentials_for(figma).get_hook(policy=POLICY, sleep=lambda _s: None, clock=lambda: NOW)

    hook.post_comment(FILE_KEY, "Shipped in 2.4")

    assert len(figma.files[FILE_KEY].comments) == 2


# --- webhooks ---------------------------------------------------------------------------------


def test_create_webhook_sends_the_v2_body(figma: FakeFigma, hook: FigmaHook) -> None:
    created = new_webhook(hook, description="ProductPilot design events")
    assert figma.requests[0].json() == {
        "event_type": "FILE_VERSION_UPDATE",
        "context": "team",
        "context_id": "team-1",
        "endpoint": ENDPOINT,
        "passcode": "s3cret",
        "description": "ProductPilot design events",
    }
    assert created["id"] in figma.webhooks
    assert (created["context"], created["status"]) == ("TEAM", "ACTIVE")


def test_create_webhook_can_start_paused(figma: FakeFigma, hook: FigmaHook) -> None:
    created = new_webhook(hook, status="PAUSED")
    assert figma.webhooks[created["id"]]["status"] == "PAUSED"


def test_an_event_type_figma_does_not_have_is_a_violation(
    figma: FakeFigma, hook: FigmaHook
) -> None:
    with pytest.raises(RejectedRequestError):
        hook.create_webhook("FILE_RENAMED", "team", "team-1", ENDPOINT, "s3cret")
    [violation] = figma.violations
    assert "body: event_type: 'FILE_RENAMED' is not one of" in violation
    figma.violations.clear()


def test_a_webhook_whose_answer_was_lost_is_not_registered_twice(figma: FakeFigma) -> None:
    hook = credentials_for(figma).get_hook(timeout=0.05, policy=POLICY, sleep=lambda _s: None)
    figma.answer_late(0.2)

    created = new_webhook(hook)

    assert list(figma.webhooks) == [created["id"]]
    assert [(r.method, r.path) for r in figma.requests] == [
        ("POST", "/v2/webhooks"),
        ("GET", "/v2/webhooks"),
    ]


def test_list_webhooks_of_a_context_hides_the_passcode(figma: FakeFigma, hook: FigmaHook) -> None:
    mine = new_webhook(hook, context_id="team-1")
    new_webhook(hook, context_id="team-2")

    listed = hook.list_webhooks("team", "team-1")

    assert [w["id"] for w in listed] == [mine["id"]]
    assert listed[0]["passcode"] == ""
    assert figma.requests[-1].query == {"context": ["team"], "context_id": ["team-1"]}


def test_list_webhooks_of_a_plan_follows_every_page(figma: FakeFigma, hook: FigmaHook) -> None:
    created = [new_webhook(hook, context_id=f"team-{n}")["id"] for n in range(5)]

    listed = hook.list_webhooks(plan_api_id="plan-1")

    assert [w["id"] for w in listed] == created
    pages = [r for r in figma.requests if r.method == "GET"]
    assert [r.query.get("cursor") for r in pages] == [None, ["2"], ["4"]]


@pytest.mark.parametrize(
    "arguments",
    [{}, {"context": "team", "context_id": "t", "plan_api_id": "p"}],
    ids=["neither", "both"],
)
def test_list_webhooks_needs_a_context_or_a_plan(hook: FigmaHook, arguments: dict) -> None:
    with pytest.raises(ValueError, match="either context and context_id, or plan_api_id"):
        hook.list_webhooks(**arguments)


def test_delete_webhook_removes_it(figma: FakeFigma, hook: FigmaHook) -> None:
    created = new_webhook(hook)
    deleted = hook.delete_webhook(created["id"])
    assert deleted["id"] == created["id"]
    assert figma.webhooks == {}


def test_deleting_an_unknown_webhook_is_rejected(hook: FigmaHook) -> None:
    with pytest.raises(RejectedRequestError, match="HTTP 404 Not found"):
        hook.delete_webhook("999")


# --- failures ---------------------------------------------------------------------------------


def test_a_wrong_token_is_a_credential_error_naming_the_block_after_one_request(
    figma: FakeFigma, sleeps: list[float]
) -> None:
    hook = credentials_for(figma, token="figd_revoked").get_hook(policy=POLICY, sleep=sleeps.append)
    with pytest.raises(CredentialError) as raised:
        hook.file_versions(FILE_KEY)
    assert "HTTP 403 Invalid token" in str(raised.value)
    assert "check the Figma credentials block 'figma-design'" in str(raised.value)
    assert not raised.value.retryable
    assert (len(figma.requests), sleeps) == (1, [])


def test_an_unsaved_block_is_still_named_in_the_error(figma: FakeFigma) -> None:
    hook = FigmaCredentials(token="wrong", base_url=figma.url).get_hook()
    with pytest.raises(CredentialError, match="an unsaved Figma block"):
        hook.comments(FILE_KEY)


def test_http_429_waits_for_retry_after_then_succeeds(
    figma: FakeFigma, hook: FigmaHook, sleeps: list[float]
) -> None:
    figma.fail_next(rate_limited_reply(retry_after=7))
    assert hook.file_versions(FILE_KEY)
    assert sleeps == [7.0]
    assert len(figma.requests) == 2


def test_a_rate_limit_longer_than_the_policy_allows_is_raised_for_the_outbox(
    figma: FakeFigma, hook: FigmaHook, sleeps: list[float]
) -> None:
    figma.fail_next(rate_limited_reply(retry_after=3600))
    with pytest.raises(RateLimitedError) as raised:
        hook.comments(FILE_KEY)
    assert raised.value.retry_after == 3600
    assert sleeps == []


def test_server_errors_are_retried_with_backoff(
    figma: FakeFigma, hook: FigmaHook, sleeps: list[float]
) -> None:
    figma.fail_next(error_reply(500, "Internal error"), Reply(502, b"<html>Bad gateway</html>"))
    assert hook.file_meta(FILE_KEY)["name"] == "Checkout redesign"
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5  # base 0.5 s, up to half of it drawn away as jitter
    assert 0.5 <= sleeps[1] <= 1.0  # doubled


def test_server_errors_on_every_try_end_in_a_transient_error(
    figma: FakeFigma, hook: FigmaHook
) -> None:
    figma.fail_next(*[error_reply(500, "Internal error")] * POLICY.attempts)
    with pytest.raises(TransientVendorError, match="HTTP 500 Internal error"):
        hook.file_versions(FILE_KEY)
    assert len(figma.requests) == POLICY.attempts


def test_no_answer_in_time_is_a_transient_error(figma: FakeFigma) -> None:
    hook = credentials_for(figma).get_hook(timeout=0.05, policy=RetryPolicy(attempts=1))
    figma.fail_next(Reply(200, {"versions": []}, delay=0.2))
    with pytest.raises(TransientVendorError, match=r"no answer within 0\.05s"):
        hook.file_versions(FILE_KEY)


def test_a_refused_connection_is_a_transient_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = FigmaHook(TOKEN, f"http://127.0.0.1:{port}", policy=RetryPolicy(attempts=1))
    with pytest.raises(TransientVendorError, match="GET /v1/files/"):
        hook.file_versions(FILE_KEY)


def test_a_bad_request_is_rejected_with_figmas_message(figma: FakeFigma, hook: FigmaHook) -> None:
    figma.fail_next(error_reply(400, "Invalid parameter", boolean_style=True))
    with pytest.raises(RejectedRequestError, match="HTTP 400 Invalid parameter"):
        hook.comments(FILE_KEY)


# --- the fake is as strict as Figma -----------------------------------------------------------


def test_the_fake_flags_an_operation_figma_does_not_have(figma: FakeFigma, hook: FigmaHook) -> None:
    with pytest.raises(RejectedRequestError):
        hook._call("GET", "/v1/files/abc/history")
    assert figma.violations == [
        "GET /v1/files/abc/history: figma_openapi.yaml has no operation GET /v1/files/abc/history"
    ]
    figma.violations.clear()


def test_the_fake_flags_an_answer_of_its_own_that_breaks_the_description(
    figma: FakeFigma, hook: FigmaHook
) -> None:
    figma.files[FILE_KEY].comments.append({"id": "1", "message": "missing the rest"})
    with pytest.raises(TransientVendorError):  # the fake answers its own bug with a 500
        hook.comments(FILE_KEY)
    assert "answer breaks the Figma description" in figma.violations[0]
    figma.violations.clear()


# --- library components -----------------------------------------------------------------------


def test_file_components_lists_the_published_components(figma: FakeFigma, hook: FigmaHook) -> None:
    published = figma.add_component(FILE_KEY, "Button", created_at=NOW, updated_at=NOW)
    components = hook.file_components(FILE_KEY)
    assert [(c["key"], c["name"], c["updated_at"]) for c in components] == [
        (published["key"], "Button", "2026-08-01T12:00:00Z")
    ]
    assert figma.requests[0].path == f"/v1/files/{FILE_KEY}/components"


def test_a_file_never_published_has_no_components(hook: FigmaHook) -> None:
    assert hook.file_components(FILE_KEY) == []


def test_components_of_an_unknown_file_are_rejected(hook: FigmaHook) -> None:
    with pytest.raises(RejectedRequestError, match="HTTP 404 Not found"):
        hook.file_components("nope")
