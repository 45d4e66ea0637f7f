"""A Linear team's issues as backlog items, and the plan's priorities written back.

One paged GraphQL query per sync (:data:`BACKLOG_ISSUES`): the team's issues not completed
or canceled, and those updated within the window. How fields map:

========================  =================================================================
Linear                    backlog item
========================  =================================================================
``identifier``, title     ``key``, ``title``; ``description`` (Markdown) as it is
``state.type``            ``status``: triage/backlog/unstarted → todo, started →
                          in_progress, completed/canceled → done
``labels``                ``labels``; a "Bug", "Feature" or "Improvement" label or a
                          ``type:<x>`` label gives ``item_type`` (else ``story``)
``project.name``          ``feature``
``team.key``              ``team``
``estimate``              ``story_points``
``dueDate``               ``deadline``
``createdAt`` ...         ``created_at``, ``started_at``, ``completed_at`` (none when
                          canceled: no finished work to learn from)
"blocks" relations        ``depends_on`` of the blocked issue, within the synced set
``priority``              a scoring input, if configured: urgent 4, high 3, medium 2, low 1
========================  =================================================================

Example:
    >>> linear_status("started"), linear_status("canceled")
    ('in_progress', 'done')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from integrations.backlog import FetchedBacklog, SourceFields, WriteBackItem
from integrations.linear.client import LinearHook
from productpilot.errors import ValidationError
from productpilot.vendors import RejectedRequestError

STATUS_BY_STATE_TYPE = {
    "triage": "todo",
    "backlog": "todo",
    "unstarted": "todo",
    "started": "in_progress",
    "completed": "done",
    "canceled": "done",
    "duplicate": "done",
}
FINISHED_STATE_TYPES = ("completed", "canceled", "duplicate")
#: Linear's default issue labels that name a kind of work.
TYPE_LABELS = frozenset({"bug", "feature", "improvement"})
#: Labels and relations read per issue; more are rare enough not to page.
NESTED_FIRST = 50

BACKLOG_ISSUES = f"""
query BacklogIssues($filter: IssueFilter, $first: Int, $after: String) {{
  issues(filter: $filter, first: $first, after: $after) {{
    nodes {{
      id identifier title description priority estimate dueDate
      createdAt updatedAt startedAt completedAt canceledAt
      state {{ type }}
      team {{ key }}
      project {{ name }}
      labels(first: {NESTED_FIRST}) {{ nodes {{ name }} }}
      relations(first: {NESTED_FIRST}) {{ nodes {{ type relatedIssue {{ identifier }} }} }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""


def fetch_linear_backlog(
    hook: LinearHook, team_key: str, fields: SourceFields, since: datetime
) -> FetchedBacklog:
    """The team's open issues and those finished since ``since``, mapped.

    Raises:
        ValidationError: no team has that key (or the API key cannot see it).

    Example:
        >>> fetched = fetch_linear_backlog(hook, "ENG", SourceFields(), since)  # doctest: +SKIP
        >>> fetched.items[0]["key"]  # doctest: +SKIP
        'ENG-1'
    """
    try:
        hook.team(team_key)
    except RejectedRequestError as error:
        raise ValidationError(f"integrations.linear_team {team_key!r}: {error}") from error
    condition = {
        "team": {"key": {"eq": team_key}},
        "or": [
            {"state": {"type": {"nin": list(FINISHED_STATE_TYPES)}}},
            {"updatedAt": {"gte": since.isoformat()}},
        ],
    }
    issues: list[dict[str, Any]] = []
    cursor: str | None = None
    truncated = False
    while True:
        size = min(fields.page_size, fields.max_items - len(issues))
        variables = {"filter": condition, "first": size, "after": cursor}
        page = hook.execute("BacklogIssues", BACKLOG_ISSUES, variables)["issues"]
        issues += page["nodes"]
        more = bool(page["pageInfo"]["hasNextPage"])
        cursor = page["pageInfo"]["endCursor"]
        if not more or not cursor:
            break
        if len(issues) >= fields.max_items:
            truncated = True
            break
    return map_linear_issues(issues, fields, truncated=truncated)


def map_linear_issues(
    issues: Sequence[Mapping[str, Any]], fields: SourceFields, *, truncated: bool = False
) -> FetchedBacklog:
    """Linear's issue nodes (as :data:`BACKLOG_ISSUES` selects them) as backlog items.

    Example:
        >>> fetched = map_linear_issues([{"id": "u1", "identifier": "ENG-1", "title": "Export",
        ...     "priority": 2, "estimate": 3, "state": {"type": "unstarted"},
        ...     "team": {"key": "ENG"}, "project": {"name": "Reports"},
        ...     "createdAt": "2026-11-02T09:00:00.000Z"}], SourceFields())
        >>> item = fetched.items[0]
        >>> item["status"], item["feature"], item["team"], item["story_points"]
        ('todo', 'Reports', 'ENG', 3.0)
    """
    keys = {str(issue["identifier"]) for issue in issues}
    blockers: dict[str, set[str]] = {}
    for issue in issues:
        for relation in _nodes(issue.get("relations")):
            blocked = (relation.get("relatedIssue") or {}).get("identifier")
            if relation.get("type") == "blocks" and blocked in keys:
                blockers.setdefault(blocked, set()).add(str(issue["identifier"]))
    items, inputs, values = [], {}, {}
    for issue in issues:
        key = str(issue["identifier"])
        items.append(_item(issue, sorted(blockers.get(key, ()))))
        inputs[key] = _inputs(issue, fields)
        values[key] = {
            "id": issue.get("id"),
            "priority": _whole(issue.get("priority")),
            "estimate": issue.get("estimate"),
        }
    return FetchedBacklog(tuple(items), inputs, values, truncated=truncated)


def write_back_linear(
    hook: LinearHook, items: Sequence[WriteBackItem], fields: SourceFields
) -> dict[str, dict[str, Any]]:
    """Set each issue's priority to its tier (1 urgent ... 4 low) and, if configured, fill
    in a missing estimate, where they differ from Linear's.

    Returns:
        Key → the values written, for the issues that were changed.

    Example:
        >>> write_back_linear(hook, items, SourceFields())  # doctest: +SKIP
        {'ENG-1': {'priority': 1}}
    """
    changed: dict[str, dict[str, Any]] = {}
    for item in items:
        values: dict[str, Any] = {}
        if item.source_values.get("priority") != item.tier:
            values["priority"] = item.tier
        if (
            fields.linear_write_estimate
            and item.estimate_days is not None
            and item.source_values.get("estimate") is None
        ):
            values["estimate"] = max(1, round(item.estimate_days))
        if not values:
            continue
        hook.update_issue_fields(str(item.source_values.get("id") or item.key), values)
        changed[item.key] = values
    return changed


def linear_status(state_type: str) -> str:
    """The backlog status of a Linear workflow state type (``todo`` for unknown ones)."""
    return STATUS_BY_STATE_TYPE.get(state_type, "todo")


def _item(issue: Mapping[str, Any], depends_on: list[str]) -> dict[str, Any]:
    state_type = str((issue.get("state") or {}).get("type", ""))
    labels = [str(node.get("name")) for node in _nodes(issue.get("labels"))]
    estimate = issue.get("estimate")
    return {
        "key": str(issue["identifier"]),
        "title": str(issue.get("title") or issue["identifier"]),
        "description": str(issue.get("description") or ""),
        "item_type": _item_type(labels),
        "status": linear_status(state_type),
        "labels": labels,
        "feature": (issue.get("project") or {}).get("name"),
        "team": (issue.get("team") or {}).get("key"),
        "story_points": float(estimate) if estimate is not None else None,
        "deadline": issue.get("dueDate"),
        "created_at": _instant(issue.get("createdAt")),
        "started_at": _instant(issue.get("startedAt")),
        "completed_at": _instant(issue.get("completedAt")) if state_type == "completed" else None,
        "depends_on": depends_on,
    }


def _item_type(labels: Sequence[str]) -> str:
    for label in labels:
        if label.lower().startswith("type:"):
            return label.split(":", 1)[1].strip().lower() or "story"
    return next((label.lower() for label in labels if label.lower() in TYPE_LABELS), "story")


def _inputs(issue: Mapping[str, Any], fields: SourceFields) -> dict[str, float]:
    priority = _whole(issue.get("priority"))
    if not fields.linear_priority_input or not priority:
        return {}
    # Linear counts 1 (urgent) to 4 (low); an input grows with importance.
    return {fields.linear_priority_input: float(5 - priority)}


def _nodes(connection: Any) -> list[Mapping[str, Any]]:
    return list((connection or {}).get("nodes") or [])


def _whole(value: Any) -> int | None:
    return int(value) if value is not None else None


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None
