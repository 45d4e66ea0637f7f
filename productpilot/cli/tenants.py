"""``productpilot tenants``: the organisations whose data ProductPilot keeps apart."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from productpilot import tenants
from productpilot.cli.output import console, err_console
from productpilot.runtime import open_store

app = typer.Typer(help="Create and list tenants (each with its own API keys and products).")


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Display name, e.g. 'Acme Inc'.")],
    slug: Annotated[
        str | None, typer.Option(help="URL-safe identifier; derived from NAME if omitted.")
    ] = None,
) -> None:
    """Create a tenant and print its first API key (shown only this once)."""
    tenant, key = tenants.create_tenant(open_store(), name, slug)
    console.print(f"Created tenant [bold]{tenant.slug}[/] (id {tenant.id}).")
    console.print(f"API key: [bold]{key}[/]")
    err_console.print("Store the key now: only its hash is kept, it cannot be shown again.")


@app.command("list")
def list_() -> None:
    """List all tenants."""
    table = Table("id", "slug", "name", "created")
    for tenant in tenants.list_tenants(open_store()):
        table.add_row(str(tenant.id), tenant.slug, tenant.name, f"{tenant.created_at:%Y-%m-%d}")
    console.print(table)
