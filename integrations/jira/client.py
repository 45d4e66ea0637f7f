"""The Jira Cloud hook: the few REST API v3 calls ProductPilot makes, over the ``jira`` library.

:class:`JiraHook` owns a :class:`jira.JIRA` client configured for Jira Cloud's REST API v3
(descriptions and comments in Atlassian Document Format) with the library's own retries turned
off: every call runs through :func:`productpilot.vendors.with_retries`, and the library's
:class:`~jira.exceptions.JIRAError` and ``requests`` failures become
:mod:`productpilot.vendors` errors, so the outbox decides the same way for Jira as for Slack.

Example:
    >>> hook = JiraHook("https://acme.atlassian.net", "bot@acme.com", "api-token")
    >>> hook.browse_url("OPS-7")
    'https://acme.atlassian.net/browse/OPS-7'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import requests
from jira import JIRA
from jira.exceptions import JIRAError

from productpilot.vendors import (
    DEFAULT_POLICY,
    RejectedRequestError,
    RetryPolicy,
    TransientVendorError,
    VendorError,
    error_for_status,
    parse_retry_after,
    with_retries,
)

T = TypeVar("T")

VENDOR = "jira"
DEFAULT_TIMEOUT_SECONDS = 30.0
#: What a search returns unless asked otherwise: enough to tell a ticket and its state.
DEFAULT_SEARCH_FIELDS = ("summary", "status", "labels", "created")


class JiraHook:
    """The calls ProductPilot makes to one Jira Cloud site, each one translated and retried.

    Args:
        url: The site, e.g. ``https://acme.atlassian.net``.
        email: The Atlassian account the API token belongs to.
        api_token: An API token of that account (basic auth: e-mail and token).
        credential_name: What to fix when Jira refuses the login, named in the
            :class:`~productpilot.vendors.CredentialError` (the block's name).
        policy: How often and how patiently each call is retried.
        sleep: Waits between retries (tests inject a recorder).
        timeout: Seconds to wait for Jira to connect and to answer, per request.

    Example:
        >>> hook = JiraHook("https://acme.atlassian.net", "bot@acme.com", "api-token")
        >>> hook.search('project = "OPS" ORDER BY created DESC', max_results=5)  # doctest: +SKIP
        [{'id': '10001', 'key': 'OPS-1', 'fields': {'summary': '...', ...}}]
    """

    def __init__(
        self,
        url: str,
        email: str,
        api_token: str,
        *,
        credential_name: str = "the Jira credentials",
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.url = url.rstrip("/")
        self.credential_name = credential_name
        self._policy = policy
        self._sleep = sleep
        self._client = JIRA(
            options={"server": self.url, "rest_api_version": "3"},
            basic_auth=(email, api_token),
            # No call on construction: a hook is cheap to make, and fails on first use.
            get_server_info=False,
            # Retries are ours (with_retries), so they are the same for every vendor.
            max_retries=0,
            timeout=timeout,
        )
        # Without server info the library cannot tell Cloud from Data Center, and refuses the
        # enhanced JQL search (/search/jql), the only search Jira Cloud still serves. This hook
        # speaks REST v3 with ADF bodies, which only Jira Cloud has.
        self._client.deploymentType = "Cloud"

    def browse_url(self, key: str) -> str:
        """Where people open issue ``key`` in the browser."""
        return f"{self.url}/browse/{key}"

    def search(
        self,
        jql: str,
        fields: Sequence[str] = DEFAULT_SEARCH_FIELDS,
        max_results: int = 50,
    ) -> list[dict[str, Any]]:
        """The first ``max_results`` issues ``jql`` finds, as Jira's JSON (``key``, ``fields``).

        Uses the enhanced JQL search (``GET /rest/api/3/search/jql``). The library looks up
        the site's field list once per hook (``GET /rest/api/3/field``) to accept JQL field
        names as well as field ids.

        Example:
            >>> hook.search('labels = "productpilot"', fields=["summary"])  # doctest: +SKIP
            [{'id': '10001', 'key': 'OPS-1', 'fields': {'summary': 'Signups dropped'}}]
        """

        def call() -> list[dict[str, Any]]:
            result = self._client.enhanced_search_issues(
                jql,
                # A fresh list: the library rewrites it in place (names to field ids).
                fields=list(fields),
                maxResults=max_results,
                json_result=True,
            )
            return list(result.get("issues", []))

        return self._run(call)

    def search_page(
        self,
        jql: str,
        fields: Sequence[str],
        max_results: int = 100,
        next_page_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of what ``jql`` finds, and the token of the next page (``None``: last).

        The enhanced JQL search pages by token, not by offset: pass the returned token back
        to read on. Each page is one request, retried on its own.

        Example:
            >>> issues, token = hook.search_page('project = "OPS"', ["summary"])  # doctest: +SKIP
            >>> more, token = hook.search_page(  # doctest: +SKIP
            ...     'project = "OPS"', ["summary"], next_page_token=token
            ... )
        """

        def call() -> tuple[list[dict[str, Any]], str | None]:
            result = self._client.enhanced_search_issues(
                jql,
                nextPageToken=next_page_token,
                # A fresh list: the library rewrites it in place (names to field ids).
                fields=list(fields),
                maxResults=max_results,
                json_result=True,
            )
            token = result.get("nextPageToken")
            last = result.get("isLast", token is None)
            return list(result.get("issues", [])), None if last or not token else str(token)

        return self._run(call)

    def project(self, key: str) -> dict[str, Any]:
        """Project ``key`` as Jira describes it (``id``, ``key``, ``name``, ...).

        Raises:
            RejectedRequestError: no such project, or the account cannot see it (HTTP 404).

        Example:
            >>> hook.project("OPS")["name"]  # doctest: +SKIP
            'Operations'
        """
        return self._run(lambda: dict(self._client.project(key).raw))

    def create_issue(
        self,
        project_key: str,
        summary: str,
        description_adf: Mapping[str, Any],
        issue_type: str = "Task",
        labels: Iterable[str] = (),
        extra_fields: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an issue and return its key (``OPS-12``).

        Args:
            project_key: The project, e.g. ``OPS``.
            summary: One line (Jira refuses line breaks and more than 255 characters).
            description_adf: The description as an ADF document (:mod:`integrations.jira.adf`).
            issue_type: The issue type's name in that project.
            labels: Labels (no spaces).
            extra_fields: More fields by id, e.g. ``{"priority": {"name": "High"}}``.

        Example:
            >>> hook.create_issue("OPS", "Signups dropped", to_adf(message))  # doctest: +SKIP
            'OPS-12'
        """
        fields: dict[str, Any] = {
            # By key and name, not id: the library would otherwise look both up first.
            "project": {"key": project_key},
            "issuetype": {"name": issue_type},
            "summary": summary,
            "description": dict(description_adf),
            "labels": list(labels),
            **(extra_fields or {}),
        }

        def call() -> str:
            # prefetch=False: the created issue's key is all we need, not a second GET.
            return str(self._client.create_issue(fields=fields, prefetch=False).key)

        return self._run(call)

    def comment(self, key: str, body_adf: Mapping[str, Any]) -> str:
        """Add a comment (an ADF document) to issue ``key``; returns the comment's id.

        Example:
            >>> hook.comment("OPS-12", to_adf(message, with_subject=True))  # doctest: +SKIP
            '10100'
        """
        # The library types the body as str, but sends it as given: REST v3 wants ADF.
        body: Any = dict(body_adf)
        return self._run(lambda: str(self._client.add_comment(key, body).id))

    def transition(self, key: str, to_status: str) -> None:
        """Move issue ``key`` to the status named ``to_status`` (case does not matter).

        Jira moves issues by transition, not by status; the transition is the one available
        on the issue whose target status has that name.

        Raises:
            RejectedRequestError: no available transition leads to ``to_status``; the message
                lists those that do exist.

        Example:
            >>> hook.transition("OPS-12", "done")  # doctest: +SKIP
        """
        transitions: list[dict[str, Any]] = self._run(lambda: self._client.transitions(key))
        wanted = to_status.casefold()
        match = next(
            (t for t in transitions if _target_status(t).casefold() == wanted),
            None,
        )
        if match is None:
            available = ", ".join(
                f"{t.get('name')!r} (to {_target_status(t)!r})" for t in transitions
            )
            raise RejectedRequestError(
                VENDOR,
                f"issue {key} has no transition to status {to_status!r}; "
                f"available: {available or 'none'}",
            )
        transition_id = str(match["id"])
        self._run(lambda: self._client.transition_issue(key, transition_id))

    def update_fields(self, key: str, fields: Mapping[str, Any]) -> None:
        """Set fields of issue ``key`` by field id, e.g. a priority score or an estimate.

        Example:
            >>> hook.update_fields("OPS-12", {"customfield_10016": 5})  # doctest: +SKIP
        """

        def call() -> None:
            # The library edits issues through the Issue resource only: it is fetched first
            # (just its key) and reloaded after the PUT; no public call does the PUT alone.
            issue = self._client.issue(key, fields="key")
            issue.update(fields=dict(fields))

        self._run(call)

    # --- errors and retries ----------------------------------------------------------------

    def _run(self, call: Callable[[], T]) -> T:
        return with_retries(lambda: self._translated(call), self._policy, sleep=self._sleep)

    def _translated(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except JIRAError as error:
            raise self._vendor_error(error) from error
        except requests.Timeout as error:
            raise TransientVendorError(VENDOR, f"no answer in time from {self.url}") from error
        except requests.ConnectionError as error:
            raise TransientVendorError(VENDOR, f"cannot reach {self.url}: {error}") from error

    def _vendor_error(self, error: JIRAError) -> VendorError:
        response = error.response
        if error.status_code is None:
            # Raised by the library itself, without an HTTP answer to judge by.
            return RejectedRequestError(VENDOR, error.text or "the jira library refused the call")
        reason = response.reason if response is not None else ""
        headers = response.headers if response is not None else {}
        return error_for_status(
            VENDOR,
            error.status_code,
            error.text or reason or "error",
            credential=self.credential_name,
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )


def _target_status(transition: Mapping[str, Any]) -> str:
    return str((transition.get("to") or {}).get("name", ""))
