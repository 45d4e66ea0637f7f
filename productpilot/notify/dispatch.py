"""The dispatcher: sends what the outbox holds, each notification in three short transactions.

1. **claim** — ``pending``/``grouping`` → ``sending`` (compare-and-set: two dispatchers never
   send one notification), committed before the vendor is called;
2. **send** — through the channel or tracker the product's credentials give; a digest is
   rendered from its findings and the rendering is stored as what was sent;
3. **mark** — ``sent`` with the vendor's id, or, by the :mod:`productpilot.vendors` error:
   a credential or request problem → ``failed`` (a person fixes it, then
   ``productpilot outbox retry``); rate limits and outages → ``pending`` again after the
   vendor's ``Retry-After`` or a backoff, ``failed`` after :data:`MAX_ATTEMPTS`.

A dispatcher that dies between 2 and 3 leaves the claim behind; after the lease the next
dispatcher takes it over and first asks the channel whether the message went out
(``RecoverableChannel.find_sent``; trackers are always asked for an open ticket), so a
retry never posts twice where the vendor lets us tell.

Example:
    >>> deliver_due(store, tenant_id, resolve, now=now)  # doctest: +SKIP
    DispatchReport(sent=3, held=1, ...)
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from productpilot.db.models import Notification, Product
from productpilot.db.store import Store
from productpilot.db.tenancy import StoreSession
from productpilot.notify import outbox
from productpilot.notify.channels import (
    Channel,
    Delivery,
    RecoverableChannel,
    Ticket,
    Tracker,
    TransitioningTracker,
)
from productpilot.notify.message import Message, MessageItem, severity_rank
from productpilot.notify.rules import idempotency_key, route_key
from productpilot.products import current_configuration
from productpilot.products.configuration import TICKET_CHANNELS
from productpilot.vendors import RejectedRequestError, RetryPolicy, VendorError

#: After this many attempts a notification that keeps failing waits for a person.
MAX_ATTEMPTS = 8
#: A backoff between dispatcher runs: attempt 1 waits a minute, then 2, 4, ... up to an hour.
RETRY_BACKOFF = RetryPolicy(attempts=MAX_ATTEMPTS, base_seconds=60, max_seconds=3600, jitter=0.2)

Target = Channel | Tracker
#: The channel or tracker for a product and channel name; ``None``: no credentials for it.
Resolver = Callable[[int | None, str], Target | None]


class OutboxChannel:
    """The channel that is always there: the outbox itself.

    With no credentials configured, routes to ``outbox`` are how the embedded product
    tells people what it would have sent (``productpilot outbox list``).
    """

    name = "outbox"

    def send(self, recipient: str, message: Message, *, thread: Delivery | None = None) -> Delivery:
        return Delivery(external_id=f"outbox:{message.idempotency_key}")


OUTBOX = OutboxChannel()


@dataclass
class DispatchReport:
    """What one dispatcher pass did."""

    sent: int = 0
    recovered: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0
    escalated: int = 0
    skipped: int = 0

    def add(self, other: DispatchReport) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def deliver_due(
    store: Store,
    tenant_id: int,
    resolve: Resolver,
    *,
    now: datetime,
    limit: int = 500,
    channels: Collection[str] | None = None,
) -> DispatchReport:
    """Send the tenant's due notifications (at most ``limit``; only through ``channels``
    when given) and mark each."""
    report = DispatchReport()
    with store.tenant_session(tenant_id) as session:
        ids = [row.id for row in outbox.due(session, now, limit, channels)]
    for notification_id in ids:
        _deliver_one(store, tenant_id, notification_id, resolve, now, report)
    return report


def _deliver_one(
    store: Store,
    tenant_id: int,
    notification_id: int,
    resolve: Resolver,
    now: datetime,
    report: DispatchReport,
) -> None:
    with store.tenant_session(tenant_id) as session:
        row = session.get(Notification, notification_id)
        recovering = row is not None and row.status == "sending"
        if row is None or not outbox.claim(session, row, now):
            report.skipped += 1
            return
        message = _message(session, row)
        previous = outbox.first_delivery(session, row)
        thread = Delivery(previous.external_id or "", previous.thread_id) if previous else None
        channel, recipient, product_id = row.channel, row.recipient, row.product_id
    outcome: dict[str, Any]
    try:
        # Inside the try: a configured but missing or broken credential is a VendorError.
        target = OUTBOX if channel == "outbox" else resolve(product_id, channel)
        if target is None:
            outcome = {
                "status": "held",
                "last_error": f"no {channel} credentials are configured for this product: "
                "kept in the outbox (configure them, then `productpilot outbox retry`)",
            }
        else:
            outcome = _send(target, channel, recipient, message, thread, recovering)
    except VendorError as error:
        outcome = _failure(error, row.attempts, now)
    with store.tenant_session(tenant_id) as session:
        _mark(session, notification_id, outcome, now, report)


def _send(
    target: Target,
    channel: str,
    recipient: str,
    message: Message,
    thread: Delivery | None,
    recovering: bool,
) -> dict[str, Any]:
    if channel in TICKET_CHANNELS:
        assert isinstance(target, Tracker), f"the {channel} resolver must give a Tracker"
        transition = message.extra.get("transition")
        if transition:
            return _transition(target, channel, transition)
        ticket = target.find_open(recipient, message.dedupe_key)
        if ticket is None and message.extra.get("resolves"):
            # The ticket was closed meanwhile: a resolution opens none.
            return {**_sent(Delivery("")), "last_error": "no open ticket to resolve"}
        if ticket is None:
            ticket = target.create(recipient, message)
        else:
            target.comment(ticket, message)
        return _sent(Delivery(ticket.key, url=ticket.url), ticket=ticket)
    if recovering and isinstance(target, RecoverableChannel):
        found = target.find_sent(recipient, message)
        if found is not None:
            return {**_sent(found), "recovered": True}
    assert isinstance(target, Channel), f"the {channel} resolver must give a Channel"
    delivery = target.send(recipient, message, thread=thread)
    return _sent(delivery)


def _transition(target: Tracker, channel: str, transition: dict[str, Any]) -> dict[str, Any]:
    """Move an issue (a notification recorded by the development flows' workflow rules)."""
    if not isinstance(target, TransitioningTracker):
        raise RejectedRequestError(channel, f"the {channel} tracker cannot move issues")
    issue, status = str(transition["issue"]), str(transition["status"])
    target.transition(issue, status)
    return _sent(Delivery(f"{issue}:{status}"[:200]))


def _sent(delivery: Delivery, ticket: Ticket | None = None) -> dict[str, Any]:
    outcome: dict[str, Any] = {
        "status": "sent",
        "external_id": delivery.external_id[:200],
        "thread_id": (delivery.thread_id or delivery.external_id)[:200],
        "last_error": "",
    }
    if ticket is not None:
        outcome["ticket"] = {"key": ticket.key, "url": ticket.url, "created": ticket.created}
    return outcome


def _failure(error: VendorError, attempts: int, now: datetime) -> dict[str, Any]:
    if not error.retryable or attempts >= MAX_ATTEMPTS:
        return {"status": "failed", "last_error": str(error)}
    wait = RETRY_BACKOFF.wait_for(error, attempts)
    return {
        "status": "pending",
        "not_before": now + timedelta(seconds=wait),
        "last_error": str(error),
    }


def _mark(
    session: StoreSession,
    notification_id: int,
    outcome: dict[str, Any],
    now: datetime,
    report: DispatchReport,
) -> None:
    row = session.get(Notification, notification_id)
    assert row is not None  # claimed by us: nobody else deletes it
    status = outcome["status"]
    row.status = status
    row.last_error = outcome.get("last_error", "")
    row.claimed_at = None
    if status == "sent":
        row.sent_at = now
        row.external_id = outcome["external_id"]
        row.thread_id = outcome["thread_id"]
        if "ticket" in outcome:
            row.body = {**row.body, "ticket": outcome["ticket"]}
        if row.kind == "digest":
            for member in outbox.digest_members(session, row):
                member.status, member.sent_at = "sent", now
                member.external_id, member.thread_id = row.external_id, row.thread_id
        if outcome.get("recovered"):
            report.recovered += 1
        else:
            report.sent += 1
    elif status == "pending":
        row.not_before = outcome["not_before"]
        report.retrying += 1
    elif status == "held":
        report.held += 1
    else:
        report.failed += 1


def _message(session: StoreSession, row: Notification) -> Message:
    """What to send for ``row``: its stored message, or, for a digest, one rendered from its
    findings now (and stored, so the outbox shows exactly what was sent)."""
    if row.kind != "digest":
        return Message.from_dict(row.body)
    members = outbox.digest_members(session, row)
    items = tuple(
        MessageItem(
            subject=m.subject + (f" ({m.suppressed + 1} times)" if m.suppressed else ""),
            severity=m.severity,  # type: ignore[arg-type]
            kind=m.kind,
            text=m.body.get("text", ""),
            link=m.body.get("link"),
            occurred_at=m.body.get("extra", {}).get("occurred_at"),
        )
        for m in members
    )
    severity = max((m.severity for m in members), key=severity_rank, default="info")
    product = members[0].body.get("product", "") if members else ""
    if len(members) == 1:
        single = Message.from_dict(members[0].body)
        message = replace(single, idempotency_key=row.idempotency_key)
    else:
        message = Message(
            subject=f"{product}: {len(members)} updates" if product else f"{len(members)} updates",
            text="\n".join(f"• {item.subject}" for item in items),
            severity=severity,  # type: ignore[arg-type]
            kind="digest",
            idempotency_key=row.idempotency_key,
            items=items,
            product=product,
        )
    row.severity = message.severity
    row.subject = message.subject[:500]
    row.body = message.to_dict()
    return message


# --- escalation -----------------------------------------------------------------------------


def escalate(session: StoreSession, product: Product, *, now: datetime) -> int:
    """Escalate the product's unacknowledged critical notifications whose route says so.

    Each is escalated once: the escalation is a new ``pending`` notification to the route's
    ``escalation`` channel and recipients, linked by ``escalation_of``, and never itself
    escalated further. Returns how many were recorded.
    """
    routes = current_configuration(session, product).notification_routes
    by_key = {route_key(i, r): r for i, r in enumerate(routes) if r.escalation is not None}
    if not by_key:
        return 0
    escalated_ids = select(Notification.escalation_of).where(
        Notification.escalation_of.is_not(None)
    )
    candidates = session.scalars(
        select(Notification).where(
            Notification.product_id == product.id,
            Notification.severity == "critical",
            Notification.status == "sent",
            Notification.acknowledged_at.is_(None),
            Notification.escalation_of.is_(None),
            Notification.route_key.in_(by_key),
            Notification.id.not_in(escalated_ids),
        )
    ).all()
    recorded = 0
    for row in candidates:
        escalation = by_key[row.route_key].escalation
        assert escalation is not None
        if row.sent_at is None or row.sent_at > now - timedelta(minutes=escalation.after_minutes):
            continue
        original = Message.from_dict(row.body)
        for recipient in escalation.recipients:
            token = idempotency_key(row.id, "escalation", escalation.channel, recipient)
            message = replace(
                original,
                subject=f"Unacknowledged for {escalation.after_minutes} min: {original.subject}"[
                    :500
                ],
                idempotency_key=token,
            )
            session.add(
                Notification(
                    product_id=row.product_id,
                    kind=row.kind,
                    severity="critical",
                    channel=escalation.channel,
                    recipient=recipient,
                    dedupe_key=f"escalation:{row.dedupe_key}"[:200],
                    idempotency_key=token,
                    subject=message.subject,
                    body=message.to_dict(),
                    route_key=row.route_key,
                    status="pending",
                    not_before=now,
                    escalation_of=row.id,
                )
            )
            recorded += 1
    return recorded
