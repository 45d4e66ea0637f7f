"""The release and rollback flows against FakeGitHub (every request checked against GitHub's
documented REST shapes): deployments and their statuses, the quality gates deciding
promotion, the approval pause, release notes in the outbox, the changelog, the rollback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import ArtifactSort
from prefect.flow_runs import resume_flow_run
from prefect_github import GitHubCredentials
from pydantic import SecretStr
from sqlalchemy import select

import tasks.releases
from flows.releases import release_flow, rollback_flow
from integrations.github.client import GitHubHook
from productpilot.db.models import Launch, Notification
from productpilot.db.store import Store
from productpilot.products import create_product
from productpilot.products.configuration import IntegrationMapping
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from tests.fakes.server import Reply, serving
from tests.integrations.github.fake import TOKEN, FakeGitHub
from tests.productpilot.quality.recorded import record_gate_verdict

REPO = "acme/shop"
SHA_1 = "1" * 40
SHA_2 = "2" * 40
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
ROUTES = [
    {
        "kinds": ["productpilot.release.notes.customers"],
        "channel": "outbox",
        "recipients": ["customers@shop.example"],
        "group_wait_minutes": 0,
    },
    {
        "kinds": ["productpilot.release.notes.internal", "productpilot.release.blocked"],
        "channel": "outbox",
        "recipients": ["#eng"],
        "group_wait_minutes": 0,
    },
    {"severities": ["critical"], "channel": "outbox", "recipients": ["#incidents"]},
]


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """The product's repository on FakeGitHub; the release tasks' hook points at it."""
    fake = FakeGitHub()
    fake.add_repository(REPO, branches={"main": SHA_2})
    fake.add_pull_request(
        REPO, title="Export to CSV", merged=True, merged_at="2026-11-10T10:00:00Z",
        labels=["enhancement"], user="ana",
    )  # fmt: skip
    fake.add_pull_request(
        REPO, title="Fix login loop", merged=True, merged_at="2026-11-12T10:00:00Z",
        labels=["bug"],
    )  # fmt: skip
    fake.add_pull_request(
        REPO, title="Bump ruff", merged=True, merged_at="2026-11-13T10:00:00Z",
        labels=["dependencies"],
    )  # fmt: skip
    fake.add_pull_request(
        REPO, title="Rename a variable", merged=True, merged_at="2026-11-14T10:00:00Z",
        labels=["skip-changelog"],
    )  # fmt: skip
    fake.add_pull_request(REPO, title="Old work", merged=True, merged_at="2026-10-01T10:00:00Z")
    fake.add_issue(
        REPO, "Typo on pricing page", labels=["bug"], state="closed", state_reason="completed",
        closed_at="2026-11-15T10:00:00Z",
    )  # fmt: skip
    fake.add_issue(
        REPO, "Dark mode", labels=["enhancement"], state="closed", state_reason="not_planned",
        closed_at="2026-11-16T10:00:00Z",
    )  # fmt: skip

    def hook(mapping: IntegrationMapping, load: Any = None) -> GitHubHook | None:
        if not mapping.github_repository or "github" not in mapping.blocks:
            return None
        return GitHubHook.from_credentials(
            GitHubCredentials(token=SecretStr(TOKEN)), base_url=fake.url, paced=False
        )

    monkeypatch.setattr(tasks.releases, "github_hook", hook)
    with serving(fake):
        yield fake


def _product(store: Store, *, releases: dict | None = None, github: bool = True) -> tuple[int, int]:
    tenant, _ = create_tenant(store, f"Shop Co {time.monotonic_ns()}")
    configuration: dict[str, Any] = {
        "notification_routes": ROUTES,
        "gates": [{"name": "checks-green", "kind": "required_checks"}],
        "releases": releases or {},
    }
    if github:
        configuration["integrations"] = {
            "github_repository": REPO,
            "blocks": {"github": "github-bot"},
        }
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Shop", configuration=configuration)
        return tenant.id, product.id


def _verdict(store: Store, tenant_id: int, product_id: int, sha: str, passed: bool) -> None:
    with store.tenant_session(tenant_id) as session:
        record_gate_verdict(session, product_id, sha, "passed" if passed else "failed")


def _notifications(store: Store, tenant_id: int) -> list[Notification]:
    with store.tenant_session(tenant_id) as session:
        rows = list(session.scalars(select(Notification).order_by(Notification.id)))
        session.expunge_all()
        return rows


def _deployments(github: FakeGitHub) -> list[tuple[str, str, list[str]]]:
    repository = github.repository(REPO)
    return [
        (d["environment"], d["ref"], [s["state"] for s in repository.deployment_statuses[i]])
        for i, d in repository.deployments.items()
    ]


def test_a_release_whose_gates_passed_goes_to_production_with_notes_and_changelog(
    home: Path, github: FakeGitHub
) -> None:
    store = open_store()
    tenant_id, product_id = _product(store)
    _verdict(store, tenant_id, product_id, SHA_2, passed=True)

    summary = release_flow(str(product_id), "v1.2.0", ref="main", sha=SHA_2, since=SINCE)

    assert summary["status"] == "released"
    assert _deployments(github) == [
        ("staging", SHA_2, ["in_progress", "success"]),
        ("production", SHA_2, ["in_progress", "success"]),
    ]
    assert summary["deployments"] == {
        "staging": ["in_progress", "success"],
        "production": ["in_progress", "success"],
    }
    assert summary["decision"]["reason"] == "quality gates passed: All 1 gate passed"
    asked = next(iter(github.repository(REPO).deployments.values()))["_request"]
    assert asked["required_contexts"] == []
    assert asked["payload"]["version"] == "1.2.0"

    by_recipient = {n.recipient: n for n in _notifications(store, tenant_id)}
    customers = by_recipient["customers@shop.example"]
    internal = by_recipient["#eng"]
    assert customers.kind == "productpilot.release.notes.customers"
    assert customers.subject == "Shop 1.2.0 is out: Features 1, Fixes 2"
    assert customers.body["text"] == (
        "# Shop 1.2.0 (" + datetime.now(UTC).date().isoformat() + ")\n\n"
        "## Features\n\n- Export to CSV\n\n"
        "## Fixes\n\n- Fix login loop\n- Typo on pricing page\n"
    )
    assert "Bump ruff" in internal.body["text"]  # maintenance: for the team only
    assert f"([#1](https://github.com/{REPO}/pull/1) by @ana)" in internal.body["text"]
    for notification in (customers, internal):
        assert "Rename a variable" not in notification.body["text"]  # skip-changelog
        assert "Old work" not in notification.body["text"]  # before the previous release
        assert "Dark mode" not in notification.body["text"]  # closed as not planned

    changelog = Path(summary["notes"]["changelog"]).read_text()
    assert changelog.startswith("# Changelog")
    assert "## [1.2.0] - " in changelog
    assert "### Maintenance\n\n- Bump ruff (#3)" in changelog
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[f"changelog-product-{product_id}"])
            ),
            # The session's Prefect server holds other tests' products with this id too.
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    assert artifact.type == "markdown"
    assert artifact.data.startswith("## [1.2.0]")


def test_failing_gates_stop_the_release_in_staging_and_tell_the_team(
    home: Path, github: FakeGitHub
) -> None:
    store = open_store()
    tenant_id, product_id = _product(store)
    _verdict(store, tenant_id, product_id, SHA_2, passed=False)

    summary = release_flow(str(product_id), "1.2.0", ref="main", sha=SHA_2)

    assert summary["status"] == "blocked"
    assert [d[0] for d in _deployments(github)] == ["staging"]  # no production deployment
    assert summary["outcome"] == "quality gates failed: 0 of 1 gates passed, 1 failed"
    [notification] = _notifications(store, tenant_id)
    assert notification.kind == "productpilot.release.blocked"
    assert notification.recipient == "#eng"
    assert notification.subject == "Shop v1.2.0 was not promoted to production"


def test_a_commit_without_a_verdict_is_not_promoted(home: Path, github: FakeGitHub) -> None:
    store = open_store()
    _tenant_id, product_id = _product(store)

    summary = release_flow(str(product_id), "1.2.0", ref=SHA_2)

    assert summary["status"] == "blocked"
    assert summary["decision"]["reason"].startswith("no quality-gate verdict")


def _resume_when_paused(answer: dict[str, Any], resumed: list[str]) -> threading.Thread:
    """Answer the approval form of the first paused run, as a person in the UI would."""

    def run() -> None:
        deadline = time.monotonic() + 60
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                paused = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        state=FlowRunFilterState(
                            type=FlowRunFilterStateType(any_=[StateType.PAUSED])
                        )
                    )
                )
                if paused:
                    resume_flow_run(paused[0].id, run_input=answer)
                    resumed.append(str(paused[0].id))
                    return
                time.sleep(0.5)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_an_approval_given_in_the_paused_run_promotes_and_is_recorded(
    home: Path, github: FakeGitHub
) -> None:
    store = open_store()
    tenant_id, product_id = _product(store, releases={"require_approval": True})
    _verdict(store, tenant_id, product_id, SHA_2, passed=True)
    resumed: list[str] = []
    helper = _resume_when_paused(
        {"approve": True, "approver": "dana", "comment": "QA signed off"}, resumed
    )

    summary = release_flow(
        str(product_id), "1.2.0", sha=SHA_2, since=SINCE, approval_timeout_seconds=60
    )
    helper.join(timeout=5)

    assert resumed  # the run did pause for the approval
    assert summary["status"] == "released"
    assert summary["approval"] == {
        "approved": True,
        "approver": "dana",
        "comment": "QA signed off",
        "reason": "approved by dana",
    }
    assert [d[0] for d in _deployments(github)] == ["staging", "production"]


def test_a_rejection_in_the_paused_run_keeps_the_release_out_of_production(
    home: Path, github: FakeGitHub
) -> None:
    store = open_store()
    tenant_id, product_id = _product(store, releases={"require_approval": True})
    _verdict(store, tenant_id, product_id, SHA_2, passed=True)
    resumed: list[str] = []
    helper = _resume_when_paused(
        {"approve": False, "approver": "lee", "comment": "wait for the launch"}, resumed
    )

    summary = release_flow(str(product_id), "1.2.0", sha=SHA_2, approval_timeout_seconds=60)
    helper.join(timeout=5)

    assert summary["status"] == "rejected"
    assert summary["outcome"] == "rejected by lee: wait for the launch"
    assert [d[0] for d in _deployments(github)] == ["staging"]


def test_an_unanswered_approval_is_a_clear_rejection(home: Path, github: FakeGitHub) -> None:
    store = open_store()
    tenant_id, product_id = _product(store, releases={"require_approval": True})
    _verdict(store, tenant_id, product_id, SHA_2, passed=True)

    summary = release_flow(str(product_id), "1.2.0", sha=SHA_2, approval_timeout_seconds=2)

    assert summary["status"] == "rejected"
    assert summary["outcome"] == "nobody approved the promotion within 2 seconds"
    assert [d[0] for d in _deployments(github)] == ["staging"]


def test_a_rollback_redeploys_the_previous_release_and_raises_the_alarm(
    home: Path, github: FakeGitHub
) -> None:
    store = open_store()
    tenant_id, product_id = _product(store)
    for sha in (SHA_1, SHA_2):
        _verdict(store, tenant_id, product_id, sha, passed=True)
    first = release_flow(str(product_id), "1.1.0", ref=SHA_1, since=SINCE)
    second = release_flow(str(product_id), "1.2.0", ref=SHA_2)
    bad_deployment = max(github.repository(REPO).deployments)

    rollback = rollback_flow(
        f"productpilot.product.{product_id}", "production", "error rate doubled"
    )

    assert rollback["status"] == "completed"
    assert rollback["name"] == "rollback production to v1.1.0"
    assert _deployments(github)[-1] == ("production", SHA_1, ["in_progress", "success"])
    statuses = github.repository(REPO).deployment_statuses[bad_deployment]
    assert [s["state"] for s in statuses] == ["in_progress", "success", "failure"]
    assert statuses[-1]["description"] == "rolled back to v1.1.0: error rate doubled"
    with store.tenant_session(tenant_id) as session:
        assert session.get(Launch, second["id"]).status == "rolled_back"
        assert session.get(Launch, first["id"]).status == "released"
    [alert] = [n for n in _notifications(store, tenant_id) if n.recipient == "#incidents"]
    assert alert.kind == "productpilot.release.rolled_back"
    assert alert.severity == "critical"
    assert alert.subject == "Shop production rolled back from v1.2.0 to v1.1.0"


def test_without_github_a_release_is_recorded_locally_with_notes_from_the_changes_given(
    home: Path,
) -> None:
    store = open_store()
    tenant_id, product_id = _product(store, github=False)
    _verdict(store, tenant_id, product_id, SHA_1, passed=True)
    changes = [
        {
            "number": 7,
            "title": "Saved searches",
            "labels": [{"name": "feature"}],
            "html_url": "https://github.com/acme/shop/pull/7",
            "merged_at": "2026-11-20T10:00:00Z",
        }
    ]

    summary = release_flow(str(product_id), "2.0.0", ref=SHA_1, changes=changes)

    assert summary["status"] == "released"
    with store.tenant_session(tenant_id) as session:
        launch = session.get(Launch, summary["id"])
        assert [d["recorded_on_github"] for d in launch.result["deployments"]] == [False, False]
        assert launch.result["notes"]["sections"] == {"Features": [7]}
    [customers] = [
        n for n in _notifications(store, tenant_id) if n.recipient == "customers@shop.example"
    ]
    assert "- Saved searches" in customers.body["text"]


def test_a_deployment_github_refuses_fails_the_release_and_raises_the_alarm(
    home: Path, github: FakeGitHub
) -> None:
    store = open_store()
    tenant_id, product_id = _product(store)
    _verdict(store, tenant_id, product_id, SHA_2, passed=True)
    github.fail_next(
        Reply(422, {"message": "Validation Failed", "errors": [{"message": "Conflict"}]})
    )

    summary = release_flow(str(product_id), "1.2.0", ref=SHA_2)

    assert summary["status"] == "failed"
    assert summary["deployments"] == {"staging": ["failure"]}  # recorded here, not on GitHub
    assert github.repository(REPO).deployments == {}
    assert "deployment to staging failed" in summary["outcome"]
    [alert] = [n for n in _notifications(store, tenant_id) if n.recipient == "#incidents"]
    assert (alert.kind, alert.severity) == ("productpilot.release.failed", "critical")
