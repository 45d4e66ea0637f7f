"""The Linear hook: named GraphQL operations over httpx, with Linear's failures translated.

Linear has one endpoint, ``POST https://api.linear.app/graphql``, and reports most failures
as GraphQL ``errors`` (often with HTTP 400) rather than by status: a refused API key is
``extensions.code == "AUTHENTICATION_ERROR"``, a missing permission ``FORBIDDEN``, a spent
rate limit ``RATELIMITED`` with the ``X-RateLimit-Requests-Reset`` header (epoch
milliseconds). The hook reads both the status and those codes, and raises the vendor-neutral
errors of :mod:`productpilot.vendors`. See https://linear.app/developers/graphql.

Issues and comments are created with an id we choose (Linear accepts a client UUID v4), so a
retry after a timeout first asks whether the first try landed instead of creating a twin.

Example:
    >>> hook = LinearHook(api_key="lin_api_...", credential="the Linear credentials block 'ops'")
    >>> team = hook.team("ENG")  # doctest: +SKIP
    >>> hook.create_issue(team["id"], "Signups dropped", "Below the band.")  # doctest: +SKIP
    {'id': '4f0c...', 'identifier': 'ENG-42', 'url': 'https://linear.app/acme/issue/ENG-42/...'}
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from integrations.transport import send
from productpilot.vendors import (
    DEFAULT_POLICY,
    CredentialError,
    RateLimitedError,
    RejectedRequestError,
    RetryPolicy,
    TransientVendorError,
    VendorError,
    create_once,
    error_for_status,
    parse_retry_after,
    with_retries,
)

VENDOR = "linear"
LINEAR_API_URL = "https://api.linear.app/graphql"
#: ``extensions.code`` values that mean "fix the API key", not "fix the request".
CREDENTIAL_CODES = frozenset({"AUTHENTICATION_ERROR", "FORBIDDEN"})
RATE_LIMITED_CODE = "RATELIMITED"
#: The same, as ``extensions.type`` (what Linear's own SDK reads; older answers carry only it).
CREDENTIAL_TYPES = frozenset({"authentication error", "forbidden"})
RATE_LIMITED_TYPE = "ratelimited"
#: Issue states that count as closed for deduplication.
CLOSED_STATE_TYPES = ("completed", "canceled")

ISSUE_FIELDS = "id identifier title url priority description state { id name type } team { id key }"

TEAM_BY_KEY = """
query TeamByKey($key: String!) {
  teams(filter: { key: { eq: $key } }, first: 1) {
    nodes { id key name }
  }
}
"""

ISSUES = f"""
query Issues($filter: IssueFilter, $first: Int) {{
  issues(filter: $filter, first: $first) {{
    nodes {{ {ISSUE_FIELDS} }}
  }}
}}
"""

ISSUE = f"""
query Issue($id: String!) {{
  issue(id: $id) {{ {ISSUE_FIELDS} }}
}}
"""

ISSUE_CREATE = """
mutation IssueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) {
    success
    issue { id identifier url }
  }
}
"""

ISSUE_UPDATE = """
mutation IssueUpdate($id: String!, $input: IssueUpdateInput!) {
  issueUpdate(id: $id, input: $input) {
    success
    issue { id identifier url state { id name type } }
  }
}
"""

WORKFLOW_STATES = """
query WorkflowStates($teamId: ID!, $first: Int) {
  workflowStates(filter: { team: { id: { eq: $teamId } } }, first: $first) {
    nodes { id name type }
  }
}
"""

COMMENT_CREATE = """
mutation CommentCreate($input: CommentCreateInput!) {
  commentCreate(input: $input) {
    success
    comment { id url }
  }
}
"""

COMMENT_BY_ID = """
query CommentById($id: ID!) {
  comments(filter: { id: { eq: $id } }, first: 1) {
    nodes { id url }
  }
}
"""


class LinearHook:
    """Talks to Linear's GraphQL API with a personal API key.

    Args:
        api_key: A personal API key (``lin_api_...``), sent as the ``Authorization`` header
            as-is: Linear wants ``Bearer`` only for OAuth tokens.
        url: The GraphQL endpoint (a fake's, in tests).
        credential: What to fix when the key is refused, e.g. ``"the Linear credentials
            block 'ops'"``.
        timeout: Seconds to wait for each answer.
        policy: How often to retry rate limits and transient failures.
        sleep: Waits between retries (tests pass a recorder).
        clock: The current Unix time, to turn Linear's reset timestamps into waits.

    Example:
        >>> hook = LinearHook(api_key="lin_api_...", credential="the key in LINEAR_API_KEY")
        >>> hook.workflow_states("team-uuid")  # doctest: +SKIP
        [{'id': '...', 'name': 'Todo', 'type': 'unstarted'}, ...]
    """

    def __init__(
        self,
        api_key: str,
        url: str = LINEAR_API_URL,
        *,
        credential: str = "the Linear API key",
        timeout: float = 10.0,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self._credential = credential
        self._timeout = timeout
        self._policy = policy
        self._sleep = sleep
        self._clock = clock
        # httpx retries nothing by default; retries=0 says so, so that every retry is ours.
        self._client = httpx.Client(
            headers={"Authorization": api_key, "Content-Type": "application/json"},
            timeout=timeout,
            transport=httpx.HTTPTransport(retries=0),
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def __enter__(self) -> LinearHook:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- teams and states -------------------------------------------------------------------

    def team(self, key: str) -> dict[str, Any]:
        """The team whose key is ``key`` (``ENG``): ``{id, key, name}``.

        Raises:
            RejectedRequestError: no team visible to the key has that key.
        """
        data = self.execute("TeamByKey", TEAM_BY_KEY, {"key": key})
        nodes = data["teams"]["nodes"]
        if not nodes:
            raise RejectedRequestError(VENDOR, f"no team with key {key!r} is visible to the key")
        return nodes[0]

    def workflow_states(self, team_id: str) -> list[dict[str, Any]]:
        """The team's workflow states: ``[{id, name, type}]`` (type: ``unstarted``,
        ``started``, ``completed``, ``canceled``, ...)."""
        data = self.execute("WorkflowStates", WORKFLOW_STATES, {"teamId": team_id, "first": 100})
        return data["workflowStates"]["nodes"]

    # --- issues -----------------------------------------------------------------------------

    def issues(self, filter: Mapping[str, Any], first: int = 50) -> list[dict[str, Any]]:
        """Issues matching ``filter``, an ``IssueFilter``, e.g.
        ``{"team": {"key": {"eq": "ENG"}}, "state": {"type": {"nin": ["completed"]}}}``.

        Each issue is ``{id, identifier, title, url, priority, description, state: {id, name,
        type}, team: {id, key}}``.
        """
        data = self.execute("Issues", ISSUES, {"filter": dict(filter), "first": first})
        return data["issues"]["nodes"]

    def issue(self, id_or_identifier: str) -> dict[str, Any]:
        """One issue by its UUID or its identifier (``ENG-42``), fields as in :meth:`issues`."""
        return self.execute("Issue", ISSUE, {"id": id_or_identifier})["issue"]

    def create_issue(
        self,
        team_id: str,
        title: str,
        description: str,
        priority: int | None = None,
        label_ids: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Open an issue in the team; returns ``{id, identifier, url}``.

        Args:
            team_id: The team's UUID (see :meth:`team`).
            title: One line.
            description: Markdown.
            priority: 0 none, 1 urgent, 2 high, 3 medium, 4 low.
            label_ids: Label UUIDs to attach.
        """
        issue_id = str(uuid.uuid4())
        payload: dict[str, Any] = {
            "id": issue_id,
            "teamId": team_id,
            "title": title,
            "description": description,
        }
        if priority is not None:
            payload["priority"] = priority
        if labels := list(label_ids):
            payload["labelIds"] = labels

        def create() -> dict[str, Any]:
            data = self._send("IssueCreate", ISSUE_CREATE, {"input": payload})
            return _created(data["issueCreate"], "issue", "IssueCreate")

        def landed() -> dict[str, Any] | None:
            found = self._send("Issues", ISSUES, {"filter": {"id": {"eq": issue_id}}, "first": 1})
            nodes = found["issues"]["nodes"]
            return _pick(nodes[0], ("id", "identifier", "url")) if nodes else None

        return create_once(create, landed, self._policy, sleep=self._sleep)

    def update_issue(
        self, issue_id: str, state_id: str | None = None, priority: int | None = None
    ) -> dict[str, Any]:
        """Move an issue to another state and/or change its priority; returns ``{id,
        identifier, url, state}``.

        Raises:
            ValueError: neither ``state_id`` nor ``priority`` was given.
        """
        changes: dict[str, Any] = {}
        if state_id is not None:
            changes["stateId"] = state_id
        if priority is not None:
            changes["priority"] = priority
        if not changes:
            raise ValueError("update_issue needs a state_id or a priority")
        data = self.execute("IssueUpdate", ISSUE_UPDATE, {"id": issue_id, "input": changes})
        return _created(data["issueUpdate"], "issue", "IssueUpdate")

    def update_issue_fields(self, issue_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Set any ``IssueUpdateInput`` fields of an issue, e.g. ``{"priority": 2,
        "estimate": 3}``; returns ``{id, identifier, url, state}``.

        Raises:
            ValueError: ``changes`` is empty.

        Example:
            >>> hook.update_issue_fields("ENG-42", {"priority": 1})  # doctest: +SKIP
            {'id': '4f0c...', 'identifier': 'ENG-42', 'url': '...', 'state': {...}}
        """
        if not changes:
            raise ValueError("update_issue_fields needs at least one change")
        data = self.execute("IssueUpdate", ISSUE_UPDATE, {"id": issue_id, "input": dict(changes)})
        return _created(data["issueUpdate"], "issue", "IssueUpdate")

    def set_state(self, issue_id: str, team_id: str, state_name: str) -> dict[str, Any]:
        """Move an issue to the team's state called ``state_name`` (case-insensitive).

        Raises:
            RejectedRequestError: the team has no state of that name.
        """
        states = self.workflow_states(team_id)
        wanted = state_name.casefold()
        state = next((s for s in states if s["name"].casefold() == wanted), None)
        if state is None:
            names = ", ".join(sorted(s["name"] for s in states))
            raise RejectedRequestError(
                VENDOR, f"the team has no workflow state {state_name!r} (it has: {names})"
            )
        return self.update_issue(issue_id, state_id=state["id"])

    def comment(self, issue_id: str, body: str) -> dict[str, Any]:
        """Comment on an issue (``body`` in Markdown); returns ``{id, url}``."""
        comment_id = str(uuid.uuid4())
        payload = {"id": comment_id, "issueId": issue_id, "body": body}

        def create() -> dict[str, Any]:
            data = self._send("CommentCreate", COMMENT_CREATE, {"input": payload})
            return _created(data["commentCreate"], "comment", "CommentCreate")

        def landed() -> dict[str, Any] | None:
            nodes = self._send("CommentById", COMMENT_BY_ID, {"id": comment_id})["comments"]
            return nodes["nodes"][0] if nodes["nodes"] else None

        return create_once(create, landed, self._policy, sleep=self._sleep)

    # --- the wire ---------------------------------------------------------------------------

    def execute(
        self, operation: str, query: str, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run the named operation ``operation`` of ``query`` with retries; its ``data``.

        Raises:
            productpilot.vendors.VendorError: the call failed (after the retries allowed).
        """
        return with_retries(
            lambda: self._send(operation, query, variables), self._policy, sleep=self._sleep
        )

    def _send(
        self, operation: str, query: str, variables: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        body = {"operationName": operation, "query": query, "variables": dict(variables or {})}
        response = send(
            VENDOR, operation, self._timeout, lambda: self._client.post(self.url, json=body)
        )
        payload = _json_object(response)
        errors = payload.get("errors") or []
        if response.status_code >= 400 or errors:
            raise self._error(operation, response, errors)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise TransientVendorError(VENDOR, f"{operation}: an answer without data")
        return data

    def _error(
        self, operation: str, response: httpx.Response, errors: list[dict[str, Any]]
    ) -> VendorError:
        status = response.status_code
        retry_after = self._retry_after(response)
        if status >= 500 or status in (401, 403, 429):
            detail = _first_message(errors) or response.reason_phrase
            return error_for_status(
                VENDOR,
                status,
                f"{detail} ({operation})",
                credential=self._credential,
                retry_after=retry_after,
            )
        first = errors[0] if errors else {}
        extensions = first.get("extensions") or {}
        code = str(extensions.get("code", "")).upper()
        kind = str(extensions.get("type", "")).lower()
        message = _first_message(errors) or f"HTTP {status} {response.reason_phrase}"
        if code in CREDENTIAL_CODES or kind in CREDENTIAL_TYPES:
            label = code or kind
            return CredentialError(
                VENDOR, f"{message} ({label}, {operation}): check {self._credential}"
            )
        if code == RATE_LIMITED_CODE or kind == RATE_LIMITED_TYPE:
            return RateLimitedError(VENDOR, f"{message} ({operation})", retry_after=retry_after)
        return RejectedRequestError(VENDOR, f"{operation}: {message}")

    def _retry_after(self, response: httpx.Response) -> float | None:
        """``Retry-After`` if Linear sent it; else the wait until the exhausted limit resets.

        Linear meters requests and query complexity separately; each has a ``Remaining``
        and a ``Reset`` (epoch milliseconds) header. The one that ran out decides.
        """
        headers = response.headers
        if (seconds := parse_retry_after(headers.get("retry-after"))) is not None:
            return seconds
        resets = {
            kind: _number(headers.get(f"x-ratelimit-{kind}-reset"))
            for kind in ("requests", "complexity")
        }
        exhausted = [
            reset
            for kind, reset in resets.items()
            if reset is not None and _number(headers.get(f"x-ratelimit-{kind}-remaining")) == 0
        ]
        reset = max(exhausted) if exhausted else resets["requests"]
        if reset is None:
            return None
        return max(reset / 1000 - self._clock(), 0.0)


def _created(payload: Mapping[str, Any] | None, entity: str, operation: str) -> dict[str, Any]:
    """The entity of a mutation's payload; ``success: false`` is a refusal."""
    if not payload or not payload.get("success") or not payload.get(entity):
        raise RejectedRequestError(VENDOR, f"{operation} did not succeed")
    return payload[entity]


def _pick(node: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {key: node[key] for key in keys}


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _first_message(errors: list[dict[str, Any]]) -> str:
    for error in errors:
        extensions = error.get("extensions") or {}
        # Linear's friendlier wording, where it gives one (as its SDK prefers it too).
        message = extensions.get("userPresentableMessage") or error.get("message")
        if message:
            return str(message)
    return ""


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
