"""``productpilot products``: the products a tenant measures and plans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from productpilot import products, tenants
from productpilot.cli.output import console
from productpilot.errors import ValidationError
from productpilot.runtime import open_store

app = typer.Typer(help="Create, list and inspect products of a tenant.")

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id or slug.")]


def _read_configuration(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValidationError(f"no such file: {path}") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(document, dict):
        raise ValidationError(f"{path} must hold a JSON object")
    return document


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Display name, e.g. 'Web App'.")],
    tenant: TenantOption,
    slug: Annotated[str | None, typer.Option(help="Identifier; derived from NAME.")] = None,
    timezone: Annotated[
        str, typer.Option(help="IANA time zone for daily reports, e.g. 'Europe/Berlin'.")
    ] = "UTC",
    config: Annotated[
        Path | None, typer.Option(help="JSON file with the product configuration.")
    ] = None,
) -> None:
    """Create a product (with configuration version 1) in a tenant."""
    store = open_store()
    owner = tenants.get_tenant(store, tenant)
    with store.tenant_session(owner.id) as session:
        product = products.create_product(
            session,
            name,
            slug=slug,
            timezone=timezone,
            configuration=_read_configuration(config),
        )
    console.print(f"Created product [bold]{product.slug}[/] (id {product.id}) in {owner.slug}.")


@app.command("list")
def list_(tenant: TenantOption) -> None:
    """List a tenant's products."""
    store = open_store()
    owner = tenants.get_tenant(store, tenant)
    table = Table("id", "slug", "name", "time zone", "config version")
    with store.tenant_session(owner.id) as session:
        for product in products.list_products(session):
            table.add_row(
                str(product.id),
                product.slug,
                product.name,
                product.timezone,
                str(product.config_version),
            )
    console.print(table)


@app.command("show")
def show(
    product: Annotated[str, typer.Argument(help="Product id or slug.")],
    tenant: TenantOption,
) -> None:
    """Show a product and its current configuration (secrets masked) as JSON."""
    store = open_store()
    owner = tenants.get_tenant(store, tenant)
    with store.tenant_session(owner.id) as session:
        found = products.get_product(session, product)
        configuration = products.current_configuration(session, found)
        console.print_json(
            data={
                "id": found.id,
                "slug": found.slug,
                "name": found.name,
                "tenant": owner.slug,
                "timezone": found.timezone,
                "created_at": found.created_at.isoformat(),
                "config_version": found.config_version,
                "configuration": configuration.public_view(),
            }
        )
