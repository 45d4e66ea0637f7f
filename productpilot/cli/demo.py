"""``productpilot demo``: the whole product on synthetic data, offline, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from productpilot.cli.output import console
from productpilot.runtime import configure_prefect, open_store
from productpilot.settings import get_settings


def demo(
    preset: Annotated[
        str, typer.Option(help="Dataset size: tiny, demo or large (see docs/synthetic-data.md).")
    ] = "demo",
    seed: Annotated[
        int, typer.Option(help="Seed of the synthetic data (same seed, same data).")
    ] = 7,
) -> None:
    """Seed a demo tenant and product with synthetic data and run every flow on it.

    Runs on the embedded store (SQLite under PRODUCTPILOT_HOME) and an ephemeral Prefect
    server unless PRODUCTPILOT_DATABASE_URL / PRODUCTPILOT_PREFECT_API_URL say otherwise.
    Safe to re-run: nothing is duplicated.
    """
    settings = get_settings()
    configure_prefect(settings)
    open_store(settings)  # create or migrate the store before any flow touches it
    console.print(f"Running the demo flows (store: {settings.database_url}) ...", soft_wrap=True)

    from flows.demo import demo_flow  # imported late: Prefect reads its settings on import

    summary: dict[str, Any] = demo_flow(preset=preset, seed=seed)
    _print_summary(summary, settings.database_url, str(settings.prefect_home.absolute()))


def _print_summary(summary: dict[str, Any], database_url: str, prefect_home: str) -> None:
    imported, backlog = summary["import"], summary["backlog"]
    console.print()
    console.print("[bold green]Demo complete.[/]")
    console.print(
        f"Events: {imported['inserted']:,} new, {imported['duplicates']:,} already imported, "
        f"{imported['rejected']:,} rejected ({imported['seconds']:.1f} s)."
    )
    console.print(
        f"Backlog: {backlog['created']} items created, {backlog['updated']} updated, "
        f"{backlog['dependencies']} dependencies."
    )
    console.print(f"Rollups: {summary['rollup']['events']:,} events folded into daily rollups.")
    daily = summary["daily"]
    console.print(
        f"Daily analysis: {sum(daily['metric_values'].values()):,} KPI values stored, "
        f"{len(daily['anomalies'])} anomalies detected (stored with their expected band and "
        f"emitted as productpilot.anomaly.detected); report for {daily['day']} written."
    )
    routed = daily["notifications"]["routed"]
    delivered = daily["notifications"]["delivered"]
    console.print(
        f"Notifications: {routed['findings']} findings routed, {delivered['sent']} sent to the "
        f"outbox, {delivered['held']} held until credentials are configured, "
        f"{routed['suppressed']} duplicates folded; see them with `productpilot outbox list`."
    )
    plan = summary["plan"]
    outlook = ", ".join(f"{p.upper()} {d}" for p, d in plan["forecast"].items()) or "no forecast"
    console.print(
        f"Planning: {plan['items']} open backlog items ranked, estimated and scheduled over "
        f"{plan['makespan_days']} working days ({plan['schedule_status']}); all done by "
        f"{outlook}; {len(plan['high_risk'])} high-risk; try `productpilot plan risk "
        f"{summary['product_id']}`."
    )
    counted = sorted(summary["development"]["verdicts"].items())
    verdicts = ", ".join(f"{count} {outcome}" for outcome, count in counted)
    console.print(
        f"Development: {summary['development']['deliveries']} recorded GitHub webhooks replayed "
        f"through the quality gates; verdicts: {verdicts} (offline: stored, not posted)."
    )
    release, rollout = summary["release"], summary["rollout"]
    console.print(f"Release: {release['name']} {release['status']}: {release['outcome']}.")
    console.print(
        f"Rollout: flag {rollout['flag']} {rollout['status'].replace('_', ' ')} at "
        f"{rollout['percentage']:g}% (see the launch report); QA report for this week written."
    )
    if summary["api_key"]:
        console.print(f"Demo tenant API key (shown once): [bold]{summary['api_key']}[/]")
    table = Table("what", "where")
    table.columns[1].overflow = "fold"
    table.add_row("store", database_url)
    table.add_row("Prefect home (ephemeral server state)", prefect_home)
    table.add_row("demo flow run", summary["flow_run_id"])
    for name, path in summary["files"].items():
        table.add_row(name, str(Path(path).absolute()))
    console.print(table)
