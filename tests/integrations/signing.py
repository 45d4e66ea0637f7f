"""Sign webhook requests the way each vendor does, for tests."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from integrations.webhooks import hmac_sha256_hex


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def github_headers(secret: str, body: bytes, event: str, delivery: str = "d-1") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": "sha256=" + hmac_sha256_hex(secret, body),
    }


def jira_headers(secret: str, body: bytes, delivery: str | None = "j-1") -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature": "sha256=" + hmac_sha256_hex(secret, body),
    }
    if delivery is not None:
        headers["X-Atlassian-Webhook-Identifier"] = delivery
    return headers


def linear_headers(secret: str, body: bytes, delivery: str = "l-1") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Linear-Delivery": delivery,
        "Linear-Event": "Issue",
        "Linear-Signature": hmac_sha256_hex(secret, body),
    }


def linear_timestamp(at: datetime) -> int:
    """``webhookTimestamp``: Unix milliseconds."""
    return int(at.timestamp() * 1000)


def slack_headers(secret: str, body: bytes, at: datetime) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    base = f"v0:{timestamp}:".encode() + body
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + hmac_sha256_hex(secret, base),
    }
