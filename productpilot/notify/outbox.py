"""The outbox in the store: how the router records notifications and the dispatcher moves them.

Every notification is a row before anything is sent (transactional outbox): the router
inserts it in the same transaction as its decision, the dispatcher claims it, sends it and
marks it. The ``idempotency_key`` column is unique, so routing the same finding twice (a
retried flow) records it once.

Statuses (``Notification.status``): ``grouping`` → a digest collecting findings; ``grouped``
→ a finding inside one; ``pending`` → due at ``not_before``; ``sending`` → claimed;
``sent``; ``held`` → no credentials for the channel; ``failed`` → see ``last_error``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from productpilot.db.models import Notification
from productpilot.db.tenancy import StoreSession
from productpilot.errors import NotFoundError, ValidationError

#: Statuses that will (or did) reach a channel: what rate limits count.
SCHEDULED = ("grouping", "pending", "sending", "sent")
#: Statuses a person can send again with ``productpilot outbox retry``.
RETRYABLE = ("held", "failed")
#: A claim older than this belongs to a dispatcher that died mid-send.
CLAIM_LEASE = timedelta(minutes=5)


def exists(session: StoreSession, idempotency_key: str) -> bool:
    return (
        session.scalar(
            select(Notification.id).where(Notification.idempotency_key == idempotency_key)
        )
        is not None
    )


def recent_duplicate(
    session: StoreSession,
    channel: str,
    recipient: str,
    dedupe_key: str,
    since: datetime,
) -> Notification | None:
    """The latest finding for ``dedupe_key`` sent (or to be sent) to this recipient since
    ``since``; a new finding with the key is folded into it."""
    return session.scalar(
        select(Notification)
        .where(
            Notification.channel == channel,
            Notification.recipient == recipient,
            Notification.dedupe_key == dedupe_key,
            Notification.kind != "digest",
            Notification.created_at >= since,
            Notification.status != "failed",
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(1)
    )


def latest_for_problem(
    session: StoreSession, channel: str, recipient: str, dedupe_key: str
) -> Notification | None:
    """The latest notification about ``dedupe_key`` for this recipient, whenever it was
    recorded (failed ones left out): what a resolution follows up on."""
    return session.scalar(
        select(Notification)
        .where(
            Notification.channel == channel,
            Notification.recipient == recipient,
            Notification.dedupe_key == dedupe_key,
            Notification.kind != "digest",
            Notification.status != "failed",
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(1)
    )


def open_digest(
    session: StoreSession, channel: str, recipient: str, route_key: str
) -> Notification | None:
    """The digest still collecting findings for this recipient and route, if any.

    Locked on PostgreSQL: a dispatcher claiming it at the same moment makes this call wait
    and then see it is no longer ``grouping``, so no finding joins a digest already sent.
    """
    return session.scalar(
        select(Notification)
        .where(
            Notification.channel == channel,
            Notification.recipient == recipient,
            Notification.route_key == route_key,
            Notification.kind == "digest",
            Notification.status == "grouping",
        )
        .order_by(Notification.id.desc())
        .limit(1)
        .with_for_update()
    )


def last_digest_sent_at(
    session: StoreSession, channel: str, recipient: str, route_key: str
) -> datetime | None:
    return session.scalar(
        select(func.max(Notification.sent_at)).where(
            Notification.channel == channel,
            Notification.recipient == recipient,
            Notification.route_key == route_key,
            Notification.kind == "digest",
            Notification.status == "sent",
        )
    )


def booked_sends(
    session: StoreSession, channel: str, recipient: str, around: datetime
) -> list[datetime]:
    """When this recipient's notifications went or will go out, within an hour either side
    of ``around`` (findings inside a digest count once, as the digest)."""
    when = func.coalesce(Notification.sent_at, Notification.not_before)
    return list(
        session.scalars(
            select(when).where(
                Notification.channel == channel,
                Notification.recipient == recipient,
                Notification.status.in_(SCHEDULED),
                Notification.digest_id.is_(None),
                when > around - timedelta(hours=1),
                when < around + timedelta(hours=1),
            )
        )
    )


def _is_due(now: datetime) -> ColumnElement[bool]:
    """Due and not held back, or claimed by a dispatcher that crashed (its lease ran out)."""
    return or_(
        Notification.status.in_(("pending", "grouping")) & (Notification.not_before <= now),
        (Notification.status == "sending") & (Notification.claimed_at < now - CLAIM_LEASE),
    )


def due(
    session: StoreSession, now: datetime, limit: int, channels: Collection[str] | None = None
) -> list[Notification]:
    """Notifications to send now: due ones, and claims abandoned by a crashed dispatcher
    (only through ``channels``, when given)."""
    query = select(Notification).where(_is_due(now))
    if channels is not None:
        query = query.where(Notification.channel.in_(sorted(channels)))
    return list(
        session.scalars(query.order_by(Notification.not_before, Notification.id).limit(limit))
    )


def due_channels(session: StoreSession, now: datetime) -> set[str]:
    """The channels that :func:`due` has something for now."""
    return set(session.scalars(select(Notification.channel).where(_is_due(now)).distinct()))


def claim(session: StoreSession, notification: Notification, now: datetime) -> bool:
    """Take ``notification`` for sending; ``False`` when another dispatcher took it first.

    A compare-and-set on the status it was read with, so two dispatchers never both send it.
    """
    expected = notification.status
    claimed = session.execute(
        update(Notification)
        .where(Notification.id == notification.id, Notification.status == expected)
        .where(
            Notification.claimed_at.is_(None)
            if expected != "sending"
            else Notification.claimed_at == notification.claimed_at
        )
        .values(status="sending", claimed_at=now, attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    session.refresh(notification)
    return True


def digest_members(session: StoreSession, digest: Notification) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.digest_id == digest.id)
            .order_by(Notification.created_at, Notification.id)
        )
    )


def first_delivery(session: StoreSession, notification: Notification) -> Notification | None:
    """The first notification sent about the same problem to the same recipient (its
    thread is where follow-ups go)."""
    if not notification.dedupe_key:
        return None
    return session.scalar(
        select(Notification)
        .where(
            Notification.channel == notification.channel,
            Notification.recipient == notification.recipient,
            Notification.dedupe_key == notification.dedupe_key,
            Notification.status == "sent",
            Notification.external_id.is_not(None),
            Notification.id != notification.id,
        )
        .order_by(Notification.sent_at, Notification.id)
        .limit(1)
    )


# --- what people do with the outbox ---------------------------------------------------------


def list_notifications(
    session: StoreSession,
    *,
    product_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[Notification]:
    """The latest notifications, newest first (findings inside digests included)."""
    query = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if product_id is not None:
        query = query.where(Notification.product_id == product_id)
    if status is not None:
        query = query.where(Notification.status == status)
    return list(session.scalars(query))


def get_notification(session: StoreSession, notification_id: int) -> Notification:
    notification = session.get(Notification, notification_id)
    if notification is None:
        raise NotFoundError(f"no notification {notification_id}")
    return notification


def retry(session: StoreSession, notification_ids: Sequence[int], now: datetime) -> int:
    """Queue ``held`` or ``failed`` notifications again (after fixing their credentials).

    Raises:
        ValidationError: one of them is not held or failed.
    """
    rows = [get_notification(session, i) for i in notification_ids]
    for row in rows:
        if row.status not in RETRYABLE:
            raise ValidationError(
                f"notification {row.id} is {row.status}; only held or failed ones are retried"
            )
    for row in rows:
        row.status, row.not_before, row.claimed_at = "pending", now, None
    return len(rows)


def retry_all(session: StoreSession, now: datetime, product_id: int | None = None) -> int:
    """Queue every held and failed notification again."""
    query = (
        update(Notification)
        .where(Notification.status.in_(RETRYABLE))
        .values(status="pending", not_before=now, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    if product_id is not None:
        query = query.where(Notification.product_id == product_id)
    return session.execute(query).rowcount


def acknowledge(session: StoreSession, notification_id: int, now: datetime) -> Notification:
    """Mark a notification as seen by a person: it will not be escalated."""
    row = get_notification(session, notification_id)
    if row.acknowledged_at is None:
        row.acknowledged_at = now
    return row


def acknowledge_delivery(
    session: StoreSession, channel: str, external_id: str, now: datetime
) -> int:
    """Acknowledge what was delivered as ``external_id`` on ``channel`` (a Slack reaction
    on the alert, say): returns how many notifications it covered."""
    return session.execute(
        update(Notification)
        .where(
            Notification.channel == channel,
            or_(Notification.external_id == external_id, Notification.thread_id == external_id),
            Notification.acknowledged_at.is_(None),
        )
        .values(acknowledged_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
