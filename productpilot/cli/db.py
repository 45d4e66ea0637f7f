"""``productpilot db``: the store's schema."""

from __future__ import annotations

import typer

from productpilot.cli.output import console
from productpilot.db.store import Store
from productpilot.settings import get_settings

app = typer.Typer(help="Manage the store's schema.")


@app.command("upgrade")
def upgrade() -> None:
    """Create or migrate the store's tables to the latest version (safe to repeat)."""
    settings = get_settings()
    store = Store.from_settings(settings)
    store.upgrade()
    console.print(f"Store is up to date: {store.engine.url.render_as_string(hide_password=True)}")
