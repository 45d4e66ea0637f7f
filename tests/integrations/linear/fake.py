"""A fake Linear: its GraphQL schema as the judge of every request, a small workspace behind it.

Every request is checked as Linear's server would: the query must parse and validate against
Linear's published schema (``linear_schema.graphql``), and the ``variables`` must coerce to
the operation's variable definitions. We also require what our hook promises: a ``POST`` to
``/graphql``, a named operation, and ``operationName`` naming it. A request that breaks any
of that is a violation.

A valid request is then *executed* against that same schema, with resolvers over an
in-memory workspace (teams, their workflow states, issues, comments), so the answer has
exactly the shape the query selected. The fake implements the root fields and filter
operators our hook uses; anything else is reported as a violation ("the fake cannot..."), never
silently answered.

Failures are answered the way Linear answers them: a GraphQL ``errors`` list with
``extensions.code`` and ``extensions.type``, and HTTP **400**. Linear's documentation
describes the error codes but not the status; its SDK (``parseLinearError``) treats a 4xx
other than 403/429 as an authentication error when the body has no typed error, which only
makes sense if the server answers authentication failures with 400, so that is what this fake
does. The hook under test must, and does, accept 401 as well.

Example:
    >>> from integrations.linear.client import LinearHook
    >>> from tests.fakes.server import serving
    >>> with serving(FakeLinear()) as linear:
    ...     hook = LinearHook(API_KEY, linear.graphql_url)
    ...     hook.team("ENG")["name"]
    'Engineering'
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    graphql_sync,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from tests.fakes.server import FakeServer, Recorded, Reply
from tests.integrations.shared_data import shared_dir

API_KEY = "lin_api_fake0123456789"
ORGANIZATION = "acme"
#: The workflow a new Linear team starts with: (name, type).
DEFAULT_STATES = (
    ("Backlog", "backlog"),
    ("Todo", "unstarted"),
    ("In Progress", "started"),
    ("Done", "completed"),
    ("Canceled", "canceled"),
    ("Duplicate", "duplicate"),
)
DEFAULT_STATE = "Todo"
#: When issues made without a time of their own were created (Linear's ISO 8601 form).
CREATED_AT = "2026-11-02T09:00:00.000Z"


@cache
def linear_schema() -> GraphQLSchema:
    """Linear's schema, built once per test session (building it takes about a second)."""
    return build_schema((shared_dir("api-specs") / "linear_schema.graphql").read_text())


def linear_error(message: str, code: str, kind: str) -> dict[str, Any]:
    """One GraphQL error as Linear words it."""
    return {
        "message": message,
        "extensions": {
            "code": code,
            "type": kind,
            "userError": True,
            "userPresentableMessage": message,
        },
    }


def authentication_error_reply() -> Reply:
    """Linear's answer to a missing or wrong API key."""
    body = {
        "errors": [
            linear_error("Authentication required", "AUTHENTICATION_ERROR", "authentication error")
        ]
    }
    return Reply(400, body)


def rate_limited_reply(
    *, retry_after: float | None = None, requests_reset_ms: int | None = None
) -> Reply:
    """Linear's answer once the hourly request budget is spent.

    Args:
        retry_after: Seconds for a ``Retry-After`` header, if any.
        requests_reset_ms: When the budget refills (Unix epoch milliseconds), sent as
            ``X-RateLimit-Requests-Reset`` with ``X-RateLimit-Requests-Remaining: 0``.
    """
    headers = {"X-RateLimit-Requests-Limit": "1500"}
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    if requests_reset_ms is not None:
        headers["X-RateLimit-Requests-Remaining"] = "0"
        headers["X-RateLimit-Requests-Reset"] = str(requests_reset_ms)
    body = {"errors": [linear_error("Rate limit exceeded", "RATELIMITED", "ratelimited")]}
    return Reply(400, body, headers=headers)


class LinearApiError(Exception):
    """A refusal the fake answers as Linear would (not a bug of the fake)."""

    def __init__(self, message: str, code: str = "INVALID_INPUT", kind: str = "invalid input"):
        super().__init__(message)
        self.error = linear_error(message, code, kind)


class FakeLimitationError(Exception):
    """The request is valid for Linear, but asks for something this fake does not implement."""


@dataclass
class FakeTeam:
    id: str
    key: str
    name: str
    issue_count: int = 0

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "key": self.key, "name": self.name}


@dataclass
class FakeState:
    id: str
    name: str
    type: str
    team: FakeTeam

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.type, "team": self.team.view()}


@dataclass
class FakeComment:
    id: str
    body: str
    issue_id: str

    @property
    def url(self) -> str:
        return f"https://linear.app/{ORGANIZATION}/comment/{self.id}"

    def view(self, issue: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.id, "body": self.body, "url": self.url, "issue": issue}


@dataclass
class FakeIssue:
    id: str
    identifier: str
    number: int
    title: str
    description: str | None
    priority: int
    team: FakeTeam
    state: FakeState
    label_ids: list[str] = field(default_factory=list)
    comments: list[FakeComment] = field(default_factory=list)
    label_names: list[str] = field(default_factory=list)
    project: str | None = None
    estimate: float | None = None
    due_date: str | None = None
    created_at: str = CREATED_AT
    updated_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    canceled_at: str | None = None
    #: The issues this one blocks.
    blocks: list[FakeIssue] = field(default_factory=list)

    @property
    def url(self) -> str:
        slug = "-".join(self.title.lower().split())[:40]
        return f"https://linear.app/{ORGANIZATION}/issue/{self.identifier}/{slug}"

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "identifier": self.identifier,
            "number": self.number,
            "title": self.title,
            "description": self.description,
            "priority": float(self.priority),
            "url": self.url,
            "labelIds": list(self.label_ids),
            "team": self.team.view(),
            "state": self.state.view(),
            "labels": {
                "nodes": [{"id": f"label-{name}", "name": name} for name in self.label_names],
                "pageInfo": _single_page(),
            },
            "project": {"id": f"project-{self.project}", "name": self.project}
            if self.project
            else None,
            "estimate": self.estimate,
            "dueDate": self.due_date,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at or self.created_at,
            "startedAt": self.started_at,
            "completedAt": self.completed_at,
            "canceledAt": self.canceled_at,
            "relations": {
                "nodes": [
                    {
                        "id": f"{self.id}-blocks-{other.id}",
                        "type": "blocks",
                        # Callables resolve lazily: a relation's issues are whole issues.
                        "issue": lambda _info, issue=self: issue.view(),
                        "relatedIssue": lambda _info, issue=other: issue.view(),
                    }
                    for other in self.blocks
                ],
                "pageInfo": _single_page(),
            },
        }


def _single_page() -> dict[str, Any]:
    return {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}


class FakeLinear(FakeServer):
    """Linear's GraphQL endpoint (``<url>/graphql``) over an in-memory workspace.

    Args:
        api_key: The one key the fake accepts in ``Authorization``.
        teams: ``(key, name)`` of the teams to create, each with Linear's default workflow.

    Attributes:
        teams: The teams, by key.
        issues: Every issue, in creation order.
    """

    def __init__(
        self, api_key: str = API_KEY, teams: Iterable[tuple[str, str]] = (("ENG", "Engineering"),)
    ) -> None:
        super().__init__(self._answer_request, self._problems)
        self.schema = linear_schema()
        self.api_key = api_key
        self.teams: dict[str, FakeTeam] = {}
        self.states: list[FakeState] = []
        self.issues: list[FakeIssue] = []
        self._late_answers: list[float] = []
        for key, name in teams:
            self.add_team(key, name)

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    # --- the workspace, for tests -----------------------------------------------------------

    def add_team(self, key: str, name: str) -> FakeTeam:
        team = FakeTeam(id=str(uuid.uuid4()), key=key, name=name)
        self.teams[key] = team
        self.states += [FakeState(str(uuid.uuid4()), n, t, team) for n, t in DEFAULT_STATES]
        return team

    def issue(self, identifier: str) -> FakeIssue:
        return next(issue for issue in self.issues if identifier in (issue.identifier, issue.id))

    def add_issue(
        self,
        team_key: str,
        title: str,
        *,
        state: str = DEFAULT_STATE,
        description: str | None = None,
        priority: int = 0,
        **fields: Any,
    ) -> FakeIssue:
        """Seed an issue as people made it in Linear; ``fields`` are :class:`FakeIssue`'s
        (``label_names``, ``project``, ``estimate``, ``due_date``, ``created_at``,
        ``updated_at``, ``started_at``, ``completed_at``, ``canceled_at``, ``blocks``)."""
        team = self.teams[team_key]
        team.issue_count += 1
        issue = FakeIssue(
            id=str(uuid.uuid4()),
            identifier=f"{team.key}-{team.issue_count}",
            number=team.issue_count,
            title=title,
            description=description,
            priority=priority,
            team=team,
            state=self._state_named(team, state),
            **fields,
        )
        self.issues.append(issue)
        return issue

    def move(self, identifier: str, state_name: str) -> None:
        """Move an issue as a person in Linear's UI would (``Done``, ``Canceled``...)."""
        issue = self.issue(identifier)
        issue.state = self._state_named(issue.team, state_name)

    def answer_late(self, *delays: float) -> None:
        """Carry out the next requests, but answer each ``delay`` seconds late (an answer
        lost to a client timeout, although Linear did the work)."""
        self._late_answers.extend(delays)

    @property
    def operations(self) -> list[str]:
        """The ``operationName`` of every request received, in order."""
        names = []
        for request in self.requests:
            try:
                names.append(str(request.json().get("operationName")))
            except (ValueError, AttributeError):
                names.append("?")
        return names

    # --- checking ---------------------------------------------------------------------------

    def _problems(self, request: Recorded) -> list[str]:
        if (request.method, request.path) != ("POST", "/graphql"):
            return [f"Linear has no endpoint {request.method} {request.path} (only POST /graphql)"]
        if request.content_type != "application/json":
            return [f"content type {request.content_type!r}; Linear wants application/json"]
        try:
            body = request.json()
        except ValueError:
            return ["the body is not JSON"]
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return ["the body has no 'query' string"]
        try:
            document = parse(body["query"])
        except GraphQLError as error:
            return [f"the query does not parse: {error.message}"]
        problems = [f"schema: {error.message}" for error in validate(self.schema, document)]
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        wanted = body.get("operationName")
        if any(op.name is None for op in operations):
            problems.append("an anonymous operation (every operation must be named)")
        chosen = [op for op in operations if op.name and op.name.value == wanted]
        if not chosen:
            problems.append(f"operationName {wanted!r} names no operation of the query")
            return problems
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return [*problems, "'variables' is not an object"]
        coerced = get_variable_values(self.schema, chosen[0].variable_definitions or (), variables)
        if isinstance(coerced, list):
            problems += [f"variables: {error.message}" for error in coerced]
        return problems

    # --- answering --------------------------------------------------------------------------

    def _answer_request(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != self.api_key:
            return authentication_error_reply()
        body = request.json()
        result = graphql_sync(
            self.schema,
            body["query"],
            root_value=self._root(),
            variable_values=body.get("variables") or {},
            operation_name=body.get("operationName"),
        )
        delay = self._late_answers.pop(0) if self._late_answers else 0.0
        if not result.errors:
            return Reply(200, {"data": result.data}, delay=delay)
        errors = []
        for error in result.errors:
            original = error.original_error
            if not isinstance(original, LinearApiError):
                # A limitation or a bug of the fake: FakeServer records it as a violation.
                raise RuntimeError(f"the fake cannot answer this: {error.message}") from original
            errors.append({**original.error, "path": error.path})
        return Reply(400, {"data": None, "errors": errors}, delay=delay)

    def _root(self) -> dict[str, Any]:
        """Resolvers of the root fields the hook uses (graphql-core calls them with the
        field's arguments)."""
        return {
            "teams": lambda _info, **args: self._connection(
                [t.view() for t in self.teams.values()], args
            ),
            "workflowStates": lambda _info, **args: self._connection(
                [s.view() for s in self.states], args
            ),
            "issues": lambda _info, **args: self._connection([i.view() for i in self.issues], args),
            "issue": lambda _info, id: self._find_issue(id).view(),
            "comments": lambda _info, **args: self._connection(
                [c.view(i.view()) for i in self.issues for c in i.comments], args
            ),
            "issueCreate": lambda _info, input: self._create_issue(input),
            "issueUpdate": lambda _info, id, input: self._update_issue(id, input),
            "commentCreate": lambda _info, input: self._create_comment(input),
        }

    def _connection(self, views: list[dict[str, Any]], args: Mapping[str, Any]) -> dict[str, Any]:
        unsupported = set(args) - {"filter", "first", "after"}
        if unsupported:
            raise FakeLimitationError(f"the fake cannot page or sort by {sorted(unsupported)}")
        condition = args.get("filter") or {}
        nodes = [view for view in views if matches(view, condition)]
        # A cursor is the id of the last node of the page before (opaque to clients).
        start = 0
        if args.get("after"):
            ids = [node["id"] for node in nodes]
            if args["after"] not in ids:
                raise LinearApiError("Invalid cursor")
            start = ids.index(args["after"]) + 1
        page = nodes[start : start + (args.get("first") or 50)]
        return {
            "nodes": page,
            "pageInfo": {
                "hasNextPage": start + len(page) < len(nodes),
                "hasPreviousPage": start > 0,
                "startCursor": page[0]["id"] if page else None,
                "endCursor": page[-1]["id"] if page else None,
            },
        }

    def _find_issue(self, id_or_identifier: str) -> FakeIssue:
        try:
            return self.issue(id_or_identifier)
        except StopIteration:
            raise LinearApiError("Entity not found: Issue") from None

    def _create_issue(self, data: Mapping[str, Any]) -> dict[str, Any]:
        _only(data, {"id", "teamId", "title", "description", "priority", "labelIds", "stateId"})
        team = next((t for t in self.teams.values() if t.id == data["teamId"]), None)
        if team is None:
            raise LinearApiError("Entity not found: Team")
        issue_id = data.get("id") or str(uuid.uuid4())
        if any(issue.id == issue_id for issue in self.issues):
            raise LinearApiError("An issue with this id already exists")
        _require_uuid(issue_id)
        team.issue_count += 1
        issue = FakeIssue(
            id=issue_id,
            identifier=f"{team.key}-{team.issue_count}",
            number=team.issue_count,
            title=data.get("title") or "",
            description=data.get("description"),
            priority=data.get("priority") or 0,
            team=team,
            state=self._state(team, data.get("stateId")),
            label_ids=list(data.get("labelIds") or []),
        )
        self.issues.append(issue)
        return {"success": True, "lastSyncId": 1.0, "issue": issue.view()}

    def _update_issue(self, id_or_identifier: str, data: Mapping[str, Any]) -> dict[str, Any]:
        _only(data, {"stateId", "priority", "estimate"})
        issue = self._find_issue(id_or_identifier)
        if "stateId" in data:
            issue.state = self._state(issue.team, data["stateId"])
        if data.get("priority") is not None:
            issue.priority = data["priority"]
        if "estimate" in data:
            issue.estimate = data["estimate"]
        return {"success": True, "lastSyncId": 1.0, "issue": issue.view()}

    def _create_comment(self, data: Mapping[str, Any]) -> dict[str, Any]:
        _only(data, {"id", "issueId", "body"})
        issue = next((i for i in self.issues if i.id == data.get("issueId")), None)
        if issue is None:
            raise LinearApiError("Entity not found: Issue")
        comment_id = data.get("id") or str(uuid.uuid4())
        _require_uuid(comment_id)
        if any(c.id == comment_id for i in self.issues for c in i.comments):
            raise LinearApiError("A comment with this id already exists")
        comment = FakeComment(id=comment_id, body=data.get("body") or "", issue_id=issue.id)
        issue.comments.append(comment)
        return {"success": True, "lastSyncId": 1.0, "comment": comment.view(issue.view())}

    def _state(self, team: FakeTeam, state_id: str | None) -> FakeState:
        if state_id is None:
            return self._state_named(team, DEFAULT_STATE)
        state = next((s for s in self.states if s.id == state_id), None)
        if state is None or state.team is not team:
            raise LinearApiError("The workflow state does not belong to the issue's team")
        return state

    def _state_named(self, team: FakeTeam, name: str) -> FakeState:
        return next(s for s in self.states if s.team is team and s.name == name)


# --- filters ----------------------------------------------------------------------------------


def matches(view: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    """Whether ``view`` passes a Linear filter (``IssueFilter``, ``TeamFilter``...).

    Raises:
        FakeLimitationError: the filter uses a field or an operator the fake does not know.
    """
    for name, wanted in condition.items():
        if name == "and":
            if not all(matches(view, part) for part in wanted):
                return False
        elif name == "or":
            if not any(matches(view, part) for part in wanted):
                return False
        elif name not in view:
            raise FakeLimitationError(f"the fake cannot filter on {name!r}")
        elif isinstance(view[name], Mapping):
            if not matches(view[name], wanted):
                return False
        elif not compare(view[name], wanted):
            return False
    return True


def compare(value: Any, comparator: Mapping[str, Any]) -> bool:
    """Whether ``value`` passes a comparator such as ``{"nin": ["completed"]}``."""
    for operator, operand in comparator.items():
        if operator == "eq":
            ok = value == operand
        elif operator == "neq":
            ok = value != operand
        elif operator == "in":
            ok = value in operand
        elif operator == "nin":
            ok = value not in operand
        elif operator == "contains":
            ok = value is not None and operand in value
        elif operator == "containsIgnoreCase":
            ok = value is not None and operand.casefold() in value.casefold()
        elif operator == "null":
            ok = (value is None) == operand
        elif operator in ("gt", "gte", "lt", "lte"):
            ok = value is not None and _ordered(operator, _comparable(value), _comparable(operand))
        else:
            raise FakeLimitationError(f"the fake cannot compare with {operator!r}")
        if not ok:
            return False
    return True


def _comparable(value: Any) -> Any:
    """ISO 8601 times as datetimes (Linear compares instants, whatever the offset's form)."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise FakeLimitationError(f"the fake compares only ISO times, not {value!r}") from None
    return value


def _ordered(operator: str, value: Any, operand: Any) -> bool:
    return {
        "gt": value > operand,
        "gte": value >= operand,
        "lt": value < operand,
        "lte": value <= operand,
    }[operator]


def _only(data: Mapping[str, Any], known: set[str]) -> None:
    if unknown := set(data) - known:
        raise FakeLimitationError(f"the fake does not store {sorted(unknown)}")


def _require_uuid(value: str) -> None:
    """Linear takes client-chosen ids only in UUID v4 format."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise LinearApiError(f"id {value!r} is not a UUID") from None
    if parsed.version != 4:
        raise LinearApiError(f"id {value!r} is not a UUID v4")


def graphql_body(request: Recorded) -> dict[str, Any]:
    """A recorded request's JSON body (``query``, ``operationName``, ``variables``)."""
    return json.loads(request.body)
