"""``productpilot outbox``: what ProductPilot sent, would have sent, or could not send.

With no credentials configured the outbox is the channel: every notification the router
recorded is listed here with its status, and ``show`` prints it as it was (or would be) sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from productpilot import tenants
from productpilot.cli.output import console
from productpilot.db.models import Notification
from productpilot.db.tenancy import StoreSession
from productpilot.errors import ValidationError
from productpilot.notify import outbox
from productpilot.notify.message import Message
from productpilot.runtime import open_store

app = typer.Typer(help="List, show, retry and acknowledge notifications.")

TenantOption = Annotated[
    str | None, typer.Option("--tenant", "-t", help="Only this tenant (id or slug).")
]
STATUSES = ("grouping", "grouped", "pending", "sending", "sent", "held", "failed")


@contextmanager
def _session(tenant: str | None) -> Iterator[StoreSession]:
    """A tenant's session, or (for an operator looking at everything) a system session."""
    store = open_store()
    if tenant is None:
        with store.system_session() as session:
            yield session
        return
    owner = tenants.get_tenant(store, tenant)
    with store.tenant_session(owner.id) as session:
        yield session


def _when(row: Notification) -> str:
    moment = row.sent_at or row.not_before
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


@app.command("list")
def list_(
    tenant: TenantOption = None,
    product: Annotated[int | None, typer.Option("--product", "-p", help="Product id.")] = None,
    status: Annotated[
        str | None, typer.Option(help=f"Only this status: {', '.join(STATUSES)}.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest first, at most.")] = 50,
) -> None:
    """List notifications, newest first: channel, recipient, status, when, subject."""
    if status is not None and status not in STATUSES:
        raise ValidationError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    table = Table("id", "product", "channel", "recipient", "severity", "status", "when", "subject")
    with _session(tenant) as session:
        for row in outbox.list_notifications(
            session, product_id=product, status=status, limit=limit
        ):
            subject = row.subject + (f" (+{row.suppressed} repeats)" if row.suppressed else "")
            if row.digest_id is not None:
                subject = f"in digest {row.digest_id}: {subject}"
            table.add_row(
                str(row.id),
                str(row.product_id or ""),
                row.channel,
                row.recipient,
                row.severity,
                row.status,
                _when(row),
                subject,
            )
    console.print(table)


@app.command("show")
def show(
    notification: Annotated[int, typer.Argument(help="Notification id.")],
    tenant: TenantOption = None,
) -> None:
    """Show one notification as it was (or will be) sent, with its delivery record."""
    with _session(tenant) as session:
        row = outbox.get_notification(session, notification)
        members = outbox.digest_members(session, row) if row.kind == "digest" else []
    console.print(f"[bold]{row.subject}[/]", highlight=False)
    console.print(
        f"{row.channel} → {row.recipient} · {row.severity} · {row.status}"
        f" · attempts {row.attempts}",
        highlight=False,
    )
    if row.external_id:
        console.print(f"delivered as {row.external_id}", highlight=False)
    if row.last_error:
        console.print(f"[red]{row.last_error}[/]", highlight=False)
    if row.body.get("subject"):
        message = Message.from_dict(row.body)
        if message.text:
            console.print("", message.text, highlight=False)
        for label, value in message.facts:
            console.print(f"  {label}: {value}", highlight=False)
        for item in message.items:
            console.print(f"  • [{item.severity}] {item.subject}", highlight=False)
        if message.link:
            console.print(f"more: {message.link}", highlight=False)
    elif members:
        console.print("collecting:", highlight=False)
        for member in members:
            console.print(f"  • [{member.severity}] {member.subject}", highlight=False)


@app.command("retry")
def retry(
    notifications: Annotated[
        list[int] | None, typer.Argument(help="Ids of held or failed notifications.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every held and failed one.")] = False,
    tenant: TenantOption = None,
) -> None:
    """Queue held or failed notifications again (after configuring or fixing credentials)."""
    if not notifications and not all_:
        raise ValidationError("name the notifications to retry, or pass --all")
    now = datetime.now(UTC)
    with _session(tenant) as session:
        count = (
            outbox.retry_all(session, now)
            if all_
            else outbox.retry(session, notifications or [], now)
        )
    console.print(f"Queued {count} notification(s); the next delivery run sends them.")


@app.command("ack")
def ack(
    notification: Annotated[int, typer.Argument(help="Notification id.")],
    tenant: TenantOption = None,
) -> None:
    """Acknowledge a notification: a person has seen it, so it is not escalated."""
    with _session(tenant) as session:
        row = outbox.acknowledge(session, notification, datetime.now(UTC))
    console.print(f"Acknowledged notification {row.id}.")
