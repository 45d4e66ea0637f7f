"""A small recorded-looking pull-request history: the GitHub webhooks a repository sends
while a few pull requests are opened, built, reviewed and merged.

The demo replays it through the development flows (``quality-gate`` and
``workflow-transitions``) offline, so each payload carries what those flows read from
GitHub's documented webhook shapes (``pull_request``, ``workflow_run``,
``pull_request_review``), and nothing needs fetching: CI results arrive as ``workflow_run``
events, which name their conclusion.

The story, per pull request, in order:

* **#101** ``WEB-1``: CI fails, is fixed by a new push, passes; approved; merged.
* **#102** ``WEB-2``: CI passes, approved, merged (the release candidate).
* **#103** ``WEB-3``: CI fails and stays failing; no review yet.

Example:
    >>> history = pull_request_history("acme/web-app", datetime(2026, 11, 2, tzinfo=UTC))
    >>> [d["kind"] for d in history][:3]
    ['pull_request', 'workflow_run', 'pull_request']
    >>> len({d["id"] for d in history}) == len(history)
    True
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

#: The CI workflow's name: the check the ``required_checks`` gate waits for.
CI_WORKFLOW = "CI"


@dataclass(frozen=True)
class _Pull:
    number: int
    issue_key: str
    title: str
    labels: tuple[str, ...]
    #: CI conclusions, one per pushed head (a failure then a fix is two heads).
    builds: tuple[str, ...]
    approved: bool
    merged: bool


_PULLS = (
    _Pull(
        101,
        "WEB-1",
        "Retry card payments on timeouts",
        ("bug",),
        ("failure", "success"),
        True,
        True,
    ),
    _Pull(102, "WEB-2", "Saved carts across devices", ("feature",), ("success",), True, True),
    _Pull(103, "WEB-3", "Faster search suggestions", ("enhancement",), ("failure",), False, False),
)


def _sha(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pull_request(
    pull: _Pull,
    repository: str,
    branch: str,
    opened: datetime,
    head: str,
    action: str,
    at: datetime,
    **more: Any,
) -> dict[str, Any]:
    """A ``pull_request`` webhook body (without ``repository`` and ``sender``)."""
    return {
        "action": action,
        "number": pull.number,
        "pull_request": {
            "number": pull.number,
            "title": f"{pull.issue_key}: {pull.title}",
            "body": f"Closes {pull.issue_key}.",
            "state": "closed" if action == "closed" else "open",
            "html_url": f"https://github.com/{repository}/pull/{pull.number}",
            "user": {"login": "dev-ana"},
            "labels": [{"name": label} for label in pull.labels],
            "head": {"ref": branch, "sha": head},
            "base": {"ref": "main"},
            "created_at": _iso(opened),
            "updated_at": _iso(at),
            **more,
        },
    }


def pull_request_history(repository: str, start: datetime) -> list[dict[str, Any]]:
    """The webhooks of :data:`_PULLS` in ``repository``, from ``start`` on, in the order
    GitHub would send them: ``{"kind": <X-GitHub-Event>, "id": <delivery>, "payload": ...}``.
    """
    owner, name = repository.split("/", 1)
    repo = {
        "id": int(_sha(repository)[:8], 16),
        "name": name,
        "full_name": repository,
        "owner": {"login": owner},
        "html_url": f"https://github.com/{repository}",
        "default_branch": "main",
    }
    deliveries: list[dict[str, Any]] = []

    def send(kind: str, payload: dict[str, Any]) -> None:
        delivery = _sha("delivery", repository, len(deliveries), kind)
        body = {**payload, "repository": repo, "sender": {"login": "demo-bot"}}
        deliveries.append({"kind": kind, "id": delivery, "payload": body})

    for index, pull in enumerate(_PULLS):
        opened = start + timedelta(days=2 * index, hours=9)
        branch = f"feature/{pull.issue_key}-{pull.title.lower().replace(' ', '-')[:24]}"
        heads = [_sha(repository, pull.number, push) for push in range(len(pull.builds))]
        pull_request = functools.partial(_pull_request, pull, repository, branch, opened)
        at = opened
        send("pull_request", pull_request(heads[0], "opened", at))
        for push, (head, conclusion) in enumerate(zip(heads, pull.builds, strict=True)):
            if push:
                at += timedelta(hours=1)
                send("pull_request", pull_request(head, "synchronize", at))
            at += timedelta(minutes=12)
            run_id = int(_sha("run", head)[:8], 16)
            send(
                "workflow_run",
                {
                    "action": "completed",
                    "workflow": {"name": CI_WORKFLOW},
                    "workflow_run": {
                        "id": run_id,
                        "name": CI_WORKFLOW,
                        "head_sha": head,
                        "head_branch": branch,
                        "status": "completed",
                        "conclusion": conclusion,
                        "run_started_at": _iso(at - timedelta(minutes=10)),
                        "updated_at": _iso(at),
                        "html_url": f"https://github.com/{repository}/actions/runs/{run_id}",
                        "pull_requests": [{"number": pull.number}],
                    },
                },
            )
        if pull.approved:
            at += timedelta(hours=2)
            send(
                "pull_request_review",
                {
                    "action": "submitted",
                    "review": {
                        "id": int(_sha("review", pull.number)[:8], 16),
                        "state": "approved",
                        "user": {"login": "lead-bo"},
                        "submitted_at": _iso(at),
                    },
                    "pull_request": pull_request(heads[-1], "submitted", at)["pull_request"],
                },
            )
        if pull.merged:
            at += timedelta(hours=1)
            send(
                "pull_request",
                pull_request(
                    heads[-1],
                    "closed",
                    at,
                    merged=True,
                    merged_at=_iso(at),
                    closed_at=_iso(at),
                    merge_commit_sha=_sha("merge", repository, pull.number),
                ),
            )
    return deliveries


def merged_pull_requests(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The merged pull requests of a history, as GitHub's JSON (the release notes' input)."""
    return [
        d["payload"]["pull_request"]
        for d in history
        if d["kind"] == "pull_request" and d["payload"]["pull_request"].get("merged")
    ]


def release_candidate(history: list[dict[str, Any]]) -> str:
    """The head commit of the last merged pull request of a history: what the demo ships."""
    [*_, last] = merged_pull_requests(history)
    return str(last["head"]["sha"])
