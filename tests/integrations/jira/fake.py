"""A Jira Cloud site on loopback, for the real ``jira`` library to call.

:class:`FakeJira` answers the REST API v3 calls ProductPilot makes: the enhanced JQL search,
issue create, comment, transitions, issue edit, and the field list the library reads. Every
request is first checked against Atlassian's OpenAPI description of the platform API
(``api-specs/jira_platform_openapi_v3.json`` in the shared data), and issue descriptions and
comment bodies against the Atlassian Document Format; a request either would refuse is
answered 400 and recorded as a violation. Issues live in memory with a three-status
workflow, so a search finds what a create made, and closing an issue hides it from searches
for open ones.

Like Jira Cloud, it checks basic auth (e-mail and API token) on every request: anything
else is answered 401.

Example:
    >>> with FakeJira() as jira:  # doctest: +SKIP
    ...     hook = jira.credentials().get_hook()
    ...     key = hook.create_issue("OPS", "Signups dropped", to_adf(message))
    ...     jira.issue(key).status
    'To Do'
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.jira.credentials import JiraCredentials
from tests.fakes.openapi import OpenAPIDescription
from tests.fakes.server import FakeServer, Recorded, Reply
from tests.integrations.shared_data import shared_dir

SPEC_FILE = "jira_platform_openapi_v3.json"
API = "/rest/api/3"
EMAIL = "productpilot@acme.test"
API_TOKEN = "jira-api-token"

#: The workflow: status name → its status category (key, name).
STATUSES: dict[str, tuple[str, str]] = {
    "To Do": ("new", "To Do"),
    "In Progress": ("indeterminate", "In Progress"),
    "Done": ("done", "Done"),
}
#: Transitions (id, name, target status); named unlike their targets, as in real workflows.
TRANSITIONS = (
    ("11", "Reopen", "To Do"),
    ("21", "Start work", "In Progress"),
    ("31", "Resolve", "Done"),
)
ISSUE_TYPES = ("Task", "Bug", "Story")
#: Custom fields an issue edit may set, as on a site with estimates and a score.
CUSTOM_FIELDS = {
    "customfield_10016": "Story point estimate",
    "customfield_10050": "Priority score",
    "customfield_10051": "Estimate (days)",
    "customfield_10052": "Impact",
}
#: System fields an issue edit may set besides summary, labels and description.
EDITABLE_SYSTEM_FIELDS = {"priority"}
#: Priority names, highest first (Jira Cloud's defaults).
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
JIRA_TIME = "%Y-%m-%dT%H:%M:%S.000%z"
CREATED_FROM = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SYSTEM_FIELDS = ("summary", "description", "status", "labels", "created", "issuetype", "project")

# --- Atlassian Document Format ----------------------------------------------------------------

_BLOCK = {"paragraph", "heading", "bulletList", "orderedList", "table", "rule", "codeBlock"}
_INLINE = {"text", "hardBreak"}
#: Which nodes each node may hold (ADF's structure, for the nodes ProductPilot writes).
_CHILDREN: dict[str, set[str]] = {
    "doc": _BLOCK,
    "paragraph": _INLINE,
    "heading": _INLINE,
    "codeBlock": {"text"},
    "bulletList": {"listItem"},
    "orderedList": {"listItem"},
    "listItem": {"paragraph", "bulletList", "orderedList", "codeBlock"},
    "table": {"tableRow"},
    "tableRow": {"tableHeader", "tableCell"},
    "tableHeader": _BLOCK - {"table"},
    "tableCell": _BLOCK - {"table"},
    "rule": set(),
    "hardBreak": set(),
}
_MARKS = {"strong", "em", "code", "strike", "underline", "link"}


def adf_problems(document: Any) -> list[str]:
    """What makes ``document`` not an ADF document Jira accepts (empty: nothing).

    Example:
        >>> adf_problems({"type": "doc", "version": 1, "content": [{"type": "text", "text": "hi"}]})
        ["content/0: 'text' cannot be inside 'doc'"]
    """
    if not isinstance(document, dict) or document.get("type") != "doc":
        return ["not an Atlassian Document: the top node must be {'type': 'doc', ...}"]
    problems = [] if document.get("version") == 1 else ["the doc's version must be 1"]
    return problems + _node_problems(document, "")


def _node_problems(node: Any, where: str) -> list[str]:
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        return [f"{where or '(top)'}: a node must be an object with a type"]
    kind = node["type"]
    problems: list[str] = []
    if kind == "text":
        if not isinstance(node.get("text"), str) or not node["text"]:
            problems.append(f"{where}: a text node's text must be a non-empty string")
        problems += _mark_problems(node.get("marks", []), where)
        return problems
    if kind not in _CHILDREN:
        return [f"{where}: unknown node type {kind!r}"]
    if kind == "heading" and node.get("attrs", {}).get("level") not in range(1, 7):
        problems.append(f"{where}: a heading needs attrs.level 1-6")
    content = node.get("content", [])
    if not isinstance(content, list):
        return [*problems, f"{where}: content must be a list"]
    if not _CHILDREN[kind] and content:
        problems.append(f"{where}: {kind!r} holds no content")
    if kind in ("bulletList", "orderedList", "table", "tableRow", "listItem") and not content:
        problems.append(f"{where}: {kind!r} needs content")
    for index, child in enumerate(content):
        child_where = f"{where}/content/{index}".lstrip("/")
        child_kind = child.get("type") if isinstance(child, dict) else None
        if child_kind not in _CHILDREN[kind]:
            problems.append(f"{child_where}: {child_kind!r} cannot be inside {kind!r}")
        problems += _node_problems(child, child_where)
    return problems


def _mark_problems(marks: Any, where: str) -> list[str]:
    if not isinstance(marks, list):
        return [f"{where}: marks must be a list"]
    problems = []
    for mark in marks:
        kind = mark.get("type") if isinstance(mark, dict) else None
        if kind not in _MARKS:
            problems.append(f"{where}: unknown mark {kind!r}")
        elif kind == "link" and not str(mark.get("attrs", {}).get("href", "")):
            problems.append(f"{where}: a link mark needs attrs.href")
    return problems


# --- JQL --------------------------------------------------------------------------------------

_JQL_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>!=|>=|<=|=|~)|(?P<comma>,)'
    r'|(?P<word>[^\s=!<>~,"\'()]+)|(?P<bad>\S))'
)
_JQL_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


class JQLError(ValueError):
    """A query this fake (like Jira) cannot read."""


@dataclass(frozen=True)
class Clause:
    field: str
    operator: str
    value: str


@dataclass(frozen=True)
class Query:
    """``field op value AND ... ORDER BY field [ASC|DESC], ...``: the JQL ProductPilot writes."""

    clauses: tuple[Clause, ...]
    order: tuple[tuple[str, bool], ...]  # (field, descending)


def parse_jql(jql: str) -> Query:
    """Read ``jql``; anything outside the subset (OR, IN, functions, bad quoting) is refused."""
    tokens = list(_jql_tokens(jql))
    clauses: list[Clause] = []
    order: list[tuple[str, bool]] = []
    position = 0

    def take(kind: str) -> str:
        nonlocal position
        if position >= len(tokens) or tokens[position][0] != kind:
            found = tokens[position][1] if position < len(tokens) else "the end"
            raise JQLError(f"Error in the JQL Query: expected a {kind} but found {found!r}.")
        position += 1
        return tokens[position - 1][1]

    def at_word(*words: str) -> bool:
        return (
            position < len(tokens)
            and tokens[position][0] == "word"
            and tokens[position][1].upper() in words
        )

    while position < len(tokens) and not at_word("ORDER"):
        if clauses:
            if not at_word("AND"):
                raise JQLError(
                    f"Error in the JQL Query: expected AND near {tokens[position][1]!r}."
                )
            position += 1
        name = take("word")
        operator = take("op")
        kind = tokens[position][0] if position < len(tokens) else "end"
        value = take("string") if kind == "string" else take("word")
        clauses.append(Clause(name.lower(), operator, value))
    if at_word("ORDER"):
        position += 1
        if not at_word("BY"):
            raise JQLError("Error in the JQL Query: expected BY after ORDER.")
        position += 1
        while True:
            name = take("word").lower()
            descending = False
            if at_word("ASC", "DESC"):
                descending = tokens[position][1].upper() == "DESC"
                position += 1
            order.append((name, descending))
            if position < len(tokens) and tokens[position][0] == "comma":
                position += 1
                continue
            break
    if position != len(tokens):
        raise JQLError(f"Error in the JQL Query: unexpected {tokens[position][1]!r}.")
    return Query(tuple(clauses), tuple(order))


def _jql_tokens(jql: str) -> Iterator[tuple[str, str]]:
    for match in _JQL_TOKEN.finditer(jql):
        kind = match.lastgroup
        if kind is None:
            continue
        if kind == "bad":
            raise JQLError(f"Error in the JQL Query: the character {match[kind]!r} is reserved.")
        value = match[kind]
        if kind == "string":
            value = re.sub(r"\\(.)", lambda m: _JQL_ESCAPES.get(m[1], m[1]), value[1:-1])
        yield kind, value


# --- the site ---------------------------------------------------------------------------------


@dataclass
class FakeIssue:
    """An issue as the fake stores it."""

    id: str
    key: str
    project: str
    summary: str
    issue_type: str
    description: dict[str, Any] | None
    labels: list[str]
    created: str
    sequence: int
    status: str = "To Do"
    custom: dict[str, Any] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)
    #: When the issue last changed (``created`` unless seeded otherwise).
    updated: str | None = None
    #: Further system fields as Jira returns them (components, issuelinks, duedate, ...).
    extra: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        category_key, category_name = STATUSES[self.status]
        return {
            "summary": self.summary,
            "description": self.description,
            "issuetype": {"name": self.issue_type},
            "project": {"key": self.project},
            "labels": list(self.labels),
            "created": self.created,
            "status": {
                "name": self.status,
                "statusCategory": {"key": category_key, "name": category_name},
            },
            "updated": self.updated or self.created,
            **self.extra,
            **self.custom,
        }


class FakeJira:
    """A Jira Cloud site with projects ``projects``, served on loopback.

    Args:
        projects: The project keys that exist.
        email: The account basic auth must name.
        api_token: Its API token.

    Use it as a context manager (it starts and stops the server, then fails the test if any
    request broke the API description). :attr:`server` scripts failures (``fail_next``) and
    records requests.
    """

    def __init__(
        self,
        projects: Iterable[str] = ("OPS",),
        *,
        email: str = EMAIL,
        api_token: str = API_TOKEN,
    ) -> None:
        spec = OpenAPIDescription.load(shared_dir("api-specs") / SPEC_FILE).validator()
        self.projects = set(projects)
        self.email = email
        self.api_token = api_token
        self.issues: dict[str, FakeIssue] = {}
        self._spec = spec
        self._lock = threading.Lock()
        self._ids = itertools.count(10001)
        self._numbers: dict[str, itertools.count[int]] = {}
        #: What relative dates in JQL (``updated >= "-180d"``) count from.
        self.now = datetime.now(UTC)
        self.server = FakeServer(self._handle, self._validate)
        self._routes: tuple[tuple[str, re.Pattern[str], Callable[..., Reply]], ...] = (
            ("GET", re.compile(rf"{API}/field"), self._fields),
            ("GET", re.compile(rf"{API}/search/jql"), self._search),
            ("GET", re.compile(rf"{API}/project/([^/]+)"), self._get_project),
            ("POST", re.compile(rf"{API}/issue"), self._create),
            ("GET", re.compile(rf"{API}/issue/([^/]+)"), self._get_issue),
            ("PUT", re.compile(rf"{API}/issue/([^/]+)"), self._edit_issue),
            ("POST", re.compile(rf"{API}/issue/([^/]+)/comment"), self._add_comment),
            ("GET", re.compile(rf"{API}/issue/([^/]+)/transitions"), self._transitions),
            ("POST", re.compile(rf"{API}/issue/([^/]+)/transitions"), self._transition),
        )

    # --- for tests ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def violations(self) -> list[str]:
        return self.server.violations

    def __enter__(self) -> FakeJira:
        self.server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.stop()
        assert self.violations == [], "requests Jira would refuse:\n" + "\n".join(self.violations)

    def credentials(self, *, api_token: str | None = None) -> JiraCredentials:
        """A credentials block for this site (with another token, to be refused)."""
        return JiraCredentials(
            url=self.url, email=self.email, api_token=api_token or self.api_token
        )

    def issue(self, key: str) -> FakeIssue:
        return self.issues[key]

    def add_issue(
        self,
        project: str,
        summary: str,
        *,
        issue_type: str = "Story",
        status: str = "To Do",
        description: dict[str, Any] | None = None,
        labels: Iterable[str] = (),
        created: datetime | None = None,
        updated: datetime | None = None,
        custom: dict[str, Any] | None = None,
        **fields: Any,
    ) -> FakeIssue:
        """Seed an issue as people made it in Jira, with any further system ``fields`` as
        Jira returns them (``components=[{"name": "Checkout"}]``, ``duedate="2026-12-20"``,
        ``issuelinks=[...]``, ``timetracking={...}``); returns it."""
        number = next(self._numbers.setdefault(project, itertools.count(1)))
        made = created or CREATED_FROM + timedelta(minutes=len(self.issues))
        issue = FakeIssue(
            id=str(next(self._ids)),
            key=f"{project}-{number}",
            project=project,
            summary=summary,
            issue_type=issue_type,
            description=description,
            labels=list(labels),
            created=made.strftime(JIRA_TIME),
            sequence=len(self.issues),
            status=status,
            custom=dict(custom or {}),
            updated=(updated or made).strftime(JIRA_TIME),
            extra=fields,
        )
        self.issues[issue.key] = issue
        return issue

    def api_calls(self, method: str | None = None) -> list[Recorded]:
        """The requests to the REST API, optionally of one method."""
        return [r for r in self.server.requests if method is None or r.method == method]

    # --- checking ----------------------------------------------------------------------------

    def _validate(self, request: Recorded) -> list[str]:
        request = _as_jira_reads_it(request)
        problems = self._spec(request)
        if problems or request.content_type != "application/json" or not request.body:
            return problems
        body = request.json()
        if request.method == "POST" and request.path == f"{API}/issue":
            description = body.get("fields", {}).get("description")
            if description is not None:
                problems += [f"fields.description: {p}" for p in adf_problems(description)]
        elif request.method == "POST" and request.path.endswith("/comment"):
            problems += [f"body: {p}" for p in adf_problems(body.get("body"))]
        return problems

    # --- answering ---------------------------------------------------------------------------

    def _handle(self, request: Recorded) -> Reply:
        if not self._authorised(request):
            return Reply(
                401,
                b"Client must be authenticated to access this resource.",
                headers={"Content-Type": "text/plain;charset=UTF-8"},
            )
        request = _as_jira_reads_it(request)
        for method, pattern, answer in self._routes:
            match = pattern.fullmatch(request.path)
            if match and request.method == method:
                with self._lock:
                    return answer(request, *match.groups())
        raise NotImplementedError(f"the fake does not play {request.method} {request.path}")

    def _authorised(self, request: Recorded) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            email, _, token = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return (email, token) == (self.email, self.api_token)

    def _fields(self, request: Recorded) -> Reply:
        system = [
            {"id": name, "key": name, "name": name.title(), "custom": False, "clauseNames": [name]}
            for name in SYSTEM_FIELDS
        ]
        custom = [
            {
                "id": field_id,
                "key": field_id,
                "name": name,
                "custom": True,
                "clauseNames": [f"cf[{field_id.removeprefix('customfield_')}]", name],
            }
            for field_id, name in CUSTOM_FIELDS.items()
        ]
        return Reply(200, system + custom)

    def _search(self, request: Recorded) -> Reply:
        try:
            query = parse_jql(request.query.get("jql", [""])[-1])
            found = [issue for issue in self.issues.values() if _matches(issue, query, self.now)]
        except JQLError as error:
            return _errors(400, str(error))
        for name, descending in reversed(query.order):
            found.sort(key=lambda issue, name=name: _sort_key(issue, name), reverse=descending)
        limit = int(request.query.get("maxResults", ["50"])[-1])
        wanted = _field_selection(request.query.get("fields"), default=["id"])
        # The token is opaque to clients; here it is the offset of the next page.
        start = int(request.query.get("nextPageToken", ["0"])[-1] or 0)
        page = found[start : start + limit]
        body: dict[str, Any] = {"issues": [self._bean(issue, wanted) for issue in page]}
        if start + limit < len(found):
            body |= {"nextPageToken": str(start + limit), "isLast": False}
        else:
            body["isLast"] = True
        return Reply(200, body)

    def _get_project(self, request: Recorded, key: str) -> Reply:
        if key not in self.projects:
            return _errors(404, f"No project could be found with key '{key}'.")
        return Reply(
            200,
            {
                "id": str(10000 + sorted(self.projects).index(key)),
                "key": key,
                "name": key.title(),
                "self": f"{self.url}{API}/project/{key}",
                "projectTypeKey": "software",
            },
        )

    def _create(self, request: Recorded) -> Reply:
        fields = request.json()["fields"]
        project = (fields.get("project") or {}).get("key")
        issue_type = (fields.get("issuetype") or {}).get("name")
        summary = fields.get("summary", "")
        labels = fields.get("labels", [])
        errors: dict[str, str] = {}
        if project not in self.projects:
            errors["project"] = "Specify a valid project ID or key"
        if issue_type not in ISSUE_TYPES:
            errors["issuetype"] = "Specify a valid issue type"
        if not summary:
            errors["summary"] = "You must specify a summary of the issue."
        elif "\n" in summary or "\r" in summary:
            errors["summary"] = "The summary is invalid because it contains newline characters."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        if any(" " in label for label in labels):
            errors["labels"] = "Labels cannot contain spaces."
        unknown = set(fields) - {"project", "issuetype", "summary", "description", "labels"}
        errors |= self._unknown_field_errors(unknown)
        if errors:
            return _errors(400, errors=errors)
        number = next(self._numbers.setdefault(project, itertools.count(1)))
        issue = FakeIssue(
            id=str(next(self._ids)),
            key=f"{project}-{number}",
            project=project,
            summary=summary,
            issue_type=issue_type,
            description=fields.get("description"),
            labels=list(labels),
            created=(CREATED_FROM + timedelta(minutes=len(self.issues))).strftime(JIRA_TIME),
            sequence=len(self.issues),
            custom={k: v for k, v in fields.items() if k in CUSTOM_FIELDS},
        )
        self.issues[issue.key] = issue
        return Reply(201, {"id": issue.id, "key": issue.key, "self": self._self(issue)})

    def _get_issue(self, request: Recorded, key: str) -> Reply:
        issue = self._find(key)
        if issue is None:
            return _not_found()
        wanted = _field_selection(request.query.get("fields"), default=["*all"])
        return Reply(200, self._bean(issue, wanted))

    def _edit_issue(self, request: Recorded, key: str) -> Reply:
        issue = self._find(key)
        if issue is None:
            return _not_found()
        body = request.json()
        if body.get("update"):
            raise NotImplementedError("the fake edits issues by 'fields' only")
        fields = body.get("fields", {})
        errors = self._unknown_field_errors(
            set(fields) - {"summary", "labels", "description", *EDITABLE_SYSTEM_FIELDS}
        )
        priority = fields.get("priority")
        if priority is not None and (priority or {}).get("name") not in PRIORITIES:
            errors["priority"] = f"The priority selected is invalid: {priority!r}."
        if errors:
            return _errors(400, errors=errors)
        for name, value in fields.items():
            if name in CUSTOM_FIELDS or name in EDITABLE_SYSTEM_FIELDS:
                issue.custom[name] = value
            else:
                setattr(issue, name, value)
        return Reply(204)

    def _add_comment(self, request: Recorded, key: str) -> Reply:
        issue = self._find(key)
        if issue is None:
            return _not_found()
        comment_id = str(next(self._ids))
        comment = {
            "id": comment_id,
            "self": f"{self._self(issue)}/comment/{comment_id}",
            "body": request.json()["body"],
            "created": datetime.now(UTC).strftime(JIRA_TIME),
        }
        issue.comments.append(comment)
        return Reply(201, comment)

    def _transitions(self, request: Recorded, key: str) -> Reply:
        issue = self._find(key)
        if issue is None:
            return _not_found()
        return Reply(200, {"transitions": self._available(issue)})

    def _transition(self, request: Recorded, key: str) -> Reply:
        issue = self._find(key)
        if issue is None:
            return _not_found()
        wanted = str(request.json().get("transition", {}).get("id"))
        target = next((t["to"]["name"] for t in self._available(issue) if t["id"] == wanted), None)
        if target is None:
            return _errors(400, f"Transition id '{wanted}' is not valid for this issue.")
        issue.status = target
        return Reply(204)

    # --- helpers -----------------------------------------------------------------------------

    def _find(self, key_or_id: str) -> FakeIssue | None:
        return self.issues.get(key_or_id) or next(
            (issue for issue in self.issues.values() if issue.id == key_or_id), None
        )

    def _self(self, issue: FakeIssue) -> str:
        return f"{self.url}{API}/issue/{issue.id}"

    def _bean(self, issue: FakeIssue, wanted: list[str]) -> dict[str, Any]:
        every = issue.fields()
        if "*all" in wanted or "*navigable" in wanted:
            fields = every
        else:
            fields = {name: every[name] for name in wanted if name in every}
        return {"id": issue.id, "key": issue.key, "self": self._self(issue), "fields": fields}

    def _available(self, issue: FakeIssue) -> list[dict[str, Any]]:
        return [
            {
                "id": transition_id,
                "name": name,
                "hasScreen": False,
                "isAvailable": True,
                "to": {
                    "name": target,
                    "statusCategory": {"key": STATUSES[target][0], "name": STATUSES[target][1]},
                },
            }
            for transition_id, name, target in TRANSITIONS
            if target != issue.status
        ]

    def _unknown_field_errors(self, names: set[str]) -> dict[str, str]:
        return {
            name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
            for name in sorted(names - set(CUSTOM_FIELDS))
        }


def _as_jira_reads_it(request: Recorded) -> Recorded:
    """``request`` with a numeric transition id as a string.

    The description types ``transition.id`` as a string; the ``jira`` library sends a number
    (``int(id)``), and Jira Cloud reads either. Checking the string form keeps the rest of
    the body checked.
    """
    if not (request.method == "POST" and request.path.endswith("/transitions")):
        return request
    try:
        body = request.json()
    except ValueError:
        return request
    transition = body.get("transition") if isinstance(body, dict) else None
    if isinstance(transition, dict) and isinstance(transition.get("id"), int):
        transition["id"] = str(transition["id"])
        return dataclasses.replace(request, body=json.dumps(body).encode())
    return request


def _matches(issue: FakeIssue, query: Query, now: datetime | None = None) -> bool:
    return all(_clause_holds(issue, clause, now) for clause in query.clauses)


_RELATIVE_DATE = re.compile(r"^([+-]?\d+)([wdhm])$")
_RELATIVE_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def _jql_instant(value: str, now: datetime) -> datetime:
    """A JQL date: relative (``-180d``, ``-2w``) or ``yyyy-MM-dd[ HH:mm]``, in UTC."""
    relative = _RELATIVE_DATE.match(value.strip())
    if relative:
        amount, unit = int(relative[1]), _RELATIVE_UNITS[relative[2]]
        return now + timedelta(**{unit: amount})
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=UTC)
    except ValueError:
        raise JQLError(f"Date value '{value}' for field is invalid.") from None


def _date_holds(issue: FakeIssue, clause: Clause, now: datetime) -> bool:
    moments = {"updated": issue.updated or issue.created, "created": issue.created}
    if clause.field not in moments:
        raise NotImplementedError(f"the fake's JQL cannot compare {clause.field!r} by date")
    moment = datetime.strptime(moments[clause.field], JIRA_TIME)
    bound = _jql_instant(clause.value, now)
    return moment >= bound if clause.operator == ">=" else moment <= bound


def _adf_text(node: Any) -> str:
    """The plain text of an ADF document (or any part of one)."""
    if isinstance(node, dict):
        own = node.get("text") if isinstance(node.get("text"), str) else ""
        return " ".join([own, *(_adf_text(child) for child in node.get("content") or [])])
    return ""


def _contains(issue: FakeIssue, clause: Clause) -> bool:
    """``field ~ "words"``: every word of the value in the field's text, case-insensitive, as
    Jira's text search matches (``text`` is summary, description and comments together)."""
    texts = {
        "summary": issue.summary,
        "description": _adf_text(issue.description),
        "comment": " ".join(_adf_text(c["body"]) for c in issue.comments),
    }
    texts["text"] = " ".join(texts.values())
    if clause.field not in texts:
        raise NotImplementedError(f"the fake's JQL cannot search {clause.field!r} by text")
    found = set(re.findall(r"\w+", texts[clause.field].casefold()))
    return all(word in found for word in re.findall(r"\w+", clause.value.casefold()))


def _clause_holds(issue: FakeIssue, clause: Clause, now: datetime | None = None) -> bool:
    if clause.operator in (">=", "<="):
        return _date_holds(issue, clause, now or datetime.now(UTC))
    if clause.operator == "~":
        return _contains(issue, clause)
    category_key, category_name = STATUSES[issue.status]
    values: dict[str, list[str]] = {
        "project": [issue.project.lower()],
        "key": [issue.key.lower()],
        "issuekey": [issue.key.lower()],
        "labels": [label.lower() for label in issue.labels],
        "status": [issue.status.lower()],
        "statuscategory": [category_key, category_name.lower()],
    }
    if clause.field not in values:
        raise NotImplementedError(f"the fake's JQL has no field {clause.field!r}")
    hit = clause.value.lower() in values[clause.field]
    return hit if clause.operator == "=" else not hit


def _sort_key(issue: FakeIssue, name: str) -> Any:
    if name == "created":
        return issue.sequence
    if name in ("key", "issuekey"):
        return (issue.project, int(issue.key.rsplit("-", 1)[1]))
    raise NotImplementedError(f"the fake cannot order by {name!r}")


def _field_selection(values: list[str] | None, *, default: list[str]) -> list[str]:
    """The ``fields`` parameter (repeated or comma-separated) as a list."""
    if not values:
        return default
    return [name for value in values for name in value.split(",") if name]


def _errors(status: int, *messages: str, errors: dict[str, str] | None = None) -> Reply:
    """Jira's error body: ``errorMessages`` and ``errors`` by field."""
    return Reply(status, {"errorMessages": list(messages), "errors": errors or {}})


def _not_found() -> Reply:
    return _errors(404, "Issue does not exist or you do not have permission to see it.")
