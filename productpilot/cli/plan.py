"""``productpilot plan``: each planning step on a product's backlog, from the terminal.

``score``, ``estimate``, ``schedule`` and ``risk`` print what the planning flow would
compute, without storing anything; ``run`` is the whole plan, stored and reported as the
flow does it (without Prefect).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from productpilot.cli.output import console
from productpilot.db.models import Product
from productpilot.db.tenancy import StoreSession
from productpilot.errors import ValidationError
from productpilot.planning import planner
from productpilot.planning.store import load_records, save_plan
from productpilot.planning.usage import reach_by_feature
from productpilot.products import current_configuration, locate_product
from productpilot.products.configuration import PlanningSettings
from productpilot.runtime import open_store

app = typer.Typer(help="Score, estimate, schedule and assess a product's backlog.")

ProductArgument = Annotated[str, typer.Argument(help="Product id (or slug, with --tenant).")]
TenantOption = Annotated[
    str | None, typer.Option("--tenant", "-t", help="Tenant id or slug (for a product slug).")
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="The plan's first day, YYYY-MM-DD (default today).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@dataclass(frozen=True)
class _Backlog:
    session: StoreSession
    product: Product
    settings: PlanningSettings
    records: list[planner.BacklogRecord]
    as_of: date
    reach: dict[str, int]


def _day(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"--as-of {text!r} is not a date (YYYY-MM-DD)") from None


@contextmanager
def _backlog(product: str, tenant: str | None, as_of: str | None) -> Iterator[_Backlog]:
    day = _day(as_of)
    store = open_store()
    found = locate_product(store, product, tenant)
    with store.tenant_session(found.tenant_id) as session:
        owned = session.get(Product, found.id)
        settings = current_configuration(session, owned).planning
        records = load_records(session, owned)
        if not planner.open_items(records):
            raise ValidationError(f"product {owned.slug!r} has no open backlog items")
        reach = reach_by_feature(session, owned.id, day, settings.scoring.reach_window_days)
        yield _Backlog(session, owned, settings, records, day, reach)


def _print(rows: list[dict[str, Any]], columns: list[str], as_json: bool, title: str) -> None:
    if as_json:
        console.print_json(data=rows)
        return
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*("-" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


def _scored(backlog: _Backlog) -> tuple[dict[str, Any], list[Any]]:
    estimates = planner.estimate(backlog.records, backlog.settings)
    return estimates, planner.score(backlog.records, backlog.settings, estimates, backlog.reach)


def _scheduled(backlog: _Backlog) -> tuple[dict[str, Any], planner.Timeline, planner.SprintCut]:
    estimates, scores = _scored(backlog)
    timeline = planner.schedule(backlog.records, backlog.settings, estimates, scores, backlog.as_of)
    cut = planner.cut_into_sprints(backlog.records, backlog.settings, timeline, backlog.as_of)
    return estimates, timeline, cut


@app.command("score")
def score(
    product: ProductArgument,
    tenant: TenantOption = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rank the open items by the product's scoring method, with each score explained."""
    with _backlog(product, tenant, as_of) as backlog:
        _, scores = _scored(backlog)
    rows = [
        {
            "rank": rank,
            "key": s.key,
            "title": s.title,
            "score": None if s.score is None else round(s.score, 2),
            "why": s.to_dict()["summary"] or s.reason,
        }
        for rank, s in enumerate(scores, start=1)
    ]
    method = backlog.settings.scoring.label()
    _print(rows, ["rank", "key", "title", "score", "why"], as_json, f"{method} scores")


@app.command("estimate")
def estimate(
    product: ProductArgument,
    tenant: TenantOption = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Estimate the open items' effort (working days) from the team's finished items."""
    with _backlog(product, tenant, as_of) as backlog:
        estimates = planner.estimate(backlog.records, backlog.settings)
    rows = [
        {
            "key": key,
            "days": round(e.value, 1),
            "range": f"{e.low:.1f}-{e.high:.1f}",
            "method": e.method,
            "why": e.explanation,
        }
        for key, e in estimates.items()
    ]
    _print(rows, ["key", "days", "range", "method", "why"], as_json, "Effort estimates")


@app.command("schedule")
def schedule(
    product: ProductArgument,
    tenant: TenantOption = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Schedule the open items under team capacity, dependencies and deadlines; cut the
    schedule into sprints, naming what does not fit and why."""
    with _backlog(product, tenant, as_of) as backlog:
        _, timeline, cut = _scheduled(backlog)
    if as_json:
        console.print_json(data={"schedule": timeline.to_dict(), "sprints": cut.to_dict()})
        return
    rows = [{**item, "sprint": cut.sprint_of(item["key"])} for item in timeline.to_dict()["items"]]
    status = timeline.schedule.status
    _print(
        rows,
        ["key", "start", "end", "sprint"],
        False,
        f"Schedule: {timeline.schedule.makespan} working days ({status})",
    )
    for conflict in timeline.conflicts:
        console.print(f"[yellow]deadline conflict[/]: {conflict} (scheduled for least lateness)")
    for issue in cut.issues():
        console.print(f"[yellow]{issue.item}[/]: {issue.message}")


@app.command("risk")
def risk(
    product: ProductArgument,
    tenant: TenantOption = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Assess each open item's delivery risk (with its reasons) and forecast when the
    backlog will be done (P50/P85/P95)."""
    with _backlog(product, tenant, as_of) as backlog:
        estimates, timeline, cut = _scheduled(backlog)
        risks = planner.assess(backlog.records, backlog.settings, estimates, timeline, cut)
        outlook, _ = planner.delivery_forecast(backlog.records, backlog.as_of)
    rows = [
        {
            "key": key,
            "risk": r.score,
            "level": r.level,
            "why": "; ".join(x.sentence for x in r.reasons if x.points > 0) or "no risk factor",
        }
        for key, r in sorted(risks.items(), key=lambda item: -item[1].score)
    ]
    if as_json:
        console.print_json(data={"risks": rows, "forecast": outlook.to_dict() if outlook else None})
        return
    _print(rows, ["key", "risk", "level", "why"], False, "Delivery risk")
    if outlook is None:
        console.print("No forecast: no finished items in the recent weeks to sample from.")
    else:
        dates = ", ".join(f"P{p} {d}" for p, d in outlook.percentiles.items())
        console.print(f"All {outlook.items} open items done by: {dates}")


@app.command("run")
def run(
    product: ProductArgument,
    tenant: TenantOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Plan the backlog and store the result (scores, ranges, risks, success criteria),
    as the planning flow does."""
    with _backlog(product, tenant, as_of) as backlog:
        plan = planner.plan(backlog.records, backlog.settings, backlog.as_of, backlog.reach)
        saved = save_plan(
            backlog.session, backlog.product, plan, {"as_of": backlog.as_of.isoformat()}
        )
        plan_id = saved.id
    summary = plan.summary()
    console.print(
        f"Plan {plan_id}: {summary['items']} items over {summary['makespan_days']} working "
        f"days; all done by P85 {summary['forecast'].get('p85', 'n/a')}."
    )
