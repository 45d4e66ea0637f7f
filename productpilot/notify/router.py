"""The notification router: every flow that tells people something calls :func:`route`.

For each finding, each matching route (``notification_routes`` in the product's
configuration) and each of its recipients, in this order:

1. **dedupe** — a finding whose dedupe key was already routed to the recipient within the
   route's window is folded into that notification (``suppressed`` + 1), not sent again;
2. **tickets** — ``jira``/``linear``/``github`` routes record a ticket request; the dispatcher
   comments on the open ticket for the key, or opens one;
3. **critical** findings are sent at once (quiet hours only if ``critical_too``); when the
   recipient is at its hourly limit they ride together in one digest due at once, so the
   next delivery pass sends them: never dropped, never held back;
4. **others** join the recipient's open digest for the route, or start one due after
   ``group_wait_minutes`` (and no sooner than ``group_interval_minutes`` after the last);
   quiet hours and the hourly limit push the digest later, never drop it.

Everything is written to the outbox in the caller's transaction; nothing is sent here.

Example:
    >>> report = route(session, product, [finding], now=now)  # doctest: +SKIP
    >>> report.recorded, report.grouped, report.suppressed  # doctest: +SKIP
    (1, 0, 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from productpilot.db.models import Notification, Product
from productpilot.db.tenancy import StoreSession
from productpilot.notify import outbox
from productpilot.notify.message import Finding, Message
from productpilot.notify.rules import idempotency_key, matching_routes, next_slot, quiet_until
from productpilot.products import current_configuration
from productpilot.products.configuration import TICKET_CHANNELS, NotificationRoute


@dataclass
class RoutingReport:
    """What routing a batch of findings did.

    Attributes:
        findings: Findings routed.
        recorded: Notifications recorded to be sent on their own (tickets included).
        grouped: Findings put into a digest.
        digests: Digests started.
        suppressed: Findings folded into an earlier notification about the same problem.
        unrouted: Findings no route matched.
    """

    findings: int = 0
    recorded: int = 0
    grouped: int = 0
    digests: int = 0
    suppressed: int = 0
    unrouted: int = 0

    def add(self, other: RoutingReport) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def route(
    session: StoreSession,
    product: Product,
    findings: Sequence[Finding],
    *,
    now: datetime,
    routes: Sequence[NotificationRoute] | None = None,
) -> RoutingReport:
    """Record the notifications ``findings`` call for, in the outbox (nothing is sent).

    Args:
        session: A tenant session of the product's tenant; the caller commits.
        product: The product the findings are about.
        findings: What to tell people, in the order it happened.
        now: The routing instant (tests pass a fixed clock).
        routes: The routes to apply (default: the product's configured routes).
    """
    if routes is None:
        routes = current_configuration(session, product).notification_routes
    report = RoutingReport()
    for finding in findings:
        report.findings += 1
        matched = matching_routes(routes, finding)
        if not matched:
            report.unrouted += 1
            continue
        for key, definition in matched:
            for recipient in definition.recipients:
                _route_one(session, product, finding, key, definition, recipient, now, report)
        # Later findings of the batch must see this one (dedupe, digests, rate limits).
        session.flush()
    return report


def _route_one(
    session: StoreSession,
    product: Product,
    finding: Finding,
    key: str,
    definition: NotificationRoute,
    recipient: str,
    now: datetime,
    report: RoutingReport,
) -> None:
    channel = definition.channel
    # Scoped to the product: the same anomaly key in two products is two problems, in the
    # outbox, in Slack threads and in ticket trackers alike.
    dedupe_key = f"{product.id}:{finding.key()}"[:200]
    if finding.resolves:
        _route_resolution(
            session, product, finding, key, channel, recipient, dedupe_key, now, report
        )
        return
    if definition.dedupe_minutes:
        since = now - timedelta(minutes=definition.dedupe_minutes)
        duplicate = outbox.recent_duplicate(session, channel, recipient, dedupe_key, since)
        # After a resolution the problem is new again: it is told, not folded.
        if duplicate is not None and not _is_resolution(duplicate):
            duplicate.suppressed += 1
            report.suppressed += 1
            return
    occurred = finding.occurred_at or now
    row = _finding_row(product, finding, key, channel, recipient, dedupe_key, occurred, now)
    if outbox.exists(session, row.idempotency_key):
        # Routed before (a retried flow): recorded once.
        return
    if channel in TICKET_CHANNELS:
        row.status, row.not_before = "pending", now
        session.add(row)
        report.recorded += 1
        return
    immediate = finding.severity == "critical" or definition.group_wait_minutes == 0
    if immediate:
        planned = now
        quiet = definition.quiet_hours
        if quiet is not None and (finding.severity != "critical" or quiet.critical_too):
            planned = quiet_until(planned, quiet)
        booked = outbox.booked_sends(session, channel, recipient, planned)
        if next_slot(planned, booked, definition.max_per_hour) == planned:
            row.status, row.not_before = "pending", planned
            session.add(row)
            report.recorded += 1
            return
        # Over the hourly limit: a non-critical finding waits in the next digest; a critical
        # one is not held back: it rides in a digest due now, which the next delivery pass
        # sends with every other overflow alert of the moment (one message, not a flood).
    urgent = planned if immediate and finding.severity == "critical" else None
    digest = outbox.open_digest(session, channel, recipient, key)
    if digest is None:
        digest = _start_digest(session, product, key, definition, recipient, now, due=urgent)
        report.digests += 1
    elif urgent is not None and digest.not_before > urgent:
        digest.not_before = urgent
    row.status, row.digest_id = "grouped", digest.id
    session.add(row)
    report.grouped += 1


def _is_resolution(row: Notification) -> bool:
    return bool((row.body or {}).get("extra", {}).get("resolves"))


def _route_resolution(
    session: StoreSession,
    product: Product,
    finding: Finding,
    key: str,
    channel: str,
    recipient: str,
    dedupe_key: str,
    now: datetime,
    report: RoutingReport,
) -> None:
    """Record "the problem is over" for a recipient who was told about it, due at once.

    Nobody told, nothing to resolve; a problem already resolved is not resolved twice. The
    dispatcher threads it on the first delivery of ``dedupe_key`` (or comments on the open
    ticket), like any follow-up.
    """
    previous = outbox.latest_for_problem(session, channel, recipient, dedupe_key)
    if previous is None or _is_resolution(previous):
        report.unrouted += 1
        return
    occurred = finding.occurred_at or now
    row = _finding_row(product, finding, key, channel, recipient, dedupe_key, occurred, now)
    if outbox.exists(session, row.idempotency_key):
        return
    row.status, row.not_before = "pending", now
    session.add(row)
    report.recorded += 1


def _finding_row(
    product: Product,
    finding: Finding,
    key: str,
    channel: str,
    recipient: str,
    dedupe_key: str,
    occurred: datetime,
    now: datetime,
) -> Notification:
    token = idempotency_key(product.id, channel, recipient, key, dedupe_key, occurred.isoformat())
    message = Message(
        subject=finding.subject[:500],
        text=finding.text,
        severity=finding.severity,
        kind=finding.kind,
        idempotency_key=token,
        facts=finding.facts,
        link=finding.link,
        dedupe_key=dedupe_key,
        product=product.name,
        extra={
            "occurred_at": occurred.isoformat(),
            "ticket": finding.ticket,
            **({"resolves": True} if finding.resolves else {}),
        },
    )
    return Notification(
        product_id=product.id,
        kind=finding.kind[:80],
        severity=finding.severity,
        channel=channel,
        recipient=recipient,
        dedupe_key=dedupe_key,
        idempotency_key=token,
        subject=message.subject,
        body=message.to_dict(),
        route_key=key,
        # The routing clock, not the wall clock: dedupe windows are measured on it.
        created_at=now,
    )


def _digest_due(
    session: StoreSession,
    key: str,
    definition: NotificationRoute,
    recipient: str,
    now: datetime,
) -> datetime:
    channel = definition.channel
    planned = now + timedelta(minutes=definition.group_wait_minutes)
    last = outbox.last_digest_sent_at(session, channel, recipient, key)
    if last is not None:
        planned = max(planned, last + timedelta(minutes=definition.group_interval_minutes))
    if definition.quiet_hours is not None:
        planned = quiet_until(planned, definition.quiet_hours)
    booked = outbox.booked_sends(session, channel, recipient, planned)
    return next_slot(planned, booked, definition.max_per_hour)


def _start_digest(
    session: StoreSession,
    product: Product,
    key: str,
    definition: NotificationRoute,
    recipient: str,
    now: datetime,
    *,
    due: datetime | None = None,
) -> Notification:
    """A digest collecting for the recipient; ``due`` overrides the waits (critical
    overflow), otherwise group wait, group interval, quiet hours and the hourly limit decide."""
    channel = definition.channel
    planned = due or _digest_due(session, key, definition, recipient, now)
    token = idempotency_key(product.id, channel, recipient, key, "digest", now.isoformat())
    digest = Notification(
        product_id=product.id,
        kind="digest",
        severity="info",
        channel=channel,
        recipient=recipient,
        idempotency_key=token,
        subject=f"{product.name}: digest",
        body={},
        route_key=key,
        status="grouping",
        not_before=planned,
        created_at=now,
    )
    session.add(digest)
    session.flush()
    return digest
