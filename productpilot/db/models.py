"""The store's schema: every table of the domain, so later features add columns, not redesigns.

Every table except ``tenants`` carries ``tenant_id`` through :class:`TenantOwned`; the
session scoping in :mod:`productpilot.db.tenancy` relies on that marker.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

from productpilot.db.types import BigID, JSONDocument, UTCDateTime, utcnow

# Named constraints keep Alembic migrations deterministic across databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONDocument}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantOwned:
    """Marks a table whose rows belong to one tenant. Tenant sessions filter and stamp it."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:  # noqa: N805 (declared_attr receives the class)
        return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


def product_fk(nullable: bool = False) -> Mapped[Any]:
    return mapped_column(ForeignKey("products.id", ondelete="CASCADE"), nullable=nullable)


# --- tenants and products ---------------------------------------------------------------


class Tenant(Timestamped, Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Where the tenant's runs must execute (data residency): its API-started runs go to
    #: that region's work queues. ``None``: any worker.
    region: Mapped[str | None] = mapped_column(String(32))


class ApiKey(TenantOwned, Timestamped, Base):
    """An API key. Only its SHA-256 is kept; the prefix finds the row without a scan."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(24), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Product(TenantOwned, Timestamped, Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    config_version: Mapped[int] = mapped_column(default=0)

    configurations: Mapped[list[ProductConfiguration]] = relationship(
        back_populates="product", order_by="ProductConfiguration.version"
    )


class ProductConfiguration(TenantOwned, Timestamped, Base):
    """One immutable version of a product's configuration (validated JSON)."""

    __tablename__ = "product_configurations"
    __table_args__ = (UniqueConstraint("product_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = product_fk()
    version: Mapped[int]
    document: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(200), default="system")
    comment: Mapped[str] = mapped_column(Text, default="")

    product: Mapped[Product] = relationship(back_populates="configurations")


# --- product usage ------------------------------------------------------------------------


class Event(TenantOwned, Base):
    """A product event. Append-only; ``idempotency_key`` is the client's event id."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("product_id", "idempotency_key"),
        Index("ix_events_product_id_timestamp", "product_id", "timestamp"),
        # The rollup reads "this product's events past the watermark" by id.
        Index("ix_events_product_id_id", "product_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = product_fk()
    idempotency_key: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(200))
    distinct_id: Mapped[str] = mapped_column(String(200))
    timestamp: Mapped[datetime]
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventCountDaily(TenantOwned, Base):
    """Rollup: how often each event happened per product and (UTC) day."""

    __tablename__ = "event_counts_daily"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    event: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(BigID)


class UserActivityDaily(TenantOwned, Base):
    """Rollup: each user's activity per product and day (drives DAU/WAU/MAU, retention)."""

    __tablename__ = "user_activity_daily"
    __table_args__ = (
        Index("ix_user_activity_daily_product_id_distinct_id", "product_id", "distinct_id"),
    )

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    distinct_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_count: Mapped[int]


class RollupWatermark(TenantOwned, Base):
    """How far (by event id) a rollup has folded a product's events."""

    __tablename__ = "rollup_watermarks"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    rollup: Mapped[str] = mapped_column(String(63), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigID, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MetricValue(TenantOwned, Base):
    """A computed metric for one period (and optionally one segment)."""

    __tablename__ = "metric_values"
    __table_args__ = (
        UniqueConstraint("product_id", "metric", "granularity", "period_start", "segment"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = product_fk()
    metric: Mapped[str] = mapped_column(String(120))
    granularity: Mapped[str] = mapped_column(String(10))
    period_start: Mapped[datetime]
    segment: Mapped[str] = mapped_column(String(200), default="")
    value: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Anomaly(TenantOwned, Base):
    """A metric value outside its expected band."""

    __tablename__ = "anomalies"
    __table_args__ = (UniqueConstraint("product_id", "metric", "segment", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = product_fk()
    metric: Mapped[str] = mapped_column(String(120))
    segment: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime]
    value: Mapped[float] = mapped_column(Float)
    expected: Mapped[float] = mapped_column(Float)
    lower: Mapped[float] = mapped_column(Float)
    upper: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default="open")
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)


class Report(TenantOwned, Timestamped, Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = product_fk()
    kind: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    path: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- planning -----------------------------------------------------------------------------


class BacklogItem(TenantOwned, Timestamped, Base):
    """A unit of work, local or mirrored from Jira/Linear/GitHub (``source``+``external_key``)."""

    __tablename__ = "backlog_items"
    __table_args__ = (UniqueConstraint("product_id", "source", "external_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = product_fk()
    source: Mapped[str] = mapped_column(String(20), default="local")
    external_key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    item_type: Mapped[str] = mapped_column(String(30), default="story")
    status: Mapped[str] = mapped_column(String(30), default="todo")
    labels: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    feature: Mapped[str | None] = mapped_column(String(120))
    team: Mapped[str | None] = mapped_column(String(120))
    story_points: Mapped[float | None] = mapped_column(Float)
    estimate_days: Mapped[float | None] = mapped_column(Float)
    estimate_low_days: Mapped[float | None] = mapped_column(Float)
    estimate_high_days: Mapped[float | None] = mapped_column(Float)
    priority_score: Mapped[float | None] = mapped_column(Float)
    score_details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    deadline: Mapped[date | None] = mapped_column(Date)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    depends_on: Mapped[list[BacklogItem]] = relationship(
        secondary="backlog_dependencies",
        primaryjoin="BacklogItem.id == BacklogDependency.item_id",
        secondaryjoin="BacklogItem.id == BacklogDependency.depends_on_id",
        viewonly=True,
    )


class BacklogDependency(TenantOwned, Base):
    """``item_id`` cannot start before ``depends_on_id`` is done."""

    __tablename__ = "backlog_dependencies"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("backlog_items.id", ondelete="CASCADE"), primary_key=True
    )
    depends_on_id: Mapped[int] = mapped_column(
        ForeignKey("backlog_items.id", ondelete="CASCADE"), primary_key=True
    )


class Plan(TenantOwned, Timestamped, Base):
    """The output of a planning run (scores, schedule, sprints, risk forecast)."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = product_fk()
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SuccessCriterion(TenantOwned, Timestamped, Base):
    """What a planned item must move: a KPI from its baseline to a target by a date."""

    __tablename__ = "success_criteria"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = product_fk()
    backlog_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("backlog_items.id", ondelete="SET NULL")
    )
    kpi: Mapped[str] = mapped_column(String(120))
    baseline: Mapped[float | None] = mapped_column(Float)
    target: Mapped[float] = mapped_column(Float)
    due: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="pending")


# --- development and quality --------------------------------------------------------------


class QualityGateResult(TenantOwned, Base):
    __tablename__ = "quality_gate_results"
    __table_args__ = (Index("ix_quality_gate_results_product_subject", "product_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = product_fk()
    gate: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(200))  # e.g. "pr:42" or a commit sha
    passed: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    evaluated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SecurityFinding(TenantOwned, Base):
    """A security finding tracked across scans by its fingerprint (one row per problem).

    ``status`` is ``open``, ``fixed`` (no longer reported, or fixed at the source) or
    ``dismissed``; a fixed finding reported again is reopened, keeping its ``first_seen``.
    ``details`` holds the package, file, line and URL. See
    :mod:`productpilot.quality.findings_store`.
    """

    __tablename__ = "security_findings"
    __table_args__ = (
        UniqueConstraint("product_id", "fingerprint"),
        # Gates ask for a product's open findings.
        Index("ix_security_findings_product_id_status", "product_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = product_fk()
    fingerprint: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(80))
    rule: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WebhookDelivery(TenantOwned, Base):
    """A webhook as received, stored before it is acknowledged so nothing is lost."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "vendor", "delivery_id"),
        # The reconciler looks for deliveries still to emit.
        Index("ix_webhook_deliveries_status_received_at", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    product_id: Mapped[int | None] = product_fk(nullable=True)
    vendor: Mapped[str] = mapped_column(String(20))
    delivery_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(100))
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="received")
    error: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    emitted_at: Mapped[datetime | None]


# --- launch -------------------------------------------------------------------------------


class Flag(TenantOwned, Timestamped, Base):
    """A feature flag in flagd's flag-definition format (``definition``), versioned."""

    __tablename__ = "flags"
    __table_args__ = (UniqueConstraint("product_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = product_fk()
    key: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FlagChange(TenantOwned, Base):
    """Audit trail: who changed a flag, when, why, and what changed."""

    __tablename__ = "flag_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    diff: Mapped[dict[str, Any]] = mapped_column(default=dict)
    definition: Mapped[dict[str, Any]]
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Launch(TenantOwned, Timestamped, Base):
    """A release or progressive rollout, with its plan and outcome."""

    __tablename__ = "launches"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = product_fk()
    name: Mapped[str] = mapped_column(String(200))
    flag_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="planned")
    current_stage: Mapped[int] = mapped_column(Integer, default=0)
    plan: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


# --- operations ---------------------------------------------------------------------------


class Notification(TenantOwned, Timestamped, Base):
    """The transactional outbox: recorded before sending, marked after.

    One row per finding and recipient. ``status`` is one of ``grouping`` (a digest still
    collecting findings), ``grouped`` (a finding waiting in digest ``digest_id``),
    ``pending`` (due at ``not_before``), ``sending`` (claimed at ``claimed_at``), ``sent``,
    ``held`` (no credentials for the channel: kept until ``productpilot outbox retry``) and
    ``failed`` (needs a person: see ``last_error``). See :mod:`productpilot.notify`.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_not_before", "status", "not_before"),
        Index("ix_notifications_dedupe_key", "tenant_id", "dedupe_key"),
        # Rate limits and digests look up a recipient's recent notifications.
        Index("ix_notifications_channel_recipient", "tenant_id", "channel", "recipient"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True, autoincrement=True)
    product_id: Mapped[int | None] = product_fk(nullable=True)
    kind: Mapped[str] = mapped_column(String(80))
    severity: Mapped[str] = mapped_column(String(20), default="info")
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(300))
    dedupe_key: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    not_before: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    external_id: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    #: Which configured route produced it (its index and a hash of its definition).
    route_key: Mapped[str] = mapped_column(String(64), default="")
    #: How many findings with the same dedupe key were folded into it (not sent again).
    suppressed: Mapped[int] = mapped_column(default=0)
    #: The vendor thread later notifications about the same problem join (Slack ``ts``).
    thread_id: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None]
    #: The digest this finding was grouped into (its status follows the digest's).
    digest_id: Mapped[int | None] = mapped_column(
        BigID, ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    #: The unacknowledged critical notification this one escalates.
    escalation_of: Mapped[int | None] = mapped_column(
        BigID, ForeignKey("notifications.id", ondelete="SET NULL")
    )


class DeadLetter(TenantOwned, Timestamped, Base):
    """A flow run that failed after its retries, kept for inspection and replay."""

    __tablename__ = "dead_letters"
    # Per tenant: a scheduled run serving several tenants is a dead letter in each.
    __table_args__ = (UniqueConstraint("tenant_id", "flow_run_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_name: Mapped[str] = mapped_column(String(200))
    deployment_name: Mapped[str | None] = mapped_column(String(200))
    flow_run_id: Mapped[str] = mapped_column(String(36))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20), default="open")
    replay_flow_run_id: Mapped[str | None] = mapped_column(String(36))
    resolved_at: Mapped[datetime | None]


TENANT_OWNED_TABLES = frozenset(
    mapper.local_table.name
    for mapper in Base.registry.mappers
    if issubclass(mapper.class_, TenantOwned)
)
