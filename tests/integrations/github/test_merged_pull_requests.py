"""GitHubHook.merged_pull_requests: what release notes are written from, against FakeGitHub
(every request checked against GitHub's documented list-pull-requests operation)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prefect_github import GitHubCredentials
from pydantic import SecretStr

from integrations.github.client import GitHubHook
from tests.fakes.server import serving
from tests.integrations.github.fake import TOKEN, FakeGitHub

REPO = "acme/shop"
SINCE = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub(per_page=2)
    fake.add_repository(REPO, branches={"main": "a" * 40, "legacy": "b" * 40})
    with serving(fake):
        yield fake


@pytest.fixture
def hook(github: FakeGitHub) -> GitHubHook:
    return GitHubHook.from_credentials(
        GitHubCredentials(token=SecretStr(TOKEN)), base_url=github.url, paced=False
    )


def test_only_pull_requests_merged_since_the_date_are_listed_newest_first(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    old = github.add_pull_request(
        REPO, title="Old", merged=True, merged_at="2026-10-20T10:00:00Z", labels=["bug"]
    )
    unmerged = github.add_pull_request(REPO, title="Closed unmerged", merged=False)
    github.repository(REPO).pulls[unmerged]["state"] = "closed"
    first = github.add_pull_request(
        REPO, title="Export", merged=True, merged_at="2026-11-03T10:00:00Z", labels=["feature"]
    )
    second = github.add_pull_request(
        REPO, title="Fix login", merged=True, merged_at="2026-11-20T10:00:00Z", user="ana"
    )

    merged = hook.merged_pull_requests(REPO, since=SINCE)

    assert [pull["number"] for pull in merged] == [second, first]
    assert old not in [pull["number"] for pull in merged]
    assert merged[0] == {
        "number": second,
        "title": "Fix login",
        "labels": [],
        "user": "ana",
        "html_url": f"https://github.com/{REPO}/pull/{second}",
        "merged_at": "2026-11-20T10:00:00+00:00",
        "base_ref": "main",
        "merge_commit_sha": None,
    }
    listed = [r for r in github.requests if r.path == f"/repos/{REPO}/pulls"]
    assert listed[0].query["state"] == ["closed"]
    assert listed[0].query["sort"] == ["updated"]


def test_reading_stops_at_the_first_page_older_than_the_date(
    github: FakeGitHub, hook: GitHubHook
) -> None:
    for day in range(1, 7):
        github.add_pull_request(
            REPO, title=f"Old {day}", merged=True, merged_at=f"2026-10-0{day}T10:00:00Z"
        )
    recent = github.add_pull_request(
        REPO, title="Recent", merged=True, merged_at="2026-11-02T10:00:00Z"
    )

    assert [pull["number"] for pull in hook.merged_pull_requests(REPO, since=SINCE)] == [recent]
    # Seven pull requests, two a page: the first page already reaches before the date.
    assert len([r for r in github.requests if r.path == f"/repos/{REPO}/pulls"]) == 1


def test_a_base_branch_narrows_the_list(github: FakeGitHub, hook: GitHubHook) -> None:
    github.add_pull_request(REPO, title="Main", merged=True, merged_at="2026-11-02T10:00:00Z")
    legacy = github.add_pull_request(
        REPO, title="Backport", merged=True, merged_at="2026-11-02T11:00:00Z", base_ref="legacy"
    )

    merged = hook.merged_pull_requests(REPO, since=SINCE, base="legacy")

    assert [pull["number"] for pull in merged] == [legacy]
