"""GitHub's REST API, outbound: what ProductPilot writes to and reads from GitHub.

:class:`GitHubHook` wraps PyGithub's :class:`github.Github` the way an Airflow hook wraps its
client: it holds the connection, answers in plain ``dict``\\ s and ``int``\\ s (callers never
touch PyGithub objects), and turns every failure into a :mod:`productpilot.vendors` error so
the outbox and the tasks decide the same way as for any other vendor.

What it covers: commit statuses and check runs (release gates report their verdict there),
deployments and their statuses, workflow dispatches, pull requests with their files, reviews
and commits, the pull requests merged since a date (release notes), the check runs of a
commit, code-scanning and Dependabot alerts, and the issues
:class:`integrations.github.tracker.GitHubIssuesTracker` opens.

Two PyGithub behaviours shape it:

* PyGithub retries on its own (``Github.default_retry``, which also sleeps through rate
  limits); the hook builds the client with ``retry=None`` so that retries are
  :func:`productpilot.vendors.with_retries`'s, with its policy and its injectable ``sleep``.
* PyGithub fetches an object as soon as it is built unless the client is *lazy*; the hook's
  client is, so ``repo.get_pull(7).get_files()`` costs one request, not three.

Example:
    >>> from pydantic import SecretStr
    >>> from prefect_github import GitHubCredentials
    >>> hook = GitHubHook.from_credentials(
    ...     GitHubCredentials(token=SecretStr("ghp_example")), block_name="github-bot"
    ... )
    >>> hook.block_name
    'github-bot'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

import requests
from github import Auth, Github, GithubException, RateLimitExceededException
from github.Repository import Repository
from prefect_github import GitHubCredentials

from productpilot.vendors import (
    DEFAULT_POLICY,
    CredentialError,
    RateLimitedError,
    RejectedRequestError,
    RetryPolicy,
    TransientVendorError,
    VendorError,
    error_for_status,
    parse_retry_after,
    with_retries,
)

T = TypeVar("T")

VENDOR = "github"
DEFAULT_BASE_URL = "https://api.github.com"
#: The REST API version asked for in ``X-GitHub-Api-Version``: the one PyGithub is written for.
API_VERSION = "2022-11-28"
USER_AGENT = "ProductPilot (PyGithub)"
DEFAULT_TIMEOUT_SECONDS = 15
#: GitHub's advice for a secondary rate limit that names no wait: "wait for at least one minute".
SECONDARY_RATE_LIMIT_WAIT_SECONDS = 60.0
#: GitHub answers 422 to a commit or deployment status description longer than this.
MAX_STATUS_DESCRIPTION = 140
#: GitHub's limits of a check run's ``output.summary`` and ``output.text``, and of an issue body.
MAX_CHECK_RUN_TEXT = 65535
MAX_ISSUE_BODY = 65536

CommitState = Literal["error", "failure", "pending", "success"]
CheckRunStatus = Literal["queued", "in_progress", "completed"]
CheckRunConclusion = Literal[
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
]
DeploymentState = Literal[
    "error", "failure", "inactive", "in_progress", "queued", "pending", "success"
]
CodeScanningState = Literal["open", "closed", "dismissed", "fixed"]
DependabotState = Literal["auto_dismissed", "dismissed", "fixed", "open"]


class GitHubHook:
    """ProductPilot's calls to GitHub's REST API, each retried and translated.

    Args:
        client: A PyGithub client built with ``retry=None`` (see :meth:`from_credentials`);
            it is made lazy if it is not, so building an object costs no request.
        block_name: The credentials block the token came from, named in a
            :class:`CredentialError` so the person reading it knows what to fix.
        policy: How often and how patiently to retry.
        sleep: Waits between attempts (tests inject a recorder).
        clock: The current epoch time, to turn ``x-ratelimit-reset`` into a wait.

    Retries of a create (issue, check run, deployment) after a timeout may post a twin when
    the first attempt did land: callers that must not duplicate look first
    (:meth:`find_check_run`, ``Tracker.find_open``).

    Example:
        >>> from github import Auth, Github
        >>> client = Github(auth=Auth.Token("ghp_example"), retry=None, lazy=True)
        >>> GitHubHook(client, block_name="github").credential
        "the GitHub credentials block 'github'"
    """

    def __init__(
        self,
        client: Github,
        *,
        block_name: str = "github",
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client if client.requester.is_lazy else client.withLazy(True)
        self.block_name = block_name
        self._policy = policy
        self._sleep = sleep
        self._clock = clock

    @classmethod
    def from_credentials(
        cls,
        credentials: GitHubCredentials,
        *,
        block_name: str = "github",
        base_url: str = DEFAULT_BASE_URL,
        timeout: int = DEFAULT_TIMEOUT_SECONDS,
        paced: bool = True,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> GitHubHook:
        """A hook authenticated with the token of a ``prefect_github.GitHubCredentials`` block.

        Args:
            credentials: The block; its ``token`` is a personal access token or an app
                installation token (check runs can only be written with the latter).
            block_name: The block's name, for error messages.
            base_url: ``https://api.github.com``, or GitHub Enterprise Server's
                ``https://<host>/api/v3``.
            timeout: Seconds to wait for an answer (PyGithub takes whole seconds).
            paced: Keep PyGithub's pauses of 0.25 s between requests and 1 s between
                writes, GitHub's advice against secondary rate limits. Tests turn it off.
            policy: How often and how patiently to retry.
            sleep: Waits between attempts.
            clock: The current epoch time.

        Raises:
            CredentialError: the block holds no token.

        Example:
            >>> from pydantic import SecretStr
            >>> hook = GitHubHook.from_credentials(
            ...     GitHubCredentials(token=SecretStr("ghp_example")),
            ...     base_url="https://github.example.com/api/v3/",
            ... )
            >>> hook.block_name
            'github'
        """
        if credentials.token is None or not credentials.token.get_secret_value():
            raise CredentialError(VENDOR, f"no token: set one in {_credential(block_name)}")
        client = Github(
            auth=Auth.Token(credentials.token.get_secret_value()),
            # PyGithub builds "/repos/..." paths onto the base URL's path.
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            user_agent=USER_AGENT,
            retry=None,
            lazy=True,
            api_version=API_VERSION,
            seconds_between_requests=0.25 if paced else None,
            seconds_between_writes=1.0 if paced else None,
        )
        return cls(client, block_name=block_name, policy=policy, sleep=sleep, clock=clock)

    @property
    def credential(self) -> str:
        """What a :class:`CredentialError` tells the reader to fix."""
        return _credential(self.block_name)

    # --- commit statuses and check runs ------------------------------------------------------

    def create_commit_status(
        self,
        repo: str,
        sha: str,
        state: CommitState,
        context: str,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """Set the status ``context`` of commit ``sha`` (a required check of branch protection).

        ``description`` is cut to GitHub's 140 characters.

        Example:
            ```python
            hook.create_commit_status(
                "acme/shop", sha, "failure", "productpilot/gate", "2 blockers open"
            )
            ```
        """

        def call() -> None:
            commit = self._repository(repo).get_commit(sha)
            commit.create_status(
                state,
                context=context,
                description=_clip(description, MAX_STATUS_DESCRIPTION),
                **_given(target_url=target_url),
            )

        self._call(call)

    def create_check_run(
        self,
        repo: str,
        head_sha: str,
        name: str,
        *,
        status: CheckRunStatus,
        conclusion: CheckRunConclusion | None = None,
        title: str,
        summary: str,
        text: str | None = None,
        external_id: str | None = None,
        details_url: str | None = None,
    ) -> int:
        """Open a check run on ``head_sha`` and return its id.

        Only a GitHub App installation token may write check runs; a personal access token
        is answered 403, which becomes a :class:`CredentialError`.

        Raises:
            ValueError: ``status`` is ``completed`` but no ``conclusion`` is given.

        Example:
            ```python
            run_id = hook.create_check_run(
                "acme/shop", sha, "ProductPilot gate", status="completed",
                conclusion="success", title="Ready to ship", summary="All criteria met.",
            )
            ```
        """
        if status == "completed" and conclusion is None:
            raise ValueError("a completed check run needs a conclusion")
        output = _check_output(title, summary, text)

        def call() -> int:
            run = self._repository(repo).create_check_run(
                name,
                head_sha,
                status=status,
                output=output,
                **_given(conclusion=conclusion, external_id=external_id, details_url=details_url),
            )
            return run.id

        return self._call(call)

    def update_check_run(
        self,
        repo: str,
        check_run_id: int,
        *,
        status: CheckRunStatus | None = None,
        conclusion: CheckRunConclusion | None = None,
        title: str | None = None,
        summary: str | None = None,
        text: str | None = None,
        external_id: str | None = None,
        details_url: str | None = None,
    ) -> None:
        """Change a check run: only the arguments given are sent.

        Raises:
            ValueError: only one of ``title`` and ``summary`` is given (GitHub needs both
                for an ``output``), or ``status`` is ``completed`` without a ``conclusion``.

        Example:
            ```python
            hook.update_check_run(
                "acme/shop", run_id, status="completed", conclusion="failure",
                title="2 blockers", summary="- OPS-12\\n- OPS-14",
            )
            ```
        """
        if (title is None) != (summary is None):
            raise ValueError("a check run output needs both a title and a summary")
        if status == "completed" and conclusion is None:
            raise ValueError("a completed check run needs a conclusion")
        changes: dict[str, Any] = _given(
            status=status, conclusion=conclusion, external_id=external_id, details_url=details_url
        )
        if title is not None and summary is not None:
            changes["output"] = _check_output(title, summary, text)

        def call() -> None:
            self._repository(repo).get_check_run(check_run_id).edit(**changes)

        self._call(call)

    def find_check_run(self, repo: str, head_sha: str, name: str) -> int | None:
        """The id of the newest check run called ``name`` on ``head_sha``, if there is one.

        A gate asks before reporting, so a second verdict updates its check run instead of
        posting a twin next to it. The name should be ProductPilot's own: a GitHub App may only
        update its own check runs.

        Example:
            ```python
            hook.find_check_run("acme/shop", sha, "ProductPilot gate")
            # 1297
            ```
        """

        def call() -> int | None:
            runs = self._repository(repo).get_commit(head_sha).get_check_runs(check_name=name)
            return max((run.id for run in runs), default=None)

        return self._call(call)

    def check_runs_for_ref(self, repo: str, sha: str) -> list[dict[str, Any]]:
        """Every check run of commit ``sha`` (GitHub's latest of each name), as dicts.

        Each has ``id``, ``name``, ``status``, ``conclusion``, ``external_id``,
        ``details_url``, ``html_url``, ``started_at`` and ``completed_at`` (ISO 8601 or
        ``None``).

        Example:
            ```python
            [run["conclusion"] for run in hook.check_runs_for_ref("acme/shop", sha)]
            # ['success', 'failure']
            ```
        """

        def call() -> list[dict[str, Any]]:
            runs = self._repository(repo).get_commit(sha).get_check_runs()
            return [
                {
                    "id": run.id,
                    "name": run.name,
                    "status": run.status,
                    "conclusion": run.conclusion,
                    "external_id": run.external_id,
                    "details_url": run.details_url,
                    "html_url": run.html_url,
                    "started_at": _iso(run.started_at),
                    "completed_at": _iso(run.completed_at),
                }
                for run in runs
            ]

        return self._call(call)

    # --- deployments and workflows --------------------------------------------------------

    def create_deployment(
        self,
        repo: str,
        ref: str,
        environment: str,
        *,
        description: str,
        payload: Mapping[str, Any] | None = None,
        required_contexts: Sequence[str] | None = None,
        auto_merge: bool = False,
    ) -> int:
        """Record a deployment of ``ref`` to ``environment`` and return its id.

        ``required_contexts=None`` lets GitHub require every status context of ``ref`` to be
        green (it answers 409 otherwise); ``[]`` deploys whatever they say.

        Raises:
            TransientVendorError: GitHub merged the default branch into ``ref`` (``auto_merge``)
                instead of creating the deployment; the retry creates it.

        Example:
            ```python
            deployment_id = hook.create_deployment(
                "acme/shop", "v2.3.0", "production", description="Release 2.3"
            )
            ```
        """

        def call() -> int:
            deployment = self._repository(repo).create_deployment(
                ref,
                environment=environment,
                description=description,
                auto_merge=auto_merge,
                **_given(
                    payload=dict(payload) if payload is not None else None,
                    required_contexts=list(required_contexts)
                    if required_contexts is not None
                    else None,
                ),
            )
            if deployment.id is None:
                # GitHub's 202: "merged the default branch into the ref", no deployment yet.
                raise TransientVendorError(
                    VENDOR, f"GitHub merged the default branch into {ref!r}; deploy again"
                )
            return deployment.id

        return self._call(call)

    def create_deployment_status(
        self,
        repo: str,
        deployment_id: int,
        state: DeploymentState,
        *,
        environment_url: str | None = None,
        log_url: str | None = None,
        description: str = "",
    ) -> None:
        """Report how deployment ``deployment_id`` is going.

        Example:
            ```python
            hook.create_deployment_status(
                "acme/shop", deployment_id, "success", environment_url="https://shop.example"
            )
            ```
        """

        def call() -> None:
            deployment = self._repository(repo).get_deployment(deployment_id)
            deployment.create_status(
                state,
                description=_clip(description, MAX_STATUS_DESCRIPTION),
                # PyGithub has no log_url; GitHub documents log_url as replacing target_url
                # and keeps accepting target_url with the same meaning.
                **_given(target_url=log_url, environment_url=environment_url),
            )

        self._call(call)

    def dispatch_workflow(
        self,
        repo: str,
        workflow_file: str,
        ref: str,
        inputs: Mapping[str, str] | None = None,
    ) -> None:
        """Start the ``workflow_dispatch`` workflow ``workflow_file`` (``release.yml``) on ``ref``.

        Example:
            ```python
            hook.dispatch_workflow(
                "acme/shop", "release.yml", "main", {"version": "2.3.0"}
            )
            ```
        """

        def call() -> None:
            workflow = self._repository(repo).get_workflow(workflow_file)
            # throw=True: without it PyGithub answers a refused dispatch with False.
            workflow.create_dispatch(ref, dict(inputs or {}), throw=True)

        self._call(call)

    # --- pull requests ------------------------------------------------------------------

    def pull_request(self, repo: str, number: int) -> dict[str, Any]:
        """Pull request ``number``: ``number``, ``title``, ``state``, ``draft``, ``merged``,
        ``user`` (login), ``head_sha``, ``head_ref``, ``base_ref``, ``labels`` (names) and
        ``html_url``.

        Example:
            ```python
            hook.pull_request("acme/shop", 7)["head_sha"]
            # '6dcb09b5b57875f334f61aebed695e2e4193db5e'
            ```
        """

        def call() -> dict[str, Any]:
            pull = self._repository(repo).get_pull(number)
            return {
                "number": pull.number,
                "title": pull.title,
                "state": pull.state,
                "draft": pull.draft,
                "merged": pull.merged,
                "user": pull.user.login,
                "head_sha": pull.head.sha,
                "head_ref": pull.head.ref,
                "base_ref": pull.base.ref,
                "labels": [label.name for label in pull.labels],
                "html_url": pull.html_url,
            }

        return self._call(call)

    def pull_request_files(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The files pull request ``number`` changes: ``filename``, ``status``, ``additions``,
        ``deletions``, ``changes`` and ``previous_filename`` (renames).

        Example:
            ```python
            [f["filename"] for f in hook.pull_request_files("acme/shop", 7)]
            # ['src/cart.py']
            ```
        """

        def call() -> list[dict[str, Any]]:
            files = self._repository(repo).get_pull(number).get_files()
            return [
                {
                    "filename": file.filename,
                    "status": file.status,
                    "additions": file.additions,
                    "deletions": file.deletions,
                    "changes": file.changes,
                    "previous_filename": file.previous_filename,
                }
                for file in files
            ]

        return self._call(call)

    def pull_request_reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The reviews of pull request ``number``, oldest first: ``id``, ``user`` (login),
        ``state`` (``APPROVED``, ``CHANGES_REQUESTED``, ``COMMENTED``, ...), ``commit_id``
        and ``submitted_at``.

        Example:
            ```python
            [r["state"] for r in hook.pull_request_reviews("acme/shop", 7)]
            # ['APPROVED']
            ```
        """

        def call() -> list[dict[str, Any]]:
            reviews = self._repository(repo).get_pull(number).get_reviews()
            return [
                {
                    "id": review.id,
                    "user": review.user.login if review.user else None,
                    "state": review.state,
                    "commit_id": review.commit_id,
                    "submitted_at": _iso(review.submitted_at),
                }
                for review in reviews
            ]

        return self._call(call)

    def pull_request_commits(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The commits of pull request ``number``, oldest first: ``sha``, ``message``,
        ``author`` (the GitHub login, or ``None`` for an e-mail GitHub does not know) and
        ``author_name`` (from the commit itself).

        Example:
            ```python
            [c["sha"][:7] for c in hook.pull_request_commits("acme/shop", 7)]
            # ['6dcb09b']
            ```
        """

        def call() -> list[dict[str, Any]]:
            commits = self._repository(repo).get_pull(number).get_commits()
            return [
                {
                    "sha": commit.sha,
                    "message": commit.commit.message,
                    "author": commit.author.login if commit.author else None,
                    "author_name": commit.commit.author.name,
                }
                for commit in commits
            ]

        return self._call(call)

    def merged_pull_requests(
        self,
        repo: str,
        *,
        since: datetime | None = None,
        base: str | None = None,
        max_items: int = 500,
    ) -> list[dict[str, Any]]:
        """The pull requests merged at or after ``since`` (into ``base``, when given), most
        recently updated first, at most ``max_items``: ``number``, ``title``, ``labels``
        (names), ``user`` (login), ``html_url``, ``merged_at`` (ISO 8601), ``base_ref`` and
        ``merge_commit_sha``. Release notes are written from them.

        GitHub lists closed pull requests by update time and has no ``since`` filter for
        them: pages are read until one holds only pull requests last updated before
        ``since`` (a pull request merged after ``since`` was updated after it too).

        Example:
            ```python
            hook.merged_pull_requests("acme/shop", since=datetime(2026, 11, 1, tzinfo=UTC))
            # [{'number': 12, 'title': 'Export to CSV', 'labels': ['enhancement'], ...}]
            ```
        """
        options: dict[str, Any] = {"state": "closed", "sort": "updated", "direction": "desc"}
        if base is not None:
            options["base"] = base

        def call() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            for pull in self._repository(repo).get_pulls(**options):
                if since is not None and pull.updated_at is not None and pull.updated_at < since:
                    break  # sorted by update time: every later one is older still
                if len(found) >= max_items:
                    break
                if pull.merged_at is None or (since is not None and pull.merged_at < since):
                    continue
                found.append(
                    {
                        "number": pull.number,
                        "title": pull.title,
                        "labels": [label.name for label in pull.labels],
                        "user": pull.user.login if pull.user else None,
                        "html_url": pull.html_url,
                        "merged_at": _iso(pull.merged_at),
                        "base_ref": pull.base.ref,
                        "merge_commit_sha": pull.merge_commit_sha,
                    }
                )
            return found

        return self._call(call)

    # --- security alerts ------------------------------------------------------------------

    def code_scanning_alerts(
        self, repo: str, state: CodeScanningState = "open"
    ) -> list[dict[str, Any]]:
        """Code-scanning alerts: ``number``, ``state``, ``rule_id``, ``severity`` (the rule's:
        ``error``, ``warning``, ``note``), ``security_severity_level`` (``critical`` ...
        ``low``, or ``None`` for non-security rules), ``description``, ``tool`` and
        ``html_url``.

        Example:
            ```python
            hook.code_scanning_alerts("acme/shop")[0]["tool"]
            # 'CodeQL'
            ```
        """

        def call() -> list[dict[str, Any]]:
            alerts = self._repository(repo).get_codescan_alerts(state=state)
            return [
                {
                    "number": alert.number,
                    "state": alert.state,
                    "rule_id": alert.rule.id,
                    "severity": alert.rule.severity,
                    "security_severity_level": alert.rule.security_severity_level,
                    "description": alert.rule.description,
                    "tool": alert.tool.name,
                    "html_url": alert.html_url,
                }
                for alert in alerts
            ]

        return self._call(call)

    def dependabot_alerts(self, repo: str, state: DependabotState = "open") -> list[dict[str, Any]]:
        """Dependabot alerts: ``number``, ``state``, ``severity`` (``low`` ... ``critical``),
        ``package``, ``ecosystem``, ``manifest_path``, ``ghsa_id``, ``summary`` and
        ``html_url``.

        Example:
            ```python
            hook.dependabot_alerts("acme/shop")[0]["package"]
            # 'django'
            ```
        """

        def call() -> list[dict[str, Any]]:
            alerts = self._repository(repo).get_dependabot_alerts(state=state)
            return [
                {
                    "number": alert.number,
                    "state": alert.state,
                    "severity": alert.security_vulnerability.severity,
                    "package": alert.dependency.package.name,
                    "ecosystem": alert.dependency.package.ecosystem,
                    "manifest_path": alert.dependency.manifest_path,
                    "ghsa_id": alert.security_advisory.ghsa_id,
                    "summary": alert.security_advisory.summary,
                    "html_url": alert.html_url,
                }
                for alert in alerts
            ]

        return self._call(call)

    # --- issues -----------------------------------------------------------------------

    def create_issue(
        self, repo: str, title: str, body: str, labels: Sequence[str] = ()
    ) -> dict[str, Any]:
        """Open an issue; returns its ``number``, ``html_url`` and ``labels`` (names).

        GitHub creates a label it does not know yet, and silently drops the labels of a
        token that may not set them: compare ``labels`` with what was asked.

        Example:
            ```python
            issue = hook.create_issue("acme/shop", "Signups dropped", "...", ["ops"])
            issue["number"], issue["labels"]
            # (12, ['ops'])
            ```
        """

        def call() -> dict[str, Any]:
            issue = self._repository(repo).create_issue(
                title, body=_clip(body, MAX_ISSUE_BODY), labels=list(labels)
            )
            return {
                "number": issue.number,
                "html_url": issue.html_url,
                "labels": [label.name for label in issue.labels],
            }

        return self._call(call)

    def comment_issue(self, repo: str, number: int, body: str) -> None:
        """Add a comment to issue ``number``.

        Example:
            ```python
            hook.comment_issue("acme/shop", 12, "It happened again.")
            ```
        """

        def call() -> None:
            issue = self._repository(repo).get_issue(number)
            issue.create_comment(_clip(body, MAX_ISSUE_BODY))

        self._call(call)

    def issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The comments of issue ``number``, oldest first (every page): ``id``, ``body``,
        ``html_url`` and ``created_at`` (ISO 8601).

        Example:
            ```python
            hook.issue_comments("acme/design-tokens", 4)
            # [{'id': 1001, 'body': 'Version 2 of Tokens ...', ...}]
            ```
        """

        def call() -> list[dict[str, Any]]:
            comments = self._repository(repo).get_issue(number).get_comments()
            return [
                {
                    "id": comment.id,
                    "body": comment.body or "",
                    "html_url": comment.html_url,
                    "created_at": _iso(comment.created_at),
                }
                for comment in comments
            ]

        return self._call(call)

    def search_open_issues(self, repo: str, label: str) -> list[dict[str, Any]]:
        """The open issues (pull requests left out) labelled ``label``, newest first:
        ``number``, ``title``, ``html_url`` and ``labels``.

        This lists the repository's issues rather than using the search API, whose index lags
        behind: an issue opened a moment ago must be found, or the next finding opens a twin.

        Example:
            ```python
            hook.search_open_issues("acme/shop", "productpilot:3f2a9c0d1e4b")
            # [{'number': 12, 'title': 'Signups dropped', ...}]
            ```
        """

        def call() -> list[dict[str, Any]]:
            issues = self._repository(repo).get_issues(state="open", labels=[label])
            return [
                {
                    "number": issue.number,
                    "title": issue.title,
                    "html_url": issue.html_url,
                    "labels": [item.name for item in issue.labels],
                }
                for issue in issues
                if not _is_pull_request(issue.html_url)
            ]

        return self._call(call)

    def list_issues(
        self,
        repo: str,
        *,
        state: Literal["open", "closed", "all"] = "all",
        since: datetime | None = None,
        max_items: int = 1000,
    ) -> list[dict[str, Any]]:
        """The repository's issues (pull requests left out), most recently updated first, at
        most ``max_items``: ``number``, ``title``, ``body``, ``state``, ``state_reason``,
        ``labels`` (names), ``created_at``, ``updated_at``, ``closed_at`` (ISO 8601 or
        ``None``) and ``html_url``.

        Pages are read as needed (GitHub's ``Link`` header) and no further than
        ``max_items``; ``since`` keeps only issues updated at or after it.

        Example:
            ```python
            hook.list_issues("acme/shop", state="closed", since=datetime(2026, 6, 1, tzinfo=UTC))
            # [{'number': 12, 'state': 'closed', 'state_reason': 'completed', ...}]
            ```
        """
        options: dict[str, Any] = {"state": state, "sort": "updated", "direction": "desc"}
        if since is not None:
            options["since"] = since

        def call() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            for issue in self._repository(repo).get_issues(**options):
                if len(found) >= max_items:
                    break
                if _is_pull_request(issue.html_url):
                    continue
                found.append(
                    {
                        "number": issue.number,
                        "title": issue.title,
                        "body": issue.body or "",
                        "state": issue.state,
                        "state_reason": issue.state_reason,
                        "labels": [label.name for label in issue.labels],
                        "created_at": _iso(issue.created_at),
                        "updated_at": _iso(issue.updated_at),
                        "closed_at": _iso(issue.closed_at),
                        "html_url": issue.html_url,
                    }
                )
            return found

        return self._call(call)

    def add_issue_labels(self, repo: str, number: int, labels: Sequence[str]) -> list[str]:
        """Add ``labels`` to issue ``number`` (GitHub creates unknown ones); returns the
        names of all its labels now.

        Adding leaves the labels people set alone, unlike replacing the whole set.

        Example:
            ```python
            hook.add_issue_labels("acme/shop", 12, ["priority:P1"])
            # ['bug', 'priority:P1']
            ```
        """

        def call() -> list[str]:
            issue = self._repository(repo).get_issue(number)
            # PyGithub sends a bare JSON array; the documented object form is sent instead.
            _headers, data = self._client.requester.requestJsonAndCheck(
                "POST", f"{issue.url}/labels", input={"labels": list(labels)}
            )
            return [str(label["name"]) for label in data or []]

        return self._call(call)

    def remove_issue_label(self, repo: str, number: int, label: str) -> None:
        """Take ``label`` off issue ``number``.

        Raises:
            RejectedRequestError: the issue does not carry it (HTTP 404), among others.

        Example:
            ```python
            hook.remove_issue_label("acme/shop", 12, "priority:P2")
            ```
        """
        self._call(lambda: self._repository(repo).get_issue(number).remove_from_labels(label))

    # --- the machinery -------------------------------------------------------------------

    def _repository(self, full_name: str) -> Repository:
        """A lazy handle on ``owner/name``: building it sends nothing."""
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"a GitHub repository is 'owner/name', not {full_name!r}")
        return self._client.get_repo(full_name)

    def _call(self, call: Callable[[], T]) -> T:
        """Run ``call`` (PyGithub work) with our retries, in our errors."""

        def translated() -> T:
            try:
                return call()
            except GithubException as error:
                raise self._error_for(error) from error
            except requests.Timeout as error:
                raise TransientVendorError(VENDOR, f"no answer in time: {error}") from error
            except requests.ConnectionError as error:
                raise TransientVendorError(VENDOR, f"cannot connect: {error}") from error

        return with_retries(translated, self._policy, sleep=self._sleep)

    def _error_for(self, error: GithubException) -> VendorError:
        headers = {name.lower(): value for name, value in (error.headers or {}).items()}
        detail = _detail(error)
        if _is_rate_limit(error, headers):
            return RateLimitedError(
                VENDOR, f"HTTP {error.status} {detail}", retry_after=self._rate_limit_wait(headers)
            )
        if error.status == 404:
            # GitHub answers 404, not 403, for a private repository the token cannot see.
            return RejectedRequestError(
                VENDOR,
                f"HTTP 404 {detail}: it does not exist, or the token of {self.credential} "
                "cannot see it",
            )
        return error_for_status(
            VENDOR,
            error.status,
            detail,
            credential=self.credential,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )

    def _rate_limit_wait(self, headers: Mapping[str, str]) -> float:
        """GitHub's documented order: ``retry-after``; else, when no request is left,
        ``x-ratelimit-reset`` (epoch seconds); else at least a minute."""
        retry_after = parse_retry_after(headers.get("retry-after"))
        if retry_after is not None:
            return retry_after
        reset = headers.get("x-ratelimit-reset")
        if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
            try:
                return max(float(reset) - self._clock(), 0.0)
            except ValueError:
                pass
        return SECONDARY_RATE_LIMIT_WAIT_SECONDS


def _credential(block_name: str) -> str:
    return f"the GitHub credentials block '{block_name}'"


def _is_rate_limit(error: GithubException, headers: Mapping[str, str]) -> bool:
    """429, or a 403 that is GitHub's rate limit rather than a missing permission."""
    if error.status == 429 or isinstance(error, RateLimitExceededException):
        return True
    if error.status != 403:
        return False
    return (
        headers.get("x-ratelimit-remaining") == "0"
        or "retry-after" in headers
        or "rate limit" in _detail(error).lower()
    )


def _detail(error: GithubException) -> str:
    """GitHub's ``message``, with the field errors of a 422 ("Validation Failed")."""
    data = error.data if isinstance(error.data, dict) else {}
    message = str(data.get("message") or error.message or "")
    problems = [
        problem.get("message") or f"{problem.get('field')} {problem.get('code')}"
        for problem in data.get("errors") or []
        if isinstance(problem, dict)
    ]
    if problems:
        message += " (" + "; ".join(str(problem) for problem in problems) + ")"
    return message or "no message"


def _given(**values: Any) -> dict[str, Any]:
    """The arguments that have a value: PyGithub sends a ``None`` as JSON ``null``."""
    return {name: value for name, value in values.items() if value is not None}


def _check_output(title: str, summary: str, text: str | None) -> dict[str, str]:
    output = {"title": title, "summary": _clip(summary, MAX_CHECK_RUN_TEXT)}
    if text is not None:
        output["text"] = _clip(text, MAX_CHECK_RUN_TEXT)
    return output


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _is_pull_request(html_url: str) -> bool:
    """GitHub lists pull requests among issues; their page is ``.../pull/<n>``.

    (Their ``pull_request`` key is absent on plain issues, and reading an absent attribute
    makes PyGithub fetch the whole issue again.)
    """
    return "/pull/" in html_url
