"""The development flows end to end, driven by real GitHub webhook payloads: a failing check
fails the gate, which is posted as a check run on the GitHub fake and told in Slack and Jira;
the green re-run passes it, updating the same check run and replying in the same Slack thread;
a pull request opened moves its Jira issue, once however often the webhook arrives.

Real clients (PyGithub, slack-sdk, jira) against the fakes, which check every request against
the vendor's API description; Blocks are saved on the session's Prefect test server and
loaded by the flows as in production.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect_github import GitHubCredentials
from prefect_slack import SlackCredentials
from sqlalchemy import select

from flows.development import quality_gate_flow, replay_pull_requests, workflow_transitions_flow
from integrations.github.client import GitHubHook
from productpilot.db.models import Notification, QualityGateResult
from productpilot.db.store import Store
from productpilot.products import create_product
from productpilot.quality.history import latest_verdict
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from productpilot.webhooks import record_delivery
from tests.integrations.github.fake import TOKEN as GITHUB_TOKEN
from tests.integrations.github.fake import FakeGitHub
from tests.integrations.jira.fake import FakeJira
from tests.integrations.shared_data import GITHUB_WEBHOOKS, load, shared_dir
from tests.integrations.slack.fake import CHANNELS, FakeSlack, running_fake_slack
from tests.integrations.slack.fake import TOKEN as SLACK_TOKEN

REPOSITORY = "Codertocat/Hello-World"  # the repository of octokit's example payloads
GATE = "ProductPilot quality gates"
ALERTS = CHANNELS["product-alerts"]


def payload(event: str, name: str) -> dict[str, Any]:
    return load(shared_dir(GITHUB_WEBHOOKS) / event / name)


@pytest.fixture
def vendors() -> Iterator[tuple[FakeGitHub, FakeSlack, FakeJira]]:
    with FakeGitHub() as github, running_fake_slack() as slack, FakeJira(("PAY",)) as jira:
        github.add_repository(REPOSITORY)
        yield github, slack, jira
        assert github.violations == []
        assert jira.violations == []


def configured_product(
    store: Store, github: FakeGitHub, slack: FakeSlack, jira: FakeJira, name: str
) -> tuple[int, int]:
    suffix = name.lower().replace(" ", "-")
    GitHubCredentials(token=GITHUB_TOKEN).save(f"{suffix}-github", overwrite=True)
    SlackCredentials(token=SLACK_TOKEN).save(f"{suffix}-slack", overwrite=True)
    jira.credentials().save(f"{suffix}-jira", overwrite=True)
    tenant, _ = create_tenant(store, name)
    configuration = {
        "gates": [{"name": "ci", "kind": "required_checks"}],
        "development": {
            "workflow_rules": [
                {"event": "pr_opened", "targets": {"jira": "In Progress"}},
                {"event": "pr_merged", "targets": {"jira": "Done"}},
            ]
        },
        "integrations": {
            "github_repository": REPOSITORY,
            "jira_project": "PAY",
            "blocks": {
                "github": f"{suffix}-github",
                "slack": f"{suffix}-slack",
                "jira": f"{suffix}-jira",
            },
            "api_urls": {"github": github.url, "slack": slack.base_url},
        },
        "notification_routes": [
            {
                "kinds": ["productpilot.gate.*"],
                "channel": "slack",
                "recipients": ["#product-alerts"],
                "group_wait_minutes": 0,
            },
            {"kinds": ["productpilot.gate.*"], "channel": "jira", "recipients": ["PAY"]},
        ],
    }
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, name, configuration=configuration)
        return tenant.id, product.id


def deliver(store: Store, tenant_id: int, product_id: int, delivery_id: str, kind: str, body: dict):
    record_delivery(
        store,
        tenant_id=tenant_id,
        product_id=product_id,
        vendor="github",
        delivery_id=delivery_id,
        kind=kind,
        payload=body,
        headers={},
    )


def test_a_failing_check_fails_the_gate_and_the_green_rerun_resolves_it_in_place(
    home: Path, vendors: tuple[FakeGitHub, FakeSlack, FakeJira]
) -> None:
    github, slack, jira = vendors
    store = open_store()
    tenant_id, product_id = configured_product(store, github, slack, jira, "Gate Loop")
    suite = payload("check_suite", "completed.payload.json")
    sha = suite["check_suite"]["head_sha"]
    hook = GitHubHook.from_credentials(
        GitHubCredentials(token=GITHUB_TOKEN), base_url=github.url, paced=False
    )
    hook.create_check_run(
        REPOSITORY, sha, "lint", status="completed", conclusion="success", title="ok", summary="ok"
    )
    hook.create_check_run(
        REPOSITORY,
        sha,
        "test",
        status="completed",
        conclusion="failure",
        title="1 failed",
        summary="test_checkout failed",
    )
    failing = copy.deepcopy(suite)
    failing["check_suite"]["conclusion"] = "failure"
    deliver(store, tenant_id, product_id, "suite-1", "check_suite", failing)

    first = quality_gate_flow(f"productpilot.product.{product_id}", "suite-1")

    assert first["outcome"] == "failed"
    assert first["check_run"]["action"] == "created"
    [posted] = [r for r in github.repository(REPOSITORY).check_runs.values() if r["name"] == GATE]
    assert (posted["status"], posted["conclusion"]) == ("completed", "failure")
    assert "| ci | ❌ failed | 1 check(s) failed |" in posted["output"]["summary"]
    [alert] = slack.messages(ALERTS)
    assert "Quality gate failed on PR #2" in alert.text
    [ticket] = jira.issues.values()
    assert ticket.summary.startswith("Quality gate failed on PR #2")
    with store.tenant_session(tenant_id) as session:
        told = {(n.channel, n.kind, n.status) for n in session.scalars(select(Notification))}
    assert told == {
        ("slack", "productpilot.gate.failed", "sent"),
        ("jira", "productpilot.gate.failed", "sent"),
    }

    hook.create_check_run(  # the re-run of "test" passes
        REPOSITORY, sha, "test", status="completed", conclusion="success", title="ok", summary="ok"
    )
    deliver(store, tenant_id, product_id, "suite-2", "check_suite", suite)

    second = quality_gate_flow(f"productpilot.product.{product_id}", "suite-2")

    assert (second["outcome"], second["previous_outcome"]) == ("passed", "failed")
    assert second["check_run"] == {"check_run_id": posted["id"], "action": "updated"}
    gate_runs = [r for r in github.repository(REPOSITORY).check_runs.values() if r["name"] == GATE]
    assert [r["id"] for r in gate_runs] == [posted["id"]]  # the same check run, now green
    assert gate_runs[0]["conclusion"] == "success"
    [alert] = slack.messages(ALERTS)  # no second top-level message...
    [reply] = alert.replies  # ...the recovery is told in the alert's thread
    assert "passes again on PR #2" in reply.text
    [ticket] = jira.issues.values()
    assert len(ticket.comments) == 1  # the open ticket hears of it too
    with store.tenant_session(tenant_id) as session:
        rows = list(session.scalars(select(QualityGateResult).order_by(QualityGateResult.id)))
        assert [(r.subject, r.passed) for r in rows] == [(sha, False), (sha, True)]
        assert rows[1].details["check_run_id"] == posted["id"]
        assert {run["name"] for run in rows[1].details["facts"]["check_runs"]} == {"lint", "test"}
        verdict = latest_verdict(session, product_id, sha)
    assert verdict is not None
    assert verdict.passed


def test_a_pull_request_opened_moves_its_issue_once_however_often_it_arrives(
    home: Path, vendors: tuple[FakeGitHub, FakeSlack, FakeJira]
) -> None:
    github, slack, jira = vendors
    store = open_store()
    tenant_id, product_id = configured_product(store, github, slack, jira, "Transitions")
    issue = jira.add_issue("PAY", "Update the README")
    opened = payload("pull_request", "opened.payload.json")
    opened["pull_request"]["head"]["ref"] = f"{issue.key.lower()}-changes"  # Linear-style
    number = github.add_pull_request(
        REPOSITORY, title=opened["pull_request"]["title"], commits=[("b" * 40, "Tidy README")]
    )
    opened["number"] = opened["pull_request"]["number"] = number  # the fake's numbering
    for delivery_id in ("opened-1", "opened-2"):  # the repository and organisation hooks
        deliver(store, tenant_id, product_id, delivery_id, "pull_request", opened)

    first = workflow_transitions_flow(f"productpilot.product.{product_id}", "opened-1")
    again = workflow_transitions_flow(f"productpilot.product.{product_id}", "opened-2")

    assert first["planned"] == [{"tool": "jira", "issue": issue.key, "status": "In Progress"}]
    assert (first["recorded"], again["recorded"], again["duplicates"]) == (1, 0, 1)
    assert jira.issue(issue.key).status == "In Progress"
    with store.tenant_session(tenant_id) as session:
        [moved] = session.scalars(select(Notification))
    assert (moved.channel, moved.kind, moved.status) == (
        "jira",
        "productpilot.workflow.transition",
        "sent",
    )


def test_recorded_pull_requests_replay_offline_with_verdicts_stored(home: Path) -> None:
    store = open_store()
    tenant, _ = create_tenant(store, "Replay Co")
    with store.tenant_session(tenant.id) as session:
        product = create_product(
            session,
            "Web App",
            configuration={
                "gates": [{"name": "ci", "kind": "required_checks"}],
                "integrations": {"github_repository": REPOSITORY, "jira_project": "PAY"},
                "development": {
                    "workflow_rules": [{"event": "pr_opened", "targets": {"jira": "In Review"}}]
                },
            },
        )
        product_id = product.id
    opened = payload("pull_request", "opened.payload.json")
    opened["pull_request"]["title"] = "PAY-7: " + opened["pull_request"]["title"]
    check = payload("check_run", "completed.payload.json")

    results = replay_pull_requests(
        product_id,
        [{"kind": "pull_request", "payload": opened}, {"kind": "check_run", "payload": check}],
    )

    assert [r["gate"]["outcome"] for r in results] == ["pending", "passed"]
    assert results[1]["gate"]["check_run"] == {
        "skipped": "no github block: the verdict is stored only"
    }
    assert results[0]["moved"]["recorded"] == 1
    with store.tenant_session(tenant.id) as session:
        [held] = session.scalars(select(Notification))
    assert (held.channel, held.recipient, held.status) == ("jira", "PAY-7", "held")
