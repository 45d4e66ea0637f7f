"""The orchestration set-up ProductPilot expects on its Prefect server, as data, and the
function that makes a server match it.

:func:`desired_state` describes the configuration: one work pool, four prioritised queues,
one global concurrency limit per tenant and one tag concurrency limit per vendor.
:func:`converge` reads what the server has, changes only what differs and returns a
:class:`Report` of every object it created, updated, left as it was, or left alone because
it is not ProductPilot's to manage. Running it twice changes nothing the second time.

What converging means, object by object:

* **Queues**: priority, concurrency limit and description are configuration and are set
  to the desired values. Whether a queue is *paused* is an operator's action (during an
  incident, say), so it is never touched. Queues of the pool that ProductPilot does not
  define are left as they are; one that shares a priority with a ProductPilot queue is
  reported (Prefect serves tied queues in no defined order).
* **The pool**: created when missing. Its type is left as found: scale-out replaces the
  process pool with a Docker or Kubernetes pool of the same name, and Prefect cannot change
  a pool's type anyway.
* **Limits**: ``tenant:<id>`` global limits and ``vendor:<name>`` tag limits are set to the
  desired number of slots. A ``tenant:`` limit for a tenant that no longer exists is
  reported and left (delete it with ``prefect gcl delete``), never removed silently.

Example:
    >>> from prefect.client.orchestration import get_client  # doctest: +SKIP
    >>> desired = desired_state([1, 2])
    >>> [queue.name for queue in desired.queues]
    ['critical', 'high', 'default', 'batch']
    >>> with get_client(sync_client=True) as client:  # doctest: +SKIP
    ...     print("\\n".join(converge(client, desired).lines()))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from productpilot.errors import ConfigurationError
from productpilot.tenants import regional_queue

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import WorkQueue

POOL_NAME = "productpilot"
POOL_TYPE = "process"
TENANT_LIMIT_PREFIX = "tenant:"
VENDOR_TAG_PREFIX = "vendor:"

#: Queue name -> (priority, what runs there). 1 is served first; the priorities are the
#: contract prefect.yaml's deployments rely on, so they are not settings.
QUEUES: dict[str, tuple[int, str]] = {
    "critical": (1, "Release gates, rollbacks and critical alerts: seconds matter."),
    "high": (2, "Webhook reactions and notification delivery."),
    "default": (3, "Scheduled analytics: rollups, daily analysis, monitors."),
    "batch": (4, "Strategic reviews, forecasts, imports and back-fills."),
}

#: Default concurrent flow runs per queue: a burst of batch work cannot take every slot.
QUEUE_LIMITS: dict[str, int] = {"critical": 10, "high": 10, "default": 5, "batch": 2}

#: Concurrent task runs per vendor tag. A tag limit caps how many tasks talk to a vendor at
#: once, not a request rate, so each number is the vendor's documented rate divided by what
#: one sending task does (it sends sequentially, one request in flight, and retries 429s
#: with the vendor's Retry-After through productpilot.vendors), rounded down, with headroom
#: for the operator's other integrations on the same credentials.
VENDOR_LIMITS: dict[str, int] = {
    # Slack: chat.postMessage is "special tier", about 1 message per second per channel
    # with a workspace-wide cap; lookups (users.lookupByEmail, conversations.list) are
    # Tier 2/3, 20+/50+ per minute. https://api.slack.com/apis/rate-limits
    "slack": 2,
    # Jira Cloud: limits are cost-based and "not published"; Atlassian's own sizing example
    # uses a budget of 10 calls per second per app; API-token traffic has burst limits.
    # https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
    "jira": 4,
    # GitHub: at most 100 concurrent requests and 80 content-creating requests per minute
    # (secondary limits), 5,000 requests per hour per token (primary); GitHub advises
    # writing serially. https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
    "github": 3,
    # Linear: leaky bucket, 5,000 requests and 250,000 complexity points per hour per API
    # key (about 1.4 requests per second). https://linear.app/developers/rate-limiting
    "linear": 2,
    # Figma: per user and plan; Tier 2 endpoints (comments) 25-100 per minute for Full seats,
    # Tier 1 (file contents) 10-20 per minute. https://developers.figma.com/docs/rest-api/rate-limits
    "figma": 1,
    # Teams: at most 4 requests per second per app against one team or channel (Graph);
    # incoming webhooks and Workflows URLs publish no higher number.
    # https://learn.microsoft.com/en-us/graph/throttling-limits
    "teams": 2,
    # E-mail: SMTP relays limit concurrent connections per account rather than publishing a
    # rate (Exchange Online and Gmail both throttle parallel submissions); not a vendor
    # number: a conservative default, raise it for a relay you run yourself.
    "email": 3,
}


class SetupSettings(BaseSettings):
    """The numbers an operator tunes, from ``PRODUCTPILOT_SETUP_*`` (dicts as JSON).

    Attributes:
        queue_limits: Concurrent flow runs per queue (missing queues keep the default).
        tenant_limit: Slots of each ``tenant:<id>`` global concurrency limit.
        vendor_limits: Concurrent task runs per ``vendor:<name>`` tag.

    Example:
        >>> SetupSettings(tenant_limit=8).queue_limits["batch"]
        2
    """

    model_config = SettingsConfigDict(env_prefix="PRODUCTPILOT_SETUP_", extra="ignore")

    queue_limits: dict[str, int] = Field(default_factory=lambda: dict(QUEUE_LIMITS))
    tenant_limit: int = Field(default=4, ge=1)
    vendor_limits: dict[str, int] = Field(default_factory=lambda: dict(VENDOR_LIMITS))


@dataclass(frozen=True)
class QueueSpec:
    name: str
    priority: int
    concurrency_limit: int
    description: str


@dataclass(frozen=True)
class LimitSpec:
    """A global concurrency limit (``name``) or a tag concurrency limit (``tag``)."""

    name: str
    limit: int


@dataclass(frozen=True)
class Desired:
    pool: str
    pool_type: str
    queues: tuple[QueueSpec, ...]
    tenant_limits: tuple[LimitSpec, ...]
    tag_limits: tuple[LimitSpec, ...]


def desired_state(
    tenant_ids: Iterable[int],
    settings: SetupSettings | None = None,
    regions: Iterable[str] = (),
) -> Desired:
    """The configuration for a store whose tenants are ``tenant_ids``; each region some
    tenant is pinned to (``regions``) gets a copy of every queue.

    A region's queue sits just after its base queue in the pool's priority order (Prefect
    keeps priorities unique within a pool), so every worker, which polls either the base
    queues or one region's, still takes critical before high before default before batch.

    Raises:
        ConfigurationError: a setting names an unknown queue or vendor, or a limit below 1.

    Example:
        >>> desired_state([7]).tenant_limits
        (LimitSpec(name='tenant:7', limit=4),)
    """
    settings = settings or SetupSettings()
    _check_limits("queue", settings.queue_limits, QUEUES)
    _check_limits("vendor", settings.vendor_limits, VENDOR_LIMITS)
    queue_limits = {**QUEUE_LIMITS, **settings.queue_limits}
    vendor_limits = {**VENDOR_LIMITS, **settings.vendor_limits}
    return Desired(
        pool=POOL_NAME,
        pool_type=POOL_TYPE,
        queues=_queues(queue_limits, sorted(set(regions))),
        tenant_limits=tuple(
            LimitSpec(f"{TENANT_LIMIT_PREFIX}{tenant}", settings.tenant_limit)
            for tenant in sorted(set(tenant_ids))
        ),
        tag_limits=tuple(
            LimitSpec(f"{VENDOR_TAG_PREFIX}{vendor}", limit)
            for vendor, limit in sorted(vendor_limits.items())
        ),
    )


def _queues(limits: dict[str, int], regions: list[str]) -> tuple[QueueSpec, ...]:
    specs: list[QueueSpec] = []
    for name, (_, description) in sorted(QUEUES.items(), key=lambda queue: queue[1][0]):
        specs.append(QueueSpec(name, len(specs) + 1, limits[name], description))
        for region in regions:
            specs.append(
                QueueSpec(
                    regional_queue(name, region),
                    len(specs) + 1,
                    limits[name],
                    f"{description} Tenants pinned to region {region}.",
                )
            )
    return tuple(specs)


def _check_limits(kind: str, limits: dict[str, int], known: Iterable[str]) -> None:
    unknown = sorted(set(limits) - set(known))
    if unknown:
        raise ConfigurationError(f"unknown {kind} {', '.join(unknown)} in the set-up settings")
    low = sorted(name for name, value in limits.items() if value < 1)
    if low:
        raise ConfigurationError(f"{kind} limit below 1 for {', '.join(low)}")


Action = Literal["created", "updated", "unchanged", "left"]


@dataclass(frozen=True)
class Change:
    """What happened (or, in a dry run, would happen) to one object."""

    action: Action
    kind: str
    name: str
    detail: str = ""

    def line(self, dry_run: bool = False) -> str:
        """One line for the CLI, e.g. ``updated work queue productpilot/batch: limit 1 → 2``."""
        verb = {"created": "create", "updated": "update"}.get(self.action)
        action = f"would {verb}" if dry_run and verb else self.action
        return f"{action} {self.kind} {self.name}" + (f": {self.detail}" if self.detail else "")


@dataclass
class Report:
    dry_run: bool = False
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> list[Change]:
        """The creations and updates (what a second run must not repeat)."""
        return [change for change in self.changes if change.action in ("created", "updated")]

    def lines(self) -> list[str]:
        return [change.line(self.dry_run) for change in self.changes]

    def _add(self, action: Action, kind: str, name: str, detail: str = "") -> None:
        self.changes.append(Change(action, kind, name, detail))


def converge(client: SyncPrefectClient, desired: Desired, *, dry_run: bool = False) -> Report:
    """Make the Prefect server behind ``client`` match ``desired``; ``dry_run`` only reports.

    Raises:
        ConfigurationError: the pool must be created but no worker for its type is installed.
    """
    report = Report(dry_run=dry_run)
    pool_exists = _converge_pool(client, desired, report, dry_run)
    _converge_queues(client, desired, report, dry_run, pool_exists)
    _converge_tenant_limits(client, desired, report, dry_run)
    _converge_tag_limits(client, desired, report, dry_run)
    return report


def _converge_pool(
    client: SyncPrefectClient, desired: Desired, report: Report, dry_run: bool
) -> bool:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.base import BaseWorker

    try:
        pool = client.read_work_pool(desired.pool)
    except ObjectNotFound:
        pool = None
    if pool is not None:
        if pool.type != desired.pool_type:
            report._add("left", "work pool", desired.pool, f"type {pool.type}, not changed")
        else:
            report._add("unchanged", "work pool", desired.pool)
        return True
    worker = BaseWorker.get_worker_class_from_type(desired.pool_type)
    if worker is None:
        raise ConfigurationError(f"no Prefect worker for pool type {desired.pool_type!r}")
    report._add("created", "work pool", desired.pool, f"type {desired.pool_type}")
    if not dry_run:
        # The worker's own default template, as `prefect work-pool create` would use.
        client.create_work_pool(
            WorkPoolCreate(
                name=desired.pool,
                type=desired.pool_type,
                base_job_template=worker.get_default_base_job_template(),
            )
        )
    return not dry_run


def _queue_differences(queue: WorkQueue, spec: QueueSpec) -> list[str]:
    found = {
        "priority": (queue.priority, spec.priority),
        "limit": (queue.concurrency_limit, spec.concurrency_limit),
        "description": (queue.description or "", spec.description),
    }
    return [
        f"{label} {_show(old)} → {_show(new)}" if label != "description" else "new description"
        for label, (old, new) in found.items()
        if old != new
    ]


def _show(value: object) -> str:
    return "none" if value is None else str(value)


def _converge_queues(
    client: SyncPrefectClient,
    desired: Desired,
    report: Report,
    dry_run: bool,
    pool_exists: bool,
) -> None:
    before = {q.name: q for q in client.read_work_queues(desired.pool)} if pool_exists else {}
    # Ascending priority: creating a queue pushes the queues at or below its priority one
    # step down (Prefect keeps priorities unique on create, not on update), so creating
    # 1, 2, 3, 4 in order never disturbs a queue already placed. A fresh pool's automatic
    # `default` queue (priority 1) is pushed by `critical` and `high`, then set to 3.
    for spec in desired.queues:
        label = f"{desired.pool}/{spec.name}"
        if spec.name not in before:
            report._add("created", "work queue", label, _queue_summary(spec))
            if not dry_run:
                client.create_work_queue(
                    name=spec.name,
                    work_pool_name=desired.pool,
                    priority=spec.priority,
                    concurrency_limit=spec.concurrency_limit,
                    description=spec.description,
                )
            continue
        differences = _queue_differences(before[spec.name], spec)
        action: Action = "updated" if differences else "unchanged"
        report._add(action, "work queue", label, ", ".join(differences))
        if not dry_run:
            # Read again: placing an earlier queue may have shifted this one's priority.
            current = client.read_work_queue_by_name(spec.name, work_pool_name=desired.pool)
            if _queue_differences(current, spec):
                client.update_work_queue(
                    current.id,
                    priority=spec.priority,
                    concurrency_limit=spec.concurrency_limit,
                    description=spec.description,
                )
    by_priority = {spec.priority: spec.name for spec in desired.queues}
    for name in sorted(set(before) - set(QUEUES)):
        # Read again: creating ours may have pushed it. A tie is only reported, since
        # Prefect serves tied queues in no defined order and the queue is not ours to move.
        priority = before[name].priority
        if not dry_run:
            priority = client.read_work_queue_by_name(name, work_pool_name=desired.pool).priority
        tie = by_priority.get(priority)
        detail = "not ProductPilot's" + (f"; same priority as {tie} ({priority})" if tie else "")
        report._add("left", "work queue", f"{desired.pool}/{name}", detail)


def _queue_summary(spec: QueueSpec) -> str:
    return f"priority {spec.priority}, limit {spec.concurrency_limit}"


def _all_global_limits(client: SyncPrefectClient) -> dict[str, int]:
    limits: dict[str, int] = {}
    page = 200
    offset = 0
    while True:
        batch = client.read_global_concurrency_limits(limit=page, offset=offset)
        limits.update({limit.name: limit.limit for limit in batch})
        if len(batch) < page:
            return limits
        offset += page


def _converge_tenant_limits(
    client: SyncPrefectClient, desired: Desired, report: Report, dry_run: bool
) -> None:
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )

    existing = _all_global_limits(client)
    for spec in desired.tenant_limits:
        current = existing.get(spec.name)
        if current is None:
            report._add("created", "global concurrency limit", spec.name, f"limit {spec.limit}")
            if not dry_run:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=spec.name, limit=spec.limit)
                )
        elif current != spec.limit:
            report._add(
                "updated", "global concurrency limit", spec.name, f"limit {current} → {spec.limit}"
            )
            if not dry_run:
                client.update_global_concurrency_limit(
                    spec.name, GlobalConcurrencyLimitUpdate(limit=spec.limit)
                )
        else:
            report._add("unchanged", "global concurrency limit", spec.name)
    wanted = {spec.name for spec in desired.tenant_limits}
    for name in sorted(existing):
        if name.startswith(TENANT_LIMIT_PREFIX) and name not in wanted:
            report._add("left", "global concurrency limit", name, "no such tenant in the store")


def _converge_tag_limits(
    client: SyncPrefectClient, desired: Desired, report: Report, dry_run: bool
) -> None:
    from prefect.exceptions import ObjectNotFound

    for spec in desired.tag_limits:
        try:
            current: int | None = client.read_concurrency_limit_by_tag(spec.name).concurrency_limit
        except ObjectNotFound:
            current = None
        if current == spec.limit:
            report._add("unchanged", "tag concurrency limit", spec.name)
            continue
        if current is None:
            report._add("created", "tag concurrency limit", spec.name, f"limit {spec.limit}")
        else:
            detail = f"limit {current} → {spec.limit}"
            report._add("updated", "tag concurrency limit", spec.name, detail)
        if not dry_run:
            # Prefect's tag-limit endpoint is an upsert: creating an existing tag updates it.
            client.create_concurrency_limit(tag=spec.name, concurrency_limit=spec.limit)
