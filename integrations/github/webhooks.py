"""GitHub webhooks: signature check and normalisation of the events ProductPilot reacts to.

GitHub signs the raw body with the webhook's secret (``X-Hub-Signature-256: sha256=<hex>``),
names the event in ``X-GitHub-Event`` (the payload's ``action`` refines it) and identifies the
delivery in ``X-GitHub-Delivery``, which a redelivery keeps. See
https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries.

Handled events become ``productpilot.github.<event>[.<action>]``: ``pull_request``,
``pull_request_review``, ``check_run``, ``check_suite``, ``workflow_run``, ``deployment``,
``deployment_status``, ``issues``, ``code_scanning_alert``, ``dependabot_alert``, ``push``,
``release`` and ``status``. Every payload carries ``repository`` (``owner/name``), ``action``
and ``sender``; docs/webhooks.md lists the fields of each event.

Example:
    >>> event = normalise("push", {"ref": "refs/heads/main", "repository": {"full_name": "a/b"}})
    >>> event.name, event.payload["ref"], event.payload["repository"]
    ('productpilot.github.push', 'refs/heads/main', 'a/b')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from integrations.webhooks import (
    Envelope,
    NormalisedEvent,
    WebhookReceiver,
    WebhookRequest,
    delivery_key,
    dig,
    event_name,
    flag,
    integer,
    names,
    obj,
    parse_json_object,
    pick_headers,
    require_hmac_sha256,
    stored_kind,
    text,
)

VENDOR = "github"
SIGNATURE_HEADER = "x-hub-signature-256"
EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"
STORED_HEADERS = (
    EVENT_HEADER,
    DELIVERY_HEADER,
    "x-github-hook-id",
    "x-github-hook-installation-target-type",
    "x-github-hook-installation-target-id",
)
#: A push lists at most 20 commits (GitHub's own limit); messages are cut to this length.
MAX_COMMITS = 20
MAX_MESSAGE_LENGTH = 2000


def verify(secret: str, request: WebhookRequest) -> None:
    """Check ``X-Hub-Signature-256`` against the HMAC-SHA256 of the raw body.

    Raises:
        SignatureError: the header is missing or does not match.
    """
    require_hmac_sha256(secret, request.body, request.header(SIGNATURE_HEADER), prefix="sha256=")


def read(request: WebhookRequest) -> Envelope:
    """The delivery: id from ``X-GitHub-Delivery``, kind from ``X-GitHub-Event``.

    Raises:
        PayloadError: the body is not a JSON object (e.g. the webhook sends form data).
    """
    return Envelope(
        delivery_id=delivery_key(request.header(DELIVERY_HEADER), request.body),
        kind=stored_kind(request.header(EVENT_HEADER)),
        payload=parse_json_object(request.body),
        headers=pick_headers(request, STORED_HEADERS),
    )


def normalise(kind: str, payload: dict[str, Any]) -> NormalisedEvent | None:
    """The ProductPilot event for a GitHub delivery, ``None`` for an event not handled."""
    build = _BUILDERS.get(kind)
    if build is None:
        return None
    repository = text(dig(payload, "repository", "full_name"), 200)
    action = text(payload.get("action"), 64)
    fields = {
        "repository": repository,
        "action": action,
        "sender": text(dig(payload, "sender", "login"), 100),
        **build(payload),
    }
    return NormalisedEvent(event_name(VENDOR, kind, action), fields)


# --- one builder per event ------------------------------------------------------------------------


def _pull_request_numbers(value: Any) -> list[int]:
    if not isinstance(value, list):
        return []
    found = (integer(obj(item).get("number")) for item in value)
    return [number for number in found if number is not None]


def _app(check: dict[str, Any]) -> str | None:
    # The GitHub App behind a check; older payloads have no slug, only a name.
    return text(dig(check, "app", "slug"), 100) or text(dig(check, "app", "name"), 100)


def _first_integer(*values: Any) -> int | None:
    return next((found for found in map(integer, values) if found is not None), None)


def _pull_request(payload: dict[str, Any]) -> dict[str, Any]:
    pr = obj(payload.get("pull_request"))
    return {
        "number": _first_integer(payload.get("number"), pr.get("number")),
        "title": text(pr.get("title")),
        "state": text(pr.get("state"), 20),
        "draft": flag(pr.get("draft")),
        "merged": flag(pr.get("merged")),
        "head_ref": text(dig(pr, "head", "ref"), 255),
        "head_sha": text(dig(pr, "head", "sha"), 64),
        "base_ref": text(dig(pr, "base", "ref"), 255),
        "labels": names(pr.get("labels")),
        "author": text(dig(pr, "user", "login"), 100),
        "url": text(pr.get("html_url")),
        "created_at": text(pr.get("created_at"), 40),
        "merged_at": text(pr.get("merged_at"), 40),
        "closed_at": text(pr.get("closed_at"), 40),
    }


def _pull_request_review(payload: dict[str, Any]) -> dict[str, Any]:
    review = obj(payload.get("review"))
    pr = obj(payload.get("pull_request"))
    return {
        "number": integer(pr.get("number")),
        "head_sha": text(dig(pr, "head", "sha"), 64),
        "review_id": integer(review.get("id")),
        "review_state": text(review.get("state"), 40),
        "reviewer": text(dig(review, "user", "login"), 100),
        "commit_sha": text(review.get("commit_id"), 64),
        "url": text(review.get("html_url")),
    }


def _check_run(payload: dict[str, Any]) -> dict[str, Any]:
    run = obj(payload.get("check_run"))
    return {
        "check_run_id": integer(run.get("id")),
        "name": text(run.get("name"), 200),
        "status": text(run.get("status"), 40),
        "conclusion": text(run.get("conclusion"), 40),
        "head_sha": text(run.get("head_sha"), 64),
        "app": _app(run),
        "pull_requests": _pull_request_numbers(run.get("pull_requests")),
        "started_at": text(run.get("started_at"), 40),
        "completed_at": text(run.get("completed_at"), 40),
        "url": text(run.get("html_url")),
    }


def _check_suite(payload: dict[str, Any]) -> dict[str, Any]:
    suite = obj(payload.get("check_suite"))
    return {
        "check_suite_id": integer(suite.get("id")),
        "status": text(suite.get("status"), 40),
        "conclusion": text(suite.get("conclusion"), 40),
        "head_sha": text(suite.get("head_sha"), 64),
        "head_branch": text(suite.get("head_branch"), 255),
        "app": _app(suite),
        "pull_requests": _pull_request_numbers(suite.get("pull_requests")),
    }


def _workflow_run(payload: dict[str, Any]) -> dict[str, Any]:
    run = obj(payload.get("workflow_run"))
    return {
        "run_id": integer(run.get("id")),
        "name": text(run.get("name"), 200),
        "status": text(run.get("status"), 40),
        "conclusion": text(run.get("conclusion"), 40),
        "head_sha": text(run.get("head_sha"), 64),
        "head_branch": text(run.get("head_branch"), 255),
        "event": text(run.get("event"), 60),
        "workflow_id": integer(run.get("workflow_id")),
        "run_number": integer(run.get("run_number")),
        "run_attempt": integer(run.get("run_attempt")),
        "pull_requests": _pull_request_numbers(run.get("pull_requests")),
        "run_started_at": text(run.get("run_started_at"), 40),
        "url": text(run.get("html_url")),
    }


def _deployment(payload: dict[str, Any]) -> dict[str, Any]:
    deployment = obj(payload.get("deployment"))
    return {
        "deployment_id": integer(deployment.get("id")),
        "environment": text(deployment.get("environment"), 200),
        "sha": text(deployment.get("sha"), 64),
        "ref": text(deployment.get("ref"), 255),
        "task": text(deployment.get("task"), 100),
        "creator": text(dig(deployment, "creator", "login"), 100),
        "created_at": text(deployment.get("created_at"), 40),
    }


def _deployment_status(payload: dict[str, Any]) -> dict[str, Any]:
    status = obj(payload.get("deployment_status"))
    return {
        **_deployment(payload),
        "state": text(status.get("state"), 40),
        "description": text(status.get("description")),
        "environment_url": text(status.get("environment_url")),
        "target_url": text(status.get("target_url")),
        "status_created_at": text(status.get("created_at"), 40),
    }


def _issues(payload: dict[str, Any]) -> dict[str, Any]:
    issue = obj(payload.get("issue"))
    return {
        "number": integer(issue.get("number")),
        "title": text(issue.get("title")),
        "state": text(issue.get("state"), 20),
        "labels": names(issue.get("labels")),
        "author": text(dig(issue, "user", "login"), 100),
        "assignees": names(issue.get("assignees"), key="login"),
        "url": text(issue.get("html_url")),
    }


def _code_scanning_alert(payload: dict[str, Any]) -> dict[str, Any]:
    alert = obj(payload.get("alert"))
    rule = obj(alert.get("rule"))
    return {
        "number": integer(alert.get("number")),
        "state": text(alert.get("state"), 40),
        "severity": text(rule.get("severity"), 40),
        "security_severity": text(rule.get("security_severity_level"), 40),
        "rule_id": text(rule.get("id"), 200),
        "rule_description": text(rule.get("description")),
        "tool": text(dig(alert, "tool", "name"), 100),
        "ref": text(payload.get("ref"), 255),
        "commit_sha": text(payload.get("commit_oid"), 64),
        "url": text(alert.get("html_url")),
    }


def _dependabot_alert(payload: dict[str, Any]) -> dict[str, Any]:
    alert = obj(payload.get("alert"))
    advisory = obj(alert.get("security_advisory"))
    severity = advisory.get("severity") or dig(alert, "security_vulnerability", "severity")
    return {
        "number": integer(alert.get("number")),
        "state": text(alert.get("state"), 40),
        "severity": text(severity, 40),
        "package": text(dig(alert, "dependency", "package", "name"), 200),
        "ecosystem": text(dig(alert, "dependency", "package", "ecosystem"), 40),
        "manifest_path": text(dig(alert, "dependency", "manifest_path"), 500),
        "ghsa_id": text(advisory.get("ghsa_id"), 40),
        "cve_id": text(advisory.get("cve_id"), 40),
        "summary": text(advisory.get("summary")),
        "url": text(alert.get("html_url")),
    }


def _push(payload: dict[str, Any]) -> dict[str, Any]:
    commits = payload.get("commits")
    commits = commits if isinstance(commits, list) else []
    return {
        "ref": text(payload.get("ref"), 255),
        "before": text(payload.get("before"), 64),
        "after": text(payload.get("after"), 64),
        "created": flag(payload.get("created")),
        "deleted": flag(payload.get("deleted")),
        "forced": flag(payload.get("forced")),
        "pusher": text(dig(payload, "pusher", "name"), 100),
        "compare_url": text(payload.get("compare")),
        "commit_count": len(commits),
        "commits": [
            {
                "sha": text(obj(commit).get("id"), 64),
                "message": text(obj(commit).get("message"), MAX_MESSAGE_LENGTH),
                "author": text(dig(commit, "author", "name"), 200),
            }
            for commit in commits[:MAX_COMMITS]
        ],
    }


def _release(payload: dict[str, Any]) -> dict[str, Any]:
    release = obj(payload.get("release"))
    return {
        "release_id": integer(release.get("id")),
        "tag": text(release.get("tag_name"), 255),
        "name": text(release.get("name"), 255),
        "draft": flag(release.get("draft")),
        "prerelease": flag(release.get("prerelease")),
        "target": text(release.get("target_commitish"), 255),
        "author": text(dig(release, "author", "login"), 100),
        "published_at": text(release.get("published_at"), 40),
        "url": text(release.get("html_url")),
    }


def _status(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "sha": text(payload.get("sha"), 64),
        "context": text(payload.get("context"), 255),
        "state": text(payload.get("state"), 40),
        "description": text(payload.get("description")),
        "target_url": text(payload.get("target_url")),
        "branches": names(payload.get("branches")),
    }


_BUILDERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "pull_request": _pull_request,
    "pull_request_review": _pull_request_review,
    "check_run": _check_run,
    "check_suite": _check_suite,
    "workflow_run": _workflow_run,
    "deployment": _deployment,
    "deployment_status": _deployment_status,
    "issues": _issues,
    "code_scanning_alert": _code_scanning_alert,
    "dependabot_alert": _dependabot_alert,
    "push": _push,
    "release": _release,
    "status": _status,
}

#: The GitHub events ProductPilot emits (others are stored and answered "ignored").
HANDLED_EVENTS = frozenset(_BUILDERS)

RECEIVER = WebhookReceiver(vendor=VENDOR, verify=verify, read=read, normalise=normalise)
