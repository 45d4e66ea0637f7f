"""The ``productpilot`` command: one sub-command group per area.

User mistakes (bad input, unknown ids, an unreachable database) end in a one-line
message on stderr and exit status 1; only bugs show a traceback.
"""

from __future__ import annotations

from typing import Any

import click
import typer
from sqlalchemy.exc import OperationalError
from typer.core import TyperGroup

from productpilot.cli import db, dlq, events, flags, outbox, plan, products, tenants
from productpilot.cli.api import api
from productpilot.cli.demo import demo
from productpilot.cli.output import fail
from productpilot.cli.setup import setup
from productpilot.errors import ProductPilotError
from productpilot.settings import get_settings


class _ProductPilotGroup(TyperGroup):
    """Turns the errors a user can cause into one-line messages, for every sub-command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ProductPilotError as exc:
            raise fail(str(exc)) from None
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise fail(f"cannot use the database: {reason}") from None


app = typer.Typer(
    name="productpilot",
    cls=_ProductPilotGroup,
    help="ProductPilot: product management automation on Prefect.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
app.add_typer(tenants.app, name="tenants")
app.add_typer(products.app, name="products")
app.add_typer(events.app, name="events")
app.add_typer(db.app, name="db")
app.add_typer(outbox.app, name="outbox")
app.add_typer(dlq.app, name="dlq")
app.add_typer(plan.app, name="plan")
app.add_typer(flags.app, name="flags")
app.command("demo")(demo)
app.command("api")(api)
app.command("setup")(setup)


@app.callback()
def _configure() -> None:
    get_settings().configure_logging()


def main() -> None:
    """Console entry point."""
    app()
