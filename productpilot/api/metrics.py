"""Operational metrics for Prometheus: backlogs in the store and in Prefect's work queues.

``GET /metrics`` (:mod:`productpilot.api.routers.operations`) exposes them so operators see
backlogs and workers can be autoscaled on queue depth. Every value is read at scrape time
by :class:`OperationsCollector`, registered on a registry of the app's own (tests build
several apps; the process-global registry would mix them):

- from the store, in one system session, with aggregate queries: events received in the
  last five minutes, webhook deliveries not yet emitted, the outbox by channel and status,
  open dead letters. Every API replica reports the same store values: aggregate them with
  ``max``, not ``sum``.
- from Prefect, per work queue of the ``productpilot`` pool: runs due (scheduled for now or
  earlier, or pending) and late runs. When Prefect cannot be read these are left out and
  ``productpilot_prefect_up`` is 0; the store metrics are still answered.

Labels never carry a tenant or a product: the endpoint is unauthenticated, like
``/healthz``, so it tells how much is waiting, never whose.

The one per-process value, ``productpilot_ingest_events_total``, is counted by the ingest
endpoint through :func:`count_ingested`.

Example:
    >>> metrics = api_metrics(app)  # doctest: +SKIP
    >>> count_ingested(app, accepted=3, duplicates=1, rejected=0)  # doctest: +SKIP
    >>> print(metrics.exposition().decode())  # doctest: +SKIP
    # HELP productpilot_work_queue_depth Flow runs due in the work queue ...
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterNextScheduledStartTime,
    FlowRunFilterState,
    FlowRunFilterStateName,
    FlowRunFilterStateType,
    WorkPoolFilter,
    WorkPoolFilterName,
    WorkQueueFilter,
    WorkQueueFilterName,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from deployments.setup import POOL_NAME
from productpilot.api.prefect_gateway import PrefectUnavailable
from productpilot.db.models import DeadLetter, Event, Notification, WebhookDelivery
from productpilot.db.store import Store
from productpilot.db.types import utcnow
from productpilot.webhooks.deliveries import DeliveryStatus

logger = logging.getLogger(__name__)

#: The work pool whose queues are reported (the one ``productpilot setup`` creates).
WORK_POOL = POOL_NAME
#: The window of ``productpilot_events_received_recent``.
RECENT_WINDOW = timedelta(minutes=5)
#: How many of the newest events the recent-events gauge looks at, at most. ``events`` has
#: no index on ``received_at``; walking the primary key backwards keeps a scrape's cost
#: bounded however large the table is. The gauge saturates at this value (≈ 333 events/s).
RECENT_SCAN_LIMIT = 100_000
#: Webhook deliveries whose event is still to be emitted (the reconciler's work).
WEBHOOK_BACKLOG = (DeliveryStatus.RECEIVED.value, DeliveryStatus.FAILED.value)
#: Outbox statuses that mean "not delivered (yet)"; ``sent`` and ``grouped`` are not backlog.
OUTBOX_BACKLOG = ("pending", "grouping", "sending", "held", "failed")
#: A scrape must fail fast: Prometheus gives up after 10 s by default.
PREFECT_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class QueueBacklog:
    """What waits in one work queue.

    Attributes:
        queue: The work queue's name.
        due: Runs a worker could start now: scheduled for now or earlier (Late included),
            or pending. Runs scheduled for later are not counted: Prefect's scheduler
            creates them days ahead, and they would keep workers scaled up for nothing.
        late: Runs in the state named ``Late`` (scheduled, and no worker picked them up).
    """

    queue: str
    due: int
    late: int


class WorkQueueSource(Protocol):
    """Reads the backlog of a work pool's queues."""

    def backlog(self, pool: str) -> list[QueueBacklog]:
        """Every queue of ``pool`` (an empty list when there is no such pool).

        Raises:
            PrefectUnavailable: Prefect could not be read.
        """
        ...


class PrefectWorkQueues:
    """:class:`WorkQueueSource` over a Prefect API (three counts per queue).

    Args:
        api_url: The Prefect API, as the app's :class:`PrefectGateway` has it. None means
            none is configured: Prefect is reported down rather than an ephemeral server
            started inside the API process.
        timeout: Seconds per request.

    Example:
        >>> PrefectWorkQueues("http://127.0.0.1:4200/api").backlog("productpilot")  # doctest: +SKIP
        [QueueBacklog(queue='default', due=2, late=1)]
    """

    def __init__(self, api_url: str | None, timeout: float = PREFECT_TIMEOUT_SECONDS):
        self.api_url = api_url
        self._timeout = timeout

    def backlog(self, pool: str) -> list[QueueBacklog]:
        if not self.api_url:
            raise PrefectUnavailable("no Prefect API is configured (PRODUCTPILOT_PREFECT_API_URL)")
        try:
            # No retries: a scrape that waited out backoffs would time out anyway, and the
            # next scrape comes in seconds.
            with (
                temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 0}),
                SyncPrefectClient(
                    self.api_url, httpx_settings={"timeout": self._timeout}
                ) as client,
            ):
                try:
                    queues = client.read_work_queues(work_pool_name=pool)
                except ObjectNotFound:
                    return []
                return [self._queue(client, pool, queue.name) for queue in queues]
        except (httpx.HTTPError, PrefectHTTPStatusError) as exc:
            raise PrefectUnavailable(f"Prefect API unreadable: {type(exc).__name__}") from None

    @staticmethod
    def _queue(client: SyncPrefectClient, pool: str, queue: str) -> QueueBacklog:
        def count(state: FlowRunFilterState, **run_filter: Any) -> int:
            return client.count_flow_runs(
                flow_run_filter=FlowRunFilter(state=state, **run_filter),
                work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool])),
                # Queue names are unique within a pool only, hence both filters.
                work_queue_filter=WorkQueueFilter(name=WorkQueueFilterName(any_=[queue])),
            )

        scheduled = count(
            FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
            next_scheduled_start_time=FlowRunFilterNextScheduledStartTime(before_=utcnow()),
        )
        pending = count(FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PENDING])))
        late = count(FlowRunFilterState(name=FlowRunFilterStateName(any_=["Late"])))
        return QueueBacklog(queue=queue, due=scheduled + pending, late=late)


@dataclass(frozen=True, slots=True)
class StoreBacklog:
    """The store's side of the metrics, read in one system session."""

    events_recent: int
    webhooks: dict[tuple[str, str], int] = field(default_factory=dict)  # (vendor, status)
    notifications: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, status)
    dead_letters_open: int = 0


def read_store_backlog(store: Store, now: datetime) -> StoreBacklog:
    """Count what waits in the store across tenants, with a handful of aggregate queries.

    Example:
        >>> read_store_backlog(store, utcnow()).dead_letters_open  # doctest: +SKIP
        0
    """
    newest = select(Event.received_at).order_by(Event.id.desc()).limit(RECENT_SCAN_LIMIT)
    newest = newest.subquery()
    with store.system_session() as session:
        recent = session.scalar(
            select(func.count())
            .select_from(newest)
            .where(newest.c.received_at >= now - RECENT_WINDOW)
        )
        webhooks = session.execute(
            select(WebhookDelivery.vendor, WebhookDelivery.status, func.count())
            .where(WebhookDelivery.status.in_(WEBHOOK_BACKLOG))
            .group_by(WebhookDelivery.vendor, WebhookDelivery.status)
        ).all()
        notifications = session.execute(
            select(Notification.channel, Notification.status, func.count())
            .where(Notification.status.in_(OUTBOX_BACKLOG))
            .group_by(Notification.channel, Notification.status)
        ).all()
        dead = session.scalar(select(func.count(DeadLetter.id)).where(DeadLetter.status == "open"))
    return StoreBacklog(
        events_recent=recent or 0,
        webhooks={(vendor, status): n for vendor, status, n in webhooks},
        notifications={(channel, status): n for channel, status, n in notifications},
        dead_letters_open=dead or 0,
    )


class OperationsCollector(Collector):
    """Reads the store and Prefect on every scrape (nothing is cached between scrapes).

    Args:
        store: The store, read in a system session.
        work_queues: Where the work-queue backlog comes from.
        pool: The work pool whose queues are reported.
        clock: The current time (tests pass a fixed one).
    """

    def __init__(
        self,
        store: Store,
        work_queues: WorkQueueSource,
        *,
        pool: str = WORK_POOL,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.work_queues = work_queues
        self.pool = pool
        self._clock = clock
        self._prefect_was_up = True

    def describe(self) -> list[Metric]:
        # The names, without reading anything: registering must not query the store.
        return list(self._families().values())

    def collect(self) -> Iterator[Metric]:
        families = self._families()
        families["store_up"].add_metric([], self._collect_store(families))
        families["prefect_up"].add_metric([], self._collect_prefect(families))
        return iter(families.values())

    def _collect_store(self, families: dict[str, GaugeMetricFamily]) -> int:
        try:
            backlog = read_store_backlog(self.store, self._clock())
        except SQLAlchemyError as exc:
            logger.warning("metrics: the store could not be read: %s", type(exc).__name__)
            return 0
        families["events_recent"].add_metric([], backlog.events_recent)
        for (vendor, status), count in sorted(backlog.webhooks.items()):
            families["webhooks"].add_metric([vendor, status], count)
        for (channel, status), count in sorted(backlog.notifications.items()):
            families["notifications"].add_metric([channel, status], count)
        families["dead_letters"].add_metric([], backlog.dead_letters_open)
        return 1

    def _collect_prefect(self, families: dict[str, GaugeMetricFamily]) -> int:
        try:
            queues = self.work_queues.backlog(self.pool)
        except PrefectUnavailable as exc:
            if self._prefect_was_up:  # once per outage, not once per scrape
                logger.warning("metrics: Prefect could not be read: %s", exc)
            self._prefect_was_up = False
            return 0
        self._prefect_was_up = True
        for queue in sorted(queues, key=lambda q: q.queue):
            # Empty queues are reported as 0: an autoscaler needs the 0 to scale down.
            families["queue_depth"].add_metric([self.pool, queue.queue], queue.due)
            families["queue_late"].add_metric([self.pool, queue.queue], queue.late)
        return 1

    @staticmethod
    def _families() -> dict[str, GaugeMetricFamily]:
        minutes = int(RECENT_WINDOW.total_seconds() // 60)
        return {
            "store_up": GaugeMetricFamily(
                "productpilot_store_up", "1 if the store answered this scrape, else 0."
            ),
            "events_recent": GaugeMetricFamily(
                "productpilot_events_received_recent",
                f"Events stored in the last {minutes} minutes, all products and ingest paths "
                f"(looks at the newest {RECENT_SCAN_LIMIT} events at most).",
            ),
            "webhooks": GaugeMetricFamily(
                "productpilot_webhook_deliveries_pending",
                "Webhook deliveries whose event is not emitted yet (received or failed).",
                labels=["vendor", "status"],
            ),
            "notifications": GaugeMetricFamily(
                "productpilot_notifications",
                "Outbox notifications not delivered yet, by channel and status "
                f"({', '.join(OUTBOX_BACKLOG)}).",
                labels=["channel", "status"],
            ),
            "dead_letters": GaugeMetricFamily(
                "productpilot_dead_letters_open",
                "Flow runs that failed after their retries and are not resolved yet.",
            ),
            "prefect_up": GaugeMetricFamily(
                "productpilot_prefect_up",
                "1 if the Prefect API answered this scrape (work-queue metrics present), else 0.",
            ),
            "queue_depth": GaugeMetricFamily(
                "productpilot_work_queue_depth",
                "Flow runs due in the work queue: scheduled for now or earlier, or pending.",
                labels=["pool", "queue"],
            ),
            "queue_late": GaugeMetricFamily(
                "productpilot_work_queue_late_runs",
                "Flow runs in the work queue in the Late state (no worker picked them up).",
                labels=["pool", "queue"],
            ),
        }


class ApiMetrics:
    """An app's metrics: its registry, the operations collector and the ingest counter.

    Args:
        collector: Registered on a new registry of this object's own.
    """

    def __init__(self, collector: OperationsCollector) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = collector
        self.registry.register(collector)
        self.ingested = Counter(
            "productpilot_ingest_events",
            "Events this API process received at POST /api/v1/products/{id}/events, by "
            "outcome: accepted (stored), duplicate (already stored), rejected (invalid).",
            labelnames=["outcome"],
            registry=self.registry,
        )
        for outcome in ("accepted", "duplicate", "rejected"):
            self.ingested.labels(outcome=outcome)  # present from the start, at 0

    def exposition(self) -> bytes:
        """The registry in Prometheus's text format (reads the store and Prefect: blocking)."""
        return generate_latest(self.registry)


_creating = threading.Lock()


def api_metrics(app: Any) -> ApiMetrics:
    """The metrics of ``app`` (a FastAPI app), created on first use.

    Built from ``app.state``: the store, and the work queues from ``app.state.work_queues``
    when set (tests set a fake), else read from the Prefect API the app's gateway uses.
    """
    state = app.state
    metrics = getattr(state, "operations_metrics", None)
    if metrics is None:
        with _creating:  # two first scrapes at once must not build two registries
            metrics = getattr(state, "operations_metrics", None)
            if metrics is None:
                work_queues = getattr(state, "work_queues", None) or PrefectWorkQueues(
                    getattr(state.workflows, "api_url", None)
                )
                metrics = ApiMetrics(OperationsCollector(state.store, work_queues))
                state.operations_metrics = metrics
    return metrics


def count_ingested(app: Any, *, accepted: int, duplicates: int, rejected: int) -> None:
    """Count one ingest request's events (called by the events router).

    Example:
        >>> count_ingested(request.app, accepted=3, duplicates=0, rejected=1)  # doctest: +SKIP
    """
    counter = api_metrics(app).ingested
    for outcome, count in (
        ("accepted", accepted),
        ("duplicate", duplicates),
        ("rejected", rejected),
    ):
        if count:
            counter.labels(outcome=outcome).inc(count)
