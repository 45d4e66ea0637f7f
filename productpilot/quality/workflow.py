"""Workflow transitions through the outbox: each planned move of an issue is one row.

:func:`productpilot.quality.transitions.plan_transitions` says which issues an event moves;
:func:`record_transitions` writes each move to the ``notifications`` outbox (channel ``jira``
or ``linear``, kind :data:`TRANSITION`, the move in the body's ``extra.transition``), in the
caller's transaction. The dispatcher then moves the issue through the tracker the product's
Blocks give (``TransitioningTracker.transition``), with the outbox's retries, backoff and
failure reasons; without credentials the move waits in the outbox (``held``).

The outbox's unique ``idempotency_key`` is derived from the transition's own key, which
names the event (not the delivery), the issue and the status: a redelivered webhook, a
re-emitted event or a retried flow records each move once.

GitHub issues are not moved yet (the GitHub tracker has no state change): those
transitions are returned as skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from productpilot.db.models import Notification, Product
from productpilot.db.tenancy import StoreSession
from productpilot.notify import outbox
from productpilot.notify.message import Message
from productpilot.notify.rules import idempotency_key
from productpilot.quality.transitions import Transition

TRANSITION = "productpilot.workflow.transition"
#: The tools whose trackers can move issues.
MOVABLE = frozenset({"jira", "linear"})


@dataclass
class TransitionReport:
    """What recording a batch of transitions did.

    Attributes:
        recorded: moves written to the outbox.
        duplicates: moves recorded before (a redelivery, a retried run).
        skipped: ``tool:issue`` of moves no tracker can make (GitHub issues).
    """

    recorded: int = 0
    duplicates: int = 0
    skipped: list[str] = field(default_factory=list)


def record_transitions(
    session: StoreSession,
    product: Product,
    transitions: Sequence[Transition],
    *,
    now: datetime,
    cause: str = "",
) -> TransitionReport:
    """Write each transition to the outbox, once.

    Args:
        session: A tenant session of the product's tenant; the caller commits.
        product: The product whose trackers move the issues.
        transitions: From :func:`~productpilot.quality.transitions.plan_transitions`.
        now: When (the rows are due at once).
        cause: What happened, for people reading the outbox ("PR #7 merged").
    """
    report = TransitionReport()
    for transition in transitions:
        if transition.tool not in MOVABLE:
            report.skipped.append(f"{transition.tool}:{transition.issue_key}")
            continue
        token = idempotency_key(product.id, "transition", transition.idempotency_key)
        if outbox.exists(session, token):
            report.duplicates += 1
            continue
        subject = f"{transition.issue_key} → {transition.target_status}"
        message = Message(
            subject=subject,
            text=f"{cause}: move {transition.issue_key} to {transition.target_status}."
            if cause
            else f"Move {transition.issue_key} to {transition.target_status}.",
            severity="info",
            kind=TRANSITION,
            idempotency_key=token,
            dedupe_key=f"{product.id}:transition:{transition.tool}:{transition.issue_key}"[:200],
            product=product.name,
            extra={
                "transition": {
                    "issue": transition.issue_key,
                    "status": transition.target_status,
                    "event": transition.event_kind,
                },
                "occurred_at": now.isoformat(),
            },
        )
        session.add(
            Notification(
                product_id=product.id,
                kind=TRANSITION,
                severity="info",
                channel=transition.tool,
                recipient=transition.issue_key[:300],
                dedupe_key=message.dedupe_key,
                idempotency_key=token,
                subject=subject[:500],
                body=message.to_dict(),
                status="pending",
                not_before=now,
                created_at=now,
            )
        )
        # The next transition of the batch may be the same move (two rules, one issue).
        session.flush()
        report.recorded += 1
    return report
