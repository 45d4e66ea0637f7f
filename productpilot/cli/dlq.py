"""``productpilot dlq``: the dead-letter queue of flow runs that failed after their retries.

``list`` and ``show`` read the store; ``replay`` starts a new run of the same deployment with
the same parameters (on the Prefect API the settings name) and links the two; ``discard``
closes a dead letter with a reason.
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
from productpilot.db.tenancy import StoreSession
from productpilot.operations import deadletters
from productpilot.runtime import configure_prefect, open_store

app = typer.Typer(help="List, show, replay and discard failed flow runs.")

TenantOption = Annotated[
    str | None, typer.Option("--tenant", "-t", help="Only this tenant (id or slug).")
]
DeadLetterId = Annotated[int, typer.Argument(help="Dead letter id.")]


def _tenant_id(tenant: str | None) -> int | None:
    return None if tenant is None else tenants.get_tenant(open_store(), tenant).id


@contextmanager
def _session(tenant: str | None) -> Iterator[StoreSession]:
    """A tenant's session, or (for an operator looking at everything) a system session."""
    store = open_store()
    tenant_id = _tenant_id(tenant)
    scope = store.system_session() if tenant_id is None else store.tenant_session(tenant_id)
    with scope as session:
        yield session


@app.command("list")
def list_(
    tenant: TenantOption = None,
    status: Annotated[
        str | None, typer.Option(help=f"Only this status: {', '.join(deadletters.STATUSES)}.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest first, at most.")] = 50,
) -> None:
    """List dead letters, newest first: flow, deployment, status, attempts, error."""
    table = Table("id", "tenant", "flow", "deployment", "status", "attempts", "failed", "error")
    with _session(tenant) as session:
        for row in deadletters.list_dead_letters(session, status=status, limit=limit):
            table.add_row(
                str(row.id),
                str(row.tenant_id),
                row.flow_name,
                row.deployment_name or "",
                row.status,
                str(row.attempts),
                row.created_at.strftime("%Y-%m-%d %H:%M"),
                row.error.splitlines()[0] if row.error else "",
            )
    console.print(table)


@app.command("show")
def show(dead_letter: DeadLetterId, tenant: TenantOption = None) -> None:
    """Show one dead letter: the run, its parameters, the full error, and how it ended."""
    with _session(tenant) as session:
        row = deadletters.get_dead_letter(session, dead_letter)
    console.print(
        f"[bold]dead letter {row.id}[/] · {row.status} · tenant {row.tenant_id}", highlight=False
    )
    console.print(f"flow run: {row.flow_run_id}", highlight=False)
    console.print(
        f"deployment: {row.flow_name}/{row.deployment_name or '(none: cannot be replayed)'}",
        markup=False,
        highlight=False,
    )
    console.print(f"attempts: {row.attempts}", highlight=False)
    console.print(f"failed at: {row.created_at.isoformat()}", highlight=False)
    console.print("parameters:", highlight=False)
    console.print_json(data=row.parameters)
    if row.replay_flow_run_id:
        console.print(f"replayed as: {row.replay_flow_run_id}", highlight=False)
    if row.resolved_at:
        console.print(f"resolved at: {row.resolved_at.isoformat()}", highlight=False)
    console.print(row.error, style="red", markup=False, highlight=False)


@app.command("replay")
def replay(dead_letter: DeadLetterId, tenant: TenantOption = None) -> None:
    """Run the failed run's deployment again with the same parameters, and link the two."""
    tenant_id = _tenant_id(tenant)
    # What the user can get wrong is checked before Prefect is reached (or started).
    with _session(tenant) as session:
        letter = deadletters.get_dead_letter(session, dead_letter)
        deadletters.require_open(letter, "replay")
        deadletters.replay_target(letter)
    configure_prefect()
    # Imported here: Prefect reads its environment on import (configure_prefect first).
    from flows.deadletters import replay_dead_letter

    replayed = replay_dead_letter(dead_letter, tenant_id)
    console.print(
        f"Dead letter {dead_letter} replayed as run {replayed['flow_run_id']} of "
        f"{replayed['deployment']}.",
        markup=False,
        highlight=False,
    )


@app.command("discard")
def discard(
    dead_letter: DeadLetterId,
    reason: Annotated[str, typer.Option(help="Why it will not be replayed.")] = "",
    tenant: TenantOption = None,
) -> None:
    """Close a dead letter without replaying it."""
    with _session(tenant) as session:
        row = deadletters.discard(session, dead_letter, datetime.now(UTC), reason)
    console.print(f"Discarded dead letter {row.id}.", highlight=False)
