"""Orchestration for real: a Prefect server, a worker and the API as processes (`make up`), the
deployments applied from prefect.yaml with `prefect deploy --all`, and the event triggers in
them doing their work on the worker:

* a signed GitHub ``pull_request`` webhook, sent to the API, becomes a Prefect event whose
  trigger starts ``quality-gate`` on the worker; the run is the product's tenant's, and its
  result (the verdict) is read through ``/api/v1/workflows/{id}/results``;
* a signed Slack ``reaction_added`` webhook, sent to the API, becomes a Prefect event whose
  trigger starts ``acknowledge-alert`` on the worker, which acknowledges the alert reacted to;
* a run that fails ends, through the ``dead-letter`` trigger, in the dead-letter table; its
  replay through the API completes on the worker, and its results are read through the API;
* with the pool saturated, queued ``critical`` runs start before ``batch`` runs queued earlier.

The scheduler is off (no scheduled runs interfere); everything else is as deployed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolUpdate
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterTags,
)
from sqlalchemy import select

from deployments.setup import POOL_NAME as POOL
from deployments.stack import Stack, down, up
from productpilot.db.models import DeadLetter, Notification, Product
from productpilot.db.store import Store
from productpilot.products import create_product
from productpilot.tenants import create_tenant
from tests.integrations.shared_data import GITHUB_WEBHOOKS, load, shared_dir
from tests.integrations.signing import github_headers, slack_headers

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
SLACK_SECRET = "slack-signing-secret"
GITHUB_SECRET = "github-webhook-secret"
ALERT = ("C0ALERTS01", "1764590000.000100")
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 120) -> T:
    """Poll ``probe`` until it returns something, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def worker_log_tail(stack: Stack, lines: int = 80) -> str:
    """The end of the stack's worker log: what a failed run said."""
    log = Path(stack.home) / "stack" / "logs" / "worker.log"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("orchestration") / "home"
    patch = pytest.MonkeyPatch()
    patch.delenv("PRODUCTPILOT_DATABASE_URL", raising=False)
    patch.setenv("PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED", "false")
    patch.setenv("PREFECT_WORKER_QUERY_SECONDS", "1")
    patch.setenv("PREFECT_RESULTS_PERSIST_BY_DEFAULT", "true")
    try:
        started = up(home, prefect_port=0, api_port=0, timeout=120)
        deploy = subprocess.run(
            [str(Path(sys.executable).with_name("prefect")), "--no-prompt", "deploy", "--all"],
            cwd=ROOT,
            env={**os.environ, "PREFECT_API_URL": started.prefect_api_url, "PWD": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
        yield started
    finally:
        down(home)
        patch.undo()


@pytest.fixture(scope="module")
def acme(stack: Stack) -> dict[str, Any]:
    """A tenant with a product whose Slack webhooks are signed, and one alert it sent."""
    store = Store.from_url(f"sqlite:///{Path(stack.home) / 'productpilot.db'}")
    store.upgrade()
    tenant, key = create_tenant(store, "Acme Inc")
    with store.tenant_session(tenant.id) as session:
        product = create_product(
            session,
            "Web App",
            configuration={
                "webhook_secrets": {"slack": SLACK_SECRET, "github": GITHUB_SECRET},
                "gates": [{"name": "review", "kind": "approvals", "threshold": 1}],
            },
        )
        session.add(
            Notification(
                product_id=product.id,
                kind="productpilot.anomaly.detected",
                severity="critical",
                channel="slack",
                recipient="#alerts",
                dedupe_key=f"{product.id}:anomaly:signups",
                idempotency_key="e2e-alert",
                subject="Signups fell",
                body={},
                status="sent",
                sent_at=datetime.now(UTC),
                external_id=":".join(ALERT),
            )
        )
    return {"store": store, "tenant_id": tenant.id, "product_id": product.id, "key": key}


def test_a_signed_pull_request_webhook_starts_the_quality_gate_and_its_result_is_served(
    stack: Stack, acme: dict[str, Any]
) -> None:
    payload = load(shared_dir(GITHUB_WEBHOOKS) / "pull_request" / "opened.payload.json")
    body = json.dumps(payload).encode()
    delivery = "e2e-pull-request-opened"
    response = httpx.post(
        f"{stack.api_url}/webhooks/github",
        params={"product": acme["product_id"]},
        content=body,
        headers=github_headers(GITHUB_SECRET, body, "pull_request", delivery),
    )
    assert response.status_code in (200, 202), response.text
    api = httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {acme['key']}"}, timeout=30
    )

    def gate_run() -> str | None:
        with SyncPrefectClient(stack.prefect_api_url) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    tags=FlowRunFilterTags(all_=[f"tenant:{acme['tenant_id']}"])
                ),
                flow_filter=FlowFilter(name=FlowFilterName(any_=["quality-gate"])),
            )
        return str(runs[0].id) if runs else None

    run_id = wait_for("the triggered quality-gate run to take its tenant", gate_run, 180)

    def finished() -> dict[str, Any] | None:
        results = api.get(f"/api/v1/workflows/{run_id}/results").json()
        done = results["workflow"]["state_type"] in ("COMPLETED", "FAILED", "CRASHED")
        return results if done else None

    results = wait_for("the quality-gate run to finish", finished, timeout=180)
    assert results["workflow"]["state_type"] == "COMPLETED", worker_log_tail(stack)
    pull_request = payload["pull_request"]
    assert results["result"]["sha"] == pull_request["head"]["sha"]
    # No review yet and no GitHub credentials to ask for one: the gate waits.
    assert results["result"]["outcome"] == "pending"


def test_a_signed_webhook_starts_its_triggered_deployment_on_the_worker(
    stack: Stack, acme: dict[str, Any]
) -> None:
    event = {
        "type": "event_callback",
        "team_id": "T1",
        "event_id": "Ev-e2e-1",
        "event_time": int(time.time()),
        "event": {
            "type": "reaction_added",
            "user": "U0ADA00001",
            "reaction": "eyes",
            "item": {"type": "message", "channel": ALERT[0], "ts": ALERT[1]},
        },
    }
    body = json.dumps(event).encode()
    response = httpx.post(
        f"{stack.api_url}/webhooks/slack",
        params={"product": acme["product_id"]},
        content=body,
        headers=slack_headers(SLACK_SECRET, body, datetime.now(UTC)),
    )
    assert response.status_code in (200, 202), response.text

    def acknowledged() -> datetime | None:
        with acme["store"].tenant_session(acme["tenant_id"]) as session:
            return session.scalar(
                select(Notification.acknowledged_at).where(
                    Notification.idempotency_key == "e2e-alert"
                )
            )

    wait_for("the acknowledge-alert run to acknowledge the alert", acknowledged)


def test_a_failed_run_is_a_dead_letter_and_its_replay_completes(
    stack: Stack, acme: dict[str, Any], tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"  # missing for the first run, there for the replay
    api = httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {acme['key']}"}, timeout=30
    )
    started = api.post(
        "/api/v1/workflows/create",
        json={
            "deployment": "import-events/import-events",
            "parameters": {"product_id": acme["product_id"], "path": str(events)},
        },
    )
    assert started.status_code == 202, started.text
    failed_run = started.json()["workflow_id"]

    def dead_letter() -> DeadLetter | None:
        with acme["store"].tenant_session(acme["tenant_id"]) as session:
            return session.scalar(select(DeadLetter).where(DeadLetter.flow_run_id == failed_run))

    letter = wait_for("the failed run's dead letter", dead_letter, timeout=180)
    assert letter.flow_name == "import-events"
    assert letter.parameters["path"] == str(events)

    events.write_text(
        '{"event": "signup", "distinct_id": "u1", "timestamp": "2026-11-30T10:00:00Z"}\n'
    )
    replay = api.post(f"/api/v1/dead-letters/{letter.id}/replay")
    assert replay.status_code == 202, replay.text
    replay_run = replay.json()["workflow"]["workflow_id"]

    def finished() -> dict[str, Any] | None:
        results = api.get(f"/api/v1/workflows/{replay_run}/results").json()
        done = results["workflow"]["state_type"] in ("COMPLETED", "FAILED", "CRASHED")
        return results if done else None

    results = wait_for("the replay to finish", finished, timeout=180)
    assert results["workflow"]["state_type"] == "COMPLETED"
    assert results["result"]["inserted"] == 1
    with acme["store"].tenant_session(acme["tenant_id"]) as session:
        replayed = session.get(DeadLetter, letter.id)
        assert (replayed.status, replayed.replay_flow_run_id) == ("replayed", replay_run)
        assert session.get(Product, acme["product_id"]) is not None


def test_with_the_pool_saturated_critical_runs_start_before_batch_runs(stack: Stack) -> None:
    with SyncPrefectClient(stack.prefect_api_url) as client:
        deployment = client.read_deployment_by_name("realtime-rollup/realtime-rollup")
        # Hold everything back, queue batch work first and critical work after it, then let
        # one run at a time through: priority, not arrival, must decide.
        client.update_work_pool(POOL, WorkPoolUpdate(is_paused=True, concurrency_limit=1))
        try:
            runs = {
                queue: [
                    client.create_flow_run_from_deployment(deployment.id, work_queue_name=queue).id
                    for _ in range(3)
                ]
                for queue in ("batch", "critical")
            }
            client.update_work_pool(POOL, WorkPoolUpdate(is_paused=False))

            def all_final() -> list[Any] | None:
                read = [client.read_flow_run(i) for ids in runs.values() for i in ids]
                return read if all(r.state and r.state.is_final() for r in read) else None

            finished = {r.id: r for r in wait_for("the six runs to finish", all_final, 240)}
        finally:
            client.update_work_pool(POOL, WorkPoolUpdate(is_paused=False, concurrency_limit=None))
    assert all(finished[i].state.is_completed() for ids in runs.values() for i in ids)
    critical_starts = [finished[i].start_time for i in runs["critical"]]
    batch_starts = [finished[i].start_time for i in runs["batch"]]
    assert max(critical_starts) < min(batch_starts)
