"""GitHubHook: the real PyGithub against FakeGitHub, every request checked against GitHub's
documented REST shapes (the table in ``fake.py``), every request counted."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from prefect_github import GitHubCredentials
from pydantic import SecretStr

from integrations.github.client import GitHubHook
from productpilot.vendors import (
    CredentialError,
    RateLimitedError,
    RejectedRequestError,
    RetryPolicy,
    TransientVendorError,
)
from tests.fakes.server import Recorded, Reply, serving
from tests.integrations.github.fake import MAIN_SHA, TOKEN, FakeGitHub, validate

REPO = "acme/shop"
HEAD = "a" * 40
BLOCK = "github-bot"
NOW = 1_785_000_000.0


class Sleeps(list[float]):
    """Records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.add_repository(REPO)
    with serving(fake):  # fails the test if any request broke GitHub's documented shape
        yield fake


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_hook(
    fake: FakeGitHub,
    sleeps: Sleeps,
    *,
    token: str = TOKEN,
    attempts: int = 3,
    timeout: int = 5,
    base_url: str | None = None,
) -> GitHubHook:
    return GitHubHook.from_credentials(
        GitHubCredentials(token=SecretStr(token)),
        block_name=BLOCK,
        base_url=base_url or fake.url,
        timeout=timeout,
        paced=False,
        policy=RetryPolicy(attempts=attempts, base_seconds=0.5, max_seconds=30),
        sleep=sleeps,
        clock=lambda: NOW,
    )


@pytest.fixture
def hook(github: FakeGitHub, sleeps: Sleeps) -> GitHubHook:
    return make_hook(github, sleeps)


def requests_made(fake: FakeGitHub) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests]


# --- the client -------------------------------------------------------------------------


def test_a_block_without_a_token_is_a_credential_error_naming_the_block() -> None:
    with pytest.raises(CredentialError, match="the GitHub credentials block 'github-bot'"):
        GitHubHook.from_credentials(GitHubCredentials(), block_name=BLOCK)


def test_pygithub_does_not_retry_on_its_own(github: FakeGitHub, sleeps: Sleeps) -> None:
    github.fail_next(Reply(502, {"message": "Server Error"}))
    with pytest.raises(TransientVendorError, match="HTTP 502"):
        make_hook(github, sleeps, attempts=1).pull_request(REPO, 1)
    assert len(github.requests) == 1


def test_a_trailing_slash_on_the_base_url_is_harmless(github: FakeGitHub, sleeps: Sleeps) -> None:
    hook = make_hook(github, sleeps, base_url=github.url + "/")
    hook.create_commit_status(REPO, MAIN_SHA, "success", "ci", "ok")
    assert requests_made(github) == [f"POST /repos/{REPO}/statuses/{MAIN_SHA}"]


def test_every_request_carries_token_api_version_and_user_agent(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    hook.create_commit_status(REPO, MAIN_SHA, "success", "ci", "ok")
    headers = github.requests[0].headers
    assert headers["authorization"] == f"token {TOKEN}"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["user-agent"].startswith("ProductPilot")


def test_a_repository_that_is_not_owner_slash_name_is_refused_before_any_request(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    with pytest.raises(ValueError, match="owner/name"):
        hook.pull_request("shop", 1)
    assert github.requests == []


# --- commit statuses and check runs -----------------------------------------------------------


def test_create_commit_status_is_one_post_without_fetching_repo_or_commit(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    hook.create_commit_status(
        REPO, MAIN_SHA, "failure", "productpilot/gate", "2 blockers", "https://pp.example/g/1"
    )
    assert requests_made(github) == [f"POST /repos/{REPO}/statuses/{MAIN_SHA}"]
    status = github.repository(REPO).statuses[0]
    assert (status["state"], status["context"], status["description"]) == (
        "failure",
        "productpilot/gate",
        "2 blockers",
    )
    assert status["target_url"] == "https://pp.example/g/1"


def test_a_commit_status_description_is_cut_to_githubs_140_characters(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    hook.create_commit_status(REPO, MAIN_SHA, "pending", "ci", "x" * 500)
    description = github.repository(REPO).statuses[0]["description"]
    assert len(description) == 140
    assert description.endswith("…")


def test_create_check_run_returns_its_id_and_sends_the_output(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    run_id = hook.create_check_run(
        REPO,
        HEAD,
        "ProductPilot gate",
        status="completed",
        conclusion="success",
        title="Ready to ship",
        summary="All criteria met.",
        text="Details",
        external_id="gate-7",
        details_url="https://pp.example/gates/7",
    )
    assert requests_made(github) == [f"POST /repos/{REPO}/check-runs"]
    run = github.repository(REPO).check_runs[run_id]
    assert (run["status"], run["conclusion"], run["external_id"]) == (
        "completed",
        "success",
        "gate-7",
    )
    assert run["output"]["title"] == "Ready to ship"
    assert run["output"]["summary"] == "All criteria met."
    assert run["details_url"] == "https://pp.example/gates/7"


def test_a_check_run_summary_is_cut_to_65535_characters(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    run_id = hook.create_check_run(
        REPO, HEAD, "gate", status="in_progress", title="t", summary="s" * 70_000
    )
    assert len(github.repository(REPO).check_runs[run_id]["output"]["summary"]) == 65535


def test_a_completed_check_run_without_a_conclusion_is_refused_before_sending(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    with pytest.raises(ValueError, match="conclusion"):
        hook.create_check_run(REPO, HEAD, "gate", status="completed", title="t", summary="s")
    assert github.requests == []


def test_update_check_run_is_one_patch_with_only_what_changed(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    run_id = hook.create_check_run(
        REPO, HEAD, "gate", status="in_progress", title="Checking", summary="..."
    )
    hook.update_check_run(
        REPO, run_id, status="completed", conclusion="failure", title="Blocked", summary="2 open"
    )
    assert requests_made(github)[1:] == [f"PATCH /repos/{REPO}/check-runs/{run_id}"]
    assert github.requests[1].json() == {
        "status": "completed",
        "conclusion": "failure",
        "output": {"title": "Blocked", "summary": "2 open"},
    }
    run = github.repository(REPO).check_runs[run_id]
    assert (run["status"], run["conclusion"], run["output"]["title"]) == (
        "completed",
        "failure",
        "Blocked",
    )


def test_update_check_run_needs_title_and_summary_together(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    with pytest.raises(ValueError, match="title and a summary"):
        hook.update_check_run(REPO, 1, title="only a title")
    assert github.requests == []


def test_find_check_run_is_none_when_the_commit_has_no_such_run(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    assert hook.find_check_run(REPO, HEAD, "ProductPilot gate") is None
    assert requests_made(github) == [f"GET /repos/{REPO}/commits/{HEAD}/check-runs"]
    assert github.requests[0].query["check_name"] == ["ProductPilot gate"]


def test_a_second_gate_verdict_updates_its_check_run_instead_of_posting_a_twin(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    def report(conclusion: Any, summary: str) -> int:
        existing = hook.find_check_run(REPO, HEAD, "ProductPilot gate")
        if existing is None:
            return hook.create_check_run(
                REPO,
                HEAD,
                "ProductPilot gate",
                status="completed",
                conclusion=conclusion,
                title=conclusion,
                summary=summary,
            )
        hook.update_check_run(
            REPO,
            existing,
            status="completed",
            conclusion=conclusion,
            title=conclusion,
            summary=summary,
        )
        return existing

    hook.create_check_run(
        REPO, HEAD, "lint", status="completed", conclusion="success", title="t", summary="s"
    )
    first = report("failure", "2 blockers")
    second = report("success", "all clear")

    runs = github.repository(REPO).check_runs
    gate_runs = [run for run in runs.values() if run["name"] == "ProductPilot gate"]
    assert second == first
    assert len(gate_runs) == 1
    assert (gate_runs[0]["conclusion"], gate_runs[0]["output"]["summary"]) == (
        "success",
        "all clear",
    )


def test_check_runs_for_ref_lists_each_run_as_a_plain_dict_in_one_request(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    hook.create_check_run(
        REPO, HEAD, "lint", status="completed", conclusion="success", title="t", summary="s"
    )
    hook.create_check_run(REPO, HEAD, "tests", status="in_progress", title="t", summary="s")
    hook.create_check_run(REPO, MAIN_SHA, "elsewhere", status="queued", title="t", summary="s")
    github.requests.clear()

    runs = hook.check_runs_for_ref(REPO, HEAD)

    assert requests_made(github) == [f"GET /repos/{REPO}/commits/{HEAD}/check-runs"]
    assert {(run["name"], run["status"], run["conclusion"]) for run in runs} == {
        ("lint", "completed", "success"),
        ("tests", "in_progress", None),
    }
    assert all(isinstance(run["id"], int) for run in runs)
    assert all(run["completed_at"] is None or "T" in run["completed_at"] for run in runs)


# --- deployments and workflows --------------------------------------------------------------


def test_create_deployment_returns_its_id_and_sends_what_was_asked(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    deployment_id = hook.create_deployment(
        REPO,
        "main",
        "production",
        description="Release 2.3",
        payload={"version": "2.3.0"},
        required_contexts=[],
    )
    assert requests_made(github) == [f"POST /repos/{REPO}/deployments"]
    asked = github.repository(REPO).deployments[deployment_id]["_request"]
    assert asked == {
        "ref": "main",
        "environment": "production",
        "description": "Release 2.3",
        "auto_merge": False,
        "payload": {"version": "2.3.0"},
        "required_contexts": [],
    }


def test_create_deployment_leaves_required_contexts_to_github_when_not_given(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    deployment_id = hook.create_deployment(REPO, "main", "staging", description="d")
    asked = github.repository(REPO).deployments[deployment_id]["_request"]
    assert "required_contexts" not in asked
    assert "payload" not in asked


def test_a_deployment_of_an_unknown_ref_is_rejected_at_once(
    github: FakeGitHub, hook: GitHubHook, sleeps: Sleeps
) -> None:
    with pytest.raises(RejectedRequestError, match="No ref found for: nope"):
        hook.create_deployment(REPO, "nope", "production", description="d")
    assert len(github.requests) == 1
    assert sleeps == []


def test_a_deployment_github_auto_merged_instead_of_creating_is_asked_again(
    github: FakeGitHub, hook: GitHubHook, sleeps: Sleeps
) -> None:
    github.fail_next(Reply(202, {"message": "Auto-merged main into feature on deployment."}))
    deployment_id = hook.create_deployment(
        REPO, "main", "production", description="d", auto_merge=True
    )
    assert deployment_id in github.repository(REPO).deployments
    assert len(github.calls(f"/repos/{REPO}/deployments", "POST")) == 2
    assert len(sleeps) == 1


def test_create_deployment_status_sends_the_log_url_as_target_url_in_one_post(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    deployment_id = hook.create_deployment(REPO, "main", "production", description="d")
    hook.create_deployment_status(
        REPO,
        deployment_id,
        "success",
        environment_url="https://shop.example",
        log_url="https://pp.example/runs/9",
        description="Deployed " + "v" * 200,
    )
    assert requests_made(github)[1:] == [f"POST /repos/{REPO}/deployments/{deployment_id}/statuses"]
    status = github.repository(REPO).deployment_statuses[deployment_id][0]
    assert status["state"] == "success"
    assert status["log_url"] == "https://pp.example/runs/9"
    assert status["environment_url"] == "https://shop.example"
    assert len(status["description"]) == 140


def test_dispatch_workflow_posts_ref_and_inputs_to_the_workflow_file(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    github.add_workflow(REPO, "release.yml")
    hook.dispatch_workflow(REPO, "release.yml", "main", {"version": "2.3.0"})
    assert requests_made(github) == [f"POST /repos/{REPO}/actions/workflows/release.yml/dispatches"]
    assert github.repository(REPO).dispatches == [
        {"workflow": ".github/workflows/release.yml", "ref": "main", "inputs": {"version": "2.3.0"}}
    ]


def test_dispatching_an_unknown_workflow_is_rejected(github: FakeGitHub, hook: GitHubHook) -> None:
    with pytest.raises(RejectedRequestError, match="404"):
        hook.dispatch_workflow(REPO, "missing.yml", "main")
    assert len(github.requests) == 1


# --- pull requests ------------------------------------------------------------------------


@pytest.fixture
def pull(github: FakeGitHub) -> int:
    return github.add_pull_request(
        REPO,
        title="Faster checkout",
        head_ref="checkout",
        head_sha=HEAD,
        labels=["release-blocker"],
        files=["src/cart.py", "docs/cart.md"],
        reviews=[("alice", "CHANGES_REQUESTED"), ("bob", "APPROVED")],
        commits=[(HEAD, "Cache the cart\n\nDetails."), ("d" * 40, "Fix typo")],
    )


def test_pull_request_is_a_plain_dict_from_one_request(
    github: FakeGitHub, hook: GitHubHook, pull: int
) -> None:
    assert hook.pull_request(REPO, pull) == {
        "number": pull,
        "title": "Faster checkout",
        "state": "open",
        "draft": False,
        "merged": False,
        "user": "octocat",
        "head_sha": HEAD,
        "head_ref": "checkout",
        "base_ref": "main",
        "labels": ["release-blocker"],
        "html_url": f"https://github.com/{REPO}/pull/{pull}",
    }
    assert requests_made(github) == [f"GET /repos/{REPO}/pulls/{pull}"]


def test_pull_request_files_reviews_and_commits_each_cost_one_request(
    github: FakeGitHub, hook: GitHubHook, pull: int
) -> None:
    files = hook.pull_request_files(REPO, pull)
    reviews = hook.pull_request_reviews(REPO, pull)
    commits = hook.pull_request_commits(REPO, pull)

    assert requests_made(github) == [
        f"GET /repos/{REPO}/pulls/{pull}/files",
        f"GET /repos/{REPO}/pulls/{pull}/reviews",
        f"GET /repos/{REPO}/pulls/{pull}/commits",
    ]
    assert [f["filename"] for f in files] == ["src/cart.py", "docs/cart.md"]
    assert files[0] == {
        "filename": "src/cart.py",
        "status": "modified",
        "additions": 3,
        "deletions": 1,
        "changes": 4,
        "previous_filename": None,
    }
    assert [(r["user"], r["state"], r["commit_id"]) for r in reviews] == [
        ("alice", "CHANGES_REQUESTED", HEAD),
        ("bob", "APPROVED", HEAD),
    ]
    assert reviews[0]["submitted_at"].startswith("2026-08-01T09:00:00")
    assert [(c["sha"], c["message"].splitlines()[0], c["author"]) for c in commits] == [
        (HEAD, "Cache the cart", "octocat"),
        ("d" * 40, "Fix typo", "octocat"),
    ]


def test_a_long_file_list_is_read_page_by_page(github: FakeGitHub, hook: GitHubHook) -> None:
    number = github.add_pull_request(REPO, title="Big", files=[f"f{i}.py" for i in range(35)])
    files = hook.pull_request_files(REPO, number)
    assert [f["filename"] for f in files] == [f"f{i}.py" for i in range(35)]
    assert requests_made(github) == [f"GET /repos/{REPO}/pulls/{number}/files"] * 2
    assert github.requests[1].query["page"] == ["2"]


def test_an_unknown_pull_request_is_a_rejected_request_that_hints_at_access(
    github: FakeGitHub, hook: GitHubHook, sleeps: Sleeps
) -> None:
    with pytest.raises(RejectedRequestError, match=r"HTTP 404 .*cannot see it") as caught:
        hook.pull_request(REPO, 999)
    assert "the GitHub credentials block 'github-bot'" in str(caught.value)
    assert len(github.requests) == 1
    assert sleeps == []


# --- security alerts ---------------------------------------------------------------------


def test_code_scanning_alerts_are_the_open_ones_with_rule_severities(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    github.add_code_scanning_alert(
        REPO, rule_id="py/sql-injection", security_severity_level="critical"
    )
    github.add_code_scanning_alert(
        REPO, rule_id="py/unused-import", severity="note", security_severity_level=None
    )
    github.add_code_scanning_alert(REPO, rule_id="py/old", state="fixed")

    alerts = hook.code_scanning_alerts(REPO)

    assert requests_made(github) == [f"GET /repos/{REPO}/code-scanning/alerts"]
    assert github.requests[0].query["state"] == ["open"]
    assert [
        (a["number"], a["rule_id"], a["severity"], a["security_severity_level"]) for a in alerts
    ] == [
        (1, "py/sql-injection", "error", "critical"),
        (2, "py/unused-import", "note", None),
    ]
    assert alerts[0]["tool"] == "CodeQL"
    assert alerts[0]["html_url"] == f"https://github.com/{REPO}/security/code-scanning/1"


def test_dependabot_alerts_name_package_and_severity(github: FakeGitHub, hook: GitHubHook) -> None:
    github.add_dependabot_alert(REPO, package="django", severity="high")
    github.add_dependabot_alert(REPO, package="requests", severity="low", state="fixed")

    alerts = hook.dependabot_alerts(REPO)

    assert requests_made(github) == [f"GET /repos/{REPO}/dependabot/alerts"]
    assert alerts == [
        {
            "number": 1,
            "state": "open",
            "severity": "high",
            "package": "django",
            "ecosystem": "pip",
            "manifest_path": "requirements.txt",
            "ghsa_id": "GHSA-0001-abcd-efgh",
            "summary": "django has a vulnerability",
            "html_url": f"https://github.com/{REPO}/security/dependabot/1",
        }
    ]
    assert [a["package"] for a in hook.dependabot_alerts(REPO, state="fixed")] == ["requests"]


# --- issues ------------------------------------------------------------------------------


def test_create_issue_then_comment_is_one_request_each(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    issue = hook.create_issue(REPO, "Signups dropped", "They fell.", ["ops"])
    hook.comment_issue(REPO, issue["number"], "Again.")

    assert issue == {
        "number": 1,
        "html_url": f"https://github.com/{REPO}/issues/1",
        "labels": ["ops"],
    }
    assert requests_made(github) == [
        f"POST /repos/{REPO}/issues",
        f"POST /repos/{REPO}/issues/1/comments",
    ]
    assert [c["body"] for c in github.repository(REPO).comments[1]] == ["Again."]
    assert "ops" in github.repository(REPO).labels  # GitHub created the missing label


def test_issue_comments_are_read_oldest_first_across_pages(github: FakeGitHub) -> None:
    github.per_page = 2
    hook = GitHubHook.from_credentials(
        GitHubCredentials(token=SecretStr(TOKEN)), base_url=github.url, paced=False
    )
    issue = hook.create_issue(REPO, "Design tokens", "")
    for text in ("one", "two", "three"):
        hook.comment_issue(REPO, issue["number"], text)
    github.requests.clear()

    comments = hook.issue_comments(REPO, issue["number"])

    assert [c["body"] for c in comments] == ["one", "two", "three"]
    assert comments[0]["html_url"].startswith(f"https://github.com/{REPO}/issues/1#issuecomment-")
    assert requests_made(github) == [f"GET /repos/{REPO}/issues/1/comments"] * 2


def test_comments_of_an_unknown_issue_are_rejected(hook: GitHubHook) -> None:
    with pytest.raises(RejectedRequestError, match="404"):
        hook.issue_comments(REPO, 99)


def test_search_open_issues_leaves_out_closed_issues_and_pull_requests(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    kept = hook.create_issue(REPO, "Open", "", ["productpilot:abc"])
    closed = hook.create_issue(REPO, "Closed", "", ["productpilot:abc"])
    hook.create_issue(REPO, "Other label", "", ["ops"])
    github.add_pull_request(REPO, title="A PR", labels=["productpilot:abc"])
    github.close_issue(REPO, closed["number"])
    github.requests.clear()

    found = hook.search_open_issues(REPO, "productpilot:abc")

    assert [issue["number"] for issue in found] == [kept["number"]]
    assert found[0]["labels"] == ["productpilot:abc"]
    assert requests_made(github) == [f"GET /repos/{REPO}/issues"]
    assert github.requests[0].query == {"state": ["open"], "labels": ["productpilot:abc"]}


# --- failures ----------------------------------------------------------------------------


def test_a_refused_token_is_a_credential_error_naming_the_block_after_one_request(
    github: FakeGitHub, sleeps: Sleeps
) -> None:
    hook = make_hook(github, sleeps, token="ghp_revoked")
    with pytest.raises(
        CredentialError, match="the GitHub credentials block 'github-bot'"
    ) as caught:
        hook.create_issue(REPO, "t", "b")
    assert "401" in str(caught.value)
    assert "Bad credentials" in str(caught.value)
    assert len(github.requests) == 1
    assert sleeps == []


def test_a_403_without_rate_limit_is_a_credential_error(
    github: FakeGitHub, hook: GitHubHook, sleeps: Sleeps
) -> None:
    github.fail_next(Reply(403, {"message": "Resource not accessible by personal access token"}))
    with pytest.raises(CredentialError, match="not accessible by personal access token"):
        hook.create_check_run(REPO, HEAD, "gate", status="queued", title="t", summary="s")
    assert len(github.requests) == 1
    assert sleeps == []


def test_a_429_waits_its_retry_after_then_succeeds(
    github: FakeGitHub, hook: GitHubHook, sleeps: Sleeps
) -> None:
    github.fail_next(Reply(429, {"message": "Too Many Requests"}, headers={"Retry-After": "7"}))
    hook.create_commit_status(REPO, MAIN_SHA, "success", "ci", "ok")
    assert sleeps == [7.0]
    assert len(github.calls(f"/repos/{REPO}/statuses/{MAIN_SHA}", "POST")) == 2
    assert len(github.repository(REPO).statuses) == 1


def rate_limited(reset_in: float) -> Reply:
    return Reply(
        403,
        {"message": "API rate limit exceeded for user ID 1.", "documentation_url": "https://docs"},
        headers={
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-used": "5000",
            "x-ratelimit-reset": str(int(NOW + reset_in)),
        },
    )


def test_an_exhausted_rate_limit_is_raised_with_the_wait_until_its_reset(
    github: FakeGitHub, hook: GitHubHook, sleeps: Sleeps
) -> None:
    github.fail_next(rate_limited(reset_in=40))
    with pytest.raises(RateLimitedError) as caught:
        hook.pull_request_files(REPO, 1)
    assert caught.value.retry_after == 40
    assert len(github.requests) == 1  # 40 s is beyond the policy's 30 s: the outbox comes back
    assert sleeps == []


def test_a_rate_limit_that_resets_soon_is_waited_for(
    github: FakeGitHub, hook: GitHubHook, sleeps: Sleeps
) -> None:
    github.fail_next(rate_limited(reset_in=5))
    hook.create_commit_status(REPO, MAIN_SHA, "success", "ci", "ok")
    assert sleeps == [5.0]
    assert len(github.repository(REPO).statuses) == 1


def test_a_secondary_rate_limit_without_headers_waits_at_least_a_minute(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    github.fail_next(
        Reply(
            403, {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}
        )
    )
    with pytest.raises(RateLimitedError) as caught:
        hook.create_issue(REPO, "t", "b")
    assert caught.value.retry_after == 60


def test_server_errors_are_retried_with_backoff_until_success(
    github: FakeGitHub, hook: GitHubHook, sleeps: Sleeps
) -> None:
    github.fail_next(Reply(502, {"message": "Server Error"}), Reply(503))
    issue = hook.create_issue(REPO, "Signups dropped", "b")
    assert issue["number"] == 1
    assert len(github.calls(f"/repos/{REPO}/issues", "POST")) == 3
    assert len(sleeps) == 2
    assert 0 < sleeps[0] <= 0.5 < sleeps[1] <= 1.0  # doubled, with jitter below the ceiling


def test_server_errors_beyond_the_attempts_are_a_transient_error(
    github: FakeGitHub, hook: GitHubHook, sleeps: Sleeps
) -> None:
    github.fail_next(Reply(500), Reply(500), Reply(500))
    with pytest.raises(TransientVendorError, match="HTTP 500"):
        hook.check_runs_for_ref(REPO, HEAD)
    assert len(github.requests) == 3
    assert len(sleeps) == 2


def test_a_reply_that_comes_too_late_is_a_transient_error(
    github: FakeGitHub, sleeps: Sleeps
) -> None:
    github.fail_next(Reply(200, [], delay=1.5))
    with pytest.raises(TransientVendorError, match="no answer in time"):
        make_hook(github, sleeps, attempts=1, timeout=1).pull_request_files(REPO, 1)


def test_a_refused_connection_is_a_transient_error(github: FakeGitHub, sleeps: Sleeps) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    hook = make_hook(github, sleeps, attempts=2, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientVendorError, match="cannot connect"):
        hook.create_issue(REPO, "t", "b")
    assert len(sleeps) == 1


def test_a_validation_failure_is_rejected_at_once_with_githubs_field_errors(
    github: FakeGitHub, hook: GitHubHook, sleeps: Sleeps
) -> None:
    github.fail_next(
        Reply(
            422,
            {
                "message": "Validation Failed",
                "errors": [{"resource": "Issue", "code": "custom", "message": "title is too long"}],
            },
        )
    )
    with pytest.raises(
        RejectedRequestError, match=r"HTTP 422 Validation Failed \(title is too long\)"
    ):
        hook.create_issue(REPO, "t", "b")
    assert len(github.requests) == 1
    assert sleeps == []


# --- the fake's table can fail ------------------------------------------------------------


def recorded(method: str, path: str, body: Any = None, **headers: str) -> Recorded:
    base = {
        "authorization": f"token {TOKEN}",
        "accept": "application/vnd.github+json",
        "user-agent": "tests",
        "content-type": "application/json",
    }
    return Recorded(
        method,
        path,
        {},
        {**base, **headers},
        json.dumps(body).encode() if body is not None else b"",
    )


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (recorded("POST", f"/repos/{REPO}/statuses/{MAIN_SHA}", {"state": "ok"}), "state='ok'"),
        (
            recorded("POST", f"/repos/{REPO}/statuses/{MAIN_SHA}", {"context": "ci"}),
            "'state' is missing",
        ),
        (
            recorded(
                "POST",
                f"/repos/{REPO}/check-runs",
                {"name": "g", "head_sha": HEAD, "status": "completed"},
            ),
            "conclusion is required",
        ),
        (
            recorded(
                "POST",
                f"/repos/{REPO}/check-runs",
                {"name": "g", "head_sha": HEAD, "conclusion": "passed"},
            ),
            "conclusion='passed'",
        ),
        (
            recorded("PATCH", f"/repos/{REPO}/check-runs/1", {"output": {"title": "t"}}),
            "output.summary is required",
        ),
        (
            recorded(
                "PATCH",
                f"/repos/{REPO}/check-runs/1",
                {"output": {"title": "t", "summary": "s" * 65536}},
            ),
            "longer than 65535",
        ),
        (
            recorded("POST", f"/repos/{REPO}/deployments/1/statuses", {"state": "done"}),
            "state='done'",
        ),
        (
            recorded("POST", f"/repos/{REPO}/actions/workflows/r.yml/dispatches", {}),
            "'ref' is missing",
        ),
        (recorded("POST", f"/repos/{REPO}/issues", {"title": "t", "labelz": []}), "not documented"),
        (recorded("POST", f"/repos/{REPO}/issues", {"title": 3}), "must be string"),
        (recorded("POST", f"/repos/{REPO}/issues", {"title": "t", "labels": [7]}), "labels must"),
        (
            recorded("GET", f"/repos/{REPO}/issues", **{"x-github-api-version": "2019-01-01"}),
            "not a supported version",
        ),
        (recorded("GET", f"/repos/{REPO}/issues", authorization=""), "Authorization"),
        (recorded("GET", f"/repos/{REPO}/issues", accept="text/html"), "Accept"),
        (recorded("GET", f"/repos/{REPO}/pulls/1/diff"), "no such operation"),
    ],
)
def test_the_fake_refuses_what_github_documents_as_invalid(
    request_: Recorded, problem: str
) -> None:
    assert any(problem in found for found in validate(request_)), validate(request_)


def test_the_fake_refuses_undocumented_query_values() -> None:
    request_ = Recorded(
        "GET",
        f"/repos/{REPO}/dependabot/alerts",
        {"state": ["open,gone"], "per_page": ["x"]},
        recorded("GET", "/").headers,
        b"",
    )
    problems = validate(request_)
    assert any("state='gone'" in problem for problem in problems)
    assert any("'per_page' must be an integer" in problem for problem in problems)
