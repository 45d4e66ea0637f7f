"""A GitHub repository's issues as backlog items, and the plan's tiers written back as labels.

Two listings per sync (paged by GitHub's ``Link`` header, pull requests left out): every
open issue, and the issues closed and updated within the window. GitHub issues carry little
structure, so labels do:

====================  ==========================================================
GitHub                backlog item
====================  ==========================================================
``#<number>``         ``key``: ``<owner>/<repo>#<number>``
title, body           ``title``, ``description``
``state``             ``status``: open → todo, closed → done
``closed_at``         ``completed_at``, unless closed as not planned or duplicate
``created_at``        ``created_at``
``type:<x>``          ``item_type`` (``issue`` without one)
``feature:<x>``       ``feature``
``team:<x>``          ``team``
``points:<n>``        ``story_points``
``<prefix>:<n>``      scoring inputs, for the prefixes configured
"depends on #n"       ``depends_on`` (also "blocked by #n", in the body)
====================  ==========================================================

A write-back labels each open issue ``priority:P1`` (the top quarter by score) to
``priority:P4``, and takes off the other ``priority:P<n>`` labels.

Example:
    >>> label_value(["type:bug", "points:3"], "points")
    '3'
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from integrations.backlog import FetchedBacklog, SourceFields, WriteBackItem
from integrations.github.client import GitHubHook
from productpilot.errors import ValidationError
from productpilot.vendors import RejectedRequestError

PRIORITY_LABEL = "priority:P{tier}"
_PRIORITY_LABEL = re.compile(r"^priority:P[1-9]$")
#: Closed this way, the issue was not worked on: no completion to learn from.
NOT_DONE_REASONS = frozenset({"not_planned", "duplicate"})
_DEPENDS_ON = re.compile(r"\b(?:depends\s+on|blocked\s+by)\s+#(\d+)", re.IGNORECASE)


def fetch_github_backlog(
    hook: GitHubHook, repo: str, fields: SourceFields, since: datetime
) -> FetchedBacklog:
    """The repository's open issues and those closed since ``since``, mapped.

    Raises:
        ValidationError: the repository does not exist, or the token cannot see it.

    Example:
        >>> fetched = fetch_github_backlog(hook, "acme/shop", SourceFields(), since)
        ... # doctest: +SKIP
        >>> fetched.items[0]["key"]  # doctest: +SKIP
        'acme/shop#12'
    """
    try:
        # One more than kept: whether any were left out.
        issues = hook.list_issues(repo, state="open", max_items=fields.max_items + 1)
        room = fields.max_items + 1 - len(issues)
        if room > 0:
            issues += hook.list_issues(repo, state="closed", since=since, max_items=room)
    except RejectedRequestError as error:
        raise ValidationError(f"integrations.github_repository {repo!r}: {error}") from error
    return map_github_issues(
        repo, issues[: fields.max_items], fields, truncated=len(issues) > fields.max_items
    )


def map_github_issues(
    repo: str,
    issues: Sequence[Mapping[str, Any]],
    fields: SourceFields,
    *,
    truncated: bool = False,
) -> FetchedBacklog:
    """Issues as :meth:`GitHubHook.list_issues` returns them, as backlog items.

    Example:
        >>> fetched = map_github_issues("acme/shop", [{"number": 7, "title": "Export",
        ...     "body": "Blocked by #3", "state": "open", "state_reason": None,
        ...     "labels": ["type:bug", "team:web"], "created_at": "2026-11-02T09:00:00+00:00",
        ...     "closed_at": None}], SourceFields())
        >>> item = fetched.items[0]
        >>> item["key"], item["item_type"], item["team"], item["depends_on"]
        ('acme/shop#7', 'bug', 'web', [])
    """
    keys = {issue_key(repo, int(issue["number"])) for issue in issues}
    items, inputs, values = [], {}, {}
    for issue in issues:
        key = issue_key(repo, int(issue["number"]))
        labels = [str(label) for label in issue.get("labels") or []]
        needs = {issue_key(repo, int(n)) for n in _DEPENDS_ON.findall(issue.get("body") or "")}
        items.append(_item(key, issue, labels, sorted((needs & keys) - {key})))
        inputs[key] = _inputs(labels, fields.github_input_labels)
        values[key] = {"labels": labels}
    return FetchedBacklog(tuple(items), inputs, values, truncated=truncated)


def write_back_github(
    hook: GitHubHook, repo: str, items: Sequence[WriteBackItem]
) -> dict[str, dict[str, Any]]:
    """Label each issue with its tier, ``priority:P1`` ... ``priority:P4``, where it lacks it,
    and take other priority labels off.

    Returns:
        Key → ``{"labels": [...]}`` as they now are, for the issues that were changed.

    Example:
        >>> write_back_github(hook, "acme/shop", items)  # doctest: +SKIP
        {'acme/shop#7': {'labels': ['type:bug', 'priority:P1']}}
    """
    changed: dict[str, dict[str, Any]] = {}
    for item in items:
        labels = list(item.source_values.get("labels") or [])
        wanted = PRIORITY_LABEL.format(tier=item.tier)
        stale = [label for label in labels if _PRIORITY_LABEL.match(label) and label != wanted]
        if wanted in labels and not stale:
            continue
        number = int(item.key.rsplit("#", 1)[1])
        if wanted not in labels:
            hook.add_issue_labels(repo, number, [wanted])
        for label in stale:
            # Already gone means someone took it off since the sync: the goal is met.
            with contextlib.suppress(RejectedRequestError):
                hook.remove_issue_label(repo, number, label)
        now = [label for label in labels if label not in stale]
        changed[item.key] = {"labels": now if wanted in now else [*now, wanted]}
    return changed


def issue_key(repo: str, number: int) -> str:
    """The backlog key of issue ``number``: ``owner/name#number``.

    Example:
        >>> issue_key("acme/shop", 12)
        'acme/shop#12'
    """
    return f"{repo}#{number}"


def label_value(labels: Sequence[str], prefix: str) -> str | None:
    """The value of the first ``<prefix>:<value>`` label (prefix case-insensitive)."""
    wanted = prefix.lower() + ":"
    for label in labels:
        if label.lower().startswith(wanted) and label[len(wanted) :].strip():
            return label[len(wanted) :].strip()
    return None


def _item(
    key: str, issue: Mapping[str, Any], labels: list[str], depends_on: list[str]
) -> dict[str, Any]:
    closed = issue.get("state") == "closed"
    finished = closed and issue.get("state_reason") not in NOT_DONE_REASONS
    return {
        "key": key,
        "title": str(issue.get("title") or key),
        "description": str(issue.get("body") or ""),
        "item_type": (label_value(labels, "type") or "issue").lower(),
        "status": "done" if closed else "todo",
        "labels": labels,
        "feature": label_value(labels, "feature"),
        "team": label_value(labels, "team"),
        "story_points": _number(label_value(labels, "points")),
        "created_at": _instant(issue.get("created_at")),
        "completed_at": _instant(issue.get("closed_at")) if finished else None,
        "depends_on": depends_on,
    }


def _inputs(labels: Sequence[str], prefixes: Mapping[str, str]) -> dict[str, float]:
    found = {name: _number(label_value(labels, prefix)) for name, prefix in prefixes.items()}
    return {name: value for name, value in found.items() if value is not None}


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None
