"""A Jira project's issues as backlog items, and the plan's values written back to them.

Two searches per sync (the enhanced JQL search, paged by token): the issues not done, and
those done and updated within the window. How fields map:

=============================  ============================================================
Jira                           backlog item
=============================  ============================================================
``key``, ``summary``           ``key``, ``title``
``description`` (ADF)          ``description``, as plain text (:func:`adf_to_text`)
``issuetype.name``             ``item_type``, lower-cased
``status.statusCategory.key``  ``status``: new → todo, indeterminate → in_progress, done
``labels``                     ``labels``
feature field / components     ``feature`` (the configured field, else the first component)
team field                     ``team`` (only when configured)
story points field             ``story_points``
``timetracking``               ``estimate_days``: the original estimate, 8 hours a day
``duedate``                    ``deadline``
``created``                    ``created_at``
``resolutiondate``             ``completed_at`` (none for "Won't Do", "Duplicate", ...)
``statuscategorychangedate``   ``started_at``, while in progress (see below)
``issuelinks`` "Blocks"        ``depends_on``: the blocking issues within the synced set
input fields                   scoring inputs
=============================  ============================================================

``started_at`` is an approximation: Jira's search tells when an issue last changed status
category, which for an issue in progress is when work started (unless it went back and forth),
and for a done issue is when it finished. The exact start is in each issue's changelog, a
request per issue; instead a done issue keeps the start an earlier sync saw
(:func:`integrations.backlog.sync_backlog`).

Example:
    >>> adf_to_text({"type": "doc", "version": 1, "content": [
    ...     {"type": "paragraph", "content": [{"type": "text", "text": "Faster checkout"}]},
    ...     {"type": "bulletList", "content": [{"type": "listItem", "content": [
    ...         {"type": "paragraph", "content": [{"type": "text", "text": "one step"}]}]}]}]})
    'Faster checkout\\n\\n- one step'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from integrations.backlog import FetchedBacklog, SourceFields, WriteBackItem
from integrations.jira.client import JiraHook
from productpilot.errors import ValidationError
from productpilot.vendors import RejectedRequestError

SECONDS_PER_DAY = 8 * 3600
STATUS_BY_CATEGORY = {"new": "todo", "indeterminate": "in_progress", "done": "done"}
#: Resolutions that close an issue without the work being done: no completion to learn from.
NOT_DONE_RESOLUTIONS = frozenset(
    {"won't do", "won't fix", "duplicate", "cannot reproduce", "declined", "incomplete"}
)
LINK_TYPE = "blocks"
BASE_FIELDS = (
    "summary",
    "description",
    "issuetype",
    "status",
    "labels",
    "components",
    "timetracking",
    "timeoriginalestimate",
    "duedate",
    "created",
    "updated",
    "resolution",
    "resolutiondate",
    "statuscategorychangedate",
    "issuelinks",
    "priority",
)
#: Decimal places a written score keeps: finer changes are not worth a write.
SCORE_DIGITS = 2
ESTIMATE_DIGITS = 1


def fetch_jira_backlog(hook: JiraHook, project: str, fields: SourceFields) -> FetchedBacklog:
    """The project's open issues and those done within ``fields.window_days``, mapped.

    Raises:
        ValidationError: the project does not exist, or the account cannot see it.

    Example:
        >>> fetched = fetch_jira_backlog(hook, "OPS", SourceFields())  # doctest: +SKIP
        >>> fetched.items[0]["key"], fetched.items[0]["status"]  # doctest: +SKIP
        ('OPS-1', 'in_progress')
    """
    try:
        hook.project(project)
    except RejectedRequestError as error:
        raise ValidationError(
            f"integrations.jira_project {project!r}: no such project on {hook.url}, or "
            f"{hook.credential_name} cannot see it ({error})"
        ) from error
    quoted = _jql_string(project)
    searches = (
        f'project = {quoted} AND statusCategory != "Done" ORDER BY key ASC',
        f'project = {quoted} AND statusCategory = "Done" '
        f'AND updated >= "-{fields.window_days}d" ORDER BY key ASC',
    )
    wanted = _requested_fields(fields)
    issues: dict[str, dict[str, Any]] = {}
    truncated = False
    for jql in searches:
        found, more = _search_all(hook, jql, wanted, fields, fields.max_items - len(issues))
        issues.update((issue["key"], issue) for issue in found)
        truncated = truncated or more
    return map_jira_issues(list(issues.values()), fields, truncated=truncated)


def map_jira_issues(
    issues: Sequence[Mapping[str, Any]], fields: SourceFields, *, truncated: bool = False
) -> FetchedBacklog:
    """Jira's issue JSON (``key``, ``fields``) as backlog items, inputs and source values.

    Example:
        >>> fetched = map_jira_issues([{"key": "OPS-1", "fields": {
        ...     "summary": "Faster checkout", "issuetype": {"name": "Story"},
        ...     "status": {"statusCategory": {"key": "new"}}, "customfield_10016": 5}}],
        ...     SourceFields())
        >>> item = fetched.items[0]
        >>> item["title"], item["item_type"], item["status"], item["story_points"]
        ('Faster checkout', 'story', 'todo', 5.0)
    """
    keys = {str(issue["key"]) for issue in issues}
    blockers = _blockers(issues, keys)
    items, inputs, values = [], {}, {}
    for issue in issues:
        key = str(issue["key"])
        data = issue.get("fields") or {}
        items.append(_item(key, data, fields, sorted(blockers.get(key, ()))))
        inputs[key] = _inputs(data, fields.jira_input_fields)
        values[key] = _source_values(data, fields)
    return FetchedBacklog(tuple(items), inputs, values, truncated=truncated)


def write_back_jira(
    hook: JiraHook, items: Sequence[WriteBackItem], fields: SourceFields
) -> dict[str, dict[str, Any]]:
    """Set the score, estimate and priority fields ``fields`` names where they differ.

    Returns:
        Key → the values written, for the issues that were changed.

    Example:
        >>> write_back_jira(hook, items, SourceFields(jira_score_field="customfield_10050"))
        ... # doctest: +SKIP
        {'OPS-1': {'score': 12.5}}
    """
    changed: dict[str, dict[str, Any]] = {}
    for item in items:
        wanted = _wanted_values(item, fields)
        values = {
            name: value for name, value in wanted.items() if item.source_values.get(name) != value
        }
        if not values:
            continue
        hook.update_fields(item.key, _as_jira_fields(values, fields))
        changed[item.key] = values
    return changed


def adf_to_text(node: Any) -> str:
    """An Atlassian Document Format document as plain text: blocks on their own lines,
    list items with ``-`` or numbers, table cells separated by ``|``, mentions and cards by
    their text. A plain string (REST v2) is returned as it is.

    Example:
        >>> adf_to_text({"type": "doc", "content": [{"type": "paragraph", "content": [
        ...     {"type": "text", "text": "Ask "}, {"type": "mention", "attrs": {"text": "@Ann"}},
        ...     {"type": "hardBreak"}, {"type": "text", "text": "today"}]}]})
        'Ask @Ann\\ntoday'
    """
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    return _block_text(node).strip()


# --- reading -----------------------------------------------------------------------------


def _requested_fields(fields: SourceFields) -> list[str]:
    extra = [
        fields.jira_story_points_field,
        fields.jira_feature_field,
        fields.jira_team_field,
        fields.jira_score_field,
        fields.jira_estimate_field,
        *fields.jira_input_fields.values(),
    ]
    return list(dict.fromkeys([*BASE_FIELDS, *(name for name in extra if name)]))


def _search_all(
    hook: JiraHook, jql: str, wanted: list[str], fields: SourceFields, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` issues ``jql`` finds, and whether more were left unread."""
    if limit <= 0:
        # Nothing more may be kept: ask only whether anything was left out.
        page, _token = hook.search_page(jql, ["key"], max_results=1)
        return [], bool(page)
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        if len(found) >= limit:
            return found[:limit], True
        size = min(fields.page_size, limit - len(found))
        page, token = hook.search_page(jql, wanted, max_results=size, next_page_token=token)
        found += page
        if token is None or not page:
            return found[:limit], len(found) > limit


def _item(
    key: str, data: Mapping[str, Any], fields: SourceFields, depends_on: list[str]
) -> dict[str, Any]:
    status = STATUS_BY_CATEGORY.get(
        str(((data.get("status") or {}).get("statusCategory") or {}).get("key", "")), "todo"
    )
    resolution = str((data.get("resolution") or {}).get("name", "")).casefold()
    finished = status == "done" and resolution not in NOT_DONE_RESOLUTIONS
    category_change = _instant(data.get("statuscategorychangedate"))
    return {
        "key": key,
        "title": str(data.get("summary") or key),
        "description": adf_to_text(data.get("description")),
        "item_type": str((data.get("issuetype") or {}).get("name") or "story").lower(),
        "status": status,
        "labels": [str(label) for label in data.get("labels") or []],
        "feature": _feature(data, fields.jira_feature_field),
        "team": _named(data.get(fields.jira_team_field)) if fields.jira_team_field else None,
        "story_points": _number(data.get(fields.jira_story_points_field)),
        "estimate_days": _estimate_days(data),
        "deadline": data.get("duedate"),
        "created_at": _instant(data.get("created")),
        "started_at": category_change if status == "in_progress" else None,
        "completed_at": (_instant(data.get("resolutiondate")) or category_change)
        if finished
        else None,
        "depends_on": depends_on,
    }


def _blockers(issues: Sequence[Mapping[str, Any]], keys: set[str]) -> dict[str, set[str]]:
    """Key → the synced keys blocking it, from either side of a "Blocks" link.

    On the blocked issue the link names the blocker as ``inwardIssue`` ("is blocked by"); on
    the blocker it names the blocked issue as ``outwardIssue`` ("blocks").
    """
    blockers: dict[str, set[str]] = {}
    for issue in issues:
        key = str(issue["key"])
        for link in (issue.get("fields") or {}).get("issuelinks") or []:
            if str((link.get("type") or {}).get("name", "")).casefold() != LINK_TYPE:
                continue
            inward = (link.get("inwardIssue") or {}).get("key")
            outward = (link.get("outwardIssue") or {}).get("key")
            if inward in keys and inward != key:
                blockers.setdefault(key, set()).add(inward)
            if outward in keys and outward != key:
                blockers.setdefault(outward, set()).add(key)
    return blockers


def _feature(data: Mapping[str, Any], feature_field: str | None) -> str | None:
    if feature_field:
        return _named(data.get(feature_field))
    components = data.get("components") or []
    return _named(components[0]) if components else None


def _named(value: Any) -> str | None:
    """A field's value as a name: a string, an option (``value``), an object (``name``,
    ``title``), or the first of a list."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, Mapping):
        value = value.get("value") or value.get("name") or value.get("title")
    return str(value) if value not in (None, "") else None


def _number(value: Any) -> float | None:
    if isinstance(value, Mapping):
        value = value.get("value")
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _estimate_days(data: Mapping[str, Any]) -> float | None:
    seconds = (data.get("timetracking") or {}).get("originalEstimateSeconds")
    if seconds is None:
        seconds = data.get("timeoriginalestimate")
    number = _number(seconds)
    return round(number / SECONDS_PER_DAY, 2) if number else None


def _inputs(data: Mapping[str, Any], input_fields: Mapping[str, str]) -> dict[str, float]:
    found = {name: _number(data.get(field_id)) for name, field_id in input_fields.items()}
    return {name: value for name, value in found.items() if value is not None}


def _source_values(data: Mapping[str, Any], fields: SourceFields) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if fields.jira_score_field:
        values["score"] = _number(data.get(fields.jira_score_field))
    if fields.jira_estimate_field:
        values["estimate"] = _number(data.get(fields.jira_estimate_field))
    if fields.jira_priority_names:
        values["priority"] = (data.get("priority") or {}).get("name")
    return values


def _instant(value: Any) -> datetime | None:
    """Jira's times (``2026-12-01T09:00:00.000+0000``) as aware datetimes."""
    return datetime.fromisoformat(str(value)) if value else None


def _jql_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


# --- writing -----------------------------------------------------------------------------


def _wanted_values(item: WriteBackItem, fields: SourceFields) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    if fields.jira_score_field:
        wanted["score"] = round(item.score, SCORE_DIGITS)
    if fields.jira_estimate_field and item.estimate_days is not None:
        wanted["estimate"] = round(item.estimate_days, ESTIMATE_DIGITS)
    if fields.jira_priority_names:
        wanted["priority"] = fields.jira_priority_names[item.tier - 1]
    return wanted


def _as_jira_fields(values: Mapping[str, Any], fields: SourceFields) -> dict[str, Any]:
    jira: dict[str, Any] = {}
    if "score" in values:
        jira[str(fields.jira_score_field)] = values["score"]
    if "estimate" in values:
        jira[str(fields.jira_estimate_field)] = values["estimate"]
    if "priority" in values:
        jira["priority"] = {"name": values["priority"]}
    return jira


# --- ADF ---------------------------------------------------------------------------------


def _block_text(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    children = node.get("content") or []
    if kind in ("doc", "listItem", "tableCell", "tableHeader", "panel", "blockquote", "expand"):
        return "\n\n".join(text for child in children if (text := _block_text(child).strip()))
    if kind == "bulletList":
        return "\n".join(_list_item("- ", _block_text(child)) for child in children)
    if kind == "orderedList":
        start = int((node.get("attrs") or {}).get("order", 1))
        return "\n".join(
            _list_item(f"{start + index}. ", _block_text(child))
            for index, child in enumerate(children)
        )
    if kind == "table":
        return "\n".join(_block_text(row) for row in children)
    if kind == "tableRow":
        return " | ".join(_block_text(cell).replace("\n", " ") for cell in children)
    if kind == "rule":
        return "---"
    if kind in ("mediaSingle", "mediaGroup", "media"):
        return ""
    # paragraph, heading, codeBlock and anything unknown: its inline content.
    return "".join(_inline_text(child) for child in children) if children else _inline_text(node)


def _inline_text(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    attrs = node.get("attrs") or {}
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status", "date"):
        return str(attrs.get("text") or attrs.get("shortName") or attrs.get("timestamp") or "")
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return str(attrs.get("url") or "")
    if node.get("content"):
        return _block_text(node)
    return ""


def _list_item(marker: str, text: str) -> str:
    """``text`` after ``marker``, its further lines indented under the first."""
    return marker + text.replace("\n", "\n" + " " * len(marker))
