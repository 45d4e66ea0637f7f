"""A fake GitHub REST API (version 2022-11-28) for the real PyGithub to call.

:class:`FakeGitHub` is a :class:`tests.fakes.server.FakeServer` that keeps repositories with
their branches, pull requests (files, reviews, commits), commit statuses, check runs,
deployments, workflows, issues with labels and comments, and code-scanning and Dependabot
alerts, and answers in the JSON shapes GitHub documents (the attributes PyGithub reads).

Every request is first checked against :data:`ENDPOINTS`. That table is written by hand from
GitHub's REST reference (https://docs.github.com/en/rest): the shared data holds no
machine-readable description of GitHub's REST API (its OpenAPI description lives in
github/rest-api-description and was not copied), so ``tests.fakes.openapi`` cannot be used
here. It lists, per operation, the method, the path template, the documented body fields
with their JSON types, the required ones, the enumerations and the length limits, and the
documented query parameters; a request outside it is a violation (answered 400 and recorded),
which fails the test. Whatever the real service answers with an error of its own (401 for a
wrong token, 404 for an unknown repository, 422 for an unknown ref) the fake answers the
same way, without a violation.

Example:
    >>> with FakeGitHub() as fake:
    ...     _ = fake.add_repository("acme/shop")
    ...     reply = httpx.post(
    ...         f"{fake.url}/repos/acme/shop/issues",
    ...         json={"title": "Signups dropped"},
    ...         headers=fake.headers(),
    ...     )
    >>> reply.status_code, reply.json()["number"]
    (201, 1)
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

import httpx  # noqa: F401 (used by the doctest)

from tests.fakes.server import FakeServer, Recorded, Reply

TOKEN = "ghp_productpilotfaketoken0000000000000000"
WEB = "https://github.com"
DOCS = "https://docs.github.com/rest"
#: The versions GitHub answers; any other ``X-GitHub-Api-Version`` gets a 400.
API_VERSIONS = frozenset({"2022-11-28"})
MAIN_SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
NOW = "2026-08-01T09:00:00Z"
SHA_PATTERN = re.compile(r"^[0-9a-f]{40}$")
AUTHORIZATION_PATTERN = re.compile(r"^(token|Bearer) \S+$")

# --- the validation table -------------------------------------------------------------------

STRING, BOOLEAN, INTEGER, ARRAY, OBJECT = "string", "boolean", "integer", "array", "object"
#: A query parameter holding comma-separated values, each one of the enumeration.
CSV = "csv"
PAGINATION = {"per_page": INTEGER, "page": INTEGER}
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    STRING: str,
    BOOLEAN: bool,
    INTEGER: int,
    ARRAY: list,
    OBJECT: dict,
    CSV: str,
}

COMMIT_STATES = frozenset({"error", "failure", "pending", "success"})
CHECK_RUN_STATUSES = frozenset(
    # waiting, requested and pending are documented as reserved for GitHub Actions.
    {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
)
CHECK_RUN_CONCLUSIONS = frozenset(
    {
        "action_required",
        "cancelled",
        "failure",
        "neutral",
        "success",
        "skipped",
        "stale",
        "timed_out",
    }
)
DEPLOYMENT_STATES = frozenset(
    {"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}
)
MAX_CHECK_RUN_TEXT = 65535
MAX_ANNOTATIONS = 50


def _check_run_rules(body: Mapping[str, Any]) -> list[str]:
    """What the check-run operations document beyond field types.

    ``conclusion`` is "required if you provide ``completed_at`` or a ``status`` of
    ``completed``"; ``output`` needs ``title`` and ``summary``, each text at most 65535
    characters, at most 50 annotations per request.
    """
    problems = []
    if (body.get("status") == "completed" or "completed_at" in body) and "conclusion" not in body:
        problems.append("conclusion is required when status is completed (or completed_at set)")
    output = body.get("output")
    if isinstance(output, dict):
        documented = {"title", "summary", "text", "annotations", "images"}
        problems += [
            f"output.{key} is not a documented field" for key in output.keys() - documented
        ]
        for key in ("title", "summary"):
            if not isinstance(output.get(key), str):
                problems.append(f"output.{key} is required (a string)")
        for key in ("summary", "text"):
            value = output.get(key)
            if isinstance(value, str) and len(value) > MAX_CHECK_RUN_TEXT:
                problems.append(f"output.{key} is longer than {MAX_CHECK_RUN_TEXT} characters")
        if len(output.get("annotations") or []) > MAX_ANNOTATIONS:
            problems.append(f"more than {MAX_ANNOTATIONS} annotations in one request")
    return problems


def _issue_rules(body: Mapping[str, Any]) -> list[str]:
    """``labels`` are names, or objects with a ``name``."""
    labels = body.get("labels") or []
    if all(
        isinstance(label, str) or (isinstance(label, dict) and "name" in label) for label in labels
    ):
        return []
    return ["labels must be names, or objects with a name"]


@dataclass(frozen=True)
class Endpoint:
    """One REST operation as GitHub documents it.

    Attributes:
        name: The fake's handler for it (``FakeGitHub._<name>``).
        method: The HTTP method.
        path: The path template, ``{name}`` for a path parameter.
        body: The documented JSON body fields and their types.
        required: Body fields that must be present.
        enums: The allowed values of body fields or query parameters.
        max_lengths: Length limits of body fields.
        query: The documented query parameters and their types.
        rules: Further documented constraints on the body.
    """

    name: str
    method: str
    path: str
    body: Mapping[str, str] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    enums: Mapping[str, frozenset[str]] = field(default_factory=dict)
    max_lengths: Mapping[str, int] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    rules: tuple[Callable[[Mapping[str, Any]], list[str]], ...] = ()

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path) if method == self.method else None
        return found.groupdict() if found else None


REPO = "/repos/{owner}/{repo}"
CHECK_RUN_BODY = {
    "name": STRING,
    "details_url": STRING,
    "external_id": STRING,
    "status": STRING,
    "started_at": STRING,
    "conclusion": STRING,
    "completed_at": STRING,
    "output": OBJECT,
    "actions": ARRAY,
}
CHECK_RUN_ENUMS = {"status": CHECK_RUN_STATUSES, "conclusion": CHECK_RUN_CONCLUSIONS}

#: Hand-written from https://docs.github.com/en/rest (apiVersion=2022-11-28); see the module
#: docstring for why.
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("get_repository", "GET", REPO),
    # https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
    Endpoint(
        "create_commit_status",
        "POST",
        REPO + "/statuses/{sha}",
        body={"state": STRING, "target_url": STRING, "description": STRING, "context": STRING},
        required=frozenset({"state"}),
        enums={"state": COMMIT_STATES},
        # Not in the reference, but GitHub answers 422 "description is too long (maximum is
        # 140 characters)"; the deployment-status reference states the same limit.
        max_lengths={"description": 140},
    ),
    # https://docs.github.com/en/rest/checks/runs#create-a-check-run
    Endpoint(
        "create_check_run",
        "POST",
        REPO + "/check-runs",
        body={**CHECK_RUN_BODY, "head_sha": STRING},
        required=frozenset({"name", "head_sha"}),
        enums=CHECK_RUN_ENUMS,
        rules=(_check_run_rules,),
    ),
    # https://docs.github.com/en/rest/checks/runs#update-a-check-run
    Endpoint(
        "update_check_run",
        "PATCH",
        REPO + "/check-runs/{check_run_id}",
        body=CHECK_RUN_BODY,
        enums=CHECK_RUN_ENUMS,
        rules=(_check_run_rules,),
    ),
    Endpoint("get_check_run", "GET", REPO + "/check-runs/{check_run_id}"),
    # https://docs.github.com/en/rest/checks/runs#list-check-runs-for-a-git-reference
    Endpoint(
        "list_check_runs",
        "GET",
        REPO + "/commits/{ref}/check-runs",
        query={
            "check_name": STRING,
            "status": STRING,
            "filter": STRING,
            "app_id": INTEGER,
            **PAGINATION,
        },
        enums={
            "status": frozenset({"queued", "in_progress", "completed"}),
            "filter": frozenset({"latest", "all"}),
        },
    ),
    # https://docs.github.com/en/rest/deployments/deployments#create-a-deployment
    Endpoint(
        "create_deployment",
        "POST",
        REPO + "/deployments",
        body={
            "ref": STRING,
            "task": STRING,
            "auto_merge": BOOLEAN,
            "required_contexts": ARRAY,
            "payload": OBJECT,
            "environment": STRING,
            "description": STRING,
            "transient_environment": BOOLEAN,
            "production_environment": BOOLEAN,
        },
        required=frozenset({"ref"}),
    ),
    # https://docs.github.com/en/rest/deployments/statuses#create-a-deployment-status
    Endpoint(
        "create_deployment_status",
        "POST",
        REPO + "/deployments/{deployment_id}/statuses",
        body={
            "state": STRING,
            "target_url": STRING,
            "log_url": STRING,
            "description": STRING,
            "environment": STRING,
            "environment_url": STRING,
            "auto_inactive": BOOLEAN,
        },
        required=frozenset({"state"}),
        enums={"state": DEPLOYMENT_STATES},
        max_lengths={"description": 140},
    ),
    # https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
    Endpoint(
        "dispatch_workflow",
        "POST",
        REPO + "/actions/workflows/{workflow_id}/dispatches",
        body={"ref": STRING, "inputs": OBJECT, "return_run_details": BOOLEAN},
        required=frozenset({"ref"}),
    ),
    # https://docs.github.com/en/rest/pulls/pulls
    Endpoint("get_pull_request", "GET", REPO + "/pulls/{pull_number}"),
    # https://docs.github.com/en/rest/pulls/pulls#list-pull-requests
    Endpoint(
        "list_pull_requests",
        "GET",
        REPO + "/pulls",
        query={
            "state": STRING,
            "head": STRING,
            "base": STRING,
            "sort": STRING,
            "direction": STRING,
            **PAGINATION,
        },
        enums={
            "state": frozenset({"open", "closed", "all"}),
            "sort": frozenset({"created", "updated", "popularity", "long-running"}),
            "direction": frozenset({"asc", "desc"}),
        },
    ),
    Endpoint(
        "list_pull_request_files", "GET", REPO + "/pulls/{pull_number}/files", query=PAGINATION
    ),
    Endpoint(
        "list_pull_request_reviews", "GET", REPO + "/pulls/{pull_number}/reviews", query=PAGINATION
    ),
    Endpoint(
        "list_pull_request_commits", "GET", REPO + "/pulls/{pull_number}/commits", query=PAGINATION
    ),
    # https://docs.github.com/en/rest/code-scanning/code-scanning#list-code-scanning-alerts-for-a-repository
    Endpoint(
        "list_code_scanning_alerts",
        "GET",
        REPO + "/code-scanning/alerts",
        query={
            "tool_name": STRING,
            "tool_guid": STRING,
            "ref": STRING,
            "pr": INTEGER,
            "direction": STRING,
            "sort": STRING,
            "state": STRING,
            "severity": STRING,
            "before": STRING,
            "after": STRING,
            **PAGINATION,
        },
        enums={
            "state": frozenset({"open", "closed", "dismissed", "fixed"}),
            "severity": frozenset(
                {"critical", "high", "medium", "low", "warning", "note", "error"}
            ),
            "sort": frozenset({"created", "updated"}),
            "direction": frozenset({"asc", "desc"}),
        },
    ),
    # https://docs.github.com/en/rest/dependabot/alerts#list-dependabot-alerts-for-a-repository
    Endpoint(
        "list_dependabot_alerts",
        "GET",
        REPO + "/dependabot/alerts",
        query={
            "state": CSV,
            "severity": CSV,
            "ecosystem": STRING,
            "package": STRING,
            "manifest": STRING,
            "scope": STRING,
            "sort": STRING,
            "direction": STRING,
            "before": STRING,
            "after": STRING,
            "first": INTEGER,
            "last": INTEGER,
            **PAGINATION,
        },
        enums={
            "state": frozenset({"auto_dismissed", "dismissed", "fixed", "open"}),
            "severity": frozenset({"low", "medium", "high", "critical"}),
            "scope": frozenset({"development", "runtime"}),
            "direction": frozenset({"asc", "desc"}),
        },
    ),
    # https://docs.github.com/en/rest/issues/issues#create-an-issue
    Endpoint(
        "create_issue",
        "POST",
        REPO + "/issues",
        body={
            "title": STRING,
            "body": STRING,
            "assignee": STRING,
            "milestone": INTEGER,
            "labels": ARRAY,
            "assignees": ARRAY,
            "type": STRING,
        },
        required=frozenset({"title"}),
        max_lengths={"body": 65536},
        rules=(_issue_rules,),
    ),
    Endpoint("get_issue", "GET", REPO + "/issues/{issue_number}"),
    # https://docs.github.com/en/rest/issues/issues#list-repository-issues
    Endpoint(
        "list_issues",
        "GET",
        REPO + "/issues",
        query={
            "milestone": STRING,
            "state": STRING,
            "assignee": STRING,
            "type": STRING,
            "creator": STRING,
            "mentioned": STRING,
            "labels": STRING,
            "sort": STRING,
            "direction": STRING,
            "since": STRING,
            **PAGINATION,
        },
        enums={
            "state": frozenset({"open", "closed", "all"}),
            "sort": frozenset({"created", "updated", "comments"}),
            "direction": frozenset({"asc", "desc"}),
        },
    ),
    # https://docs.github.com/en/rest/issues/labels#add-labels-to-an-issue (the object form)
    Endpoint(
        "add_issue_labels",
        "POST",
        REPO + "/issues/{issue_number}/labels",
        body={"labels": ARRAY},
        required=frozenset({"labels"}),
        rules=(_issue_rules,),
    ),
    # https://docs.github.com/en/rest/issues/labels#remove-a-label-from-an-issue
    Endpoint("remove_issue_label", "DELETE", REPO + "/issues/{issue_number}/labels/{name}"),
    # https://docs.github.com/en/rest/issues/comments#list-issue-comments
    Endpoint(
        "list_issue_comments",
        "GET",
        REPO + "/issues/{issue_number}/comments",
        query={"since": STRING, **PAGINATION},
    ),
    # https://docs.github.com/en/rest/issues/comments#create-an-issue-comment
    Endpoint(
        "create_issue_comment",
        "POST",
        REPO + "/issues/{issue_number}/comments",
        body={"body": STRING},
        required=frozenset({"body"}),
        max_lengths={"body": 65536},
    ),
)


def route(method: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
    """The documented operation ``method path`` is, with its path parameters."""
    for endpoint in ENDPOINTS:
        parameters = endpoint.match(method, path)
        if parameters is not None:
            return endpoint, parameters
    return None


def validate(request: Recorded) -> list[str]:
    """What GitHub would refuse in ``request``: headers, operation, query and body."""
    problems = _header_problems(request)
    found = route(request.method, request.path)
    if found is None:
        return [*problems, "no such operation in GitHub's REST API (or not in the fake's table)"]
    endpoint, _ = found
    problems += _query_problems(endpoint, request)
    if endpoint.body or request.method in ("POST", "PATCH", "PUT"):
        problems += _body_problems(endpoint, request)
    return problems


def _header_problems(request: Recorded) -> list[str]:
    headers = request.headers
    problems = []
    if not AUTHORIZATION_PATTERN.match(headers.get("authorization", "")):
        problems.append("no 'Authorization: Bearer|token <token>' header")
    accept = headers.get("accept", "")
    if "json" not in accept and "*/*" not in accept:
        problems.append(f"Accept {accept!r} does not take JSON (application/vnd.github+json)")
    if not headers.get("user-agent"):
        problems.append("no User-Agent (GitHub refuses requests without one)")
    version = headers.get("x-github-api-version")
    if version is not None and version not in API_VERSIONS:
        problems.append(f"X-GitHub-Api-Version {version!r} is not a supported version")
    return problems


def _query_problems(endpoint: Endpoint, request: Recorded) -> list[str]:
    problems = []
    for name, values in request.query.items():
        kind = endpoint.query.get(name)
        if kind is None:
            problems.append(f"query parameter {name!r} is not documented")
            continue
        value = values[-1]
        if kind == INTEGER and not value.isdigit():
            problems.append(f"query parameter {name!r} must be an integer, not {value!r}")
        allowed = endpoint.enums.get(name)
        if allowed is not None:
            chosen = value.split(",") if kind == CSV else [value]
            problems += [
                f"query parameter {name}={item!r} is not one of {sorted(allowed)}"
                for item in chosen
                if item not in allowed
            ]
    return problems


def _body_problems(endpoint: Endpoint, request: Recorded) -> list[str]:
    if not request.body:
        return ["a JSON body is required"] if endpoint.required else []
    if request.content_type != "application/json":
        return [f"the body is {request.content_type!r}, not application/json"]
    body = request.json()
    if not isinstance(body, dict):
        return ["the body is not a JSON object"]
    problems = [f"body field {name!r} is missing" for name in endpoint.required - body.keys()]
    for name, value in body.items():
        kind = endpoint.body.get(name)
        if kind is None:
            problems.append(f"body field {name!r} is not documented (GitHub ignores it)")
        elif not _is_json_type(value, kind):
            problems.append(f"body field {name!r} must be {kind}, not {type(value).__name__}")
        elif name in endpoint.enums and value not in endpoint.enums[name]:
            problems.append(
                f"body field {name}={value!r} is not one of {sorted(endpoint.enums[name])}"
            )
        elif name in endpoint.max_lengths and len(value) > endpoint.max_lengths[name]:
            problems.append(f"body field {name!r} is longer than {endpoint.max_lengths[name]}")
    for rule in endpoint.rules:
        problems += rule(body)
    return problems


def _is_json_type(value: Any, kind: str) -> bool:
    if kind == INTEGER and isinstance(value, bool):
        return False
    return isinstance(value, _JSON_TYPES[kind])


# --- the stateful GitHub -------------------------------------------------------------------


@dataclass
class FakeRepository:
    """One repository's state, in GitHub's own JSON shapes."""

    owner: str
    name: str
    id: int
    branches: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    pull_files: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pull_reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pull_commits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployment_statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    dispatches: list[dict[str, Any]] = field(default_factory=list)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    code_scanning_alerts: list[dict[str, Any]] = field(default_factory=list)
    dependabot_alerts: list[dict[str, Any]] = field(default_factory=list)
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def next_number(self) -> int:
        """Issues and pull requests share one sequence of numbers, as on GitHub."""
        return next(self._numbers)

    def knows_ref(self, ref: str) -> bool:
        """A branch, a pull request's head branch, or a full commit SHA."""
        heads = {pull["head"]["ref"] for pull in self.pulls.values()}
        return ref in self.branches or ref in heads or bool(SHA_PATTERN.match(ref))


class FakeGitHub(FakeServer):
    """GitHub's REST API on loopback, validating every request against :data:`ENDPOINTS`.

    Args:
        token: The one token it accepts; any other is answered 401 "Bad credentials".
        per_page: GitHub's default page size (30), for tests that page.

    Attributes:
        labels_kept: ``False`` plays a token without push access: GitHub then silently
            drops the labels of a new issue.

    Example:
        >>> fake = FakeGitHub()
        >>> repository = fake.add_repository("acme/shop")
        >>> number = fake.add_pull_request("acme/shop", title="Faster checkout")
        >>> repository.pulls[number]["title"], repository.issues[number]["html_url"]
        ('Faster checkout', 'https://github.com/acme/shop/pull/1')
    """

    def __init__(self, token: str = TOKEN, *, per_page: int = 30) -> None:
        super().__init__(self._handle, validate)
        self.token = token
        self.per_page = per_page
        self.repositories: dict[str, FakeRepository] = {}
        self.labels_kept = True
        self._ids = itertools.count(1001)

    def headers(self) -> dict[str, str]:
        """Headers for calling the fake by hand (as PyGithub does)."""
        return {
            "Authorization": f"token {self.token}",
            "Accept": "application/vnd.github+json",
            "User-Agent": "tests",
        }

    # --- seeding ------------------------------------------------------------------------

    def add_repository(
        self, full_name: str, *, branches: Mapping[str, str] | None = None
    ) -> FakeRepository:
        owner, name = full_name.split("/")
        repository = FakeRepository(
            owner, name, self._id(), branches=dict(branches or {"main": MAIN_SHA})
        )
        self.repositories[full_name] = repository
        return repository

    def repository(self, full_name: str) -> FakeRepository:
        return self.repositories[full_name]

    def add_pull_request(
        self,
        full_name: str,
        *,
        title: str,
        head_ref: str = "feature",
        head_sha: str = "a" * 40,
        base_ref: str = "main",
        user: str = "octocat",
        labels: Iterable[str] = (),
        merged: bool = False,
        files: Iterable[str] = (),
        reviews: Iterable[tuple[str, str]] = (),
        commits: Iterable[tuple[str, str]] = (),
        merged_at: str | None = None,
    ) -> int:
        """A pull request with ``files`` (names), ``reviews`` ((login, state)) and
        ``commits`` ((sha, message)); returns its number. It is listed among the issues too,
        as GitHub does. ``merged_at`` (GitHub's ``...Z`` form) is when a merged one was
        merged, closed and last updated (default: :data:`NOW`)."""
        repository = self.repository(full_name)
        number = repository.next_number()
        api = f"{self.url}{self._repo_path(repository)}"
        label_objects = [self._label(repository, name) for name in labels]
        done = (merged_at or NOW) if merged else None
        pull = {
            "url": f"{api}/pulls/{number}",
            "id": self._id(),
            "node_id": f"PR_{number}",
            "html_url": f"{WEB}/{full_name}/pull/{number}",
            "diff_url": f"{WEB}/{full_name}/pull/{number}.diff",
            "patch_url": f"{WEB}/{full_name}/pull/{number}.patch",
            "issue_url": f"{api}/issues/{number}",
            "commits_url": f"{api}/pulls/{number}/commits",
            "review_comments_url": f"{api}/pulls/{number}/comments",
            "comments_url": f"{api}/issues/{number}/comments",
            "statuses_url": f"{api}/statuses/{head_sha}",
            "number": number,
            "state": "closed" if merged else "open",
            "locked": False,
            "title": title,
            "user": _user(user),
            "body": "",
            "labels": label_objects,
            "milestone": None,
            "active_lock_reason": None,
            "created_at": NOW,
            "updated_at": done or NOW,
            "closed_at": done,
            "merged_at": done,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": _branch(head_ref, head_sha, repository, self.url),
            "base": _branch(
                base_ref, repository.branches.get(base_ref, MAIN_SHA), repository, self.url
            ),
            "author_association": "MEMBER",
            "auto_merge": None,
            "draft": False,
            "merged": merged,
            "mergeable": None if merged else True,
            "rebaseable": None if merged else True,
            "mergeable_state": "clean",
            "merged_by": _user(user) if merged else None,
            "comments": 0,
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": 0,
            "additions": 0,
            "deletions": 0,
            "changed_files": 0,
        }
        repository.pulls[number] = pull
        repository.pull_files[number] = [_file(name, full_name, head_sha) for name in files]
        repository.pull_reviews[number] = [
            self._review(repository, number, login, state, head_sha) for login, state in reviews
        ]
        repository.pull_commits[number] = [
            _commit(sha, message, user, api) for sha, message in commits
        ]
        pull["commits"] = len(repository.pull_commits[number])
        pull["changed_files"] = len(repository.pull_files[number])
        issue = self._issue(repository, number, title, "", label_objects, user)
        issue["pull_request"] = {
            "url": pull["url"],
            "html_url": pull["html_url"],
            "diff_url": pull["diff_url"],
            "patch_url": pull["patch_url"],
            "merged_at": pull["merged_at"],
        }
        issue["html_url"] = pull["html_url"]
        issue["state"] = pull["state"]
        repository.issues[number] = issue
        return number

    def add_issue(
        self,
        full_name: str,
        title: str,
        *,
        body: str | None = "",
        labels: Iterable[str] = (),
        state: str = "open",
        state_reason: str | None = None,
        created_at: str = NOW,
        updated_at: str | None = None,
        closed_at: str | None = None,
        user: str = "octocat",
    ) -> int:
        """An issue as people made it on GitHub (times in GitHub's ``...Z`` form); returns
        its number."""
        repository = self.repository(full_name)
        number = repository.next_number()
        label_objects = [self._label(repository, name) for name in labels]
        issue = self._issue(repository, number, title, body, label_objects, user)
        issue.update(
            state=state,
            state_reason=state_reason,
            created_at=created_at,
            updated_at=updated_at or closed_at or created_at,
            closed_at=closed_at,
        )
        repository.issues[number] = issue
        return number

    def add_workflow(self, full_name: str, file_name: str) -> int:
        repository = self.repository(full_name)
        workflow_id = self._id()
        repository.workflows[file_name] = {
            "id": workflow_id,
            "node_id": f"W_{workflow_id}",
            "name": file_name.rsplit(".", 1)[0],
            "path": f".github/workflows/{file_name}",
            "state": "active",
            "created_at": NOW,
            "updated_at": NOW,
            "url": f"{self.url}{self._repo_path(repository)}/actions/workflows/{workflow_id}",
            "html_url": f"{WEB}/{full_name}/blob/main/.github/workflows/{file_name}",
            "badge_url": f"{WEB}/{full_name}/workflows/{file_name}/badge.svg",
        }
        return workflow_id

    def add_code_scanning_alert(
        self,
        full_name: str,
        *,
        rule_id: str = "py/sql-injection",
        severity: str = "error",
        security_severity_level: str | None = "high",
        tool: str = "CodeQL",
        state: str = "open",
    ) -> int:
        repository = self.repository(full_name)
        number = len(repository.code_scanning_alerts) + 1
        api = f"{self.url}{self._repo_path(repository)}/code-scanning/alerts/{number}"
        repository.code_scanning_alerts.append(
            {
                "number": number,
                "created_at": NOW,
                "updated_at": NOW,
                "url": api,
                "html_url": f"{WEB}/{full_name}/security/code-scanning/{number}",
                "instances_url": f"{api}/instances",
                "state": state,
                "fixed_at": None,
                "dismissed_by": None,
                "dismissed_at": None,
                "dismissed_reason": None,
                "dismissed_comment": None,
                "rule": {
                    "id": rule_id,
                    "severity": severity,
                    "security_severity_level": security_severity_level,
                    "description": f"Rule {rule_id}",
                    "name": rule_id,
                    "tags": ["security"],
                },
                "tool": {"name": tool, "guid": None, "version": "2.20.0"},
                "most_recent_instance": {
                    "ref": "refs/heads/main",
                    "analysis_key": ".github/workflows/codeql.yml:analyze",
                    "environment": "{}",
                    "category": ".github/workflows/codeql.yml:analyze",
                    "state": state,
                    "commit_sha": MAIN_SHA,
                    "message": {"text": "This query depends on a user-provided value."},
                    "location": {
                        "path": "src/db.py",
                        "start_line": 10,
                        "end_line": 10,
                        "start_column": 5,
                        "end_column": 40,
                    },
                    "classifications": [],
                },
            }
        )
        return number

    def add_dependabot_alert(
        self,
        full_name: str,
        *,
        package: str = "django",
        ecosystem: str = "pip",
        severity: str = "high",
        state: str = "open",
    ) -> int:
        repository = self.repository(full_name)
        number = len(repository.dependabot_alerts) + 1
        package_json = {"ecosystem": ecosystem, "name": package}
        vulnerability = {
            "package": package_json,
            "severity": severity,
            "vulnerable_version_range": "< 4.2.16",
            "first_patched_version": {"identifier": "4.2.16"},
        }
        ghsa = f"GHSA-{number:04d}-abcd-efgh"
        repository.dependabot_alerts.append(
            {
                "number": number,
                "state": state,
                "dependency": {
                    "package": package_json,
                    "manifest_path": "requirements.txt",
                    "scope": "runtime",
                    "relationship": "direct",
                },
                "security_advisory": {
                    "ghsa_id": ghsa,
                    "cve_id": None,
                    "summary": f"{package} has a vulnerability",
                    "description": f"A vulnerability in {package}.",
                    "vulnerabilities": [vulnerability],
                    "severity": severity,
                    "cvss_severities": None,
                    "identifiers": [{"value": ghsa, "type": "GHSA"}],
                    "references": [{"url": f"https://github.com/advisories/{ghsa}"}],
                    "published_at": NOW,
                    "updated_at": NOW,
                    "withdrawn_at": None,
                },
                "security_vulnerability": vulnerability,
                "url": f"{self.url}{self._repo_path(repository)}/dependabot/alerts/{number}",
                "html_url": f"{WEB}/{full_name}/security/dependabot/{number}",
                "created_at": NOW,
                "updated_at": NOW,
                "dismissed_at": None,
                "dismissed_by": None,
                "dismissed_reason": None,
                "dismissed_comment": None,
                "fixed_at": None,
                "auto_dismissed_at": None,
            }
        )
        return number

    def close_issue(self, full_name: str, number: int) -> None:
        issue = self.repository(full_name).issues[number]
        issue.update(state="closed", closed_at=NOW, state_reason="completed")

    # --- the handler ----------------------------------------------------------------------

    def _handle(self, request: Recorded) -> Reply:
        token = request.headers["authorization"].split(" ", 1)[1]
        if token != self.token:
            return _error(401, "Bad credentials")
        endpoint, parameters = route(request.method, request.path)  # type: ignore[misc]
        repository = self.repositories.get(f"{parameters['owner']}/{parameters['repo']}")
        if repository is None:
            return _error(404, "Not Found")
        reply: Reply = getattr(self, f"_{endpoint.name}")(request, repository, parameters)
        reply.headers = {**_rate_limit_headers(), **reply.headers}
        return reply

    def _get_repository(self, _request: Recorded, repository: FakeRepository, _p: dict) -> Reply:
        return Reply(200, self._repository_json(repository))

    def _create_commit_status(
        self, request: Recorded, repository: FakeRepository, p: dict
    ) -> Reply:
        if not SHA_PATTERN.match(p["sha"]):
            return _validation_failed(
                "Status", "sha", "invalid", f"No commit found for SHA: {p['sha']}"
            )
        body = request.json()
        status_id = self._id()
        status = {
            "url": f"{self.url}{self._repo_path(repository)}/statuses/{p['sha']}",
            "avatar_url": None,
            "id": status_id,
            "node_id": f"SC_{status_id}",
            "state": body["state"],
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "context": body.get("context", "default"),
            "created_at": NOW,
            "updated_at": NOW,
            "creator": _user("productpilot[bot]"),
            "sha": p["sha"],
        }
        repository.statuses.append(status)
        return Reply(201, status)

    def _create_check_run(self, request: Recorded, repository: FakeRepository, _p: dict) -> Reply:
        body = request.json()
        if not SHA_PATTERN.match(body["head_sha"]):
            return _validation_failed("CheckRun", "head_sha", "invalid", "No commit found for SHA")
        run_id = self._id()
        api = f"{self.url}{self._repo_path(repository)}"
        run = {
            "id": run_id,
            "node_id": f"CR_{run_id}",
            "head_sha": body["head_sha"],
            "external_id": body.get("external_id", ""),
            "url": f"{api}/check-runs/{run_id}",
            "html_url": f"{WEB}/{repository.full_name}/runs/{run_id}",
            "details_url": body.get("details_url"),
            "status": "queued",
            "conclusion": None,
            "started_at": body.get("started_at", NOW),
            "completed_at": None,
            "output": {
                "title": None,
                "summary": None,
                "text": None,
                "annotations_count": 0,
                "annotations_url": f"{api}/check-runs/{run_id}/annotations",
            },
            "name": body["name"],
            "check_suite": {"id": 5},
            "app": _app(),
            "pull_requests": [],
        }
        _apply_check_run_changes(run, body)
        repository.check_runs[run_id] = run
        return Reply(201, run)

    def _update_check_run(self, request: Recorded, repository: FakeRepository, p: dict) -> Reply:
        run = repository.check_runs.get(int(p["check_run_id"]))
        if run is None:
            return _error(404, "Not Found")
        _apply_check_run_changes(run, request.json())
        return Reply(200, run)

    def _get_check_run(self, _request: Recorded, repository: FakeRepository, p: dict) -> Reply:
        run = repository.check_runs.get(int(p["check_run_id"]))
        return Reply(200, run) if run else _error(404, "Not Found")

    def _list_check_runs(self, request: Recorded, repository: FakeRepository, p: dict) -> Reply:
        sha = repository.branches.get(p["ref"], p["ref"])
        runs = [run for run in repository.check_runs.values() if run["head_sha"] == sha]
        name = request.params().get("check_name")
        if name is not None:
            runs = [run for run in runs if run["name"] == name]
        if request.params().get("filter", "latest") == "latest":
            newest: dict[str, dict[str, Any]] = {}
            for run in runs:
                newest[run["name"]] = run  # ids grow, so the last one wins
            runs = list(newest.values())
        runs.sort(key=lambda run: run["id"], reverse=True)
        return self._page(request, runs, wrap="check_runs")

    def _create_deployment(self, request: Recorded, repository: FakeRepository, _p: dict) -> Reply:
        body = request.json()
        if not repository.knows_ref(body["ref"]):
            return _validation_failed(
                "Deployment", "ref", "invalid", f"No ref found for: {body['ref']}"
            )
        deployment_id = self._id()
        api = f"{self.url}{self._repo_path(repository)}"
        environment = body.get("environment", "production")
        deployment = {
            "url": f"{api}/deployments/{deployment_id}",
            "id": deployment_id,
            "node_id": f"DE_{deployment_id}",
            "sha": repository.branches.get(
                body["ref"], body["ref"] if SHA_PATTERN.match(body["ref"]) else MAIN_SHA
            ),
            "ref": body["ref"],
            "task": body.get("task", "deploy"),
            "payload": body.get("payload", {}),
            "original_environment": environment,
            "environment": environment,
            "description": body.get("description"),
            "creator": _user("productpilot[bot]"),
            "created_at": NOW,
            "updated_at": NOW,
            "statuses_url": f"{api}/deployments/{deployment_id}/statuses",
            "repository_url": api,
            "transient_environment": body.get("transient_environment", False),
            "production_environment": body.get(
                "production_environment", environment == "production"
            ),
            # Not GitHub's: what was asked, for tests to check.
            "_request": body,
        }
        repository.deployments[deployment_id] = deployment
        repository.deployment_statuses[deployment_id] = []
        return Reply(201, {k: v for k, v in deployment.items() if not k.startswith("_")})

    def _create_deployment_status(
        self, request: Recorded, repository: FakeRepository, p: dict
    ) -> Reply:
        deployment = repository.deployments.get(int(p["deployment_id"]))
        if deployment is None:
            return _error(404, "Not Found")
        body = request.json()
        status_id = self._id()
        log_url = body.get("log_url", body.get("target_url", ""))
        status = {
            "url": f"{deployment['url']}/statuses/{status_id}",
            "id": status_id,
            "node_id": f"DES_{status_id}",
            "state": body["state"],
            "creator": _user("productpilot[bot]"),
            "description": body.get("description", ""),
            "environment": body.get("environment", deployment["environment"]),
            "target_url": log_url,
            "log_url": log_url,
            "environment_url": body.get("environment_url", ""),
            "created_at": NOW,
            "updated_at": NOW,
            "deployment_url": deployment["url"],
            "repository_url": deployment["repository_url"],
        }
        repository.deployment_statuses[deployment["id"]].append(status)
        return Reply(201, status)

    def _dispatch_workflow(self, request: Recorded, repository: FakeRepository, p: dict) -> Reply:
        workflow_id = p["workflow_id"]
        known = repository.workflows.get(workflow_id) or next(
            (w for w in repository.workflows.values() if str(w["id"]) == workflow_id), None
        )
        if known is None:
            return _error(404, "Not Found")
        body = request.json()
        if not repository.knows_ref(body["ref"]):
            return _error(422, f"No ref found for: {body['ref']}")
        repository.dispatches.append({"workflow": known["path"], **body})
        return Reply(204)

    def _get_pull_request(self, _request: Recorded, repository: FakeRepository, p: dict) -> Reply:
        pull = repository.pulls.get(int(p["pull_number"]))
        return Reply(200, pull) if pull else _error(404, "Not Found")

    def _list_pull_requests(self, request: Recorded, repository: FakeRepository, _p: dict) -> Reply:
        params = request.params()
        state = params.get("state", "open")
        pulls = [
            pull
            for pull in repository.pulls.values()
            if state in ("all", pull["state"]) and params.get("base") in (None, pull["base"]["ref"])
        ]
        sort = params.get("sort", "created")
        # GitHub: "Default: desc when sort is created or sort is not specified, otherwise asc."
        descending = params.get("direction", "desc" if sort == "created" else "asc") == "desc"
        key = {"created": "created_at", "updated": "updated_at"}.get(sort, "updated_at")
        pulls.sort(key=lambda pull: (pull[key], pull["number"]), reverse=descending)
        return self._page(request, pulls)

    def _list_pull_request_files(
        self, request: Recorded, repository: FakeRepository, p: dict
    ) -> Reply:
        return self._pull_list(request, repository.pull_files, p)

    def _list_pull_request_reviews(
        self, request: Recorded, repository: FakeRepository, p: dict
    ) -> Reply:
        return self._pull_list(request, repository.pull_reviews, p)

    def _list_pull_request_commits(
        self, request: Recorded, repository: FakeRepository, p: dict
    ) -> Reply:
        return self._pull_list(request, repository.pull_commits, p)

    def _list_code_scanning_alerts(
        self, request: Recorded, repository: FakeRepository, _p: dict
    ) -> Reply:
        state = request.params().get("state")
        alerts = [a for a in repository.code_scanning_alerts if state in (None, a["state"])]
        return self._page(request, alerts)

    def _list_dependabot_alerts(
        self, request: Recorded, repository: FakeRepository, _p: dict
    ) -> Reply:
        states = request.params().get("state")
        wanted = set(states.split(",")) if states else None
        alerts = [a for a in repository.dependabot_alerts if wanted is None or a["state"] in wanted]
        return self._page(request, alerts)

    def _create_issue(self, request: Recorded, repository: FakeRepository, _p: dict) -> Reply:
        body = request.json()
        names = [
            label if isinstance(label, str) else label["name"] for label in body.get("labels", [])
        ]
        # GitHub creates a label it does not know yet (and drops all of them, silently, for a
        # token without push access).
        labels = [self._label(repository, name) for name in names] if self.labels_kept else []
        number = repository.next_number()
        issue = self._issue(
            repository, number, body["title"], body.get("body"), labels, "productpilot[bot]"
        )
        repository.issues[number] = issue
        return Reply(201, issue)

    def _get_issue(self, _request: Recorded, repository: FakeRepository, p: dict) -> Reply:
        issue = repository.issues.get(int(p["issue_number"]))
        return Reply(200, issue) if issue else _error(404, "Not Found")

    def _list_issues(self, request: Recorded, repository: FakeRepository, _p: dict) -> Reply:
        params = request.params()
        state = params.get("state", "open")
        wanted = set(params["labels"].split(",")) if params.get("labels") else set()
        issues = [
            issue
            for issue in repository.issues.values()
            if state in ("all", issue["state"])
            and wanted <= {label["name"] for label in issue["labels"]}
            and issue["updated_at"] >= params.get("since", "")  # both ISO 8601 in UTC ("Z")
        ]
        issues.sort(key=lambda issue: issue["number"], reverse=True)  # newest first
        if params.get("sort") in ("created", "updated"):
            issues.sort(
                key=lambda issue: issue[f"{params['sort']}_at"],
                reverse=params.get("direction", "desc") == "desc",
            )
        return self._page(request, issues)

    def _add_issue_labels(self, request: Recorded, repository: FakeRepository, p: dict) -> Reply:
        issue = repository.issues.get(int(p["issue_number"]))
        if issue is None:
            return _error(404, "Not Found")
        names = [
            label if isinstance(label, str) else label["name"] for label in request.json()["labels"]
        ]
        present = {label["name"] for label in issue["labels"]}
        issue["labels"] += [
            self._label(repository, n) for n in dict.fromkeys(names) if n not in present
        ]
        return Reply(200, issue["labels"])

    def _remove_issue_label(self, _request: Recorded, repository: FakeRepository, p: dict) -> Reply:
        issue = repository.issues.get(int(p["issue_number"]))
        if issue is None:
            return _error(404, "Not Found")
        name = unquote(p["name"])
        if name not in {label["name"] for label in issue["labels"]}:
            return _error(404, "Label does not exist")
        issue["labels"] = [label for label in issue["labels"] if label["name"] != name]
        return Reply(200, issue["labels"])

    def _list_issue_comments(self, request: Recorded, repository: FakeRepository, p: dict) -> Reply:
        number = int(p["issue_number"])
        if number not in repository.issues:
            return _error(404, "Not Found")
        since = request.params().get("since", "")
        comments = [c for c in repository.comments.get(number, []) if c["updated_at"] >= since]
        return self._page(request, comments)

    def _create_issue_comment(
        self, request: Recorded, repository: FakeRepository, p: dict
    ) -> Reply:
        number = int(p["issue_number"])
        issue = repository.issues.get(number)
        if issue is None:
            return _error(404, "Not Found")
        comment_id = self._id()
        comment = {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": f"{self.url}{self._repo_path(repository)}/issues/comments/{comment_id}",
            "html_url": f"{issue['html_url']}#issuecomment-{comment_id}",
            "body": request.json()["body"],
            "user": _user("productpilot[bot]"),
            "created_at": NOW,
            "updated_at": NOW,
            "issue_url": issue["url"],
            "author_association": "NONE",
        }
        repository.comments.setdefault(number, []).append(comment)
        issue["comments"] += 1
        return Reply(201, comment)

    # --- JSON shapes and pages ------------------------------------------------------------

    def _pull_list(
        self, request: Recorded, lists: Mapping[int, list[dict[str, Any]]], p: dict
    ) -> Reply:
        items = lists.get(int(p["pull_number"]))
        return _error(404, "Not Found") if items is None else self._page(request, items)

    def _page(
        self, request: Recorded, items: list[dict[str, Any]], wrap: str | None = None
    ) -> Reply:
        """One page of ``items`` with GitHub's ``Link`` header (``rel="next"``, ``"last"``)."""
        params = request.params()
        per_page = min(int(params.get("per_page", self.per_page)), 100)
        page = max(int(params.get("page", 1)), 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max((len(items) + per_page - 1) // per_page, 1)
        headers = {}
        if page < last:

            def link(number: int) -> str:
                query = urlencode({**params, "page": number})
                return f"<{self.url}{request.path}?{query}>"

            headers["Link"] = f'{link(page + 1)}; rel="next", {link(last)}; rel="last"'
        body: Any = {"total_count": len(items), wrap: chunk} if wrap else chunk
        return Reply(200, body, headers=headers)

    def _issue(
        self,
        repository: FakeRepository,
        number: int,
        title: str,
        body: str | None,
        labels: list[dict[str, Any]],
        user: str,
    ) -> dict[str, Any]:
        api = f"{self.url}{self._repo_path(repository)}"
        return {
            "url": f"{api}/issues/{number}",
            "repository_url": api,
            "labels_url": f"{api}/issues/{number}/labels{{/name}}",
            "comments_url": f"{api}/issues/{number}/comments",
            "events_url": f"{api}/issues/{number}/events",
            "html_url": f"{WEB}/{repository.full_name}/issues/{number}",
            "id": self._id(),
            "node_id": f"I_{number}",
            "number": number,
            "title": title,
            "user": _user(user),
            "labels": labels,
            "state": "open",
            "state_reason": None,
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": 0,
            "created_at": NOW,
            "updated_at": NOW,
            "closed_at": None,
            "author_association": "NONE",
            "active_lock_reason": None,
            "body": body,
        }

    def _label(self, repository: FakeRepository, name: str) -> dict[str, Any]:
        if name not in repository.labels:
            label_id = self._id()
            repository.labels[name] = {
                "id": label_id,
                "node_id": f"LA_{label_id}",
                "url": f"{self.url}{self._repo_path(repository)}/labels/{name}",
                "name": name,
                "description": None,
                "color": "ededed",
                "default": False,
            }
        return repository.labels[name]

    def _review(
        self, repository: FakeRepository, number: int, login: str, state: str, sha: str
    ) -> dict[str, Any]:
        review_id = self._id()
        pull_url = f"{self.url}{self._repo_path(repository)}/pulls/{number}"
        return {
            "id": review_id,
            "node_id": f"PRR_{review_id}",
            "user": _user(login),
            "body": "",
            "state": state,
            "html_url": f"{WEB}/{repository.full_name}/pull/{number}#pullrequestreview-{review_id}",
            "pull_request_url": pull_url,
            "submitted_at": NOW,
            "commit_id": sha,
            "author_association": "MEMBER",
        }

    def _repository_json(self, repository: FakeRepository) -> dict[str, Any]:
        return {
            "id": repository.id,
            "node_id": f"R_{repository.id}",
            "name": repository.name,
            "full_name": repository.full_name,
            "private": True,
            "owner": _user(repository.owner),
            "html_url": f"{WEB}/{repository.full_name}",
            "url": f"{self.url}{self._repo_path(repository)}",
            "default_branch": "main",
        }

    @staticmethod
    def _repo_path(repository: FakeRepository) -> str:
        return f"/repos/{repository.full_name}"

    def _id(self) -> int:
        return next(self._ids)


def _apply_check_run_changes(run: dict[str, Any], body: Mapping[str, Any]) -> None:
    for key in ("name", "details_url", "external_id", "started_at", "completed_at"):
        if key in body:
            run[key] = body[key]
    if "status" in body:
        run["status"] = body["status"]
    if "conclusion" in body:
        # "Providing conclusion will automatically set the status parameter to completed."
        run.update(status="completed", conclusion=body["conclusion"])
        run["completed_at"] = body.get("completed_at", NOW)
    if "output" in body:
        output = body["output"]
        run["output"].update({key: output.get(key) for key in ("title", "summary", "text")})


def _user(login: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": zlib.crc32(login.encode()) % 10_000_000,
        "node_id": f"U_{login}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{login}",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"{WEB}/{login}",
        "type": "Bot" if login.endswith("[bot]") else "User",
        "site_admin": False,
    }


def _app() -> dict[str, Any]:
    return {
        "id": 1,
        "slug": "productpilot",
        "node_id": "A_1",
        "owner": _user("acme"),
        "name": "ProductPilot",
        "description": "",
        "external_url": "https://productpilot.example",
        "html_url": f"{WEB}/apps/productpilot",
        "created_at": NOW,
        "updated_at": NOW,
        "permissions": {"checks": "write", "statuses": "write"},
        "events": ["check_run"],
    }


def _branch(ref: str, sha: str, repository: FakeRepository, api: str) -> dict[str, Any]:
    return {
        "label": f"{repository.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": _user(repository.owner),
        "repo": {
            "id": repository.id,
            "name": repository.name,
            "full_name": repository.full_name,
            "url": f"{api}/repos/{repository.full_name}",
        },
    }


def _file(name: str, full_name: str, sha: str) -> dict[str, Any]:
    return {
        "sha": "b" * 40,
        "filename": name,
        "status": "modified",
        "additions": 3,
        "deletions": 1,
        "changes": 4,
        "blob_url": f"{WEB}/{full_name}/blob/{sha}/{name}",
        "raw_url": f"{WEB}/{full_name}/raw/{sha}/{name}",
        "contents_url": f"https://api.github.com/repos/{full_name}/contents/{name}?ref={sha}",
        "patch": "@@ -1 +1,3 @@",
    }


def _commit(sha: str, message: str, login: str, api: str) -> dict[str, Any]:
    person = {"name": login.title(), "email": f"{login}@example.com", "date": NOW}
    return {
        "url": f"{api}/commits/{sha}",
        "sha": sha,
        "node_id": f"C_{sha[:8]}",
        "html_url": f"{WEB}/commit/{sha}",
        "comments_url": f"{api}/commits/{sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{sha}",
            "author": person,
            "committer": person,
            "message": message,
            "tree": {"url": f"{api}/git/trees/{'c' * 40}", "sha": "c" * 40},
            "comment_count": 0,
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
            },
        },
        "author": _user(login),
        "committer": _user(login),
        "parents": [],
    }


def _rate_limit_headers() -> dict[str, str]:
    return {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4999",
        "x-ratelimit-reset": str(int(datetime.now(UTC).timestamp()) + 3600),
        "x-ratelimit-used": "1",
        "x-ratelimit-resource": "core",
        "x-github-api-version-selected": "2022-11-28",
    }


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"message": message, "documentation_url": DOCS, "status": str(status)})


def _validation_failed(resource: str, field_name: str, code: str, message: str) -> Reply:
    """GitHub's 422 body: "Validation Failed" with the field errors."""
    return Reply(
        422,
        {
            "message": "Validation Failed",
            "errors": [
                {"resource": resource, "field": field_name, "code": code, "message": message}
            ],
            "documentation_url": DOCS,
            "status": "422",
        },
    )
