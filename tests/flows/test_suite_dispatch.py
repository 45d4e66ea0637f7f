"""The test-dispatch flow against the GitHub fake: a real labelled-PR or deployment webhook,
as stored, dispatches the configured suites once, however often it is delivered."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect_github import GitHubCredentials
from pydantic import SecretStr
from sqlalchemy import select

from flows.suite_dispatch import dispatch_test_suites_flow
from productpilot.db.models import Notification, Plan, Product
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from productpilot.webhooks.deliveries import record_delivery
from tasks import suite_dispatch as tasks_module
from tests.fakes.server import serving
from tests.integrations.github.fake import TOKEN, FakeGitHub
from tests.integrations.shared_data import GITHUB_WEBHOOKS, load, shared_dir

REPOSITORY = "Codertocat/Hello-World"  # the repository of the octokit example payloads
PR_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
DEPLOYED_SHA = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
BLOCK = "github-test-dispatch"
RULES = [
    {
        "name": "integration",
        "workflow": "integration.yml",
        "on_labels": ["bug"],  # the label the example payload adds
        "inputs": {"commit": "{sha}", "pull_request": "{number}"},
    },
    {
        "name": "performance",
        "workflow": "performance.yml",
        "on_deployment_environments": ["production"],
        "inputs": {"environment": "{environment}"},
    },
]
OUTBOX = {"channel": "outbox", "recipients": ["qa"], "group_wait_minutes": 0}


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.add_repository(REPOSITORY, branches={"master": DEPLOYED_SHA, "changes": PR_SHA})
    fake.add_workflow(REPOSITORY, "integration.yml")
    fake.add_workflow(REPOSITORY, "performance.yml")
    with serving(fake):
        yield fake
    assert fake.violations == []


@pytest.fixture(autouse=True)
def unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    # PyGithub's pauses between writes (GitHub's advice) only slow a fake down.
    monkeypatch.setattr(tasks_module, "github_hook_options", {"paced": False})


def product_with(github: FakeGitHub | None, rules: list[dict[str, Any]] = RULES) -> int:
    integrations: dict[str, Any] = {"github_repository": REPOSITORY}
    if github is not None:
        GitHubCredentials(token=SecretStr(TOKEN)).save(BLOCK, overwrite=True)
        integrations |= {"blocks": {"github": BLOCK}, "api_urls": {"github": github.url}}
    store = open_store()
    tenant, _ = create_tenant(store, "Dispatch Co")
    with store.tenant_session(tenant.id) as session:
        product = create_product(
            session,
            "Hello World",
            configuration={
                "integrations": integrations,
                "design_and_testing": {"test_dispatch": {"rules": rules}},
                "notification_routes": [OUTBOX],
            },
        )
        return product.id


def deliver(product_id: int, event: str, body: dict[str, Any], delivery_id: str) -> str:
    """Store the delivery as the webhook receiver does; its id (what the trigger passes)."""
    store = open_store()
    with store.system_session() as session:
        tenant_id = session.get(Product, product_id).tenant_id
    recorded = record_delivery(
        store,
        tenant_id=tenant_id,
        product_id=product_id,
        vendor="github",
        delivery_id=delivery_id,
        kind=event,
        payload=body,
        headers={"x-github-event": event},
    )
    return recorded.delivery.delivery_id


def run(product_id: int, delivery_id: str) -> dict[str, Any]:
    return dispatch_test_suites_flow(
        product=f"productpilot.product.{product_id}", delivery_id=delivery_id
    )


def dispatch_records(product_id: int) -> list[Plan]:
    with open_store().system_session() as session:
        return list(
            session.scalars(
                select(Plan).where(Plan.product_id == product_id, Plan.kind == "test-dispatch")
            )
        )


def test_a_labelled_pull_request_dispatches_its_suite_once(home: Path, github: FakeGitHub) -> None:
    product_id = product_with(github)
    body = load(shared_dir(GITHUB_WEBHOOKS) / "pull_request" / "labeled.payload.json")
    delivery = deliver(product_id, "pull_request", body, "pr-labeled-1")

    first = run(product_id, delivery)
    again = run(product_id, delivery)  # the trigger fired twice for one delivery

    assert github.repository(REPOSITORY).dispatches == [
        {
            "workflow": ".github/workflows/integration.yml",
            "ref": "changes",
            "inputs": {"commit": PR_SHA, "pull_request": "2"},
        }
    ]
    assert [d["workflow"] for d in first["dispatched"]] == ["integration.yml"]
    assert (again["dispatched"], [d["workflow"] for d in again["duplicates"]]) == (
        [],
        ["integration.yml"],
    )
    [record] = dispatch_records(product_id)
    assert record.status == "dispatched"  # outstanding until its workflow_run completes
    assert record.parameters["source"] == {"vendor": "github", "delivery": delivery}


def test_the_completed_workflow_run_of_a_dispatch_settles_it(
    home: Path, github: FakeGitHub
) -> None:
    product_id = product_with(github)
    body = load(shared_dir(GITHUB_WEBHOOKS) / "pull_request" / "labeled.payload.json")
    run(product_id, deliver(product_id, "pull_request", body, "pr-labeled-1"))
    # GitHub's workflow_run webhook for that dispatch (the example payload, as our run).
    completed = load(shared_dir(GITHUB_WEBHOOKS) / "workflow_run" / "completed.payload.json")
    completed["workflow_run"].update(
        event="workflow_dispatch",
        path=".github/workflows/integration.yml",
        head_sha=PR_SHA,
        head_branch="changes",
        conclusion="failure",
    )
    completed["repository"]["full_name"] = REPOSITORY
    completed["workflow_run"]["repository"]["full_name"] = REPOSITORY
    result = dispatch_test_suites_flow(
        product=f"productpilot.product.{product_id}",
        delivery_id=deliver(product_id, "workflow_run", completed, "run-completed-1"),
        event="productpilot.github.workflow_run.completed",
    )

    assert [(s["workflow"], s["conclusion"]) for s in result["completed"]] == [
        ("integration.yml", "failure")
    ]
    [record] = dispatch_records(product_id)
    assert (record.status, record.result["conclusion"]) == ("completed", "failure")


def test_a_redelivery_under_another_id_is_still_one_dispatch(
    home: Path, github: FakeGitHub
) -> None:
    product_id = product_with(github)
    body = load(shared_dir(GITHUB_WEBHOOKS) / "pull_request" / "labeled.payload.json")
    run(product_id, deliver(product_id, "pull_request", body, "pr-labeled-1"))
    # The same label set again, a new delivery: the commit was tested already.
    run(product_id, deliver(product_id, "pull_request", body, "pr-labeled-2"))
    # A new commit pushed to the labelled pull request is tested.
    pushed = copy.deepcopy(body)
    pushed["action"] = "synchronize"
    pushed["pull_request"]["head"]["sha"] = "1" * 40
    run(product_id, deliver(product_id, "pull_request", pushed, "pr-sync-1"))

    commits = [d["inputs"]["commit"] for d in github.repository(REPOSITORY).dispatches]
    assert commits == [PR_SHA, "1" * 40]


def test_a_successful_deployment_dispatches_the_environments_suite(
    home: Path, github: FakeGitHub
) -> None:
    product_id = product_with(github)
    body = load(shared_dir(GITHUB_WEBHOOKS) / "deployment_status" / "payload.json")
    report = run(product_id, deliver(product_id, "deployment_status", body, "deploy-1"))

    assert github.repository(REPOSITORY).dispatches == [
        {
            "workflow": ".github/workflows/performance.yml",
            "ref": "master",
            "inputs": {"environment": "production"},
        }
    ]
    assert report["dispatched"][0]["reason"] == "deployment to production (success)"


def test_the_deployment_event_itself_starts_nothing_by_default(
    home: Path, github: FakeGitHub
) -> None:
    product_id = product_with(github)
    body = load(shared_dir(GITHUB_WEBHOOKS) / "deployment" / "payload.json")
    report = run(product_id, deliver(product_id, "deployment", body, "deploy-created-1"))
    assert github.repository(REPOSITORY).dispatches == []
    assert report["reason"] == "no dispatch rule applies to deployment to production (created)"


def test_a_refused_dispatch_is_recorded_and_routed_as_a_warning(
    home: Path, github: FakeGitHub
) -> None:
    missing = [{**RULES[0], "workflow": "missing.yml"}]
    product_id = product_with(github, missing)
    body = load(shared_dir(GITHUB_WEBHOOKS) / "pull_request" / "labeled.payload.json")

    report = run(product_id, deliver(product_id, "pull_request", body, "pr-labeled-1"))

    assert "HTTP 404" in report["failed"][0]["error"]
    [record] = dispatch_records(product_id)
    assert record.status == "failed"
    with open_store().system_session() as session:
        [note] = session.scalars(select(Notification).where(Notification.product_id == product_id))
    assert note.kind == "productpilot.test_dispatch.failed"
    assert note.subject == f"Could not start missing.yml for {PR_SHA[:7]} in {REPOSITORY}"


def test_without_a_github_block_nothing_is_dispatched_and_the_reason_is_given(
    home: Path,
) -> None:
    product_id = product_with(None)
    body = load(shared_dir(GITHUB_WEBHOOKS) / "pull_request" / "labeled.payload.json")
    report = run(product_id, deliver(product_id, "pull_request", body, "pr-labeled-1"))
    assert report["reason"].startswith("the product has no GitHub credentials block")
    assert report["skipped"][0]["workflow"] == "integration.yml"
    assert dispatch_records(product_id) == []


def test_an_unknown_delivery_dispatches_nothing(home: Path) -> None:
    product_id = product_with(None)
    assert run(product_id, "never-stored")["reason"].startswith("no stored GitHub delivery")
