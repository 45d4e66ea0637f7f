"""``productpilot setup``: make the Prefect server match the work pool, queues and limits
ProductPilot needs (``deployments/setup.py`` describes them). Safe to run again: the
second run reports everything ``unchanged``.

Example:
    $ PRODUCTPILOT_PREFECT_API_URL=http://127.0.0.1:4200/api productpilot setup --dry-run
    would create work pool productpilot: type process
    ...
"""

from __future__ import annotations

from typing import Annotated

import typer

from productpilot import tenants
from productpilot.cli.output import console, fail
from productpilot.errors import ConfigurationError, ProductPilotError, UnavailableError
from productpilot.runtime import configure_prefect, open_store
from productpilot.settings import get_settings


def setup(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; change nothing.")
    ] = False,
    tenant_limit: Annotated[
        int | None,
        typer.Option(min=1, help="Slots per tenant:<id> limit (PRODUCTPILOT_SETUP_TENANT_LIMIT)."),
    ] = None,
) -> None:
    """Create or update the productpilot work pool, its queues and the concurrency limits.

    One line per object: created, updated, unchanged, or left (not ProductPilot's to
    manage). Queue and vendor limits come from PRODUCTPILOT_SETUP_QUEUE_LIMITS and
    PRODUCTPILOT_SETUP_VENDOR_LIMITS (JSON objects).
    """
    settings = get_settings()
    if not settings.prefect_api_url:
        # An ephemeral server would be configured and thrown away with this process.
        raise ConfigurationError("set PRODUCTPILOT_PREFECT_API_URL to the Prefect server's API")
    configure_prefect(settings)
    settings.prefect_home.mkdir(parents=True, exist_ok=True)  # Prefect makes only the leaf

    import httpx
    from prefect.client.orchestration import get_client
    from pydantic import ValidationError

    from deployments.setup import SetupSettings, converge, desired_state

    try:
        overrides = {} if tenant_limit is None else {"tenant_limit": tenant_limit}
        options = SetupSettings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "PRODUCTPILOT_SETUP_" + str(error["loc"][0]).upper()
        raise ConfigurationError(f"invalid {name}: {error['msg']}") from None
    known = tenants.list_tenants(open_store(settings))
    regions = {tenant.region for tenant in known if tenant.region}
    desired = desired_state([tenant.id for tenant in known], options, regions)
    try:
        with get_client(sync_client=True) as client:
            report = converge(client, desired, dry_run=dry_run)
    except httpx.HTTPError as exc:
        raise UnavailableError(
            f"cannot use the Prefect API at {settings.prefect_api_url}: {exc}"
        ) from None
    for line in report.lines():
        # Plain text: `vendor:email:` must not become an emoji, nor brackets markup.
        console.print(line, highlight=False, soft_wrap=True, markup=False, emoji=False)


def main() -> None:
    """``python -m productpilot.cli.setup``: this command alone, with the CLI's one-line
    errors (the local stack runs it this way, so it needs no other command group)."""
    command = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    command.command()(setup)
    try:
        command()
    except ProductPilotError as exc:
        raise SystemExit(fail(str(exc)).exit_code) from None


if __name__ == "__main__":
    main()
