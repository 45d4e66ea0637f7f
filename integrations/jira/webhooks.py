"""Jira webhooks: signature check and normalisation of issue, comment and issue-link events.

Jira Cloud signs webhooks registered with a secret using WebSub's scheme: ``X-Hub-Signature:
sha256=<hex HMAC-SHA256 of the raw body>``. The kind is the payload's ``webhookEvent``; the
delivery id is ``X-Atlassian-Webhook-Identifier`` (kept across retries), or the SHA-256 of the
body when a server sends none. See
https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks.

Handled kinds become ``productpilot.jira.<object>.<action>``: ``jira:issue_created|updated|
deleted`` → ``issue.*``, ``comment_created|updated|deleted`` → ``comment.*``,
``issuelink_created|deleted`` → ``issuelink.*``.

Example:
    >>> event = normalise("jira:issue_updated", {
    ...     "issue": {"key": "AB-1", "fields": {"status": {"name": "Done"}}},
    ...     "changelog": {"items": [{"field": "status", "fromString": "To Do"}]},
    ... })
    >>> event.name, event.payload["status"], event.payload["previous_status"]
    ('productpilot.jira.issue.updated', 'Done', 'To Do')
"""

from __future__ import annotations

from typing import Any

from integrations.webhooks import (
    Envelope,
    NormalisedEvent,
    WebhookReceiver,
    WebhookRequest,
    delivery_key,
    dig,
    event_name,
    ident,
    names,
    obj,
    parse_json_object,
    pick_headers,
    require_hmac_sha256,
    stored_kind,
    strings,
    text,
)

VENDOR = "jira"
SIGNATURE_HEADER = "x-hub-signature"
DELIVERY_HEADER = "x-atlassian-webhook-identifier"
STORED_HEADERS = (DELIVERY_HEADER, "x-atlassian-webhook-retry")
MAX_COMMENT_LENGTH = 10_000

#: Jira's ``webhookEvent`` → (object, action) of the ProductPilot event name.
KINDS: dict[str, tuple[str, str]] = {
    "jira:issue_created": ("issue", "created"),
    "jira:issue_updated": ("issue", "updated"),
    "jira:issue_deleted": ("issue", "deleted"),
    "comment_created": ("comment", "created"),
    "comment_updated": ("comment", "updated"),
    "comment_deleted": ("comment", "deleted"),
    "issuelink_created": ("issuelink", "created"),
    "issuelink_deleted": ("issuelink", "deleted"),
}


def verify(secret: str, request: WebhookRequest) -> None:
    """Check ``X-Hub-Signature`` (``sha256=<hex>``) against the HMAC-SHA256 of the raw body.

    Raises:
        SignatureError: the header is missing or does not match.
    """
    require_hmac_sha256(secret, request.body, request.header(SIGNATURE_HEADER), prefix="sha256=")


def read(request: WebhookRequest) -> Envelope:
    """The delivery: kind from ``webhookEvent``, id from ``X-Atlassian-Webhook-Identifier``.

    Raises:
        PayloadError: the body is not a JSON object.
    """
    payload = parse_json_object(request.body)
    return Envelope(
        delivery_id=delivery_key(request.header(DELIVERY_HEADER), request.body),
        kind=stored_kind(payload.get("webhookEvent")),
        payload=payload,
        headers=pick_headers(request, STORED_HEADERS),
    )


def normalise(kind: str, payload: dict[str, Any]) -> NormalisedEvent | None:
    """The ProductPilot event for a Jira delivery, ``None`` for a kind not handled."""
    if kind not in KINDS:
        return None
    target, action = KINDS[kind]
    fields: dict[str, Any] = {"actor": text(dig(payload, "user", "displayName"), 200)}
    if target == "issue" or "issue" in payload:
        fields |= _issue(obj(payload.get("issue")))
    if target == "issue":
        fields |= _changes(payload)
    elif target == "comment":
        fields |= _comment(obj(payload.get("comment")))
    else:
        fields |= _issue_link(obj(payload.get("issueLink")))
    return NormalisedEvent(event_name(VENDOR, target, action), fields)


def _user(value: Any) -> tuple[str | None, str | None]:
    user = obj(value)
    # Cloud identifies people by accountId; Jira Server/Data Center by name (or key).
    identity = user.get("accountId") or user.get("name") or user.get("key")
    return text(user.get("displayName"), 200), text(identity, 200)


def _issue(issue: dict[str, Any]) -> dict[str, Any]:
    fields = obj(issue.get("fields"))
    assignee, assignee_id = _user(fields.get("assignee"))
    return {
        "issue_key": text(issue.get("key"), 100),
        "issue_id": ident(issue.get("id")),
        "summary": text(fields.get("summary")),
        "status": text(dig(fields, "status", "name"), 100),
        "status_category": text(dig(fields, "status", "statusCategory", "key"), 40),
        "issue_type": text(dig(fields, "issuetype", "name"), 100),
        "priority": text(dig(fields, "priority", "name"), 100),
        "assignee": assignee,
        "assignee_id": assignee_id,
        "project_key": text(dig(fields, "project", "key"), 100),
        "labels": strings(fields.get("labels")),
    }


def _changes(payload: dict[str, Any]) -> dict[str, Any]:
    items = dig(payload, "changelog", "items")
    items = [obj(item) for item in items] if isinstance(items, list) else []
    status = next(
        (item for item in items if "status" in (item.get("field"), item.get("fieldId"))), {}
    )
    return {
        "changed_fields": names(items, key="field"),
        "previous_status": text(status.get("fromString"), 100),
    }


def _comment(comment: dict[str, Any]) -> dict[str, Any]:
    author, author_id = _user(comment.get("author"))
    return {
        "comment_id": ident(comment.get("id")),
        "body": text(comment.get("body"), MAX_COMMENT_LENGTH),
        "author": author,
        "author_id": author_id,
    }


def _issue_link(link: dict[str, Any]) -> dict[str, Any]:
    link_type = obj(link.get("issueLinkType"))
    return {
        "link_id": ident(link.get("id")),
        "link_type": text(link_type.get("name"), 100),
        "outward": text(link_type.get("outwardName"), 100),
        "inward": text(link_type.get("inwardName"), 100),
        "source_issue_id": ident(link.get("sourceIssueId")),
        "destination_issue_id": ident(link.get("destinationIssueId")),
    }


RECEIVER = WebhookReceiver(vendor=VENDOR, verify=verify, read=read, normalise=normalise)
