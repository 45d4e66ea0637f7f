"""``GET /metrics``: backlogs in the store and in Prefect's work queues, for Prometheus.

The store metrics are counted across tenants with labels that never name one; the queue
metrics come from a work-queue source (a fake here, the real Prefect client in the last
test); when Prefect or the store cannot be read, the endpoint still answers 200 and says so
in ``productpilot_prefect_up`` / ``productpilot_store_up``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from productpilot.api import metrics as metrics_module
from productpilot.api.app import create_app
from productpilot.api.metrics import (
    PrefectWorkQueues,
    QueueBacklog,
    api_metrics,
    count_ingested,
)
from productpilot.api.prefect_gateway import PrefectGateway, PrefectUnavailable
from productpilot.db.models import DeadLetter, Event, Notification
from productpilot.db.store import Store
from productpilot.db.types import utcnow
from productpilot.settings import Settings
from productpilot.webhooks.deliveries import (
    mark_emitted,
    mark_failed,
    mark_ignored,
    record_delivery,
)
from tests.productpilot.api.conftest import Caller

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class FakeWorkQueues:
    """A work-queue source that answers what it was given, or that Prefect is down."""

    def __init__(self, queues: list[QueueBacklog] | None = None) -> None:
        self.queues = queues
        self.pools: list[str] = []

    def backlog(self, pool: str) -> list[QueueBacklog]:
        self.pools.append(pool)
        if self.queues is None:
            raise PrefectUnavailable("Prefect API unreachable: ConnectError")
        return self.queues


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def named(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (metric, labels), value in samples.items() if metric == name}


@pytest.fixture
def queues() -> FakeWorkQueues:
    return FakeWorkQueues(
        [QueueBacklog("default", due=4, late=1), QueueBacklog("batch", due=0, late=0)]
    )


@pytest.fixture
def metrics_client(app: FastAPI, queues: FakeWorkQueues) -> TestClient:
    app.state.work_queues = queues
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def seed_backlog(store: Store, caller: Caller, tag: str) -> None:
    """Two pending webhook deliveries (one failed), two settled; an outbox in every status;
    an open and a resolved dead letter; one event received long ago."""
    deliveries = [
        record_delivery(
            store,
            tenant_id=caller.tenant_id,
            product_id=caller.product_id,
            vendor=vendor,
            delivery_id=f"{tag}-{n}",
            kind="push",
            payload={},
            headers={},
        ).delivery
        for n, vendor in enumerate(["github", "github", "jira", "jira"])
    ]
    mark_failed(store, deliveries[1], "Prefect API unreachable")
    mark_emitted(store, deliveries[2])
    mark_ignored(store, deliveries[3])
    old = utcnow() - timedelta(minutes=10)
    with store.tenant_session(caller.tenant_id) as session:
        for n, (channel, status) in enumerate(
            [
                ("slack", "pending"),
                ("slack", "pending"),
                ("slack", "sending"),
                ("slack", "sent"),
                ("email", "grouping"),
                ("email", "grouped"),
                ("email", "held"),
                ("jira", "failed"),
            ]
        ):
            session.add(
                Notification(
                    product_id=caller.product_id,
                    kind="anomaly",
                    channel=channel,
                    recipient="#product",
                    idempotency_key=f"{tag}-{n}",
                    status=status,
                )
            )
        session.add(DeadLetter(flow_name="daily-analysis", flow_run_id=f"{tag}-open"))
        session.add(
            DeadLetter(flow_name="daily-analysis", flow_run_id=f"{tag}-done", status="replayed")
        )
        session.add(
            Event(
                product_id=caller.product_id,
                idempotency_key=f"{tag}-old",
                event="signup",
                distinct_id="u-1",
                timestamp=old,
                received_at=old,
            )
        )


def test_the_backlogs_of_every_tenant_are_counted_by_vendor_channel_and_status(
    metrics_client: TestClient, store: Store, acme: Caller, globex: Caller
) -> None:
    seed_backlog(store, acme, "acme")
    seed_backlog(store, globex, "globex")
    sent = metrics_client.post(
        f"/api/v1/products/{acme.product_id}/events",
        headers=acme.headers,
        json={
            "events": [
                {"event": "signup", "distinct_id": "u-2", "timestamp": utcnow().isoformat()},
                {"event": "login", "distinct_id": "u-2", "timestamp": utcnow().isoformat()},
            ]
        },
    )
    assert sent.json()["accepted"] == 2

    samples = scrape(metrics_client)

    assert samples[("productpilot_store_up", ())] == 1
    # The two just sent; the one received ten minutes ago is outside the window.
    assert samples[("productpilot_events_received_recent", ())] == 2
    # Emitted and ignored deliveries are settled: not backlog.
    assert named(samples, "productpilot_webhook_deliveries_pending") == {
        (("status", "failed"), ("vendor", "github")): 2,
        (("status", "received"), ("vendor", "github")): 2,
    }
    # Sent notifications, and findings waiting inside a digest (grouped), are not backlog.
    assert named(samples, "productpilot_notifications") == {
        (("channel", "email"), ("status", "grouping")): 2,
        (("channel", "email"), ("status", "held")): 2,
        (("channel", "jira"), ("status", "failed")): 2,
        (("channel", "slack"), ("status", "pending")): 4,
        (("channel", "slack"), ("status", "sending")): 2,
    }
    assert samples[("productpilot_dead_letters_open", ())] == 2


def test_an_empty_store_reports_zero_not_nothing_for_the_totals(
    metrics_client: TestClient,
) -> None:
    samples = scrape(metrics_client)

    assert samples[("productpilot_events_received_recent", ())] == 0
    assert samples[("productpilot_dead_letters_open", ())] == 0
    assert named(samples, "productpilot_webhook_deliveries_pending") == {}
    assert named(samples, "productpilot_notifications") == {}


def test_the_recent_events_gauge_reads_a_bounded_number_of_newest_events(
    metrics_client: TestClient, store: Store, acme: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utcnow()
    with store.tenant_session(acme.tenant_id) as session:
        for n in range(3):
            session.add(
                Event(
                    product_id=acme.product_id,
                    idempotency_key=f"e-{n}",
                    event="signup",
                    distinct_id="u-1",
                    timestamp=now,
                    received_at=now,
                )
            )
    monkeypatch.setattr(metrics_module, "RECENT_SCAN_LIMIT", 2)

    assert scrape(metrics_client)[("productpilot_events_received_recent", ())] == 2


def test_every_work_queue_of_the_pool_reports_its_due_and_late_runs(
    metrics_client: TestClient, queues: FakeWorkQueues
) -> None:
    samples = scrape(metrics_client)

    assert queues.pools == ["productpilot"]
    assert samples[("productpilot_prefect_up", ())] == 1
    # The empty queue is reported as 0, so an autoscaler can scale its workers down.
    assert named(samples, "productpilot_work_queue_depth") == {
        (("pool", "productpilot"), ("queue", "batch")): 0,
        (("pool", "productpilot"), ("queue", "default")): 4,
    }
    assert named(samples, "productpilot_work_queue_late_runs") == {
        (("pool", "productpilot"), ("queue", "batch")): 0,
        (("pool", "productpilot"), ("queue", "default")): 1,
    }


@pytest.mark.parametrize(
    "api_url",
    [None, "http://127.0.0.1:9/api"],  # none configured; nothing listening (port 9)
    ids=["unconfigured", "unreachable"],
)
def test_without_prefect_the_queue_metrics_are_left_out_and_the_rest_answered(
    app: FastAPI, store: Store, acme: Caller, api_url: str | None
) -> None:
    seed_backlog(store, acme, "acme")
    app.state.workflows = PrefectGateway(api_url)  # the default source: the gateway's URL
    with TestClient(app, raise_server_exceptions=False) as client:
        samples = scrape(client)

    assert samples[("productpilot_prefect_up", ())] == 0
    assert named(samples, "productpilot_work_queue_depth") == {}
    assert named(samples, "productpilot_work_queue_late_runs") == {}
    assert samples[("productpilot_dead_letters_open", ())] == 1
    assert samples[("productpilot_store_up", ())] == 1


def test_without_the_store_the_prefect_metrics_are_still_answered(tmp_path: Path) -> None:
    unreachable = Store.from_url(f"sqlite:///{tmp_path / 'missing' / 'store.db'}")
    app = create_app(unreachable, settings=Settings(home=tmp_path / "home"))
    app.state.work_queues = FakeWorkQueues([QueueBacklog("default", due=1, late=0)])
    with TestClient(app, raise_server_exceptions=False) as client:
        samples = scrape(client)

    assert samples[("productpilot_store_up", ())] == 0
    assert ("productpilot_dead_letters_open", ()) not in samples
    assert samples[("productpilot_prefect_up", ())] == 1
    assert named(samples, "productpilot_work_queue_depth") == {
        (("pool", "productpilot"), ("queue", "default")): 1
    }


def test_the_ingest_counter_counts_outcomes_per_app(
    metrics_client: TestClient, store: Store, tmp_path: Path
) -> None:
    app = metrics_client.app
    other = create_app(store, settings=Settings(home=tmp_path / "other"))
    other.state.work_queues = FakeWorkQueues([])

    count_ingested(app, accepted=3, duplicates=1, rejected=0)
    count_ingested(app, accepted=2, duplicates=0, rejected=4)
    count_ingested(other, accepted=7, duplicates=0, rejected=0)

    assert named(scrape(metrics_client), "productpilot_ingest_events_total") == {
        (("outcome", "accepted"),): 5,
        (("outcome", "duplicate"),): 1,
        (("outcome", "rejected"),): 4,
    }
    assert (
        api_metrics(other).registry.get_sample_value(
            "productpilot_ingest_events_total", {"outcome": "accepted"}
        )
        == 7
    )


def test_the_endpoint_needs_no_key_names_no_tenant_and_is_not_in_the_api_document(
    metrics_client: TestClient, store: Store, acme: Caller
) -> None:
    seed_backlog(store, acme, "acme")
    response = metrics_client.get("/metrics")  # no Authorization header

    assert response.status_code == 200
    labels = {
        name
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        for name in sample.labels
    }
    assert labels <= {"vendor", "status", "channel", "pool", "queue", "outcome"}
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    assert all(family.documentation for family in families.values())
    assert "/metrics" not in metrics_client.get("/openapi.json").json()["paths"]


# --- against a real Prefect API ---------------------------------------------------------


def test_the_prefect_source_counts_due_pending_and_late_runs_not_future_ones(
    prefect_harness: None,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import get_current_settings
    from prefect.states import Late, Pending, Scheduled

    pool, now = "metrics-test-pool", utcnow()
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"), overwrite=True)
        client.create_work_queue(name="batch", work_pool_name=pool)
        flow_id = client.create_flow_from_name("metrics-test-flow")
        deployment_id = client.create_deployment(
            flow_id, name="metrics-test", work_pool_name=pool, work_queue_name="batch"
        )

        def run(state: object) -> None:
            created = client.create_flow_run_from_deployment(deployment_id, state=Scheduled())
            client.set_flow_run_state(created.id, state, force=True)

        run(Scheduled(scheduled_time=now - timedelta(minutes=1)))  # due
        run(Scheduled(scheduled_time=now + timedelta(days=1)))  # created ahead: not due
        run(Late(scheduled_time=now - timedelta(minutes=30)))  # due and late
        run(Pending())  # picked up, not started

    backlog = PrefectWorkQueues(get_current_settings().api.url).backlog(pool)

    assert sorted(backlog, key=lambda q: q.queue) == [
        QueueBacklog("batch", due=3, late=1),
        QueueBacklog("default", due=0, late=0),
    ]
    assert PrefectWorkQueues(get_current_settings().api.url).backlog("no-such-pool") == []


def test_the_ingest_endpoint_moves_the_counter(metrics_client: TestClient, acme: Caller) -> None:
    good = {"event": "pageview", "distinct_id": "u1", "timestamp": datetime.now(UTC).isoformat()}
    batch = {"events": [{**good, "uuid": "a"}, {**good, "uuid": "a"}, {"event": "no id"}]}
    response = metrics_client.post(
        f"/api/v1/products/{acme.product_id}/events",
        json=batch,
        headers=acme.headers,
    )
    assert response.status_code == 200, response.text
    assert named(scrape(metrics_client), "productpilot_ingest_events_total") == {
        (("outcome", "accepted"),): 1,
        (("outcome", "duplicate"),): 1,
        (("outcome", "rejected"),): 1,
    }
