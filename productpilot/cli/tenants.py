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
    region: Annotated[
        str | None,
        typer.Option(help="Pin the tenant's runs to this region's work queues, e.g. 'eu'."),
    ] = None,
) -> None:
    """Create a tenant and print its first API key (shown only this once)."""
    tenant, key = tenants.create_tenant(open_store(), name, slug, region)
    console.print(f"Created tenant [bold]{tenant.slug}[/] (id {tenant.id}).")
    console.print(f"API key: [bold]{key}[/]")
    err_console.print("Store the key now: only its hash is kept, it cannot be shown again.")


@app.command("list")
def list_() -> None:
    """List all tenants."""
    table = Table("id", "slug", "name", "region", "created")
    for tenant in tenants.list_tenants(open_store()):
        table.add_row(
            str(tenant.id),
            tenant.slug,
            tenant.name,
            tenant.region or "-",
            f"{tenant.created_at:%Y-%m-%d}",
        )
    console.print(table)


@app.command("pin")
def pin(
    tenant: Annotated[str, typer.Argument(help="The tenant's id or slug.")],
    region: Annotated[
        str | None, typer.Argument(help="The region; omit it to unpin the tenant.")
    ] = None,
) -> None:
    """Pin a tenant's runs to a region's work queues (run `productpilot setup` after a new
    region, so its queues exist; start that region's workers on them)."""
    row = tenants.pin_region(open_store(), tenant, region)
    where = f"region [bold]{row.region}[/]" if row.region else "any region"
    console.print(f"Tenant [bold]{row.slug}[/] now runs in {where}.")
