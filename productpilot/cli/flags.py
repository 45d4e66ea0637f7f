"""``productpilot flags``: a product's feature flags, their history, and what they answer.

``set`` creates the flag or replaces its definition (a flagd flag definition, from a file
or inline JSON) and records who and why; the change is announced as
``productpilot.flag.changed`` when a Prefect API is configured (``PRODUCTPILOT_PREFECT_API_URL``),
since starting an ephemeral Prefect server would make every command take seconds.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from productpilot import products, tenants
from productpilot.cli.output import console
from productpilot.errors import NotFoundError, ValidationError
from productpilot.eventbus import EventEmitter
from productpilot.launch import store as flag_store
from productpilot.launch.flags import evaluate as evaluate_flag
from productpilot.launch.store import FLAG_CHANGED_EVENT, FlagChanged
from productpilot.runtime import configure_prefect, open_store
from productpilot.settings import get_settings

app = typer.Typer(help="Create, change, inspect and evaluate a product's feature flags.")

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id or slug.")]
ProductArgument = Annotated[str, typer.Argument(help="Product id or slug.")]
KeyArgument = Annotated[str, typer.Argument(help="The flag key.")]
ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why: kept in the history.")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Who, for the history (default: cli:<user>).")
]


def event_emitter() -> EventEmitter | None:
    """Prefect's emitter when a Prefect API is configured, else ``None`` (not announced)."""
    settings = get_settings()
    if not settings.prefect_api_url:
        return None
    configure_prefect(settings)
    # Imported here: only a command that announces pays for importing Prefect.
    from integrations.prefect_events import PrefectEventEmitter

    return PrefectEventEmitter()


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment (a bare container)
        return "cli"


def _json_object(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{where} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(value, dict):
        raise ValidationError(f"{where} must be a JSON object")
    return value


def _definition(file: Path | None, inline: str | None) -> dict[str, Any]:
    if (file is None) == (inline is None):
        raise ValidationError("give the definition with exactly one of --file or --json")
    if inline is not None:
        return _json_object(inline, "--json")
    assert file is not None
    try:
        text = file.read_text()
    except FileNotFoundError:
        raise ValidationError(f"no such file: {file}") from None
    return _json_object(text, str(file))


def _report(change: FlagChanged) -> None:
    if not change.is_change:
        console.print(f"Flag '{change.key}' is unchanged (version {change.version}).")
        return
    console.print(f"Flag '{change.key}' {change.action}: version {change.version}.")
    for item in change.changes:
        console.print(f"  {item.describe()}", highlight=False, markup=False)
    emitter = event_emitter()
    if emitter is None:
        console.print("Not announced: no Prefect API is configured.")
    elif flag_store.announce(emitter, change):
        console.print(f"Announced as {FLAG_CHANGED_EVENT}.")
    else:
        console.print(f"Not announced: {FLAG_CHANGED_EVENT} could not be emitted (see the log).")


@app.command("list")
def list_(product: ProductArgument, tenant: TenantOption) -> None:
    """List the product's flags."""
    store = open_store()
    owner = tenants.get_tenant(store, tenant)
    table = Table("key", "kind", "state", "default", "targeting", "version", "updated")
    with store.tenant_session(owner.id) as session:
        found = products.get_product(session, product)
        for flag in flag_store.list_flags(session, found):
            table.add_row(
                flag.key,
                flag.kind,
                flag.state,
                str(flag.definition.get("defaultVariant")),
                "yes" if flag.definition.get("targeting") else "no",
                str(flag.version),
                flag.updated_at.isoformat(timespec="seconds"),
            )
    console.print(table)


@app.command("show")
def show(product: ProductArgument, key: KeyArgument, tenant: TenantOption) -> None:
    """Show a flag's definition and version as JSON."""
    store = open_store()
    owner = tenants.get_tenant(store, tenant)
    with store.tenant_session(owner.id) as session:
        flag = flag_store.get_flag(session, products.get_product(session, product), key)
    console.print_json(
        data={
            "key": flag.key,
            "version": flag.version,
            "kind": flag.kind,
            "updated_at": flag.updated_at.isoformat(),
            "definition": flag.definition,
        }
    )


@app.command("set")
def set_(
    product: ProductArgument,
    key: KeyArgument,
    tenant: TenantOption,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="JSON file with the flag definition.")
    ] = None,
    inline: Annotated[
        str | None, typer.Option("--json", help="The flag definition as inline JSON.")
    ] = None,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    expected_version: Annotated[
        int | None,
        typer.Option(help="Refuse unless the flag is at this version (optimistic locking)."),
    ] = None,
) -> None:
    """Create a flag, or replace its definition."""
    definition = _definition(file, inline)
    store = open_store()
    owner = tenants.get_tenant(store, tenant)
    who = actor or _default_actor()
    with store.tenant_session(owner.id) as session:
        found = products.get_product(session, product)
        try:
            flag_store.get_flag(session, found, key)
        except NotFoundError:
            if expected_version is not None:
                raise
            change = flag_store.create_flag(session, found, key, definition, who, reason)
        else:
            change = flag_store.update_flag(
                session, found, key, definition, who, reason, expected_version=expected_version
            )
    _report(change)  # after the commit: never announce a change that rolled back


@app.command("delete")
def delete(
    product: ProductArgument,
    key: KeyArgument,
    tenant: TenantOption,
    reason: ReasonOption = "",
    actor: ActorOption = None,
) -> None:
    """Delete a flag; its history stays."""
    store = open_store()
    owner = tenants.get_tenant(store, tenant)
    with store.tenant_session(owner.id) as session:
        found = products.get_product(session, product)
        change = flag_store.delete_flag(session, found, key, actor or _default_actor(), reason)
    _report(change)


@app.command("history")
def history(product: ProductArgument, key: KeyArgument, tenant: TenantOption) -> None:
    """Every version of a flag, newest first: who, when, why and what changed."""
    store = open_store()
    owner = tenants.get_tenant(store, tenant)
    table = Table("version", "when", "who", "action", "why", "changes")
    with store.tenant_session(owner.id) as session:
        entries = flag_store.flag_history(session, products.get_product(session, product), key)
    for entry in entries:
        table.add_row(
            str(entry.version),
            entry.changed_at.isoformat(timespec="seconds"),
            entry.actor,
            entry.action,
            entry.reason,
            "\n".join(change.describe() for change in entry.changes),
        )
    console.print(table)


@app.command("evaluate")
def evaluate(
    product: ProductArgument,
    tenant: TenantOption,
    key: Annotated[str | None, typer.Argument(help="The flag key (default: every flag).")] = None,
    context: Annotated[
        str | None,
        typer.Option(help='The evaluation context as JSON, e.g. \'{"plan": "pro"}\'.'),
    ] = None,
    targeting_key: Annotated[
        str | None, typer.Option(help="The unit fractional rollouts bucket by (a user id).")
    ] = None,
) -> None:
    """Evaluate flags as OFREP and flagd would, for one context (JSON on stdout)."""
    attributes = _json_object(context, "--context") if context is not None else {}
    if targeting_key is not None:
        attributes["targetingKey"] = targeting_key
    store = open_store()
    owner = tenants.get_tenant(store, tenant)
    with store.tenant_session(owner.id) as session:
        document, _token = flag_store.product_document(
            session, products.get_product(session, product)
        )
    if key is not None and key not in document.flags:
        raise NotFoundError(f"no flag '{key}' in product {product}")
    keys = [key] if key is not None else list(document.flags)
    results = [evaluate_flag(document, name, attributes).to_dict() for name in keys]
    console.print_json(data=results[0] if key is not None else results)
